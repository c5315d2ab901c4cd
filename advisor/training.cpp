// Data-parallel training of MLP ensembles (LibTorch, gradients summed with MPI), and the
// least-squares fit of response ensembles (normal equations summed with MPI).
#include "advisor/training.hpp"

#include "advisor/detail/response.hpp"
#include "advisor/version.hpp"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "ground/check.hpp"
#include "ground/mpi.hpp"
#include "twin/error.hpp"

namespace twin::advisor {

namespace {

void allreduce_sum(std::vector<double>& v, MPI_Comm comm) {
  if (!v.empty()) TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, comm));
}

// Global column means and standard deviations of rows (n columns).
void column_moments(const std::vector<double>& rows, int n, MPI_Comm comm, std::vector<double>& mean,
                    std::vector<double>& sd, double& count) {
  std::vector<double> acc(2 * n + 1, 0.0);
  const long r = n ? static_cast<long>(rows.size()) / n : 0;
  for (long i = 0; i < r; ++i)
    for (int j = 0; j < n; ++j) acc[j] += rows[i * n + j];
  acc[2 * n] = static_cast<double>(r);
  allreduce_sum(acc, comm);
  count = acc[2 * n];
  mean.assign(n, 0.0);
  for (int j = 0; j < n; ++j) mean[j] = count > 0 ? acc[j] / count : 0.0;
  std::vector<double> var(n, 0.0);
  for (long i = 0; i < r; ++i)
    for (int j = 0; j < n; ++j) var[j] += (rows[i * n + j] - mean[j]) * (rows[i * n + j] - mean[j]);
  allreduce_sum(var, comm);
  sd.assign(n, 1.0);
  for (int j = 0; j < n; ++j) sd[j] = count > 1 ? std::sqrt(var[j] / (count - 1)) : 0.0;
}

FeatureStatistics statistics(const Dataset& d, int bins, MPI_Comm comm) {
  FeatureStatistics s;
  const int n = d.inputs;
  double count = 0.0;
  column_moments(d.x, n, comm, s.mean, s.std, count);
  s.samples = static_cast<long>(count);
  const long r = d.rows();
  s.covariance.assign(static_cast<std::size_t>(n) * n, 0.0);
  for (long i = 0; i < r; ++i)
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b)
        s.covariance[a * n + b] += (d.x[i * n + a] - s.mean[a]) * (d.x[i * n + b] - s.mean[b]);
  allreduce_sum(s.covariance, comm);
  for (double& c : s.covariance) c = count > 1 ? c / (count - 1) : 0.0;
  std::vector<double> lo(n, std::numeric_limits<double>::infinity()), hi(n, -std::numeric_limits<double>::infinity());
  for (long i = 0; i < r; ++i)
    for (int j = 0; j < n; ++j) lo[j] = std::min(lo[j], d.x[i * n + j]), hi[j] = std::max(hi[j], d.x[i * n + j]);
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, lo.data(), n, MPI_DOUBLE, MPI_MIN, comm));
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, hi.data(), n, MPI_DOUBLE, MPI_MAX, comm));
  s.bins = bins;
  s.edges.assign(static_cast<std::size_t>(n) * (bins + 1), 0.0);
  s.fractions.assign(static_cast<std::size_t>(n) * bins, 0.0);
  for (int j = 0; j < n; ++j) {
    const double a = std::isfinite(lo[j]) ? lo[j] : 0.0, b = std::isfinite(hi[j]) && hi[j] > a ? hi[j] : a + 1.0;
    for (int k = 0; k <= bins; ++k) s.edges[j * (bins + 1) + k] = a + (b - a) * k / bins;
    for (long i = 0; i < r; ++i) {
      const int k = std::min(bins - 1, std::max(0, static_cast<int>((d.x[i * n + j] - a) / (b - a) * bins)));
      s.fractions[j * bins + k] += 1.0;
    }
  }
  allreduce_sum(s.fractions, comm);
  for (double& f : s.fractions) f = count > 0 ? f / count : 0.0;
  return s;
}

