#pragma once
// Smooth random fields of unit variance, for the initial ensemble (cycle/initial_ensemble.cpp)
// and the model error (assimilation/model_error.cpp): a sum of plane waves with random
// directions and phases and wavelengths near 4 L, so that values a distance L apart are
// strongly correlated and values several L apart nearly independent.

#include <array>
#include <cmath>
#include <random>
#include <vector>

namespace twin::detail {

using PlaneWaves = std::vector<std::array<double, 4>>;  // wave vector (3) and phase

/// `count` plane waves of length scale `length_m` in `dims` dimensions, drawn from `rng`.
inline PlaneWaves draw_plane_waves(std::mt19937_64& rng, int dims, double length_m, int count = 8) {
  PlaneWaves waves(static_cast<std::size_t>(count));
  std::uniform_real_distribution<double> angle(0.0, 2.0 * M_PI);
  for (auto& w : waves) {
    const double k = 2.0 * M_PI / (4.0 * length_m) * (0.5 + std::uniform_real_distribution<double>(0, 1)(rng));
    const double a = angle(rng), b = std::acos(2.0 * std::uniform_real_distribution<double>(0, 1)(rng) - 1.0);
    w = {k * std::cos(a) * (dims == 3 ? std::sin(b) : 1.0), k * std::sin(a) * (dims == 3 ? std::sin(b) : 1.0),
         dims == 3 ? k * std::cos(b) : 0.0, angle(rng)};
  }
  return waves;
}

/// The field of `waves` at position `x` [m]; unit variance over the draws.
inline double smooth_field_value(const double* x, int dims, const PlaneWaves& waves) {
  double v = 0.0;
  for (const auto& w : waves) {
    double phase = w[3];
    for (int d = 0; d < dims; ++d) phase += w[d] * x[d];
    v += std::cos(phase);
  }
  return v * std::sqrt(2.0 / static_cast<double>(waves.size()));
}

}  // namespace twin::detail
