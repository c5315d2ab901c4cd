#pragma once
// Test helpers: set and read a Field's interior by global cell index.

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "solvers/field.hpp"
#include "solvers/grid.hpp"

namespace twin::test {

/// u(m, cell) = f(m, gi, gj, gk) on the interior, by global index.
inline void set_interior(const solvers::Field& u, const solvers::LocalGrid& g,
                         const std::function<double(int, int, int, int)>& f) {
  auto h = Kokkos::create_mirror_view(u);
  Kokkos::deep_copy(h, u);
  for (int m = 0; m < static_cast<int>(u.extent(0)); ++m)
    for (int k = 0; k < g.cells[2]; ++k)
      for (int j = 0; j < g.cells[1]; ++j)
        for (int i = 0; i < g.cells[0]; ++i)
          h(m, g.index(i, j, k)) = f(m, i + g.offset[0], j + g.offset[1], k + g.offset[2]);
  Kokkos::deep_copy(u, h);
}

/// Interior values of member m in (i fastest, then j, then k) order of the local block.
inline std::vector<double> interior(const solvers::Field& u, const solvers::LocalGrid& g, int m = 0) {
  auto h = Kokkos::create_mirror_view(u);
  Kokkos::deep_copy(h, u);
  std::vector<double> out;
  for (int k = 0; k < g.cells[2]; ++k)
    for (int j = 0; j < g.cells[1]; ++j)
      for (int i = 0; i < g.cells[0]; ++i) out.push_back(h(m, g.index(i, j, k)));
  return out;
}

/// Values of a whole-grid field `whole` (interior order of grid `gw`) at the cells of the local
/// block `gl`, in the local block's interior order: compare with interior(u, gl).
inline std::vector<double> at_block(const std::vector<double>& whole, const solvers::LocalGrid& gw,
                                    const solvers::LocalGrid& gl) {
  std::vector<double> out;
  for (int k = 0; k < gl.cells[2]; ++k)
    for (int j = 0; j < gl.cells[1]; ++j)
      for (int i = 0; i < gl.cells[0]; ++i) {
        const std::size_t gi = i + gl.offset[0], gj = j + gl.offset[1], gk = k + gl.offset[2];
        out.push_back(whole[gi + gw.cells[0] * (gj + static_cast<std::size_t>(gw.cells[1]) * gk)]);
      }
  return out;
}

/// Largest |a[n] - b[n]| (the vectors have equal length).
inline double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0.0;
  for (std::size_t n = 0; n < a.size(); ++n) worst = std::max(worst, std::abs(a[n] - b[n]));
  return worst;
}

/// A smooth, non-symmetric initial state.
inline double bump(int m, int i, int j, int k) {
  return 300.0 + 10.0 * std::sin(0.3 * i + 0.1 * m) * std::cos(0.2 * j) + 2.0 * std::cos(0.5 * k) + 0.01 * i * j;
}

}  // namespace twin::test
