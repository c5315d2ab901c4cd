// Model packages turned into LibTorch networks; inference, proposals and attribution.
#include "advisor/model.hpp"

#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

#include "advisor/version.hpp"
#include "ground/sha256.hpp"
#include "twin/error.hpp"

namespace twin::advisor {

namespace {

[[noreturn]] void fail(const ModelPackage& p, const std::string& what) {
  throw AdvisorError("model " + label(p) + ": " + what);
}

torch::Tensor to_tensor(const std::vector<double>& v) {
  return torch::tensor(std::vector<float>(v.begin(), v.end()), torch::kFloat32);
}

std::string major_minor(const std::string& v) { return v.substr(0, v.find('.', v.find('.') + 1)); }

}  // namespace

std::string label(const ModelPackage& p) { return (p.name.empty() ? "<unnamed>" : p.name) + " v" + std::to_string(p.version); }

std::string weights_digest(const ModelPackage& p) {
  if (p.kind == kind_torchscript) return sha256_hex(p.script.data(), p.script.size());
  std::string bytes;
  for (const NamedTensor& t : p.weights) {
    bytes += t.name;
    bytes.push_back('\0');
    bytes.append(reinterpret_cast<const char*>(t.shape.data()), t.shape.size() * sizeof(std::int64_t));
    bytes.append(reinterpret_cast<const char*>(t.values.data()), t.values.size() * sizeof(float));
  }
  return sha256_hex(bytes.data(), bytes.size());
}

void validate(const ModelPackage& p) {
  if (p.kind != kind_mlp_ensemble && p.kind != kind_torchscript)
    fail(p, "unknown kind '" + p.kind + "' (known: mlp_ensemble, torchscript)");
  // The hash first: nothing from the file is interpreted before it matches.
  const std::string digest = weights_digest(p);
  if (p.weights_sha256 != digest)
    fail(p, "weights sha256 mismatch (the file says " + p.weights_sha256.substr(0, 16) + "..., the weights give " +
                digest.substr(0, 16) + "...): the file was modified or corrupted; restore it or train again");
  if (major_minor(p.libtorch_version) != major_minor(libtorch_version()))
    fail(p, "written by LibTorch " + p.libtorch_version + ", this build runs " + libtorch_version() +
                "; retrain or import it again with this version");
  const std::size_t n_in = p.inputs.size(), n_out = p.outputs.size();
  if (n_in == 0 || n_out == 0) fail(p, "has no inputs or no outputs");
  if (p.input_mean.size() != n_in || p.input_scale.size() != n_in || p.output_mean.size() != n_out ||
      p.output_scale.size() != n_out)
    fail(p, "normalisation sizes do not match its " + std::to_string(n_in) + " inputs and " + std::to_string(n_out) +
                " outputs");
  for (double s : p.input_scale)
    if (!(s > 0.0) || !std::isfinite(s)) fail(p, "an input scale is not a positive number");
  for (double s : p.output_scale)
    if (!(s > 0.0) || !std::isfinite(s)) fail(p, "an output scale is not a positive number");
  for (double m : p.input_mean)
    if (!std::isfinite(m)) fail(p, "an input mean is not finite");
  for (double m : p.output_mean)
    if (!std::isfinite(m)) fail(p, "an output mean is not finite");
  if (p.ensemble < 1) fail(p, "ensemble size must be at least 1");
  if (p.kind == kind_torchscript) {
    if (p.script.empty()) fail(p, "holds no TorchScript module");
    return;
  }
  const std::size_t layers = p.hidden.size() + 1;
  if (p.weights.size() != 2 * layers)
    fail(p, "expected " + std::to_string(2 * layers) + " weight arrays for " + std::to_string(p.hidden.size()) +
                " hidden layers, found " + std::to_string(p.weights.size()));
  std::int64_t in = static_cast<std::int64_t>(n_in);
  for (std::size_t l = 0; l < layers; ++l) {
    const std::int64_t out = l + 1 < layers ? p.hidden[l] : static_cast<std::int64_t>(n_out);
    const NamedTensor& w = p.weights[2 * l];
    const NamedTensor& b = p.weights[2 * l + 1];
    const std::vector<std::int64_t> ws{p.ensemble, in, out}, bs{p.ensemble, 1, out};
    if (w.name != "layer" + std::to_string(l) + ".weight" || w.shape != ws)
      fail(p, "weight '" + w.name + "' has the wrong name or shape for layer " + std::to_string(l));
    if (b.name != "layer" + std::to_string(l) + ".bias" || b.shape != bs)
      fail(p, "bias '" + b.name + "' has the wrong name or shape for layer " + std::to_string(l));
    for (const NamedTensor* t : {&w, &b}) {
      std::int64_t count = 1;
      for (auto d : t->shape) count *= d;
      if (static_cast<std::int64_t>(t->values.size()) != count) fail(p, "'" + t->name + "' holds the wrong number of values");
      for (float v : t->values)
        if (!std::isfinite(v)) fail(p, "'" + t->name + "' holds a non-finite value");
    }
    in = out;
  }
}

struct Model::Impl {
  ModelPackage package;
  std::vector<torch::Tensor> weights, biases;  // mlp_ensemble
  std::unique_ptr<torch::jit::script::Module> script;
  torch::Tensor in_mean, in_scale, out_mean, out_scale;
  // mlp_ensemble, for one row at a time: the folded weights as plain arrays. A one-row forward
  // is a few thousand multiply-adds per layer; LibTorch's dispatch and allocation per op cost
  // more than the arithmetic, so predict and predict_moments run it here on the same weights.
  std::vector<std::vector<float>> host_w, host_b;  // per layer: [members][in][out], [members][out]
  std::vector<int> widths;                         // inputs, hidden..., outputs
  mutable std::vector<float> act_a, act_b, host_out;  // scratch (a Model is used by one thread)

