// The least-squares fit of response ensembles (kind response_ensemble, response_ensemble.cpp):
// normal equations summed with MPI and solved alike on every rank, so all ranks end with the
// same model.
#include "advisor/training.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "advisor/detail/response.hpp"
#include "advisor/detail/training_data.hpp"
#include "ground/check.hpp"
#include "ground/mpi.hpp"
#include "twin/error.hpp"

namespace twin::advisor {

namespace {

void allreduce_sum(torch::Tensor& t, MPI_Comm comm) {
  t = t.contiguous();
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, t.data_ptr<double>(), static_cast<int>(t.numel()), MPI_DOUBLE, MPI_SUM, comm));
}

// Normalised rows of a data set (double): (v - mean) / scale.
torch::Tensor normalised(const std::vector<double>& v, int n, const std::vector<double>& mean, const std::vector<double>& scale) {
  const auto d = torch::TensorOptions().dtype(torch::kFloat64);
  const long r = n ? static_cast<long>(v.size()) / n : 0;
  const torch::Tensor raw = torch::from_blob(const_cast<double*>(v.data()), {r, n}, d).clone();
  return (raw - torch::tensor(mean, d).unsqueeze(0)) / torch::tensor(scale, d).unsqueeze(0);
}

// The response features with a bias column last.
torch::Tensor design(const detail::ResponseLayout& l, const torch::Tensor& z) {
  return torch::cat({detail::response_features(l, z), torch::ones({z.size(0), 1}, z.options())}, 1);
}

// Ridge solution of the normal equations A w = B, pulled towards `prior` (undefined: towards 0):
// (A + R) w = B + R prior, R the ridge, alpha times the features' mean diagonal, sparing the
// bias. `hat_trace`: the trace of the hat matrix, tr((A + R)^-1 A), the fit's effective number
// of parameters.
torch::Tensor ridge_solve(const torch::Tensor& a, const torch::Tensor& b, double alpha, double* hat_trace = nullptr,
                          const torch::Tensor& prior = {}) {
  torch::Tensor reg = a.clone();
  const long f = a.size(0) - 1;
  const double mean_diag = f > 0 ? a.diagonal().narrow(0, 0, f).mean().item<double>() : 0.0;
  reg.diagonal().narrow(0, 0, f).add_(alpha * std::max(mean_diag, 1e-12));
  reg.diagonal().narrow(0, f, 1).add_(1e-12 * std::max(1.0, a.index({f, f}).item<double>()));
  const torch::Tensor chol = torch::linalg_cholesky(reg);
  if (hat_trace) *hat_trace = torch::cholesky_solve(a, chol).trace().item<double>();
  return torch::cholesky_solve(prior.defined() ? b + torch::matmul(reg - a, prior) : b, chol);
}

// Bayesian-bootstrap weights (Rubin 1981), Exp(1): never all zero, so no member is left
// without data. Per group where there are enough groups over the ranks (a trajectory is drawn
// whole, its rows being correlated); per row otherwise (one or two groups would give members
// that differ by a common factor only, that is not at all).
torch::Tensor bootstrap_weights(const Dataset& d, unsigned seed, int member, int rank, bool by_group) {
  std::vector<double> w(static_cast<std::size_t>(d.rows()));
  const bool grouped = by_group && static_cast<long>(d.group.size()) == d.rows();
  std::map<long, double> of_group;
  std::mt19937_64 row_rng(static_cast<std::uint64_t>(seed) * 1000003u + static_cast<std::uint64_t>(member) * 7919u +
                          static_cast<std::uint64_t>(rank));
  std::exponential_distribution<double> exponential(1.0);
  for (long r = 0; r < d.rows(); ++r) {
    if (!grouped) {
      w[r] = exponential(row_rng);
      continue;
    }
    const auto it = of_group.find(d.group[r]);
    if (it != of_group.end()) {
      w[r] = it->second;
      continue;
    }
    std::mt19937_64 g_rng(static_cast<std::uint64_t>(seed) * 1000003u + static_cast<std::uint64_t>(member) * 104729u +
                          static_cast<std::uint64_t>(d.group[r]) * 2654435761u);
    w[r] = of_group[d.group[r]] = exponential(g_rng);
  }
  return torch::tensor(w, torch::kFloat64).unsqueeze(1);
}


