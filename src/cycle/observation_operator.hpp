#pragma once
// H, the observation operator of the twin cycle: the ensemble's values at the sensors. A sensor
// reads the field's multilinear interpolation between the cell centres around it, as a point
// sensor in the plant does ("point (interpolated)" in DESIGN.md). The stencils are found once;
// each rank weighs the stencil cells it owns on the device, and one reduction adds the shares,
// so only members x sensors values cross to the host.

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
  static constexpr int corners = 8;  ///< stencil cells per sensor (4 in 2D, the rest weigh 0)

  /// `layout` must outlive the operator. Collective: nothing.
  ObservationOperator(const Config& config, const solvers::EnsembleLayout& layout, const solvers::LocalGrid& grid,
                      MPI_Comm comm);

  /// H x for every member and sensor (member-major: [m * sensors + s]), on every rank.
  /// Collective over comm (one MPI_Allreduce).
  std::vector<double> apply(const solvers::Field& x) const;

  /// This rank's share of each sensor's value in row `member` of a host copy of a field: the
  /// stencil cells it owns, weighted. Summed over the ranks of the decomposition, H's readings.
  std::vector<double> local_share(const solvers::Field::HostMirror& h, int member) const;

  /// Each sensor's position [m] (zeros beyond the grid's dimensions), config.sensors order.
  const std::vector<std::array<double, 3>>& positions() const { return m_positions; }

 private:
  const solvers::EnsembleLayout& m_layout;
  MPI_Comm m_comm;
  int m_sensors, m_members;
  std::vector<std::array<double, 3>> m_positions;
  Kokkos::View<long**> m_cells;     // [sensor][corner]: padded flat index in this rank's block, or -1
  Kokkos::View<double**> m_weights; // [sensor][corner]
  Kokkos::View<long**>::HostMirror m_cells_host;
  Kokkos::View<double**>::HostMirror m_weights_host;
};

}  // namespace twin::detail