  // x: one row of raw inputs; returns members x outputs (valid until the next call).
  const float* forward_host(const double* x) const {
    const int K = package.ensemble, L = static_cast<int>(host_w.size());
    host_out.resize(static_cast<std::size_t>(K) * widths[L]);
    float* out = host_out.data();
    for (int k = 0; k < K; ++k) {
      act_a.assign(x, x + widths[0]);
      for (int l = 0; l < L; ++l) {
        const int n_in = widths[l], n_out = widths[l + 1];
        const float* w = host_w[l].data() + static_cast<std::size_t>(k) * n_in * n_out;
        const float* b = host_b[l].data() + static_cast<std::size_t>(k) * n_out;
        act_b.assign(b, b + n_out);
        for (int i = 0; i < n_in; ++i) {
          const float a = act_a[i];
          const float* row = w + static_cast<std::size_t>(i) * n_out;
          for (int j = 0; j < n_out; ++j) act_b[j] += a * row[j];
        }
        if (l + 1 < L)
          for (float& v : act_b) v = std::tanh(v);
        std::swap(act_a, act_b);
      }
      std::copy(act_a.begin(), act_a.end(), out + static_cast<std::size_t>(k) * widths[L]);
    }
    return out;
  }

  // Raw inputs [batch, in] -> raw outputs [members, batch, out]. An MLP ensemble has its
  // normalisation folded into its first and last layers at load (fewer ops per forward).
  torch::Tensor forward(const torch::Tensor& x_raw) const {
    if (!script) {
      torch::Tensor h = x_raw.unsqueeze(0).expand({package.ensemble, x_raw.size(0), x_raw.size(1)});
      for (std::size_t l = 0; l < weights.size(); ++l) {
        h = torch::baddbmm(biases[l], h, weights[l]);
        if (l + 1 < weights.size()) h = torch::tanh(h);
      }
      return h;
    }
    const torch::Tensor x = (x_raw - in_mean) / in_scale;
    torch::Tensor y;
    try {
      y = script->forward({x}).toTensor();
    } catch (const std::exception& e) {  // c10::Error, or std::runtime_error for wrong shapes
      throw AdvisorError("model " + label(package) + ": forward failed: " + e.what());
    }
    if (y.dim() == 2) y = y.unsqueeze(0);
    if (y.dim() != 3 || y.size(1) != x.size(0) || y.size(2) != static_cast<long>(package.outputs.size()))
      throw AdvisorError("model " + label(package) + ": forward returned shape " + shape_text(y) + ", expected [" +
                         std::to_string(x.size(0)) + ", " + std::to_string(package.outputs.size()) +
                         "] or [members, batch, outputs]");
    return y.to(torch::kFloat32) * out_scale + out_mean;
  }

