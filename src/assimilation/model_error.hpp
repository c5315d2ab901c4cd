#pragma once
// The twin's model error, represented and estimated (assimilation.model_error_gain; issue 16):
// adaptive additive inflation. Each forecast adds to every member's state a smooth random field
// of variance q^2, centred over the members (the mean does not move, the spread grows where no
// reading holds it down), and q^2 is estimated online from the readings: while the squared
// innovations exceed the spread plus noise the filter predicted for them, q^2 grows by a share
// of the excess, and only in a cycle that fails the filter's consistency test (the parameter
// gate's test, at assimilation.parameter_gate or 0.001 without it) or in which one sensor's
// innovations have persisted beyond chance (the persistence test below), so that a plant that
// agrees with the twin adds nothing; when they fall short, it shrinks (towards 0). The online estimation of a
// model-error variance from innovations follows Dee (1995, Mon. Wea. Rev. 123, 1128-1145) and
// Mitchell & Houtekamer (2000, Mon. Wea. Rev. 128, 416-433).
//
// A plant that departs from the twin's physics for a while (a failed heater, an unmodelled heat
// source) leaves the twin's state wrong where no sensor sees it; without this the ensemble
// stays as sure of that state as of a plant that never departed, and the parameters soak up the
// difference for a hundred cycles afterwards.

#include <vector>

#include "assimilation/assimilator.hpp"
#include "solvers/ensemble.hpp"
#include "solvers/field.hpp"
#include "solvers/grid.hpp"
#include "twin/config.hpp"

namespace twin::detail {

/// How ModelErrorVariance::update tests for innovations that persist (its mean_innovation).
struct PersistenceTest {
  int cycles = 0;        ///< L, assimilation.innovation_persistence_cycles (0: no test)
  double alpha = 0.001;  ///< the test's level over the sensors read (the parameter gate's)
  /// Per reading, what the parameters' signatures explain (AnalysisReport::explained_by_parameters).
  std::vector<double> explained_by_parameters;
  /// False in the filter's spin-up (the anomaly diagnosis's warm-up): no mean is kept, nothing is
  /// found. The twin's initial state is off the plant's by more than its spread (1.5-2 K on
  /// the shipped twins), and that error, decaying over the first cycles, persists too: without
  /// this the test fired in cycle 4 of the channel and cycle 7 of the plate, without faults.
  bool armed = true;
};

/// The estimated model-error variance q^2 per forecast period [u^2]; the runtime keeps it and
/// saves it in snapshots. Identical on every rank (it is computed from the same numbers).
struct ModelErrorVariance {
  double variance = 0.0;
  /// Per configured sensor, its assimilated reading's innovation in the last cycle (NaN: none);
  /// empty after a cycle without an analysis (the runtime clears it).
  std::vector<double> last_innovation;
  /// One cycle's estimate from the assimilated readings: with v_r = (inflation x forecast
  /// spread)^2 + R for reading r (the spread the filter's analysis assumed, after its
  /// multiplicative inflation) and d_r its innovation, the excess mean(min(d_r^2, 9 v_r) - v_r).
  /// Below 0 it moves q^2 by `gain` of itself, in any cycle (q^2 stays >= 0). Above 0, only in a
  /// cycle that fails the consistency test (`consistent` false) or finds a persistent departure
  /// (below), q^2 grows by `gain` of the part
  /// of it that persists from the last cycle: the lag-one products mean(d_r d_r') over the
  /// sensors read in both (d_r' the last innovation, each product clipped to +-9 v_r), and no
  /// more than the excess. A plant that departs from the twin's physics by b departs cycle after
  /// cycle the same way: E[d d'] = b^2, the readings' noise dropping out (E[d^2] = b^2 + v). The
  /// innovations of a calibrated filter are uncorrelated in time (Mehra 1970, IEEE Trans. Autom.
  /// Control 15, 175-184), and wild readings that flip sign give d d' < 0: neither inflates the
  /// twin. Grown on d^2 alone, wild readings QC's buddy check let through in pairs grew q^2 by
  /// a share of itself each cycle (the clip scales with q^2), to 51 K in 20 cycles, and every
  /// later wild reading passed QC (tests/degraded, wild_noise).
  /// `forecast_mean`/`forecast_spread` are per configured sensor, the ensemble's at the sensors
  /// before the analysis.
  void update(const ObservationSet& obs, const std::vector<double>& forecast_mean,
              const std::vector<double>& forecast_spread, double inflation, double gain, bool consistent,
              const PersistenceTest& persistence = {});
  /// The persistence test (`persistence`, L = its cycles > 0): per configured sensor, the
  /// running mean of its normalised innovation z_r = (d_r - e_r) / sqrt(v_r), with e_r the part
  /// the parameters' signatures explain (`explained_by_parameters`, per reading; empty: none;
  /// NaN: not tested this cycle): a plant parameter that drifts, or one the filter has not yet
  /// learnt, departs along its signature cycle after cycle, and that is the parameters'
  /// business. Exponential with weight 2 / (L + 1), from 0 after any analysis that did not test
  /// the sensor (not read, not armed): saved in snapshots. For white innovations of unit
  /// variance, as a calibrated filter's are, its variance settles at 1 / L; with the fit removed
  /// the residual's variance is v_r less the fitted part's, so the test is conservative.
  /// The update finds a persistent departure when L m_r^2 exceeds the chi-square(1) quantile
  /// at alpha / n for one of the n sensors read (Bonferroni over the sensors, whatever their
  /// correlation), and then treats the cycle as one that fails the consistency test: q^2 grows
  /// by what persists, if the mean excess over all the readings is above 0. A failed
  /// heater whose missing heat the state update removes cycle by cycle fails that test in no
  /// cycle (the module of tests/data: D of 5 to 30 on 12 readings against a threshold of 33,
  /// while the sensor above the heater read z of -2.3 on average for 30 cycles), and the
  /// parameters took it up: the cooling factor 1.29 -> 1.42 (truth 1.3).
  std::vector<double> mean_innovation;
  /// The configured sensor at which the last update found such a persistent departure, where it
  /// stood furthest beyond chance (-1: none found).
  int persistent_sensor = -1;
  bool persistent() const { return persistent_sensor >= 0; }
  /// Whether the parameters wait this cycle: while the model error is above a tenth of the
  /// readings' mean error variance R (noise and assimilation.representation_std) (a third of the noise in std, no longer lost in one cycle's
  /// noise), the plant is known to depart from the twin's physics. A departure that lasts (a
  /// fault's heat still in the block where no sensor is) is not evidence about the parameters:
  /// fitted to it, they drift for as long as it lasts, cycle after cycle, at a spread that no
  /// longer covers the truth.
  bool holds_parameters(const ObservationSet& obs) const;
  /// This cycle's cap on the parameters' update weight: 0 while holds_parameters; after a hold,
  /// (s_before / s)^2 while the state's spread s is above s_before, its level in the last cycle
  /// before the hold, for at most as many analyses as the hold lasted (a hold that returns
  /// before then adds its analyses to the count); otherwise 1. Called once per analysis.
  /// `state_spread` is the ensemble's forecast spread, with this cycle's model error added, mean
  /// over every cell of the grid (not finite: no cap).
  /// A departure leaves the state wrong where no sensor reads it: on the block after a heater
  /// failure the analysis RMSE against the truth was still 0.125 K six cycles after the model
  /// error had fallen back to 0 (0.02 K before), and took about 30 cycles to settle. Meanwhile what
  /// that state leaks to the sensors looks like evidence about the parameters, which are not
  /// localised (the cooling factor moved 1.277 -> 1.324, truth 1.25, in 12 consistent analyses).
  /// The ensemble knows how unsure its state still is (its spread decays with that error), so the
  /// parameters learn at the rate the state is known again (docs/filter-history.md, "The state a
  /// departure leaves").
  double parameter_weight_cap(const ObservationSet& obs, double state_spread);

