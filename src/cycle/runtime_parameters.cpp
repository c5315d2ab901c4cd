// The estimated parameters' bookkeeping of twin::Runtime (docs/twin-cycle.md): their summary
// (mean, members' spread, stated uncertainty), their recent movement and the floor it sets on
// the spread, the readings' last disagreement with the twin's physics, and the start-up checks
// (the grid check's share of the stated uncertainty, the controls' signatures), and the model
// error's estimate after each analysis, which holds them while the plant departs.
#include "cycle/runtime_impl.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace twin {

void Runtime::Impl::summarise_parameters() {
  parameter_estimates.clear();
  for (int p = 0; p < P; ++p) {
    double mean = 0.0, spread = 0.0;
    detail::member_moments(theta, N, P, p, mean, spread);
    // A shift made while the readings disagreed with the twin's physics (a plant fault pulls
    // the parameters even through the gate's small weights) is not yet known to be right: the
    // truth may lie anywhere between the mean before the disagreement and now. Taken as uniform
    // on that interval (GUM's type B evaluation), its standard uncertainty about the present
    // mean is the distance / sqrt(3), combined in quadrature with the members' spread. Once the
    // shift is measured, the distance counts at most as far as the shift went: the parameters'
    // later, consistent learning is the members' to state.
    double shifted = 0.0;
    if (!disagreement_anchor.empty()) {
      shifted = std::abs(mean - disagreement_anchor[p]);
      if (disagreement_confirming > 0) shifted = std::min(shifted, disagreement_shift[p]);
    }
    // The grid check's structural uncertainty (cycle/grid_check.hpp), which no reading removes.
    const double grid_u = static_cast<std::size_t>(p) < grid.parameter_uncertainty.size() ? grid.parameter_uncertainty[p] : 0.0;
    parameter_estimates.push_back({config.ensemble.parameters[p].name, mean,
                                   std::sqrt(spread * spread + shifted * shifted / 3.0 + grid_u * grid_u), spread});
  }
}

void Runtime::Impl::track_disagreement(bool consistent, bool persistent) {
  const int confirm_after = config.assimilation.parameter_movement_cycles;
  if (confirm_after <= 0) return;  // off with the movement floor
  // parameter_estimates still holds the last cycle's means: those before this analysis. They
  // join the window the persistence test's running means span, the last
  // innovation_persistence_cycles analyses up to this one; none is kept where the test keeps no
  // means (the filter's spin-up, or no model error).
  std::vector<double> before;
  for (const ParameterEstimate& e : parameter_estimates) before.push_back(e.mean);
  const bool tested = model_error_noise && cycle >= filter_spin_up_cycles(config);
  const auto window = tested ? static_cast<std::size_t>(std::max(0, config.assimilation.innovation_persistence_cycles)) : 0;
  if (window > 0) recent_means.push_back(before);
  while (recent_means.size() > window) recent_means.pop_front();
  if (!consistent || persistent) {
    // A failed test shows in the analysis where the readings first disagree; a persistent
    // departure only once the test's running means have built up, and the parameters may have
    // followed it meanwhile: the disagreement then began before the oldest analysis they span.
    if (disagreement_anchor.empty()) disagreement_anchor = persistent && !recent_means.empty() ? recent_means.front() : before;
    disagreement_confirming = 0;
    return;
  }
  if (disagreement_anchor.empty()) return;
  if (disagreement_confirming == 0) {  // the first consistent analysis: the shift is what the disagreement did
    disagreement_shift.assign(static_cast<std::size_t>(P), 0.0);
    for (int p = 0; p < P; ++p)
      disagreement_shift[p] = std::abs(parameter_estimates[p].mean - disagreement_anchor[p]);
  }
  if (++disagreement_confirming >= confirm_after) {
    disagreement_anchor.clear();
    disagreement_shift.clear();
    disagreement_confirming = 0;
  }
}

std::vector<double> Runtime::Impl::movement_floor() const {
  std::vector<double> floor;
  if (config.assimilation.parameter_movement_cycles > 0)
    for (double moved : parameter_movement) floor.push_back(0.5 * std::abs(moved));
  return floor;
}