// The statistics of the union of two data sets from theirs (pooled mean and covariance); the
// histogram is the newer set's. A fine-tuned model keeps what its start model knew: its OOD
// score covers both.
FeatureStatistics pooled(const FeatureStatistics& a, const FeatureStatistics& b) {
  if (a.mean.size() != b.mean.size() || a.covariance.size() != b.covariance.size() || a.samples < 2) return b;
  const std::size_t n = b.mean.size();
  const double na = static_cast<double>(a.samples), nb = static_cast<double>(b.samples), total = na + nb;
  FeatureStatistics s = b;
  s.samples = a.samples + b.samples;
  for (std::size_t i = 0; i < n; ++i) s.mean[i] = (na * a.mean[i] + nb * b.mean[i]) / total;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      const double shift = (a.mean[i] - b.mean[i]) * (a.mean[j] - b.mean[j]) * na * nb / total;
      s.covariance[i * n + j] =
          ((na - 1.0) * a.covariance[i * n + j] + (nb - 1.0) * b.covariance[i * n + j] + shift) / (total - 1.0);
    }
  for (std::size_t i = 0; i < n; ++i) s.std[i] = std::sqrt(std::max(0.0, s.covariance[i * n + i]));
  return s;
}

// A deterministic split of this rank's rows into training and validation: whole groups where
// the rows have them (spec.validation_group, else a seeded draw per group), rows otherwise.
void split_rows(const Dataset& shard, const TrainSpec& spec, MPI_Comm comm, Dataset& train, Dataset& valid) {
  int rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  const int n_in = shard.inputs, n_out = shard.outputs;
  const long rows = shard.rows();
  std::mt19937_64 split_rng(static_cast<std::uint64_t>(spec.seed) * 7919u + static_cast<std::uint64_t>(rank));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  train = Dataset{n_in, n_out, {}, {}, {}};
  valid = Dataset{n_in, n_out, {}, {}, {}};
  const bool grouped = static_cast<long>(shard.group.size()) == rows;
  const auto add = [&](Dataset& d, long i) {
    const std::vector<double> xi(shard.x.begin() + i * n_in, shard.x.begin() + (i + 1) * n_in);
    const std::vector<double> yi(shard.y.begin() + i * n_out, shard.y.begin() + (i + 1) * n_out);
    d.add(xi, yi, grouped ? shard.group[i] : -1);
  };
  std::map<long, bool> held_out;  // group -> validation
  for (long i = 0; i < rows; ++i) {
    bool validation = false;
    if (grouped) {
      const auto it = held_out.find(shard.group[i]);
      validation = it != held_out.end() ? it->second
                   : (held_out[shard.group[i]] = spec.validation_group ? spec.validation_group(shard.group[i])
                                                                       : unit(split_rng) < spec.validation_fraction);
    } else {
      validation = unit(split_rng) < spec.validation_fraction;
    }
    add(validation ? valid : train, i);
  }
  // Few groups may all land in training: then every k-th group (k = 1 / fraction) is held out.
  long held = valid.rows();
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &held, 1, MPI_LONG, MPI_SUM, comm));
  if (grouped && held == 0 && spec.validation_fraction > 0 && !spec.validation_group) {
    const long every = std::max(2L, std::lround(1.0 / spec.validation_fraction));
    train = Dataset{n_in, n_out, {}, {}, {}};
    for (long i = 0; i < rows; ++i) add(shard.group[i] % every == every - 1 ? valid : train, i);
  }
}

// What every trained package starts with: names, kind, the statistics of all of `shard` (pooled
// with `start`'s), the normalisation of the training rows (a constant input keeps scale 1;
// classification outputs are logits, unscaled). `count`: the training rows over the ranks.
ModelPackage package_head(const Dataset& shard, const Dataset& train, const TrainSpec& spec, const char* kind,
                          const ModelPackage* start, MPI_Comm comm, double& count) {
  ModelPackage p;
  p.name = spec.name;
  p.role = spec.role;
  p.kind = kind;
  p.inputs = spec.inputs;
  p.outputs = spec.outputs;
  p.libtorch_version = libtorch_version();
  p.training = statistics(shard, spec.histogram_bins, comm);
  if (start) p.training = pooled(start->training, p.training);
  const int n_in = shard.inputs, n_out = shard.outputs;
  column_moments(train.x, n_in, comm, p.input_mean, p.input_scale, count);
  TWIN_REQUIRE(count >= 2, Error, "too little training data for model '" + spec.name + "' (" + std::to_string(count) + " rows)");
  for (int j = 0; j < n_in; ++j)
    if (!(p.input_scale[j] > 1e-12 * std::max(1.0, std::abs(p.input_mean[j])))) p.input_scale[j] = 1.0;  // a constant input
  if (spec.loss == Loss::regression) {
    double ignored = 0.0;
    column_moments(train.y, n_out, comm, p.output_mean, p.output_scale, ignored);
    for (int j = 0; j < n_out; ++j)
      if (!(p.output_scale[j] > 1e-12)) p.output_scale[j] = 1.0;
  } else {
    p.output_mean.assign(n_out, 0.0);  // logits
    p.output_scale.assign(n_out, 1.0);
  }
  return p;
}

}  // namespace

