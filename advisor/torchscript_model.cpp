// Model kind torchscript: a TorchScript module imported with `twin models import`, with the
// package's normalisation applied around it. Its weights_sha256 covers the module's bytes, so
// nothing is deserialised before they match (LibTorch itself checks nothing).
#include <torch/script.h>

#include <sstream>

#include "advisor/detail/model_kind.hpp"
#include "ground/sha256.hpp"
#include "twin/error.hpp"

namespace twin::advisor::detail {
namespace {

std::string shape_text(const torch::Tensor& t) {
  std::string s = "[";
  for (long d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

class ScriptNetwork final : public Network {
 public:
  explicit ScriptNetwork(const ModelPackage& p)
      : m_label(label(p)),
        m_outputs(static_cast<long>(p.outputs.size())),
        m_in_mean(to_tensor(p.input_mean)),
        m_in_scale(to_tensor(p.input_scale)),
        m_out_mean(to_tensor(p.output_mean)),
        m_out_scale(to_tensor(p.output_scale)) {
    std::istringstream in(std::string(p.script.begin(), p.script.end()));
    try {
      m_module = torch::jit::load(in);
    } catch (const std::exception& e) {
      fail(p, std::string("TorchScript module does not load: ") + e.what());
    }
    m_module.eval();
  }

  torch::Tensor forward(const torch::Tensor& x_raw) const override {
    const torch::Tensor x = (x_raw - m_in_mean) / m_in_scale;
    torch::Tensor y;
    try {
      y = m_module.forward({x}).toTensor();
    } catch (const std::exception& e) {  // c10::Error, or std::runtime_error for wrong shapes
      throw AdvisorError("model " + m_label + ": forward failed: " + e.what());
    }
    if (y.dim() == 2) y = y.unsqueeze(0);
    if (y.dim() != 3 || y.size(1) != x.size(0) || y.size(2) != m_outputs)
      throw AdvisorError("model " + m_label + ": forward returned shape " + shape_text(y) + ", expected [" +
                         std::to_string(x.size(0)) + ", " + std::to_string(m_outputs) + "] or [members, batch, outputs]");
    return y.to(torch::kFloat32) * m_out_scale + m_out_mean;
  }

 private:
  std::string m_label;
  long m_outputs;
  torch::Tensor m_in_mean, m_in_scale, m_out_mean, m_out_scale;
  mutable torch::jit::script::Module m_module;  // forward is not const in LibTorch
};

class TorchScriptKind final : public ModelKind {
 public:
  std::string digest(const ModelPackage& p) const override { return sha256_hex(p.script.data(), p.script.size()); }
  void check(const ModelPackage& p) const override {
    if (p.script.empty()) fail(p, "holds no TorchScript module");
  }
  std::unique_ptr<Network> load(const ModelPackage& p) const override { return std::make_unique<ScriptNetwork>(p); }
};

TWIN_REGISTER_TYPE(ModelKind, kind_torchscript, [] { return std::make_unique<TorchScriptKind>(); });

}  // namespace
}  // namespace twin::advisor::detail
