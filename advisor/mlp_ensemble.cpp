// Model kind mlp_ensemble: a deep ensemble of tanh MLPs trained by twin train (training.cpp),
// stored as named weight arrays. The normalisation is folded into the first and last layers at
// load; a single row runs in plain C++ on the folded weights (LibTorch's per-op dispatch and
// allocation cost more than the arithmetic of a few thousand multiply-adds per layer).
#include <algorithm>
#include <cmath>

#include "advisor/detail/model_kind.hpp"

namespace twin::advisor::detail {
namespace {

class MlpNetwork final : public Network {
 public:
  explicit MlpNetwork(const ModelPackage& p) : m_members(p.ensemble) {
    for (std::size_t l = 0; l < p.weights.size(); l += 2) {
      const NamedTensor& w = p.weights[l];
      const NamedTensor& b = p.weights[l + 1];
      m_weights.push_back(torch::tensor(w.values, torch::kFloat32).reshape(w.shape));
      m_biases.push_back(torch::tensor(b.values, torch::kFloat32).reshape(b.shape));
    }
    // Fold the normalisation in, in double precision: ((x - m) / s) W + b = x W' + (b - m W') with
    // W' = W / s on the first layer, and y s_out + m_out on the last.
    torch::NoGradGuard no_grad;
    const auto as_double = [](const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); };
    const torch::Tensor s_in = as_double(p.input_scale), m_in = as_double(p.input_mean);
    const torch::Tensor w0 = m_weights.front().to(torch::kFloat64) / s_in.view({1, -1, 1});
    m_biases.front() = (m_biases.front().to(torch::kFloat64) - torch::matmul(m_in.view({1, 1, -1}), w0)).to(torch::kFloat32);
    m_weights.front() = w0.to(torch::kFloat32);
    const torch::Tensor s_out = as_double(p.output_scale).view({1, 1, -1}), mean_out = as_double(p.output_mean).view({1, 1, -1});
    m_weights.back() = (m_weights.back().to(torch::kFloat64) * s_out).to(torch::kFloat32);
    m_biases.back() = (m_biases.back().to(torch::kFloat64) * s_out + mean_out).to(torch::kFloat32);
    m_widths.push_back(static_cast<int>(p.inputs.size()));
    for (std::size_t l = 0; l < m_weights.size(); ++l) {
      const torch::Tensor w = m_weights[l].contiguous(), b = m_biases[l].contiguous();
      m_host_w.emplace_back(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
      m_host_b.emplace_back(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
      m_widths.push_back(static_cast<int>(w.size(2)));
    }
  }

  torch::Tensor forward(const torch::Tensor& x_raw) const override {
    torch::Tensor h = x_raw.unsqueeze(0).expand({m_members, x_raw.size(0), x_raw.size(1)});
    for (std::size_t l = 0; l < m_weights.size(); ++l) {
      h = torch::baddbmm(m_biases[l], h, m_weights[l]);
      if (l + 1 < m_weights.size()) h = torch::tanh(h);
    }
    return h;
  }

  const float* forward_row(const double* x) const override {
    const int K = m_members, L = static_cast<int>(m_host_w.size());
    m_out.resize(static_cast<std::size_t>(K) * m_widths[L]);
    float* out = m_out.data();
    for (int k = 0; k < K; ++k) {
      m_a.assign(x, x + m_widths[0]);
      for (int l = 0; l < L; ++l) {
        const int n_in = m_widths[l], n_out = m_widths[l + 1];
        const float* w = m_host_w[l].data() + static_cast<std::size_t>(k) * n_in * n_out;
        const float* b = m_host_b[l].data() + static_cast<std::size_t>(k) * n_out;
        m_b.assign(b, b + n_out);
        for (int i = 0; i < n_in; ++i) {
          const float a = m_a[i];
          const float* row = w + static_cast<std::size_t>(i) * n_out;
          for (int j = 0; j < n_out; ++j) m_b[j] += a * row[j];
        }
        if (l + 1 < L)
          for (float& v : m_b) v = std::tanh(v);
        std::swap(m_a, m_b);
      }
      std::copy(m_a.begin(), m_a.end(), out + static_cast<std::size_t>(k) * m_widths[L]);
    }
    return out;
  }

 private:
  long m_members;
  std::vector<torch::Tensor> m_weights, m_biases;
  std::vector<std::vector<float>> m_host_w, m_host_b;  // per layer: [members][in][out], [members][out]
  std::vector<int> m_widths;                           // inputs, hidden..., outputs
  mutable std::vector<float> m_a, m_b, m_out;          // scratch (a Model is used by one thread)
};

class MlpEnsemble final : public ModelKind {
 public:
  std::string digest(const ModelPackage& p) const override { return named_weights_digest(p); }

  void check(const ModelPackage& p) const override {
    const std::size_t layers = p.hidden.size() + 1;
    if (p.weights.size() != 2 * layers)
      fail(p, "expected " + std::to_string(2 * layers) + " weight arrays for " + std::to_string(p.hidden.size()) +
                  " hidden layers, found " + std::to_string(p.weights.size()));
    std::int64_t in = static_cast<std::int64_t>(p.inputs.size());
    for (std::size_t l = 0; l < layers; ++l) {
      const std::int64_t out = l + 1 < layers ? p.hidden[l] : static_cast<std::int64_t>(p.outputs.size());
      const NamedTensor& w = p.weights[2 * l];
      const NamedTensor& b = p.weights[2 * l + 1];
      const std::vector<std::int64_t> ws{p.ensemble, in, out}, bs{p.ensemble, 1, out};
      if (w.name != "layer" + std::to_string(l) + ".weight" || w.shape != ws)
        fail(p, "weight '" + w.name + "' has the wrong name or shape for layer " + std::to_string(l));
      if (b.name != "layer" + std::to_string(l) + ".bias" || b.shape != bs)
        fail(p, "bias '" + b.name + "' has the wrong name or shape for layer " + std::to_string(l));
      check_values(p, w);
      check_values(p, b);
      in = out;
    }
  }

  std::unique_ptr<Network> load(const ModelPackage& p) const override { return std::make_unique<MlpNetwork>(p); }
};

TWIN_REGISTER_TYPE(ModelKind, kind_mlp_ensemble, [] { return std::make_unique<MlpEnsemble>(); });

}  // namespace
}  // namespace twin::advisor::detail
