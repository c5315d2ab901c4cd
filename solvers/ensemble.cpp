#include "solvers/ensemble.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "twin/error.hpp"

namespace twin::solvers {

EnsembleLayout::EnsembleLayout(MPI_Comm comm, int members, std::optional<int> chosen, const GridConfig& grid)
    : m_members(members) {
  int rank = 0, size = 1;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &size));
  int groups = chosen.value_or(0);
  if (!chosen) {
    if (!grid.ranks.empty()) {
      const int domain = std::accumulate(grid.ranks.begin(), grid.ranks.end(), 1, std::multiplies<int>());
      if (domain <= 0 || size % domain != 0)
        throw ConfigError({"", 0, 0, "grid.ranks"}, "the process grid (" + std::to_string(domain) +
                                                        " ranks) does not divide the job's " + std::to_string(size) +
                                                        " ranks into member groups");
      groups = size / domain;
    } else {
      groups = 1;
      for (int g = 1; g <= size; ++g)
        if (size % g == 0 && g <= members) groups = g;
    }
  }
  if (size % groups != 0 || groups > members)
    throw ConfigError({"", 0, 0, "ensemble.member_groups"},
                      std::to_string(groups) + " member groups must divide the job's " + std::to_string(size) +
                          " ranks and not exceed ensemble.members (" + std::to_string(members) + ")");
  m_groups = groups;
  const int per_group = size / groups;
  m_group = rank / per_group;
  MPI_Comm domain = MPI_COMM_NULL, member = MPI_COMM_NULL;
  TWIN_MPI_CHECK(MPI_Comm_split(comm, m_group, rank, &domain));
  m_domain = UniqueComm(domain);
  TWIN_MPI_CHECK(MPI_Comm_split(comm, rank % per_group, rank, &member));
  m_member = UniqueComm(member);
}

int EnsembleLayout::first_member(int group) const {
  const int base = m_members / m_groups, extra = m_members % m_groups;
  return group * base + std::min(group, extra);
}

int EnsembleLayout::member_count(int group) const {
  return m_members / m_groups + (group < m_members % m_groups ? 1 : 0);
}

EnsembleMoments ensemble_moments(const EnsembleLayout& layout, const Field& x, bool with_spread) {
  const long n = static_cast<long>(x.extent(1));
  const int members = layout.members();
  auto h = Kokkos::create_mirror_view(x);
  Kokkos::deep_copy(h, x);
  // Sums (and sums of squares) over my members, then over the member groups in one reduction.
  std::vector<double> sums(static_cast<std::size_t>(with_spread ? 2 * n : n), 0.0), total(sums.size(), 0.0);
  for (int m = 0; m < static_cast<int>(x.extent(0)); ++m)
    for (long c = 0; c < n; ++c) {
      sums[c] += h(m, c);
      if (with_spread) sums[n + c] += h(m, c) * h(m, c);
    }
  TWIN_MPI_CHECK(MPI_Allreduce(sums.data(), total.data(), static_cast<int>(total.size()), MPI_DOUBLE, MPI_SUM,
                               layout.member_comm()));
  EnsembleMoments out;
  out.mean.assign(total.begin(), total.begin() + n);
  for (double& v : out.mean) v /= members;
  if (with_spread) {
    out.spread.resize(static_cast<std::size_t>(n));
    for (long c = 0; c < n; ++c) {
      const double var = (total[n + c] - members * out.mean[c] * out.mean[c]) / std::max(1, members - 1);
      out.spread[c] = members > 1 ? std::sqrt(std::max(0.0, var)) : 0.0;
    }
  }
  return out;
}

double mean_spread(const EnsembleLayout& layout, const Decomposition& decomposition, const Field& x) {
  const std::vector<double> spread = ensemble_moments(layout, x, true).spread;
  const LocalGrid& g = decomposition.local();
  double sum = 0.0;
  for (int k = 0; k < g.cells[2]; ++k)
    for (int j = 0; j < g.cells[1]; ++j)
      for (int i = 0; i < g.cells[0]; ++i) sum += spread[static_cast<std::size_t>(g.index(i, j, k))];
  // Every member group holds the whole grid: the sum over one group's ranks is the grid's.
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_DOUBLE, MPI_SUM, layout.domain_comm()));
  return sum / (static_cast<double>(g.global[0]) * g.global[1] * g.global[2]);
}

std::vector<double> gather_interior(const Decomposition& decomposition, const Field& u, int member, int root) {
  const LocalGrid& g = decomposition.local();
  const MPI_Comm comm = decomposition.comm();
  const int size = decomposition.size();
  auto h = Kokkos::create_mirror_view(u);
  Kokkos::deep_copy(h, u);
  // Each block: offset and extent per axis, then its values.
  std::vector<double> mine;
  mine.reserve(static_cast<std::size_t>(g.interior_size()) + 6);
  for (int d = 0; d < 3; ++d) mine.push_back(g.offset[d]);
  for (int d = 0; d < 3; ++d) mine.push_back(g.cells[d]);
  for (int k = 0; k < g.cells[2]; ++k)
    for (int j = 0; j < g.cells[1]; ++j)
      for (int i = 0; i < g.cells[0]; ++i) mine.push_back(h(member, g.index(i, j, k)));
  int count = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  TWIN_MPI_CHECK(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm));
  std::vector<double> all;
  int rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  if (rank == root) {
    std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
    all.resize(static_cast<std::size_t>(displs.back() + counts.back()));
  }
  TWIN_MPI_CHECK(MPI_Gatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, root, comm));
  if (rank != root) return {};
  std::vector<double> whole(static_cast<std::size_t>(1L * g.global[0] * g.global[1] * g.global[2]));
  for (int r = 0; r < size; ++r) {
    const double* b = all.data() + displs[r];
    const int o[3] = {int(b[0]), int(b[1]), int(b[2])}, n[3] = {int(b[3]), int(b[4]), int(b[5])};
    const double* v = b + 6;
    for (int k = 0; k < n[2]; ++k)
      for (int j = 0; j < n[1]; ++j)
        for (int i = 0; i < n[0]; ++i, ++v)
          whole[(o[0] + i) + static_cast<std::size_t>(g.global[0]) * ((o[1] + j) + static_cast<std::size_t>(g.global[1]) * (o[2] + k))] = *v;
  }
  return whole;
}

}  // namespace twin::solvers
