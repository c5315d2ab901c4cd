#pragma once
// H, the observation operator of the twin cycle: the ensemble's values at the sensors. A sensor
// reads the cell that contains it ("point (cell)" in DESIGN.md; an interpolating operator is a
// later type). The cells are found once; `apply` picks them on the device, so only members x
// sensors values cross to the host.

#include <mpi.h>

#include <array>
#include <vector>

#include "solvers/ensemble.hpp"
#include "solvers/field.hpp"
#include "solvers/grid.hpp"
#include "twin/config.hpp"

namespace twin::detail {

class ObservationOperator {
 public:
  /// `layout` must outlive the operator. Collective: nothing.
  ObservationOperator(const Config& config, const solvers::EnsembleLayout& layout, const solvers::LocalGrid& grid,
                      MPI_Comm comm);

  /// H x for every member and sensor (member-major: [m * sensors + s]), on every rank.
  /// Collective over comm (one MPI_Allreduce).
  std::vector<double> apply(const solvers::Field& x) const;

  /// Each sensor's position [m] (zeros beyond the grid's dimensions), config.sensors order.
  const std::vector<std::array<double, 3>>& positions() const { return m_positions; }
  /// Each sensor's cell in this rank's block (padded flat index), or -1 where another rank owns it.
  const Kokkos::View<long*>::HostMirror& local_cells() const { return m_cells_host; }

 private:
  const solvers::EnsembleLayout& m_layout;
  MPI_Comm m_comm;
  int m_sensors, m_members;
  std::vector<std::array<double, 3>> m_positions;
  Kokkos::View<long*> m_cells;
  Kokkos::View<long*>::HostMirror m_cells_host;
};

}  // namespace twin::detail
