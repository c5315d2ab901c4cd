#pragma once
// Distributed solver fields in restart snapshots. Each rank stores the interior cells of its
// own members with where they lie (first member, the owned cell box, the global grid), so a
// snapshot taken on one rank layout restores onto another: every rank picks the overlaps of its
// members and cells from whichever parts hold them. Ghost cells are not stored; the solver fills
// them before it uses them.

#include <functional>
#include <string>

#include "io/state_archive.hpp"
#include "solvers/field.hpp"
#include "solvers/grid.hpp"
#include "twin/observation.hpp"

namespace twin::io {

/// The parts of one snapshot, loaded on first use: `part(r)` is rank r's archive.
struct StateParts {
  int count = 0;
  std::function<const StateArchive&(int rank)> part;
  int own_rank = 0;  ///< this rank's part when the layout is unchanged, or -1
};

void save_field(StateArchive& archive, const std::string& name, const solvers::Field& u, const solvers::LocalGrid& g,
                int first_member);

/// Fills the interior of `u` (members first_member.., cells of g) from the parts that hold
/// `name`. @throws DataError when the parts do not cover every member and cell exactly once or
/// were written for another grid.
void restore_field(const StateParts& parts, const std::string& name, const solvers::Field& u,
                   const solvers::LocalGrid& g, int first_member);

/// Readings as three arrays (`name`.t, .value, .sensor), e.g. those queued for later cycles.
void save_observations(StateArchive& archive, const std::string& name, const std::vector<Observation>& readings);
/// @throws DataError when the arrays are missing or of different lengths.
std::vector<Observation> restore_observations(const StateArchive& archive, const std::string& name);

}  // namespace twin::io
