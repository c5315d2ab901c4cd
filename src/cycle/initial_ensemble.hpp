#pragma once
// The twin's initial ensemble (ensemble: section): each member's estimated parameters drawn from
// their priors (clipped to [min, max]) and its state offset by a smooth random field of standard
// deviation initial_spread and length scale initial_length_m. Every draw depends on (seed,
// member) only, so any rank layout starts from the same ensemble.

#include <vector>

#include "solvers/ensemble.hpp"
#include "solvers/field.hpp"
#include "solvers/grid.hpp"
#include "twin/config.hpp"

namespace twin::detail {

/// Perturbs this rank's members of `x` (already at the initial value) and returns every
/// member's parameters, [member * parameters + p], identical on every rank.
std::vector<double> initialise_ensemble(const Config& config, const solvers::EnsembleLayout& layout,
                                        const solvers::LocalGrid& grid, solvers::Field& x);

}  // namespace twin::detail