struct EnsembleTrainer::Impl {
  TrainSpec spec;
  MPI_Comm comm;
  int n_in = 0, n_out = 0;
  Dataset train, valid;
  ModelPackage p;
  double count = 0.0;  // training rows, over the ranks
  torch::TensorOptions opts = torch::TensorOptions().dtype(torch::kFloat32);
  std::vector<torch::Tensor> weights, biases, params;
  torch::Tensor in_mean, in_scale, out_mean, out_scale, xt, yt, xv, yv;
  std::unique_ptr<torch::optim::Adam> adam;
  std::mt19937_64 order_rng;
  std::vector<long> order;
  std::vector<float> flat;
  long total_params = 0, steps_per_epoch = 0;
  int epoch = 0;
  long step_in_epoch = 0;

  torch::Tensor forward(const torch::Tensor& x) const {
    torch::Tensor h = x.unsqueeze(0).expand({p.ensemble, x.size(0), x.size(1)});
    for (std::size_t l = 0; l < weights.size(); ++l) {
      h = torch::baddbmm(biases[l], h, weights[l]);
      if (l + 1 < weights.size()) h = torch::tanh(h);
    }
    return h;  // [K, rows, out]
  }
  // Summed over rows and members (the caller divides by the global row count).
  torch::Tensor loss_sum(const torch::Tensor& y, const torch::Tensor& target) const {
    const int k_bin = spec.independent_outputs;
    const torch::Tensor t = target.unsqueeze(0).expand_as(y);
    if (spec.loss == Loss::regression) return (y - t).pow(2).mean(2).sum() / p.ensemble;
    torch::Tensor l = torch::zeros({}, opts);
    if (k_bin > 0)
      l = l + torch::binary_cross_entropy_with_logits(y.narrow(2, 0, k_bin), t.narrow(2, 0, k_bin), {}, {},
                                                      at::Reduction::Sum) / p.ensemble;
    if (n_out > k_bin) {
      const torch::Tensor logp = torch::log_softmax(y.narrow(2, k_bin, n_out - k_bin), 2);
      l = l - (logp * t.narrow(2, k_bin, n_out - k_bin)).sum() / p.ensemble;
    }
    return l;
  }
  double evaluate(const torch::Tensor& x, const torch::Tensor& y) const {
    torch::NoGradGuard g;
    std::vector<double> v{x.size(0) ? loss_sum(forward(x), y).item<double>() : 0.0, static_cast<double>(x.size(0))};
    allreduce_sum(v, comm);
    return v[1] > 0 ? v[0] / v[1] : 0.0;
  }
  torch::Tensor tensor_of(const std::vector<double>& v, long r, int n) const {
    std::vector<float> f(v.begin(), v.end());
    return torch::from_blob(f.data(), {r, n}, opts).clone();
  }
};