// The normalised rows of a fit, and their counts over the ranks.
struct FitData {
  torch::Tensor zt, yt, zv, yv, out_scale;
  double train_rows = 0.0, valid_rows = 0.0;
};

// The order and ridge a fit uses, and (without validation rows) its residuals' sd per output.
struct Choice {
  detail::ResponseLayout layout;
  double alpha = 1e-6;
  std::vector<double> residual_sd;
};

// The order and the ridge: the pair with the least error on the validation rows of a fit on
// the training rows. Without validation rows (too few groups to hold any out), the least
// generalised cross-validation score on the training rows (Golub, Heath & Wahba 1979),
// n RSS / (n - tr H)^2, and the residuals' standard deviation, RSS / (n - tr H).
Choice choose(const detail::ResponseLayout& first, const std::vector<int>& orders, const std::vector<double>& ridges,
              const FitData& f, const torch::Tensor& prior, MPI_Comm comm) {
  const long n_out = f.yt.size(1);
  torch::Tensor yy = f.yt.pow(2).sum(0);  // per output
  allreduce_sum(yy, comm);
  Choice c{first, 1e-6, std::vector<double>(static_cast<std::size_t>(n_out), 0.0)};
  double best = std::numeric_limits<double>::infinity();
  for (int order : orders) {
    detail::ResponseLayout l = first;
    l.order = order;
    const torch::Tensor xt = design(l, f.zt), xv = design(l, f.zv);
    torch::Tensor a = torch::matmul(xt.t(), xt), b = torch::matmul(xt.t(), f.yt);
    allreduce_sum(a, comm);
    allreduce_sum(b, comm);
    for (double candidate : ridges) {
      double hat = 0.0;
      const torch::Tensor coef = ridge_solve(a, b, candidate, &hat, prior);
      double score = std::numeric_limits<double>::infinity();
      torch::Tensor rss;
      if (f.valid_rows > 0) {
        torch::Tensor sse = ((torch::matmul(xv, coef) - f.yv) * f.out_scale).pow(2).sum();
        allreduce_sum(sse, comm);
        score = sse.item<double>();
      } else if (f.train_rows - hat > 1.0) {
        const double dof = f.train_rows - hat;
        rss = (yy - 2.0 * (coef * b).sum(0) + (coef * torch::matmul(a, coef)).sum(0)).clamp_min(0.0);
        score = f.train_rows * (rss * f.out_scale.squeeze(0).pow(2)).sum().item<double>() / (dof * dof);
      }
      if (!(score < best)) continue;
      best = score, c.layout = l, c.alpha = candidate;
      if (rss.defined())
        for (long o = 0; o < n_out; ++o) c.residual_sd[o] = std::sqrt(rss[o].item<double>() / (f.train_rows - hat));
    }
  }
  return c;
}

// The members' coefficients, [K, features + 1, outputs]: fits on Bayesian-bootstrap weights.
torch::Tensor fit_members(const Choice& c, const FitData& f, const Dataset& train, const torch::Tensor& prior, int members,
                          unsigned seed, MPI_Comm comm) {
  int rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  // Training groups over the ranks (each rank holds its own: sequences are split by rank).
  double groups = 0.0;
  if (static_cast<long>(train.group.size()) == train.rows())
    groups = static_cast<double>(std::set<long>(train.group.begin(), train.group.end()).size());
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &groups, 1, MPI_DOUBLE, MPI_SUM, comm));
  const torch::Tensor xt = design(c.layout, f.zt);
  std::vector<torch::Tensor> coef;
  for (int k = 0; k < members; ++k) {
    const torch::Tensor w = members > 1 ? bootstrap_weights(train, seed, k, rank, groups >= 8.0)
                                        : torch::ones({train.rows(), 1}, xt.options());
    torch::Tensor a = torch::matmul(xt.t(), xt * w), b = torch::matmul(xt.t(), f.yt * w);
    allreduce_sum(a, comm);
    allreduce_sum(b, comm);
    coef.push_back(ridge_solve(a, b, c.alpha, nullptr, prior));
  }
  return torch::stack(coef);
}

