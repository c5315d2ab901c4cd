#pragma once
// The features of a response model (kind response_ensemble): outputs linear in the inputs, with
// coefficients polynomial in a few of them (the factors: a surrogate's parameters). For fixed
// parameters the twin's PDE is linear in state and controls, so the sensors' changes are linear
// in the surrogate's other inputs, through a map that depends smoothly on the parameters.
//
// On normalised inputs z, with factors zP and the other inputs zN, the monomials of the factors
// up to `order` are M = (1, zP_a, and for order 2 zP_a zP_b with a <= b); the features are every
// monomial times (1, zN...), monomial-major, without the leading 1 x 1 (the bias). Shared by the
// training (response_training.cpp) and the kind (response_ensemble.cpp).

#include <torch/torch.h>

#include <string>
#include <vector>

#include "advisor/model_package.hpp"

namespace twin::advisor::detail {

inline constexpr const char* response_factors_key = "response_factors";  ///< attribute: factor input names, comma-separated
inline constexpr const char* response_order_key = "response_order";      ///< attribute: "1" or "2"
inline constexpr int response_max_order = 2;

struct ResponseLayout {
  std::vector<long> factors, others;  ///< input indices, in input order
  torch::Tensor factor_index, other_index;  ///< the same as index tensors, made once (the proposal's loop reads them)
  int order = 1;

  long monomials() const;
  long features() const { return monomials() * (1 + static_cast<long>(others.size())) - 1; }
  std::string factor_names(const std::vector<std::string>& inputs) const;

  /// From factor names and an order. @throws Error naming a factor that is not an input.
  static ResponseLayout of(const std::vector<std::string>& inputs, const std::vector<std::string>& factors, int order);
  /// From a package's attributes. @throws AdvisorError (through fail) when they are missing or wrong.
  static ResponseLayout of(const ModelPackage& p);
};

/// Features of normalised rows z [rows, inputs] -> [rows, features], differentiable.
torch::Tensor response_features(const ResponseLayout& layout, const torch::Tensor& z);

/// Features of one normalised row into f (layout.features() values).
void response_features(const ResponseLayout& layout, const double* z, std::vector<double>& f);

}  // namespace twin::advisor::detail