EnsembleTrainer::EnsembleTrainer(const Dataset& shard, const TrainSpec& spec, MPI_Comm comm, const ModelPackage* start)
    : m(std::make_unique<Impl>()) {
  Impl& s = *m;
  s.spec = spec;
  s.comm = comm;
  const int n_in = s.n_in = shard.inputs, n_out = s.n_out = shard.outputs;
  TWIN_REQUIRE(n_in == static_cast<int>(spec.inputs.size()) && n_out == static_cast<int>(spec.outputs.size()), Error,
               "training data has " + std::to_string(n_in) + " inputs and " + std::to_string(n_out) +
                   " outputs, the model declares " + std::to_string(spec.inputs.size()) + " and " +
                   std::to_string(spec.outputs.size()));
  if (start)
    TWIN_REQUIRE(start->kind == kind_mlp_ensemble && start->inputs == spec.inputs && start->outputs == spec.outputs, Error,
                 "model " + label(*start) + " cannot be fine-tuned for '" + spec.name +
                     "': another kind, or other inputs or outputs");
  int rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  Dataset& train = s.train;
  Dataset& valid = s.valid;
  split_rows(shard, spec, comm, train, valid);

  ModelPackage& p = s.p;
  p = package_head(shard, train, spec, kind_mlp_ensemble, start, comm, s.count);
  p.ensemble = start ? start->ensemble : spec.ensemble;
  p.hidden = start ? start->hidden : spec.hidden;
  if (start) {  // the weights only mean something with the normalisation they were trained with
    p.input_mean = start->input_mean;
    p.input_scale = start->input_scale;
    p.output_mean = start->output_mean;
    p.output_scale = start->output_scale;
  }

  torch::manual_seed(spec.seed);
  const auto& opts = s.opts;
  int in = n_in;
  for (std::size_t l = 0; l <= p.hidden.size(); ++l) {
    const int out = l < p.hidden.size() ? p.hidden[l] : n_out;
    torch::Tensor w = torch::randn({p.ensemble, in, out}, opts) / std::sqrt(static_cast<double>(in));
    torch::Tensor b = torch::zeros({p.ensemble, 1, out}, opts);
    if (start) {
      for (const NamedTensor& t : start->weights) {
        torch::Tensor& into = t.name == "layer" + std::to_string(l) + ".weight" ? w : b;
        if (t.name != "layer" + std::to_string(l) + ".weight" && t.name != "layer" + std::to_string(l) + ".bias") continue;
        TWIN_REQUIRE(static_cast<std::int64_t>(t.values.size()) == into.numel(), Error,
                     "model " + label(*start) + ": weight " + t.name + " does not have its layer's shape");
        into = torch::from_blob(const_cast<float*>(t.values.data()), into.sizes(), opts).clone();
      }
    }
    s.weights.push_back(w.requires_grad_(true));
    s.biases.push_back(b.requires_grad_(true));
    s.params.push_back(s.weights.back());
    s.params.push_back(s.biases.back());
    in = out;
  }
  s.in_mean = s.tensor_of(p.input_mean, 1, n_in);
  s.in_scale = s.tensor_of(p.input_scale, 1, n_in);
  s.out_mean = s.tensor_of(p.output_mean, 1, n_out);
  s.out_scale = s.tensor_of(p.output_scale, 1, n_out);
  s.xt = (s.tensor_of(train.x, train.rows(), n_in) - s.in_mean) / s.in_scale;
  s.yt = (s.tensor_of(train.y, train.rows(), n_out) - s.out_mean) / s.out_scale;
  s.xv = (s.tensor_of(valid.x, valid.rows(), n_in) - s.in_mean) / s.in_scale;
  s.yv = (s.tensor_of(valid.y, valid.rows(), n_out) - s.out_mean) / s.out_scale;

  s.steps_per_epoch = (train.rows() + spec.batch - 1) / spec.batch;
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &s.steps_per_epoch, 1, MPI_LONG, MPI_MAX, comm));
  s.adam = std::make_unique<torch::optim::Adam>(s.params, torch::optim::AdamOptions(spec.learning_rate));
  s.order_rng.seed(static_cast<std::uint64_t>(spec.seed) * 104729u + static_cast<std::uint64_t>(rank));
  s.order.resize(static_cast<std::size_t>(train.rows()));
  std::iota(s.order.begin(), s.order.end(), 0L);
  for (const auto& t : s.params) s.total_params += t.numel();
  s.flat.resize(static_cast<std::size_t>(s.total_params) + 1);
}

EnsembleTrainer::~EnsembleTrainer() = default;

int EnsembleTrainer::epoch() const { return m->epoch; }
int EnsembleTrainer::epochs() const { return m->spec.epochs; }
double EnsembleTrainer::training_loss() const { return m->evaluate(m->xt, m->yt); }
double EnsembleTrainer::validation_loss() const { return m->evaluate(m->xv, m->yv); }

