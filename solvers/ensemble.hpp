#pragma once
// Spreading ensemble members over MPI ranks: the job's ranks form groups; each group owns a
// block of members and decomposes the grid over its own ranks. Ranks at the same place of the
// decomposition in different groups form a member communicator, over which ensemble sums
// (means, covariances) are reduced.

#include <mpi.h>

#include <optional>
#include <vector>

#include "ground/mpi.hpp"
#include "solvers/field.hpp"
#include "solvers/grid.hpp"
#include "twin/config.hpp"

namespace twin::solvers {

class EnsembleLayout {
 public:
  /// Without `groups` it chooses: with grid.ranks set, ranks / prod(grid.ranks); otherwise the
  /// largest divisor of the rank count not above `members` (members first: no halo traffic).
  /// @throws ConfigError when grid.ranks does not divide the rank count.
  EnsembleLayout(MPI_Comm comm, int members, std::optional<int> groups, const GridConfig& grid);

  MPI_Comm domain_comm() const { return m_domain.get(); }
  MPI_Comm member_comm() const { return m_member.get(); }
  int groups() const { return m_groups; }
  int group() const { return m_group; }
  int members() const { return m_members; }
  /// First member and count of a group's block.
  int first_member(int group) const;
  int member_count(int group) const;
  int first_member() const { return first_member(m_group); }
  int local_members() const { return member_count(m_group); }

 private:
  UniqueComm m_domain, m_member;
  int m_members = 1, m_groups = 1, m_group = 0;
};

/// Ensemble mean of every padded cell of `x` (this rank's members), reduced over the layout's
/// member communicator; with `with_spread` also the ensemble std (N - 1 normalised). Collective
/// over the member communicator.
struct EnsembleMoments {
  std::vector<double> mean;
  std::vector<double> spread;  ///< empty unless asked for
};
EnsembleMoments ensemble_moments(const EnsembleLayout& layout, const Field& x, bool with_spread);

/// The ensemble std of `x`, mean over every interior cell of the whole grid; the same on every
/// rank but for round-off. Collective over the layout's communicators.
double mean_spread(const EnsembleLayout& layout, const Decomposition& decomposition, const Field& x);

/// Member m's interior over the whole grid (x fastest), gathered on rank `root` of the
/// decomposition's communicator; empty elsewhere. Collective over that communicator.
std::vector<double> gather_interior(const Decomposition& decomposition, const Field& u, int member, int root = 0);

}  // namespace twin::solvers