  static std::string shape_text(const torch::Tensor& t) {
    std::string s = "[";
    for (long d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
    return s + "]";
  }

  torch::Tensor rows(const double* x, int batch) const {
    const long n = static_cast<long>(package.inputs.size());
    return torch::from_blob(const_cast<double*>(x), {batch, n}, torch::kFloat64).to(torch::kFloat32);
  }
};

Model::Model(ModelPackage package) : m_impl(std::make_unique<Impl>()) {
  validate(package);
  Impl& m = *m_impl;
  m.package = std::move(package);
  const ModelPackage& p = m.package;
  m.in_mean = to_tensor(p.input_mean);
  m.in_scale = to_tensor(p.input_scale);
  m.out_mean = to_tensor(p.output_mean);
  m.out_scale = to_tensor(p.output_scale);
  if (p.kind == kind_torchscript) {
    // validate() has matched the sha256 of these bytes: LibTorch itself checks nothing.
    std::istringstream in(std::string(p.script.begin(), p.script.end()));
    try {
      m.script = std::make_unique<torch::jit::script::Module>(torch::jit::load(in));
    } catch (const std::exception& e) {
      fail(p, std::string("TorchScript module does not load: ") + e.what());
    }
    m.script->eval();
  } else {
    for (std::size_t l = 0; l < p.weights.size(); l += 2) {
      const NamedTensor& w = p.weights[l];
      const NamedTensor& b = p.weights[l + 1];
      m.weights.push_back(torch::tensor(w.values, torch::kFloat32).reshape(w.shape));
      m.biases.push_back(torch::tensor(b.values, torch::kFloat32).reshape(b.shape));
    }
    // Fold the normalisation in, in double precision: ((x - m) / s) W + b = x W' + (b - m W') with
    // W' = W / s on the first layer, and y s_out + m_out on the last.
    torch::NoGradGuard no_grad;
    const auto as_double = [](const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); };
    const torch::Tensor s_in = as_double(p.input_scale), m_in = as_double(p.input_mean);
    const torch::Tensor w0 = m.weights.front().to(torch::kFloat64) / s_in.view({1, -1, 1});
    m.biases.front() = (m.biases.front().to(torch::kFloat64) - torch::matmul(m_in.view({1, 1, -1}), w0))
                           .to(torch::kFloat32);
    m.weights.front() = w0.to(torch::kFloat32);
    const torch::Tensor s_out = as_double(p.output_scale).view({1, 1, -1}), m_out = as_double(p.output_mean).view({1, 1, -1});
    m.weights.back() = (m.weights.back().to(torch::kFloat64) * s_out).to(torch::kFloat32);
    m.biases.back() = (m.biases.back().to(torch::kFloat64) * s_out + m_out).to(torch::kFloat32);
    m.widths.push_back(static_cast<int>(p.inputs.size()));
    for (std::size_t l = 0; l < m.weights.size(); ++l) {
      const torch::Tensor w = m.weights[l].contiguous(), b = m.biases[l].contiguous();
      m.host_w.emplace_back(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
      m.host_b.emplace_back(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
      m.widths.push_back(static_cast<int>(w.size(2)));
    }
  }
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const ModelPackage& Model::package() const { return m_impl->package; }
int Model::inputs() const { return static_cast<int>(m_impl->package.inputs.size()); }
int Model::outputs() const { return static_cast<int>(m_impl->package.outputs.size()); }
int Model::members() const { return m_impl->package.ensemble; }

void Model::predict(const double* x, int batch, std::vector<double>& members_out) const {
  if (batch == 1 && !m_impl->script) {
    const float* y = m_impl->forward_host(x);
    members_out.assign(y, y + static_cast<std::size_t>(members()) * outputs());
    return;
  }
  torch::InferenceMode guard;
  const torch::Tensor y = m_impl->forward(m_impl->rows(x, batch)).contiguous();
  members_out.assign(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}

void Model::predict_moments(const double* x, int batch, std::vector<double>& mean, std::vector<double>& std) const {
  torch::Tensor c;
  const float* v = nullptr;
  long k = members(), n = static_cast<long>(batch) * outputs();
  if (batch == 1 && !m_impl->script) {
    v = m_impl->forward_host(x);
  } else {
    torch::InferenceMode guard;
    c = m_impl->forward(m_impl->rows(x, batch)).contiguous();  // float32 [members, batch, out]
    v = c.data_ptr<float>();
    k = c.size(0);
    n = c.size(1) * c.size(2);
  }
  if (k == 1) {
    mean.assign(v, v + n);
    std.assign(mean.size(), 0.0);
    return;
  }
  // Two passes over the members in double.
  mean.assign(static_cast<std::size_t>(n), 0.0);
  std.assign(static_cast<std::size_t>(n), 0.0);
  for (long m = 0; m < k; ++m)
    for (long i = 0; i < n; ++i) mean[i] += v[m * n + i];
  for (long i = 0; i < n; ++i) mean[i] /= static_cast<double>(k);
  for (long m = 0; m < k; ++m)
    for (long i = 0; i < n; ++i) std[i] += (v[m * n + i] - mean[i]) * (v[m * n + i] - mean[i]);
  for (long i = 0; i < n; ++i) std[i] = std::sqrt(std[i] / static_cast<double>(k - 1));
}

std::vector<double> Model::input_gradient(const double* x, int output) const {
  torch::Tensor in = m_impl->rows(x, 1).requires_grad_(true);
  const torch::Tensor y = m_impl->forward(in).mean(0);
  y.index({0, output}).backward();
  const torch::Tensor g = in.grad().to(torch::kFloat64).contiguous();
  return std::vector<double>(g.data_ptr<double>(), g.data_ptr<double>() + g.numel());
}

void Model::warm_up() const {
  std::vector<double> x(m_impl->package.input_mean), mean, sd;
  for (int i = 0; i < 3; ++i) predict_moments(x.data(), 1, mean, sd);
}

ProposalResult propose(const Model& surrogate, const ProposalProblem& pb) {
  const Model::Impl& m = surrogate.impl();
  const long n_in = surrogate.inputs(), n_out = surrogate.outputs();
  const long n = static_cast<long>(pb.control_inputs.size());
  const long c = std::max(1, pb.candidates);
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);

  // x = base * keep + u @ place: the controls written into their input slots.
  torch::Tensor base = to_tensor(pb.features).unsqueeze(0);
  torch::Tensor keep = torch::ones({1, n_in}, opts), place = torch::zeros({n, n_in}, opts);
  for (long j = 0; j < n; ++j) {
    keep.index_put_({0, pb.control_inputs[j]}, 0.0f);
    place.index_put_({j, pb.control_inputs[j]}, 1.0f);
  }
  const torch::Tensor lower = to_tensor(pb.lower).unsqueeze(0), range = (to_tensor(pb.upper) - to_tensor(pb.lower)).unsqueeze(0);
  const torch::Tensor out_base = to_tensor(pb.base).unsqueeze(0);
  torch::Tensor target = to_tensor(pb.target).unsqueeze(0), weight = to_tensor(pb.target_weight).unsqueeze(0);
  target = torch::where(weight > 0, target, torch::zeros_like(target));
  std::vector<double> lim(pb.limit);
  std::vector<double> has_limit(lim.size());
  for (std::size_t i = 0; i < lim.size(); ++i) {
    has_limit[i] = std::isfinite(lim[i]) ? 1.0 : 0.0;
    if (!std::isfinite(lim[i])) lim[i] = 0.0;
  }
  const torch::Tensor limit = to_tensor(lim).unsqueeze(0), limited = to_tensor(has_limit).unsqueeze(0);

  // Starting points in the unit box: the given start, the centre, then seeded random points.
  std::vector<float> z0(static_cast<std::size_t>(c * n));
  std::mt19937 rng(pb.seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (long k = 0; k < c; ++k)
    for (long j = 0; j < n; ++j) {
      const double r = pb.upper[j] - pb.lower[j];
      float v = 0.5f;
      if (k == 0) v = r > 0 ? static_cast<float>((pb.start[j] - pb.lower[j]) / r) : 0.0f;
      else if (k > 1) v = unit(rng);
      z0[k * n + j] = std::min(1.0f, std::max(0.0f, v));
    }
  torch::Tensor z = torch::from_blob(z0.data(), {c, n}, opts).clone().requires_grad_(true);

  const auto cost_of = [&](const torch::Tensor& zz, torch::Tensor* mean, torch::Tensor* sd) {
    const torch::Tensor u = lower + zz * range;
    const torch::Tensor x = base * keep + torch::matmul(u, place);
    const torch::Tensor y_members = m.forward(x);  // [K, c, out]
    const torch::Tensor y = y_members.mean(0) + out_base;
    if (mean) *mean = y;
    if (sd) *sd = y_members.size(0) > 1 ? y_members.std(0, true) : torch::zeros_like(y);
    const torch::Tensor track = (weight * (y - target).pow(2)).sum(1);
    const torch::Tensor over = (limited * torch::relu(y - limit).pow(2)).sum(1) * pb.limit_weight;
    const torch::Tensor energy = u.sum(1) * pb.energy_weight;
    return track + over + energy;
  };

  torch::optim::Adam adam({z}, torch::optim::AdamOptions(0.08));
  ProposalResult result;
  for (int it = 0; it < pb.iterations; ++it) {
    if (std::chrono::steady_clock::now() >= pb.deadline) break;
    adam.zero_grad();
    cost_of(z, nullptr, nullptr).sum().backward();
    adam.step();
    {
      torch::NoGradGuard no_grad;
      z.clamp_(0.0, 1.0);
    }
    result.iterations = it + 1;
  }
  result.complete = result.iterations == pb.iterations;

  torch::NoGradGuard no_grad;
  torch::Tensor mean, sd;
  const torch::Tensor cost = cost_of(z, &mean, &sd);
  const long best = cost.argmin().item<long>();
  const torch::Tensor u = (lower + z * range).index({best}).to(torch::kFloat64).contiguous();
  result.controls.assign(u.data_ptr<double>(), u.data_ptr<double>() + n);
  // Clamp once more in double: float rounding must not step outside the box.
  for (long j = 0; j < n; ++j) result.controls[j] = std::min(pb.upper[j], std::max(pb.lower[j], result.controls[j]));
  const torch::Tensor mb = (mean.index({best}) - out_base.index({0})).to(torch::kFloat64).contiguous();
  const torch::Tensor sb = sd.index({best}).to(torch::kFloat64).contiguous();
  result.mean.assign(mb.data_ptr<double>(), mb.data_ptr<double>() + n_out);
  result.std.assign(sb.data_ptr<double>(), sb.data_ptr<double>() + n_out);
  result.cost = cost.index({best}).item<double>();
  return result;
}

}  // namespace twin::advisor
