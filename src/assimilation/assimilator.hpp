#pragma once
// The assimilate stage of the twin cycle: an Assimilator updates the ensemble (state and
// estimated parameters) from the cycle's accepted readings. Chosen by `assimilation.type`
// through its registry; types: enkf (enkf.cpp). A new filter (ETKF, adaptive inflation) is one
// new file that derives from Assimilator and registers itself.

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <vector>

#include "ground/registry.hpp"
#include "solvers/ensemble.hpp"
#include "solvers/field.hpp"
#include "solvers/grid.hpp"
#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin::detail {

/// The mean and the sample standard deviation over `members` of column `column` of `values`,
/// laid out [member][column] with `columns` per member (the ensemble at the sensors, the
/// members' parameters).
inline void member_moments(const std::vector<double>& values, int members, int columns, int column, double& mean,
                           double& sd) {
  mean = 0.0;
  for (int m = 0; m < members; ++m) mean += values[m * columns + column];
  mean /= members;
  double var = 0.0;
  for (int m = 0; m < members; ++m) var += (values[m * columns + column] - mean) * (values[m * columns + column] - mean);
  sd = members > 1 ? std::sqrt(var / (members - 1)) : 0.0;
}

/// One cycle's observations as the filter sees them; identical on every rank.
struct ObservationSet {
  std::vector<int> sensor;        ///< indices into config.sensors of the readings used
  std::vector<double> value;      ///< y
  std::vector<double> error_std;  ///< sqrt(R) per reading
  /// The largest share of the parameter update this cycle may apply: the parameter gate's
  /// memory of the recent cycles' tests (kept by the runtime, assimilation.parameter_gate_hold_cycles).
  double parameter_weight_cap = 1.0;
  /// The controls' signatures at the sensors ([control][configured sensor]; the runtime's, see
  /// cycle/grid_check.hpp), split out of the innovation for the anomaly diagnosis; may be null.
  const std::vector<std::vector<double>>* control_signatures = nullptr;
};

/// What an assimilator is built from; every reference outlives it.
struct AssimilatorContext {
  const Config& config;
  const solvers::EnsembleLayout& layout;
  const solvers::LocalGrid& grid;
  const std::vector<std::array<double, 3>>& sensor_positions;  ///< per configured sensor [m]
};

/// What one analysis found, for the cycle's outcome and the run's KPIs.
struct AnalysisReport {
  /// The readings' innovation consistency: d^T G^-1 d with d = y - mean(H x) and G the
  /// innovation covariance the filter assumed; chi-square with `readings` degrees of freedom
  /// when the ensemble is calibrated. NaN when not computed.
  double innovation_statistic = std::nan("");
  int readings = 0;
  /// The weight this cycle's consistency test gives (1 unless it failed).
  double test_weight = 1.0;
  /// The readings passed the consistency test, at assimilation.parameter_gate (at 0.001 when the
  /// gate is off); the model error grows only in a cycle that did not (assimilation/model_error.hpp).
  bool consistent = true;
  /// The share of the parameter update applied: the test's weight, at most the cap.
  double parameter_weight = 1.0;
  /// Per estimated parameter, the move of its ensemble mean the gate withheld: (1 - weight) times
  /// the (damped, assimilation.parameter_damping) update's (empty when nothing was assimilated).
  std::vector<double> parameter_withheld;
  /// The innovation split along the parameters' and the controls' signatures
  /// (assimilation/signatures.hpp; CycleOutcome::innovation_split).
  InnovationSplit innovation_split;
  /// Per reading (the ObservationSet's order), the part of its innovation the parameters'
  /// signatures explain together (fitted_along_signatures; empty without estimated
  /// parameters, NaN with no more readings than parameters with spread): what a wrong or
  /// drifting parameter would show. The model error's persistence test reads the rest.
  std::vector<double> explained_by_parameters;
};

/// The parameter gate's hold (assimilation.parameter_gate_hold_cycles): the test weights of the
/// last hold - 1 analyses, oldest first; the runtime keeps it and saves it in snapshots.
struct ParameterGateHold {
  std::vector<double> weights;
  /// The cap on the next analysis's parameter weight: the smallest recent test weight.
  double cap() const {
    double c = 1.0;
    for (double w : weights) c = std::min(c, w);
    return c;
  }
  /// Remembers an analysis's test weight, keeping the last hold - 1.
  void record(double test_weight, int hold) {
    weights.push_back(test_weight);
    const auto keep = static_cast<std::size_t>(std::max(hold, 1) - 1);
    if (weights.size() > keep) weights.erase(weights.begin(), weights.end() - static_cast<std::ptrdiff_t>(keep));
  }
};

class Assimilator {
 public:
  using Registry = twin::Registry<Assimilator, const AssimilatorContext&>;
  static Registry& registry();
  /// The assimilator of config.assimilation.type.
  static std::unique_ptr<Assimilator> create(const AssimilatorContext& context);

  virtual ~Assimilator() = default;
  /// Updates the local members' states in `x` and every member's parameters in `theta`
  /// ([member][estimated parameter]) from `obs`, given the prior at the sensors `hx`
  /// ([member][sensor], all members; an implementation may adjust it, e.g. when it inflates the
  /// prior). `hx` and `theta` are identical on every rank; `cycle` selects random draws.
  /// Collective over the ensemble layout.
  virtual AnalysisReport analyse(const solvers::Field& x, std::vector<double>& hx, std::vector<double>& theta,
                                 const ObservationSet& obs, long cycle) const = 0;
  /// Spreads the parameters in `theta` before the forecast: their random walk over the period,
  /// inflation and floors (`floor` per parameter, from the caller: empty for none; `walk`, per
  /// parameter, the std of a further random walk this period, e.g. ParameterWalk's: empty for
  /// none). Done before the members run, the readings' forecast carries the spread the update
  /// then weighs. Every rank passes the same `theta` and draws the same.
  virtual void spread_parameters(std::vector<double>& theta, long cycle, const std::vector<double>& floor,
                                 const std::vector<double>& walk) const {
    (void)theta, (void)cycle, (void)floor, (void)walk;
  }
};

}  // namespace twin::detail