void Runtime::Impl::update_parameter_estimates() {
  // The parameters' movement (assimilation.parameter_movement_cycles): its decayed sum plus
  // this cycle's change of the mean, taken before the estimates are summarised anew.
  const int memory = config.assimilation.parameter_movement_cycles;
  if (memory > 0)
    for (int p = 0; p < P; ++p)
      parameter_movement[p] = (1.0 - 1.0 / memory) * parameter_movement[p] - parameter_estimates[p].mean;
  summarise_parameters();
  if (memory > 0)
    for (int p = 0; p < P; ++p) parameter_movement[p] += parameter_estimates[p].mean;
}

// The start-up checks (cycle/grid_check.hpp), on the member group's communicator: every group
// holds the whole twin, and splitting its grid over the job's ranks instead could be finer than
// the grid allows (and skip them on many ranks only). The grid check: the structural
// uncertainty the twin's grid adds to the parameters and to the state at the sensors, in their
// stated uncertainty. The controls' signatures: for the anomaly diagnosis.
void Runtime::Impl::run_start_up_checks() {
  if (!config.assimilation.enabled) {
    grid.skipped = "off (no assimilation)";
    return;
  }
  std::string why;
  control_signature = detail::control_signatures(config, layout.domain_comm(), why);
  if (!why.empty() && rank == 0)
    spdlog::warn("the controls' signatures could not be computed, the anomaly diagnosis reads none: {}", why);
  if (config.assimilation.grid_check_cycles <= 0) {
    grid.skipped = "off";
    return;
  }
  grid = detail::check_grid(config, layout.domain_comm(), config.assimilation.grid_check_cycles);
  if (rank != 0) return;
  if (!grid.skipped.empty()) {
    spdlog::warn("the grid check (assimilation.grid_check_cycles) did not run, the stated uncertainty leaves the "
                 "grid's error out: {}", grid.skipped);
    return;
  }
  std::string parameters;
  for (std::size_t p = 0; p < grid.shift.size(); ++p)
    parameters += fmt::format("{}{} {:+.4f} (uncertainty {:.4f})", p ? ", " : "", config.ensemble.parameters[p].name,
                              grid.shift[p], grid.parameter_uncertainty[p]);
  double largest = 0.0;
  std::size_t at = 0;
  for (std::size_t s = 0; s < grid.sensor_uncertainty.size(); ++s)
    if (grid.sensor_uncertainty[s] > largest) largest = grid.sensor_uncertainty[s], at = s;
  spdlog::info("grid check ({} cycles against a grid twice as fine): the twin's grid moves the parameters' best fit by {}; "
               "its error at the sensors is up to {:.3g} (at {}); both count in the stated uncertainty",
               grid.cycles, parameters.empty() ? std::string("nothing (none estimated)") : parameters, largest,
               config.sensors[at].name);
}

double Runtime::Impl::stated_sensor_std(int s, double spread) const {
  return static_cast<std::size_t>(s) < grid.sensor_uncertainty.size() ? std::hypot(spread, grid.sensor_uncertainty[s]) : spread;
}

bool Runtime::Impl::estimate_model_error(const detail::ObservationSet& obs, const std::vector<double>& fmean,
                                         const std::vector<double>& fstd, const detail::AnalysisReport& analysis) {
  const auto& a = config.assimilation;
  model_error.update(obs, fmean, fstd, a.inflation, a.model_error_gain, analysis.consistent,
                     {a.innovation_persistence_cycles, a.parameter_gate > 0.0 ? a.parameter_gate : 0.001,
                      analysis.explained_by_parameters, cycle >= filter_spin_up_cycles(config)});
  if (model_error.persistent() && !last_persistent && rank == 0)
    spdlog::info("cycle {}: the innovations at {} have persisted beyond chance (mean {:+.2f} sd over about {} analyses, "
                 "less what the parameters explain): the plant departs from the twin's physics; the model error may "
                 "grow",
                 cycle, config.sensors[static_cast<std::size_t>(model_error.persistent_sensor)].name,
                 model_error.mean_innovation[static_cast<std::size_t>(model_error.persistent_sensor)],
                 a.innovation_persistence_cycles);
  last_persistent = model_error.persistent();
  return model_error.persistent();
}

}  // namespace twin
