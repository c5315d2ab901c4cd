#pragma once
// The drift monitors of `drift:` over the signals the twin already has (docs/advisor.md):
//   surrogate_error  the surrogate's realised error: what it predicted at cycle n for lead k,
//                    for the controls actually emitted, against the analysis at the sensors at
//                    cycle n + k (RMS over leads and sensors, in units of its validation RMSE);
//   ood              the out-of-distribution score of the advisor's inputs;
//   innovation       the filter's normalised innovations squared, mean over the accepted
//                    readings of d^2 / (forecast spread^2 + noise_std^2), about 1 when the
//                    forecast and the sensors agree (Desroziers et al. 2005); it rises with a
//                    model drift, while faulty sensors are rejected by QC before they count;
//   anomaly_rate     whether the anomaly model flagged the cycle (0 or 1);
//   parameters       each estimated parameter's level, watched both ways: a plant drift that
//                    the filter follows with its parameters (fouling, a decaying heater) moves
//                    them while the surrogate, which takes them as inputs, stays right. Its
//                    detections are named `parameter:<name>`.
// The positive signals are watched on a log scale (the flag rate as it is). Each monitor skips
// its signal's first `warmup_cycles` values (the twin settling), sets a
// reference from the next `reference_cycles` (median, robust deviation and lag-1
// autocorrelation, which inflates the deviation to the long-run one), then feeds standardised
// values to its detector (advisor/drift.hpp). A parameter's deviation is at least sqrt(2) times
// its mean ensemble spread over the reference: the filter's own uncertainty of the two levels
// compared, so that a wander the filter calls noise is not a drift. After a detection it sets a new reference from the
// next values, so a drift is reported once per level. Rank 0 only (where the decider is); no MPI.
// The last values of every signal are kept for the cycle's audit record.

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "advisor/drift.hpp"
#include "decision/prediction_ledger.hpp"
#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin::io {
class StateArchive;
}

namespace twin::detail {

class DriftWatch {
 public:
  /// `parameters`: the names of the estimated parameters (config.ensemble.parameters order).
  DriftWatch(const DriftConfig& config, const std::vector<std::string>& parameters);

  /// One cycle's values by signal (a signal without a value this cycle is left out); returns
  /// the detections of this cycle.
  std::vector<DriftDetection> observe(const std::map<std::string, double>& values);
  /// The parameters' monitors: this cycle's estimates (means) and ensemble spreads; returns
  /// their detections and adds `parameter:<name>` to last_values().
  std::vector<DriftDetection> observe_parameters(const std::vector<double>& theta, const std::vector<double>& spread);
  bool watches(const std::string& signal) const;
  /// Another model is in use (a promotion or rollback): the monitors of `signal` set a new
  /// reference from its next values (no warm-up), and, for surrogate_error, the predictions of
  /// the model it replaced are no longer scored.
  void rereference(const std::string& signal);
  /// The values observe() was given last (this cycle's signals).
  const std::map<std::string, double>& last_values() const { return m_last; }

  /// The realised-error signal: `predicted` is the surrogate's prediction made this cycle for
  /// the controls emitted (leads x sensors, sensor fastest, absolute units); `analysis` this
  /// cycle's analysis at the sensors. Returns the RMS error of the predictions that mature this
  /// cycle, over `scale` (the model's validation RMSE), when any do.
  std::optional<double> realised_error(int cycle, const std::vector<int>& lead_cycles, const std::vector<double>& analysis,
                                       std::optional<std::vector<double>> predicted, double scale);

  void save(io::StateArchive& a) const;
  void restore(const io::StateArchive& a);

 private:
  struct Monitor {
    DriftMonitorConfig config;
    std::unique_ptr<advisor::DriftDetector> detector;
    std::vector<double> reference;     // values collected for the reference (cleared once set)
    double mean = 0.0, scale = 1.0;     // the reference: z = (x - mean) / scale
    bool armed = false;
    int warmup = 0;                     // values skipped before the first reference
  };
  // One estimated parameter's level, watched both ways (an upper CUSUM on z and one on -z).
  struct LevelMonitor {
    std::string signal;  // parameter:<name>
    std::unique_ptr<advisor::DriftDetector> up, down;
    std::vector<double> reference, spread;  // estimates and ensemble spreads for the reference
    double level = 0.0, scale = 1.0;
    bool armed = false;
    int warmup = 0;
  };
  std::unique_ptr<advisor::DriftDetector> detector(const DriftMonitorConfig& c) const;
  bool into_reference(int& warmup, std::vector<double>& reference, double x) const;
  void set_reference(Monitor& m) const;
  void set_level(LevelMonitor& m) const;
  DriftConfig m_config;
  std::vector<Monitor> m_monitors;
  DriftMonitorConfig m_level_config;   // the `parameters` monitor's type and shift
  std::vector<LevelMonitor> m_levels;  // empty: parameters not watched
  PredictionLedger m_predictions;  // the surrogate's predictions for the emitted controls
  std::map<std::string, double> m_last;
};

}  // namespace twin::detail