  /// parameter_weight_cap's bookkeeping (saved in snapshots): the state's spread in the last
  /// cycle without a hold and before the current departure, the cycles the departure's hold
  /// lasted, and the cycles since it ended.
  double spread_last = 0.0, spread_before = 0.0;
  int held_cycles = 0, settling_cycles = 0;
};

/// The random fields that carry the model error into the members (the same smooth fields as
/// the initial ensemble's, length ensemble.initial_length_m): a bank of `bank_size` unit-variance
/// fields over this rank's cells, one of them drawn anew each cycle, and each member's field a
/// random combination of the bank. Every draw depends on (seed, cycle, member) only, so any
/// rank layout, and a resumed run, adds the same.
class ModelErrorNoise {
 public:
  static constexpr int bank_size = 32;
  ModelErrorNoise(const Config& config, const solvers::EnsembleLayout& layout, const solvers::LocalGrid& grid);

  /// Adds sqrt(variance) times each local member's field for `cycle` to `x`; nothing when the
  /// variance is 0.
  void perturb(solvers::Field& x, long cycle, double variance);

 private:
  void refresh(long cycle);  // the bank as it stands at `cycle`

  const solvers::EnsembleLayout* m_layout;
  solvers::LocalGrid m_grid;
  unsigned m_seed;
  int m_members;
  double m_length_m;
  std::vector<long> m_drawn_at;   // [bank_size] the cycle each bank field was drawn for
  std::vector<double> m_bank;     // [bank_size][interior cell]
};

}  // namespace twin::detail
