#include "cycle/observation_operator.hpp"

#include "ground/mpi.hpp"

namespace twin::detail {

ObservationOperator::ObservationOperator(const Config& config, const solvers::EnsembleLayout& layout,
                                         const solvers::LocalGrid& g, MPI_Comm comm)
    : m_layout(layout),
      m_comm(comm),
      m_sensors(static_cast<int>(config.sensors.size())),
      m_members(config.ensemble.members),
      m_cells("twin::sensor_cells", static_cast<std::size_t>(m_sensors), corners),
      m_weights("twin::sensor_weights", static_cast<std::size_t>(m_sensors), corners) {
  m_cells_host = Kokkos::create_mirror_view(m_cells);
  m_weights_host = Kokkos::create_mirror_view(m_weights);
  for (int n = 0; n < m_sensors; ++n) {
    std::array<double, 3> pos{0, 0, 0};
    for (int d = 0; d < g.dims; ++d) pos[d] = config.sensors[n].position_m[d];
    m_positions.push_back(pos);
    const solvers::InterpolationStencil st =
        solvers::interpolation_stencil(g.dims, g.global, g.dx, config.sensors[n].position_m);
    for (int k = 0; k < corners; ++k) {
      m_cells_host(n, k) = -1;
      m_weights_host(n, k) = 0.0;
      if (k >= st.count) continue;
      bool mine = true;
      int local[3] = {0, 0, 0};
      for (int d = 0; d < g.dims; ++d) {
        local[d] = st.cell[k][d] - g.offset[d];
        mine = mine && local[d] >= 0 && local[d] < g.cells[d];
      }
      if (!mine) continue;
      m_cells_host(n, k) = g.index(local[0], local[1], local[2]);
      m_weights_host(n, k) = st.weight[k];
    }
  }
  Kokkos::deep_copy(m_cells, m_cells_host);
  Kokkos::deep_copy(m_weights, m_weights_host);
}

std::vector<double> ObservationOperator::apply(const solvers::Field& x) const {
  const int local_members = m_layout.local_members();
  const int S = m_sensors;
  Kokkos::View<double**> picked("twin::hx", local_members, S);
  const auto u = x;
  const auto cells = m_cells;
  const auto weights = m_weights;
  Kokkos::parallel_for(
      "twin::observe", Kokkos::RangePolicy<>(0, local_members * S), KOKKOS_LAMBDA(const int n) {
        const int lm = n / S, s = n % S;
        double v = 0.0;
        for (int k = 0; k < corners; ++k)
          if (cells(s, k) >= 0) v += weights(s, k) * u(lm, cells(s, k));
        picked(lm, s) = v;
      });
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), picked);
  std::vector<double> local(static_cast<std::size_t>(m_members) * S, 0.0), all(local.size(), 0.0);
  for (int lm = 0; lm < local_members; ++lm)
    for (int s = 0; s < S; ++s) local[(m_layout.first_member() + lm) * S + s] = h(lm, s);
  if (!local.empty())
    TWIN_MPI_CHECK(MPI_Allreduce(local.data(), all.data(), static_cast<int>(local.size()), MPI_DOUBLE, MPI_SUM, m_comm));
  return all;
}

std::vector<double> ObservationOperator::local_share(const solvers::Field::HostMirror& h, int member) const {
  std::vector<double> out(static_cast<std::size_t>(m_sensors), 0.0);
  for (int s = 0; s < m_sensors; ++s)
    for (int k = 0; k < corners; ++k)
      if (m_cells_host(s, k) >= 0) out[s] += m_weights_host(s, k) * h(member, m_cells_host(s, k));
  return out;
}

}  // namespace twin::detail