bool EnsembleTrainer::step() {
  Impl& s = *m;
  if (s.epoch >= s.spec.epochs) return false;
  if (s.step_in_epoch == 0) {
    std::shuffle(s.order.begin(), s.order.end(), s.order_rng);
    // Cosine decay to a tenth of the rate.
    const double lr = s.spec.learning_rate * (0.55 + 0.45 * std::cos(M_PI * s.epoch / std::max(1, s.spec.epochs)));
    for (auto& group : s.adam->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  }
  if (s.steps_per_epoch > 0) {
    const long first = s.step_in_epoch * s.spec.batch, last = std::min<long>(first + s.spec.batch, s.train.rows());
    s.adam->zero_grad();
    double local_rows = 0.0;
    if (last > first) {
      std::vector<long> idx(s.order.begin() + first, s.order.begin() + last);
      const torch::Tensor ix = torch::tensor(idx, torch::kLong);
      s.loss_sum(s.forward(s.xt.index_select(0, ix)), s.yt.index_select(0, ix)).backward();
      local_rows = static_cast<double>(last - first);
    }
    // One allreduce for every gradient and the row count; every rank then takes the same step.
    long off = 0;
    for (const auto& t : s.params) {
      if (t.grad().defined()) {
        const torch::Tensor g = t.grad().contiguous();
        std::copy(g.data_ptr<float>(), g.data_ptr<float>() + g.numel(), s.flat.begin() + off);
      } else {
        std::fill(s.flat.begin() + off, s.flat.begin() + off + t.numel(), 0.0f);
      }
      off += t.numel();
    }
    s.flat[static_cast<std::size_t>(s.total_params)] = static_cast<float>(local_rows);
    TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, s.flat.data(), static_cast<int>(s.flat.size()), MPI_FLOAT, MPI_SUM, s.comm));
    const float global_rows = s.flat[static_cast<std::size_t>(s.total_params)];
    if (global_rows > 0.0f) {
      off = 0;
      for (auto& t : s.params) {
        t.mutable_grad() = torch::from_blob(s.flat.data() + off, t.sizes(), s.opts).clone() / global_rows;
        off += t.numel();
      }
      s.adam->step();
    }
  }
  if (++s.step_in_epoch >= s.steps_per_epoch) {
    s.step_in_epoch = 0;
    ++s.epoch;
  }
  return s.epoch < s.spec.epochs;
}

