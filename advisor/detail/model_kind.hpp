#pragma once
// Model kinds (advisor/ only; LibTorch types): how a package of one `kind` is hashed, checked
// and turned into a network. One kind per file, registered by name: mlp_ensemble
// (mlp_ensemble.cpp), response_ensemble (response_ensemble.cpp), torchscript
// (torchscript_model.cpp). Adding a kind is one new file.

#include <torch/torch.h>

#include <memory>
#include <string>

#include "advisor/model_package.hpp"
#include "ground/registry.hpp"

namespace twin::advisor::detail {

/// A loaded network: raw inputs in, raw outputs out.
class Network {
 public:
  virtual ~Network() = default;
  /// Raw inputs [batch, in] -> raw outputs [members, batch, out] (float32).
  /// @throws AdvisorError when the network fails at run time.
  virtual torch::Tensor forward(const torch::Tensor& x_raw) const = 0;
  /// One row of raw inputs -> members x outputs, valid until the next call, or nullptr when the
  /// kind has no fast path for a single row (forward is used then).
  virtual const float* forward_row(const double* /*x*/) const { return nullptr; }
  /// Per output, a standard deviation the members' spread does not hold (raw units), added in
  /// quadrature to it in every spread a Model reports; empty: none.
  virtual std::vector<double> noise_std() const { return {}; }
};

/// What a kind knows of its packages. Stateless; one instance per kind.
class ModelKind {
 public:
  using Registry = twin::Registry<ModelKind>;
  static Registry& registry();
  /// The kind named `kind`, or nullptr when none is registered.
  static const ModelKind* find(const std::string& kind);

  virtual ~ModelKind() = default;
  /// The sha256 of what the package's weights_sha256 covers (computed before anything else in
  /// the package is interpreted).
  virtual std::string digest(const ModelPackage& p) const = 0;
  /// Kind-specific checks after the digest matched (shapes, finite values).
  /// @throws AdvisorError naming what is wrong.
  virtual void check(const ModelPackage& p) const = 0;
  /// The network of a checked package.
  /// @throws AdvisorError when it cannot be built.
  virtual std::unique_ptr<Network> load(const ModelPackage& p) const = 0;
};

[[noreturn]] void fail(const ModelPackage& p, const std::string& what);
torch::Tensor to_tensor(const std::vector<double>& v);
/// sha256 of every weight's name, shape and bytes, in order (the kinds with named weights).
std::string named_weights_digest(const ModelPackage& p);
/// Fails unless `t` holds as many values as its shape says, all finite.
void check_values(const ModelPackage& p, const NamedTensor& t);

}  // namespace twin::advisor::detail
