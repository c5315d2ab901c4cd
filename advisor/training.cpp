// Data-parallel training of MLP ensembles (LibTorch, gradients summed with MPI). The response
// models' fit is in response_training.cpp; what both share in training_data.cpp.
#include "advisor/training.hpp"

#include "advisor/detail/training_data.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "ground/check.hpp"
#include "ground/mpi.hpp"
#include "twin/error.hpp"

namespace twin::advisor {

using detail::allreduce_sum;
using detail::column_moments;


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
  detail::check_shapes(shard, spec);
  if (start)
    TWIN_REQUIRE(start->kind == kind_mlp_ensemble && start->inputs == spec.inputs && start->outputs == spec.outputs, Error,
                 "model " + label(*start) + " cannot be fine-tuned for '" + spec.name +
                     "': another kind, or other inputs or outputs");
  int rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  Dataset& train = s.train;
  Dataset& valid = s.valid;
  detail::split_rows(shard, spec, comm, train, valid);

  ModelPackage& p = s.p;
  p = detail::package_head(shard, train, spec, kind_mlp_ensemble, start, comm, s.count);
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
    if (acc[2] > 0) {  // without validation rows there is no held-out figure, not a perfect one
      p.metrics["validation_rmse"] = std::sqrt(acc[0] / acc[2]);
      p.metrics["validation_relative_error"] = acc[1] > 0 ? std::sqrt(acc[0] / acc[1]) : 0.0;
    }
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
    if (acc[1] > 0) {
      p.metrics["validation_accuracy"] = acc[0] / acc[1];
      p.metrics["validation_loss"] = acc[2] / acc[1];
    }
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


}  // namespace twin::advisor