ModelPackage EnsembleTrainer::finish() {
  Impl& s = *m;
  ModelPackage p = s.p;
  const int n_out = s.n_out, k_bin = s.spec.independent_outputs;
  const torch::Tensor &xv = s.xv, &yv = s.yv;
  // Validation metrics on raw units.
  torch::NoGradGuard no_grad;
  if (s.spec.loss == Loss::regression) {
    std::vector<double> acc{0.0, 0.0, 0.0};
    if (xv.size(0) > 0) {
      const torch::Tensor pred = s.forward(xv).mean(0) * s.out_scale + s.out_mean;
      const torch::Tensor truth = yv * s.out_scale + s.out_mean;
      acc[0] = (pred - truth).pow(2).sum().item<double>();
      acc[1] = truth.pow(2).sum().item<double>();
      acc[2] = static_cast<double>(truth.numel());
    }
    allreduce_sum(acc, s.comm);
    p.metrics["validation_rmse"] = acc[2] > 0 ? std::sqrt(acc[0] / acc[2]) : 0.0;
    p.metrics["validation_relative_error"] = acc[1] > 0 ? std::sqrt(acc[0] / acc[1]) : 0.0;
  } else {
    std::vector<double> acc{0.0, 0.0, 0.0};
    if (xv.size(0) > 0 && n_out > k_bin) {
      const torch::Tensor y = s.forward(xv);
      const torch::Tensor prob = torch::softmax(y.narrow(2, k_bin, n_out - k_bin), 2).mean(0);
      const torch::Tensor hit = prob.argmax(1) == yv.narrow(1, k_bin, n_out - k_bin).argmax(1);
      acc[0] = hit.sum().item<double>();
      acc[1] = static_cast<double>(xv.size(0));
      acc[2] = s.loss_sum(y, yv).item<double>();
    }
    // Per class of the softmax group: rows of that class, and how many were called right.
    const int n_cls = n_out - k_bin;
    std::vector<double> per_class(static_cast<std::size_t>(2 * std::max(0, n_cls)), 0.0);
    if (xv.size(0) > 0 && n_cls > 0) {
      const torch::Tensor prob = torch::softmax(s.forward(xv).narrow(2, k_bin, n_cls), 2).mean(0);
      const torch::Tensor truth = yv.narrow(1, k_bin, n_cls).argmax(1), called = prob.argmax(1);
      for (int k = 0; k < n_cls; ++k) {
        per_class[2 * k] = (truth == k).sum().item<double>();
        per_class[2 * k + 1] = ((truth == k) & (called == k)).sum().item<double>();
      }
    }
    allreduce_sum(per_class, s.comm);
    for (int k = 0; k < n_cls; ++k)
      if (per_class[2 * k] > 0)
        p.metrics["validation_recall:" + s.spec.outputs[k_bin + k]] = per_class[2 * k + 1] / per_class[2 * k];
    allreduce_sum(acc, s.comm);
    p.metrics["validation_accuracy"] = acc[1] > 0 ? acc[0] / acc[1] : 0.0;
    p.metrics["validation_loss"] = acc[1] > 0 ? acc[2] / acc[1] : 0.0;
  }
  p.metrics["training_rows"] = s.count;
  p.metrics["final_training_loss"] = s.evaluate(s.xt, s.yt);
  p.metrics["final_validation_loss"] = s.evaluate(xv, yv);

  for (std::size_t l = 0; l < s.weights.size(); ++l) {
    for (const auto& [t, suffix] : {std::pair{s.weights[l], ".weight"}, std::pair{s.biases[l], ".bias"}}) {
      const torch::Tensor c = t.detach().contiguous();
      NamedTensor nt{"layer" + std::to_string(l) + suffix, std::vector<std::int64_t>(c.sizes().begin(), c.sizes().end()),
                     std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel())};
      p.weights.push_back(std::move(nt));
    }
  }
  p.weights_sha256 = weights_digest(p);
  p.package_sha256 = package_digest(p);  // the registry seals it again with its version and lineage
  return p;
}

ModelPackage train_mlp_ensemble(const Dataset& shard, const TrainSpec& spec, MPI_Comm comm, const TrainProgress& progress) {
  EnsembleTrainer trainer(shard, spec, comm);
  for (bool more = spec.epochs > 0; more;) {
    const int before = trainer.epoch();
    more = trainer.step();
    const int epoch = trainer.epoch();
    if (progress && epoch != before && ((epoch - 1) % 20 == 0 || epoch == spec.epochs))
      progress(epoch, trainer.training_loss(), trainer.validation_loss());
  }
  return trainer.finish();
}


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

}  // namespace