// The noise term per output: the smallest that puts 95 % of the validation residuals `err`
// within +-2 sd of the ensemble (members' variance `var`), by bisection on counts summed over
// the ranks. Collective; called only with validation rows somewhere.
std::vector<double> noise_term(const torch::Tensor& err, const torch::Tensor& var, double valid_rows, MPI_Comm comm) {
  const long n_out = err.size(1);
  std::vector<double> lo(n_out, 0.0), hi(n_out, 0.0);
  if (err.size(0) > 0) {
    const torch::Tensor m = std::get<0>(err.max(0)).contiguous();
    std::copy(m.data_ptr<double>(), m.data_ptr<double>() + n_out, hi.begin());
  }
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, hi.data(), static_cast<int>(n_out), MPI_DOUBLE, MPI_MAX, comm));
  for (double& h : hi) h = h / 2.0 + 1e-12;  // covers every residual
  for (int it = 0; it < 50; ++it) {
    std::vector<double> mid(n_out);
    for (long o = 0; o < n_out; ++o) mid[o] = 0.5 * (lo[o] + hi[o]);
    const torch::Tensor noise = torch::tensor(mid, err.options()).unsqueeze(0);
    torch::Tensor covered = (err <= 2.0 * torch::sqrt(var + noise.pow(2))).to(torch::kFloat64).sum(0);
    allreduce_sum(covered, comm);
    for (long o = 0; o < n_out; ++o) (covered[o].item<double>() >= 0.95 * valid_rows ? hi[o] : lo[o]) = mid[o];
  }
  return hi;
}

}  // namespace

