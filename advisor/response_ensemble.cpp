// Model kind response_ensemble: an ensemble of response models (advisor/detail/response.hpp),
// fitted by train_response_ensemble (training.cpp). Each member is a least-squares fit on a
// bootstrap draw of the training data; a per-output noise term, calibrated on validation data,
// adds what the members' spread does not cover (Model::predict_moments, propose).
//
// Weights: response.weight [members, features, outputs], response.bias [members, 1, outputs],
// response.noise [1, 1, outputs], all on normalised inputs and outputs.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "advisor/detail/model_kind.hpp"
#include "advisor/detail/response.hpp"
#include "twin/error.hpp"

namespace twin::advisor::detail {

long ResponseLayout::monomials() const {
  const long p = static_cast<long>(factors.size());
  return 1 + p + (order >= 2 ? p * (p + 1) / 2 : 0);
}

std::string ResponseLayout::factor_names(const std::vector<std::string>& inputs) const {
  std::string s;
  for (long i : factors) s += (s.empty() ? "" : ",") + inputs[static_cast<std::size_t>(i)];
  return s;
}

ResponseLayout ResponseLayout::of(const std::vector<std::string>& inputs, const std::vector<std::string>& factors, int order) {
  ResponseLayout l;
  l.order = order;
  std::vector<bool> is_factor(inputs.size(), false);
  for (const std::string& f : factors) {
    const auto it = std::find(inputs.begin(), inputs.end(), f);
    if (it == inputs.end()) throw Error("response model: factor '" + f + "' is not one of its inputs");
    if (is_factor[static_cast<std::size_t>(it - inputs.begin())]) throw Error("response model: factor '" + f + "' named twice");
    is_factor[static_cast<std::size_t>(it - inputs.begin())] = true;
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) (is_factor[i] ? l.factors : l.others).push_back(static_cast<long>(i));
  l.factor_index = torch::tensor(l.factors, torch::kLong);
  l.other_index = torch::tensor(l.others, torch::kLong);
  return l;
}

ResponseLayout ResponseLayout::of(const ModelPackage& p) {
  const auto f = p.attributes.find(response_factors_key);
  const auto o = p.attributes.find(response_order_key);
  if (f == p.attributes.end() || o == p.attributes.end())
    fail(p, std::string("a response model needs the attributes ") + response_factors_key + " and " + response_order_key);
  if (o->second != "1" && o->second != "2") fail(p, std::string(response_order_key) + " must be 1 or 2, not '" + o->second + "'");
  std::vector<std::string> names;
  std::stringstream in(f->second);
  for (std::string name; std::getline(in, name, ',');) names.push_back(name);
  try {
    return of(p.inputs, names, o->second == "2" ? 2 : 1);
  } catch (const Error& e) {
    fail(p, e.what());
  }
}

torch::Tensor response_features(const ResponseLayout& l, const torch::Tensor& z) {
  const long rows = z.size(0);
  const torch::Tensor ones = torch::ones({rows, 1}, z.options());
  const torch::Tensor others = torch::cat({ones, z.index_select(1, l.other_index)}, 1);
  std::vector<torch::Tensor> mono{ones};
  if (!l.factors.empty()) {
    const torch::Tensor zp = z.index_select(1, l.factor_index);
    mono.push_back(zp);
    if (l.order >= 2)
      for (long a = 0; a < zp.size(1); ++a) mono.push_back(zp.narrow(1, a, 1) * zp.narrow(1, a, zp.size(1) - a));
  }
  const torch::Tensor m = torch::cat(mono, 1);  // [rows, monomials]
  return (m.unsqueeze(2) * others.unsqueeze(1)).reshape({rows, l.features() + 1}).narrow(1, 1, l.features());
}

void response_features(const ResponseLayout& l, const double* z, std::vector<double>& f) {
  const long p = static_cast<long>(l.factors.size());
  thread_local std::vector<double> mono;
  mono.assign(1, 1.0);
  for (long a = 0; a < p; ++a) mono.push_back(z[l.factors[a]]);
  if (l.order >= 2)
    for (long a = 0; a < p; ++a)
      for (long b = a; b < p; ++b) mono.push_back(z[l.factors[a]] * z[l.factors[b]]);
  f.clear();
  f.reserve(static_cast<std::size_t>(l.features()));
  for (std::size_t m = 0; m < mono.size(); ++m) {
    if (m > 0) f.push_back(mono[m]);
    for (long i : l.others) f.push_back(mono[m] * z[i]);
  }
}

namespace {

class ResponseNetwork final : public Network {
 public:
  explicit ResponseNetwork(const ModelPackage& p) : m_layout(ResponseLayout::of(p)), m_members(p.ensemble) {
    const auto find = [&](const std::string& name) -> const NamedTensor& {
      for (const NamedTensor& t : p.weights)
        if (t.name == name) return t;
      fail(p, "has no weight '" + name + "'");
    };
    const NamedTensor &w = find("response.weight"), &b = find("response.bias"), &noise = find("response.noise");
    m_w = w.values;
    m_b = b.values;
    m_in_mean = p.input_mean;
    m_in_scale = p.input_scale;
    m_out_mean = p.output_mean;
    m_out_scale = p.output_scale;
    for (std::size_t o = 0; o < p.outputs.size(); ++o) m_noise.push_back(noise.values[o] * p.output_scale[o]);
    m_weight = torch::tensor(w.values, torch::kFloat32).reshape(w.shape);
    m_bias = torch::tensor(b.values, torch::kFloat32).reshape(b.shape);
    m_t_in_mean = to_tensor(p.input_mean).unsqueeze(0);
    m_t_in_scale = to_tensor(p.input_scale).unsqueeze(0);
    m_t_out_mean = to_tensor(p.output_mean).view({1, 1, -1});
    m_t_out_scale = to_tensor(p.output_scale).view({1, 1, -1});
  }