ModelPackage train_response_ensemble(const Dataset& shard, const TrainSpec& spec, MPI_Comm comm, const ModelPackage* start) {
  const int n_in = shard.inputs, n_out = shard.outputs;
  TWIN_REQUIRE(spec.loss == Loss::regression, Error, "model '" + spec.name + "': a response model predicts values, not classes");
  TWIN_REQUIRE(n_in == static_cast<int>(spec.inputs.size()) && n_out == static_cast<int>(spec.outputs.size()), Error,
               "training data has " + std::to_string(n_in) + " inputs and " + std::to_string(n_out) +
                   " outputs, the model declares " + std::to_string(spec.inputs.size()) + " and " +
                   std::to_string(spec.outputs.size()));
  if (start)
    TWIN_REQUIRE(start->kind == kind_response_ensemble && start->inputs == spec.inputs && start->outputs == spec.outputs, Error,
                 "model " + label(*start) + " cannot be refitted as '" + spec.name + "': another kind, or other inputs or outputs");
  int rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  Dataset train, valid;
  split_rows(shard, spec, comm, train, valid);
  double count = 0.0;
  ModelPackage p = package_head(shard, train, spec, kind_response_ensemble, start, comm, count);
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

  const auto d = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor out_scale = torch::tensor(p.output_scale, d).unsqueeze(0);
  const torch::Tensor zt = normalised(train.x, n_in, p.input_mean, p.input_scale);
  const torch::Tensor yt = normalised(train.y, n_out, p.output_mean, p.output_scale);
  const torch::Tensor zv = normalised(valid.x, n_in, p.input_mean, p.input_scale);
  const torch::Tensor yv = normalised(valid.y, n_out, p.output_mean, p.output_scale);
  double valid_rows = static_cast<double>(valid.rows());
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &valid_rows, 1, MPI_DOUBLE, MPI_SUM, comm));

  // The order and the ridge: the pair with the least error on the validation rows of a fit on
  // the training rows. Without validation rows (too few groups to hold any out), the least
  // generalised cross-validation score on the training rows (Golub, Heath & Wahba 1979),
  // n RSS / (n - tr H)^2, and the noise term is the residuals' standard deviation, RSS / (n - tr H).
  torch::Tensor yy = yt.pow(2).sum(0);  // per output
  allreduce_sum(yy, comm);
  detail::ResponseLayout layout = first;
  double alpha = 1e-6, best = std::numeric_limits<double>::infinity();
  std::vector<double> residual_sd(n_out, 0.0);
  for (int order : orders) {
    detail::ResponseLayout l = first;
    l.order = order;
    const torch::Tensor xt = design(l, zt), xv = design(l, zv);
    torch::Tensor a = torch::matmul(xt.t(), xt), b = torch::matmul(xt.t(), yt);
    allreduce_sum(a, comm);
    allreduce_sum(b, comm);
    const std::vector<double> ridges = start ? std::vector<double>{1e-4, 1e-2, 1.0, 1e2, 1e4} : std::vector<double>{1e-8, 1e-6, 1e-4, 1e-2, 1.0};
    for (double candidate : ridges) {
      double hat = 0.0;
      const torch::Tensor coef = ridge_solve(a, b, candidate, &hat, prior);
      double score = std::numeric_limits<double>::infinity();
      torch::Tensor rss;
      if (valid_rows > 0) {
        torch::Tensor sse = ((torch::matmul(xv, coef) - yv) * out_scale).pow(2).sum();
        allreduce_sum(sse, comm);
        score = sse.item<double>();
      } else if (count - hat > 1.0) {
        rss = (yy - 2.0 * (coef * b).sum(0) + (coef * torch::matmul(a, coef)).sum(0)).clamp_min(0.0);
        score = count * (rss * out_scale.squeeze(0).pow(2)).sum().item<double>() / ((count - hat) * (count - hat));
      }
      if (!(score < best)) continue;
      best = score, layout = l, alpha = candidate;
      if (rss.defined())
        for (int o = 0; o < n_out; ++o) residual_sd[o] = std::sqrt(rss[o].item<double>() / (count - hat));
    }
  }

  // The members: fits on bootstrap draws of the training groups.
  const torch::Tensor xt = design(layout, zt), xv = design(layout, zv);
  const long F = layout.features();
  // Training groups over the ranks (each rank holds its own: sequences are split by rank).
  double groups = 0.0;
  if (static_cast<long>(train.group.size()) == train.rows())
    groups = static_cast<double>(std::set<long>(train.group.begin(), train.group.end()).size());
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &groups, 1, MPI_DOUBLE, MPI_SUM, comm));
  const bool by_group = groups >= 8.0;
  std::vector<torch::Tensor> w_members, b_members, valid_pred;
  for (int k = 0; k < p.ensemble; ++k) {
    const torch::Tensor w =
        p.ensemble > 1 ? bootstrap_weights(train, spec.seed, k, rank, by_group) : torch::ones({train.rows(), 1}, d);
    torch::Tensor a = torch::matmul(xt.t(), xt * w), b = torch::matmul(xt.t(), yt * w);
    allreduce_sum(a, comm);
    allreduce_sum(b, comm);
    const torch::Tensor coef = ridge_solve(a, b, alpha, nullptr, prior);  // [F + 1, outputs]
    w_members.push_back(coef.narrow(0, 0, F));
    b_members.push_back(coef.narrow(0, F, 1));
    valid_pred.push_back(torch::matmul(xv, coef));
  }
  const torch::Tensor members = torch::stack(valid_pred);  // [K, rows, outputs], normalised
  const torch::Tensor mean = members.mean(0);
  const torch::Tensor var = p.ensemble > 1 ? members.var(0, true) : torch::zeros_like(mean);
  const torch::Tensor err = (mean - yv).abs();

  // The noise term per output: the smallest that puts 95 % of the validation residuals within
  // +-2 sd of the ensemble (bisection on counts summed over the ranks).
  std::vector<double> lo(n_out, 0.0), hi(n_out, 0.0);
  if (valid.rows() > 0) {
    const torch::Tensor m = std::get<0>(err.max(0)).contiguous();
    std::copy(m.data_ptr<double>(), m.data_ptr<double>() + n_out, hi.begin());
  }
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, hi.data(), n_out, MPI_DOUBLE, MPI_MAX, comm));
  const auto covered = [&](const std::vector<double>& s) {
    torch::Tensor c = torch::zeros({n_out}, d);
    if (valid.rows() > 0) {
      const torch::Tensor noise = torch::tensor(s, d).unsqueeze(0);
      c = (err <= 2.0 * torch::sqrt(var + noise.pow(2))).to(torch::kFloat64).sum(0);
    }
    allreduce_sum(c, comm);
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + n_out);
  };
  for (int o = 0; o < n_out; ++o) hi[o] = hi[o] / 2.0 + 1e-12;
  if (valid_rows > 0) {
    const std::vector<double> at_zero = covered(lo);
    for (int it = 0; it < 50; ++it) {
      std::vector<double> mid(n_out);
      for (int o = 0; o < n_out; ++o) mid[o] = 0.5 * (lo[o] + hi[o]);
      const std::vector<double> c = covered(mid);
      for (int o = 0; o < n_out; ++o) (c[o] >= 0.95 * valid_rows ? hi[o] : lo[o]) = mid[o];
    }
    for (int o = 0; o < n_out; ++o)
      if (at_zero[o] >= 0.95 * valid_rows) hi[o] = 0.0;
  } else {
    hi = residual_sd;
  }
  const std::vector<double>& noise = hi;

  // Metrics in raw units, as train_mlp_ensemble's.
  std::vector<double> acc{0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  if (valid.rows() > 0) {
    const torch::Tensor raw_err = (mean - yv) * out_scale, truth = yv * out_scale + torch::tensor(p.output_mean, d).unsqueeze(0);
    acc[0] = raw_err.pow(2).sum().item<double>();
    acc[1] = truth.pow(2).sum().item<double>();
    acc[2] = static_cast<double>(truth.numel());
    acc[3] = (mean - yv).pow(2).mean(1).sum().item<double>();
  }
  if (train.rows() > 0) {
    torch::Tensor fit = torch::zeros_like(yt);
    for (int k = 0; k < p.ensemble; ++k) fit = fit + torch::matmul(xt, torch::cat({w_members[k], b_members[k]}, 0));
    acc[4] = (fit / p.ensemble - yt).pow(2).mean(1).sum().item<double>();
    acc[5] = static_cast<double>(train.rows());
  }
  allreduce_sum(acc, comm);
  p.metrics["validation_rmse"] = acc[2] > 0 ? std::sqrt(acc[0] / acc[2]) : 0.0;
  p.metrics["validation_relative_error"] = acc[1] > 0 ? std::sqrt(acc[0] / acc[1]) : 0.0;
  p.metrics["final_validation_loss"] = valid_rows > 0 ? acc[3] / valid_rows : 0.0;
  p.metrics["final_training_loss"] = acc[5] > 0 ? acc[4] / acc[5] : 0.0;
  p.metrics["training_rows"] = count;
  p.metrics["response_order"] = layout.order;
  p.metrics["response_ridge"] = alpha;

  p.attributes[detail::response_factors_key] = layout.factor_names(p.inputs);
  p.attributes[detail::response_order_key] = std::to_string(layout.order);
  const auto named = [](const std::string& name, const torch::Tensor& t) {
    const torch::Tensor c = t.to(torch::kFloat32).contiguous();
    return NamedTensor{name, std::vector<std::int64_t>(c.sizes().begin(), c.sizes().end()),
                       std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel())};
  };
  p.weights.push_back(named("response.weight", torch::stack(w_members)));
  p.weights.push_back(named("response.bias", torch::stack(b_members)));
  p.weights.push_back(named("response.noise", torch::tensor(noise, d).view({1, 1, n_out})));
  p.weights_sha256 = weights_digest(p);
  p.package_sha256 = package_digest(p);
  return p;
}

}  // namespace twin::advisor
