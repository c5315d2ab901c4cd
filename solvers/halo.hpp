#pragma once
// Ghost-layer exchange between neighbouring ranks: Kokkos pack/unpack, non-blocking MPI.

#include <string>
#include <vector>

#include "solvers/field.hpp"
#include "solvers/grid.hpp"

namespace twin::solvers {

/// Exchanges the face ghost layers of a Field with the Cartesian neighbours (faces only: the
/// stencils are star-shaped and never read corner ghosts). Buffers are allocated once.
/// Collective over the decomposition's communicator.
class HaloExchange {
 public:
  HaloExchange(const Decomposition& decomposition, int members);

  /// Fills every ghost cell that faces another rank. Walls are left to the boundary conditions.
  /// @throws MpiError when a transfer fails.
  void exchange(const Field& u);

 private:
  const Decomposition* m_decomposition;
  int m_members;
  // [axis][side] send and receive buffers, members x face cells.
  std::vector<Kokkos::View<double*>> m_send, m_recv;
};

/// Number of interior cells on a face normal to `axis`.
long face_cells(const LocalGrid& g, int axis);

}  // namespace twin::solvers
