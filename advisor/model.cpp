// Model packages turned into networks of their kind (advisor/detail/model_kind.hpp): the checks
// every kind shares, inference, proposals and attribution.
#include "advisor/model.hpp"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <random>

#include "advisor/detail/model_kind.hpp"
#include "advisor/version.hpp"
#include "ground/sha256.hpp"
#include "twin/error.hpp"

namespace twin::advisor {

namespace detail {

void fail(const ModelPackage& p, const std::string& what) { throw AdvisorError("model " + label(p) + ": " + what); }

torch::Tensor to_tensor(const std::vector<double>& v) {
  return torch::tensor(std::vector<float>(v.begin(), v.end()), torch::kFloat32);
}

std::string named_weights_digest(const ModelPackage& p) {
  std::string bytes;
  for (const NamedTensor& t : p.weights) {
    bytes += t.name;
    bytes.push_back('\0');
    bytes.append(reinterpret_cast<const char*>(t.shape.data()), t.shape.size() * sizeof(std::int64_t));
    bytes.append(reinterpret_cast<const char*>(t.values.data()), t.values.size() * sizeof(float));
  }
  return sha256_hex(bytes.data(), bytes.size());
}

void check_values(const ModelPackage& p, const NamedTensor& t) {
  std::int64_t count = 1;
  for (auto d : t.shape) count *= d;
  if (static_cast<std::int64_t>(t.values.size()) != count) fail(p, "'" + t.name + "' holds the wrong number of values");
  for (float v : t.values)
    if (!std::isfinite(v)) fail(p, "'" + t.name + "' holds a non-finite value");
}

ModelKind::Registry& ModelKind::registry() {
  static Registry kinds;
  return kinds;
}

const ModelKind* ModelKind::find(const std::string& kind) {
  static std::mutex guard;
  static std::map<std::string, std::unique_ptr<ModelKind>> made;
  const std::lock_guard<std::mutex> lock(guard);
  if (!registry().contains(kind)) return nullptr;
  auto& slot = made[kind];
  if (!slot) slot = registry().create("model kind", kind);
  return slot.get();
}

}  // namespace detail

namespace {

using detail::fail;
using detail::to_tensor;

std::string major_minor(const std::string& v) { return v.substr(0, v.find('.', v.find('.') + 1)); }

const detail::ModelKind& kind_of(const ModelPackage& p) {
  const detail::ModelKind* kind = detail::ModelKind::find(p.kind);
  if (!kind) fail(p, "unknown kind '" + p.kind + "' (known: " + detail::ModelKind::registry().list() + ")");
  return *kind;
}

}  // namespace

std::string label(const ModelPackage& p) { return (p.name.empty() ? "<unnamed>" : p.name) + " v" + std::to_string(p.version); }

std::string weights_digest(const ModelPackage& p) { return kind_of(p).digest(p); }

void validate(const ModelPackage& p) {
  const detail::ModelKind& kind = kind_of(p);
  // The hashes first: nothing from the file is interpreted before they match.
  if (p.package_sha256.empty())
    fail(p, "has no whole-package digest (written by twinrt 0.1.0 or edited): train it again, or import it again");
  const std::string whole = package_digest(p);
  if (p.package_sha256 != whole)
    fail(p, "package sha256 mismatch (the file says " + p.package_sha256.substr(0, 16) + "..., its content gives " +
                whole.substr(0, 16) + "...): the file was modified or corrupted (weights, normalisation, statistics or "
                "metadata); restore it or train again");
  const std::string digest = kind.digest(p);
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
  kind.check(p);
}

struct Model::Impl {
  ModelPackage package;
  std::unique_ptr<detail::Network> network;
  std::vector<double> noise;  // per output, added in quadrature to the members' spread; empty: none
  torch::Tensor noise_t;

  torch::Tensor forward(const torch::Tensor& x_raw) const { return network->forward(x_raw); }

  torch::Tensor rows(const double* x, int batch) const {
    const long n = static_cast<long>(package.inputs.size());
    return torch::from_blob(const_cast<double*>(x), {batch, n}, torch::kFloat64).to(torch::kFloat32);
  }
};

Model::Model(ModelPackage package) : m_impl(std::make_unique<Impl>()) {
  validate(package);
  m_impl->package = std::move(package);
  m_impl->network = kind_of(m_impl->package).load(m_impl->package);
  m_impl->noise = m_impl->network->noise_std();
  if (!m_impl->noise.empty()) {
    if (m_impl->noise.size() != m_impl->package.outputs.size()) fail(m_impl->package, "its noise term does not match its outputs");
    m_impl->noise_t = to_tensor(m_impl->noise).unsqueeze(0);
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
  if (batch == 1)
    if (const float* y = m_impl->network->forward_row(x)) {
      members_out.assign(y, y + static_cast<std::size_t>(members()) * outputs());
      return;
    }
  torch::InferenceMode guard;
  const torch::Tensor y = m_impl->forward(m_impl->rows(x, batch)).contiguous();
  members_out.assign(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}

void Model::predict_moments(const double* x, int batch, std::vector<double>& mean, std::vector<double>& std) const {
  torch::Tensor c;
  const float* v = batch == 1 ? m_impl->network->forward_row(x) : nullptr;
  long k = members(), n = static_cast<long>(batch) * outputs();
  if (!v) {
    torch::InferenceMode guard;
    c = m_impl->forward(m_impl->rows(x, batch)).contiguous();  // float32 [members, batch, out]
    v = c.data_ptr<float>();
    k = c.size(0);
    n = c.size(1) * c.size(2);
  }
  // Two passes over the members in double; the variance the members do not hold is added.
  mean.assign(static_cast<std::size_t>(n), 0.0);
  std.assign(static_cast<std::size_t>(n), 0.0);
  for (long m = 0; m < k; ++m)
    for (long i = 0; i < n; ++i) mean[i] += v[m * n + i];
  for (long i = 0; i < n; ++i) mean[i] /= static_cast<double>(k);
  for (long m = 0; m < k && k > 1; ++m)
    for (long i = 0; i < n; ++i) std[i] += (v[m * n + i] - mean[i]) * (v[m * n + i] - mean[i]);
  const std::vector<double>& noise = m_impl->noise;
  const std::size_t outs = static_cast<std::size_t>(outputs());
  for (long i = 0; i < n; ++i) {
    const double extra = noise.empty() ? 0.0 : noise[static_cast<std::size_t>(i) % outs];
    std[i] = std::sqrt((k > 1 ? std[i] / static_cast<double>(k - 1) : 0.0) + extra * extra);
  }
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
    if (sd) {
      *sd = y_members.size(0) > 1 ? y_members.std(0, true) : torch::zeros_like(y);
      if (m.noise_t.defined()) *sd = torch::sqrt(sd->pow(2) + m.noise_t.pow(2));
    }
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