ModelPackage train_response_ensemble(const Dataset& shard, const TrainSpec& spec, MPI_Comm comm, const ModelPackage* start) {
  TWIN_REQUIRE(spec.loss == Loss::regression, Error, "model '" + spec.name + "': a response model predicts values, not classes");
  detail::check_shapes(shard, spec);
  if (start)
    TWIN_REQUIRE(start->kind == kind_response_ensemble && start->inputs == spec.inputs && start->outputs == spec.outputs, Error,
                 "model " + label(*start) + " cannot be refitted as '" + spec.name + "': another kind, or other inputs or outputs");
  const int n_in = shard.inputs, n_out = shard.outputs;
  Dataset train, valid;
  detail::split_rows(shard, spec, comm, train, valid);
  FitData f;
  ModelPackage p = detail::package_head(shard, train, spec, kind_response_ensemble, start, comm, f.train_rows);
  p.ensemble = start ? start->ensemble : spec.ensemble;
  // A refit keeps the start's normalisation, and its ridge pulls towards the start's members'
  // mean instead of towards 0 (the prior of a Bayesian update): few new rows move the map where
  // they say something, and leave it where they do not.
  torch::Tensor prior;
  if (start) {
    p.input_mean = start->input_mean;
    p.input_scale = start->input_scale;
    p.output_mean = start->output_mean;
    p.output_scale = start->output_scale;
    const auto mean_of = [&](const std::string& name) {
      for (const NamedTensor& t : start->weights)
        if (t.name == name) return torch::tensor(t.values, torch::kFloat64).reshape(t.shape).mean(0);
      throw Error("model " + label(*start) + " has no weight " + name + " to refit from");
    };
    prior = torch::cat({mean_of("response.weight"), mean_of("response.bias")}, 0);
  }
  const detail::ResponseLayout first =
      start ? detail::ResponseLayout::of(*start) : detail::ResponseLayout::of(spec.inputs, spec.response_factors, 1);
  std::vector<int> orders{first.order};
  for (int o = 2; !start && !first.factors.empty() && o <= std::min(spec.response_max_order, detail::response_max_order); ++o)
    orders.push_back(o);
  const std::vector<double> ridges = start ? std::vector<double>{1e-4, 1e-2, 1.0, 1e2, 1e4}
                                           : std::vector<double>{1e-8, 1e-6, 1e-4, 1e-2, 1.0};

  const auto d = torch::TensorOptions().dtype(torch::kFloat64);
  f.out_scale = torch::tensor(p.output_scale, d).unsqueeze(0);
  f.zt = normalised(train.x, n_in, p.input_mean, p.input_scale);
  f.yt = normalised(train.y, n_out, p.output_mean, p.output_scale);
  f.zv = normalised(valid.x, n_in, p.input_mean, p.input_scale);
  f.yv = normalised(valid.y, n_out, p.output_mean, p.output_scale);
  f.valid_rows = static_cast<double>(valid.rows());
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &f.valid_rows, 1, MPI_DOUBLE, MPI_SUM, comm));

  const Choice c = choose(first, orders, ridges, f, prior, comm);
  const torch::Tensor coef = fit_members(c, f, train, prior, p.ensemble, spec.seed, comm);  // [K, F + 1, outputs]
  const long F = c.layout.features();
  const torch::Tensor members = torch::matmul(design(c.layout, f.zv).unsqueeze(0), coef);  // [K, rows, outputs]
  const torch::Tensor mean = members.mean(0);
  const torch::Tensor var = p.ensemble > 1 ? members.var(0, true) : torch::zeros_like(mean);
  const std::vector<double> noise = f.valid_rows > 0 ? noise_term((mean - f.yv).abs(), var, f.valid_rows, comm) : c.residual_sd;

  // Metrics in raw units, as train_mlp_ensemble's.
  std::vector<double> acc{0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  if (valid.rows() > 0) {
    const torch::Tensor truth = f.yv * f.out_scale + torch::tensor(p.output_mean, d).unsqueeze(0);
    acc[0] = ((mean - f.yv) * f.out_scale).pow(2).sum().item<double>();
    acc[1] = truth.pow(2).sum().item<double>();
    acc[2] = static_cast<double>(truth.numel());
    acc[3] = (mean - f.yv).pow(2).mean(1).sum().item<double>();
  }
  if (train.rows() > 0) {
    const torch::Tensor fit = torch::matmul(design(c.layout, f.zt), coef.mean(0));
    acc[4] = (fit - f.yt).pow(2).mean(1).sum().item<double>();
    acc[5] = static_cast<double>(train.rows());
  }
  detail::allreduce_sum(acc, comm);
  if (acc[2] > 0) {  // without validation rows there is no held-out figure, not a perfect one
    p.metrics["validation_rmse"] = std::sqrt(acc[0] / acc[2]);
    p.metrics["validation_relative_error"] = acc[1] > 0 ? std::sqrt(acc[0] / acc[1]) : 0.0;
    p.metrics["final_validation_loss"] = acc[3] / f.valid_rows;
  }
  p.metrics["final_training_loss"] = acc[5] > 0 ? acc[4] / acc[5] : 0.0;
  p.metrics["training_rows"] = f.train_rows;
  p.metrics["response_order"] = c.layout.order;
  p.metrics["response_ridge"] = c.alpha;

  p.attributes[detail::response_factors_key] = c.layout.factor_names(p.inputs);
  p.attributes[detail::response_order_key] = std::to_string(c.layout.order);
  const auto named = [](const std::string& name, const torch::Tensor& t) {
    const torch::Tensor v = t.to(torch::kFloat32).contiguous();
    return NamedTensor{name, std::vector<std::int64_t>(v.sizes().begin(), v.sizes().end()),
                       std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel())};
  };
  p.weights.push_back(named("response.weight", coef.narrow(1, 0, F)));
  p.weights.push_back(named("response.bias", coef.narrow(1, F, 1)));
  p.weights.push_back(named("response.noise", torch::tensor(noise, d).view({1, 1, n_out})));
  p.weights_sha256 = weights_digest(p);
  p.package_sha256 = package_digest(p);
  return p;
}

}  // namespace twin::advisor
