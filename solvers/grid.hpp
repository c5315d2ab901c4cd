#pragma once
// The structured Cartesian grid and its MPI decomposition.
//
// Cells are stored with one ghost layer on each side of every active axis. A 2D grid is the
// 3D layout with nz = 1 and no ghosts in z, so kernels are written once.

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "ground/mpi.hpp"
#include "twin/config.hpp"

namespace twin::solvers {

/// This rank's block of the global grid.
struct LocalGrid {
  int dims = 2;                        ///< 2 or 3
  Kokkos::Array<int, 3> global{{1, 1, 1}};  ///< global cells per axis
  Kokkos::Array<int, 3> cells{{1, 1, 1}};   ///< interior cells owned by this rank
  Kokkos::Array<int, 3> offset{{0, 0, 0}};  ///< global index of the first owned cell
  Kokkos::Array<int, 3> ghost{{1, 1, 0}};   ///< ghost layers per side (0 on inactive axes)
  Kokkos::Array<double, 3> dx{{1, 1, 1}};   ///< cell size [m]

  /// Padded extent per axis (cells + 2 * ghost).
  KOKKOS_INLINE_FUNCTION int padded(int axis) const { return cells[axis] + 2 * ghost[axis]; }
  /// Stride of a unit step along `axis` in the padded flat index.
  KOKKOS_INLINE_FUNCTION long stride(int axis) const { return axis == 0 ? 1L : axis == 1 ? padded(0) : 1L * padded(0) * padded(1); }
  /// Padded cells per ensemble member.
  long padded_size() const { return 1L * padded(0) * padded(1) * padded(2); }
  /// Interior cells per member.
  long interior_size() const { return 1L * cells[0] * cells[1] * cells[2]; }
  /// Padded flat index of cell f (0 <= f < face cells) on the layer `layer` (a padded
  /// coordinate along `axis`) of the face normal to `axis`; f runs over the interior of the two
  /// tangential axes, the lower one fastest.
  KOKKOS_INLINE_FUNCTION long face_index(int axis, int layer, long f) const {
    const int a = axis == 0 ? 1 : 0;
    const int b = axis == 2 ? 1 : 2;
    Kokkos::Array<int, 3> p{{0, 0, 0}};
    p[axis] = layer;
    p[a] = static_cast<int>(f % cells[a]) + ghost[a];
    p[b] = static_cast<int>(f / cells[a]) + ghost[b];
    return p[0] + stride(1) * p[1] + stride(2) * p[2];
  }
  /// Padded flat index of interior cell (i, j, k), 0-based in the owned block.
  KOKKOS_INLINE_FUNCTION long index(int i, int j, int k) const {
    return (i + ghost[0]) + padded(0) * ((j + ghost[1]) + 1L * padded(1) * (k + ghost[2]));
  }
};

/// Cartesian decomposition of the grid over the ranks of a communicator (MPI_Cart).
class Decomposition {
 public:
  /// Splits `grid` over the ranks of `comm`; `grid.ranks` fixes the process grid, else
  /// MPI_Dims_create chooses it. @throws ConfigError when the process grid does not match the
  /// number of ranks or gives a rank fewer than 2 cells along an axis.
  Decomposition(const GridConfig& grid, MPI_Comm comm);

  const LocalGrid& local() const { return m_local; }
  MPI_Comm comm() const { return m_cart.get(); }
  int rank() const { return m_rank; }
  int size() const { return m_size; }
  const std::array<int, 3>& process_grid() const { return m_procs; }
  /// This rank's coordinates in the process grid.
  const std::array<int, 3>& coords() const { return m_coords; }
  /// Neighbour rank on side `side` (0 low, 1 high) of `axis`, or MPI_PROC_NULL at a wall.
  int neighbor(int axis, int side) const { return m_neighbors[axis][side]; }

 private:
  UniqueComm m_cart;
  LocalGrid m_local;
  int m_rank = 0;
  int m_size = 1;
  std::array<int, 3> m_procs{1, 1, 1};
  std::array<int, 3> m_coords{0, 0, 0};
  std::array<std::array<int, 2>, 3> m_neighbors{};
};

/// A point sensor's reading as the field's multilinear interpolation between the cell centres
/// around it (a position nearer a wall than the first centre takes that centre's value along
/// that axis): up to 8 global cells (0-based, per axis) and their weights, which sum to 1.
struct InterpolationStencil {
  int count = 0;
  std::array<std::array<int, 3>, 8> cell{};
  std::array<double, 8> weight{};
};
/// The stencil on a grid of `global` cells of size `dx` per axis, in `dims` dimensions.
InterpolationStencil interpolation_stencil(int dims, const Kokkos::Array<int, 3>& global,
                                           const Kokkos::Array<double, 3>& dx, const std::vector<double>& position_m);
/// The same stencil as (flat index into the whole grid, x fastest and no ghosts; weight) pairs.
std::vector<std::pair<long, double>> global_interpolation(int dims, const Kokkos::Array<int, 3>& global,
                                                          const Kokkos::Array<double, 3>& dx,
                                                          const std::vector<double>& position_m);
/// The same on the configured grid.
std::vector<std::pair<long, double>> global_interpolation(const GridConfig& grid, const std::vector<double>& position_m);

}  // namespace twin::solvers
