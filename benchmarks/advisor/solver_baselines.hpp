#pragma once
// Cheaper solvers as baselines for the surrogate (issue 16, part 5): the twin's own solver on
// coarser grids and with large implicit steps, asked the surrogate's what-if question ("the
// sensors' changes after each lead time, for this state, these parameters and these controls
// held"). The reference answer is the configured solver on the configured grid; the cases are
// drawn as twin train draws its control sequences (parameters within training.parameter_spread
// of the priors, controls uniform in their ranges, a warm state after random operation), with
// their own seed.

#include <nlohmann/json.hpp>

#include <vector>

#include "twin/config.hpp"

namespace twin::bench {

/// One cheaper solver's error and cost over `cases` cases: coarsening factor per axis (1: the
/// twin's grid), integrator and step. relative_error is sqrt(sum e^2 / sum y^2) over cases,
/// sensors and leads, as the surrogate's; ms is the median time of one case (one member over the
/// longest lead, from the case's state).
nlohmann::json solver_baselines(const Config& config, const std::vector<int>& lead_cycles, int cases, unsigned seed);

}  // namespace twin::bench