  torch::Tensor forward(const torch::Tensor& x_raw) const override {
    const torch::Tensor f = response_features(m_layout, (x_raw - m_t_in_mean) / m_t_in_scale);
    const torch::Tensor y = torch::baddbmm(m_bias, f.unsqueeze(0).expand({m_members, f.size(0), f.size(1)}), m_weight);
    return y * m_t_out_scale + m_t_out_mean;
  }

  const float* forward_row(const double* x) const override {
    const std::size_t n = m_in_mean.size(), O = m_out_mean.size();
    m_z.resize(n);
    for (std::size_t i = 0; i < n; ++i) m_z[i] = (x[i] - m_in_mean[i]) / m_in_scale[i];
    response_features(m_layout, m_z.data(), m_f);
    const std::size_t F = m_f.size();
    m_out.resize(static_cast<std::size_t>(m_members) * O);
    m_acc.resize(O);
    for (long k = 0; k < m_members; ++k) {
      const float* w = m_w.data() + static_cast<std::size_t>(k) * F * O;
      const float* b = m_b.data() + static_cast<std::size_t>(k) * O;
      std::copy(b, b + O, m_acc.begin());
      for (std::size_t i = 0; i < F; ++i) {
        const float fi = static_cast<float>(m_f[i]);
        const float* row = w + i * O;
        for (std::size_t o = 0; o < O; ++o) m_acc[o] += fi * row[o];
      }
      for (std::size_t o = 0; o < O; ++o)
        m_out[k * O + o] = static_cast<float>(m_acc[o] * m_out_scale[o] + m_out_mean[o]);
    }
    return m_out.data();
  }

  std::vector<double> noise_std() const override { return m_noise; }

 private:
  ResponseLayout m_layout;
  long m_members;
  std::vector<float> m_w, m_b;
  std::vector<double> m_in_mean, m_in_scale, m_out_mean, m_out_scale, m_noise;
  torch::Tensor m_weight, m_bias, m_t_in_mean, m_t_in_scale, m_t_out_mean, m_t_out_scale;
  mutable std::vector<double> m_z, m_f;  // scratch (a Model is used by one thread)
  mutable std::vector<float> m_acc, m_out;
};

class ResponseEnsemble final : public ModelKind {
 public:
  std::string digest(const ModelPackage& p) const override { return named_weights_digest(p); }

  void check(const ModelPackage& p) const override {
    const ResponseLayout l = ResponseLayout::of(p);
    const std::int64_t K = p.ensemble, F = l.features(), O = static_cast<std::int64_t>(p.outputs.size());
    const std::vector<std::pair<std::string, std::vector<std::int64_t>>> expected{
        {"response.weight", {K, F, O}}, {"response.bias", {K, 1, O}}, {"response.noise", {1, 1, O}}};
    if (p.weights.size() != expected.size())
      fail(p, "a response model has 3 weight arrays (response.weight, .bias, .noise), found " + std::to_string(p.weights.size()));
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const NamedTensor& t = p.weights[i];
      if (t.name != expected[i].first || t.shape != expected[i].second)
        fail(p, "weight '" + t.name + "' has the wrong name or shape (expected " + expected[i].first + " for " +
                    std::to_string(F) + " features of factors " + l.factor_names(p.inputs) + " to order " +
                    std::to_string(l.order) + ")");
      check_values(p, t);
    }
    for (float v : p.weights[2].values)
      if (v < 0.0f) fail(p, "'response.noise' holds a negative standard deviation");
  }

  std::unique_ptr<Network> load(const ModelPackage& p) const override { return std::make_unique<ResponseNetwork>(p); }
};

TWIN_REGISTER_TYPE(ModelKind, kind_response_ensemble, [] { return std::make_unique<ResponseEnsemble>(); });

}  // namespace
}  // namespace twin::advisor::detail
