#pragma once
/// @file
/// What flows through a twin cycle: sensor readings in, advice out.

#include <limits>
#include <string>
#include <vector>

namespace twin {

/// One sensor reading. `t_s` is facility time [s] (the same clock as the twin's cycles, which
/// start at 0); `value` is in the units of the transported quantity (e.g. K).
struct Observation {
  double t_s = 0.0;
  std::string sensor;  ///< a name from the config's sensors[]
  double value = 0.0;
};

/// Why a reading was not assimilated.
/// Why QC set a reading aside. The codes are stored in series.h5 (/sensors/qc): new reasons go at
/// the end. superseded: an older reading of the sensor in the same cycle (the latest is used);
/// future: stamped more than qc.max_future_s after the cycle it arrived in.
enum class QcReason { accepted, non_finite, out_of_range, not_monotone, stale, duplicate, stuck, innovation,
                      unknown_sensor, missing, superseded, future };
const char* to_string(QcReason reason);

/// Operating mode of the runtime (DESIGN.md, degraded modes).
enum class Mode { nominal, fallback, advisor_off, safe_hold };
const char* to_string(Mode mode);

/// One control parameter to apply until the next cycle.
struct ControlValue {
  std::string name;
  double value = 0.0;
  std::string unit;
};

/// What a cycle tells the facility. `controls` are always inside the configured [min, max].
struct Advice {
  int cycle = 0;
  double t_s = 0.0;               ///< facility time the advice applies from [s]
  std::vector<ControlValue> controls;
  Mode mode = Mode::nominal;
  std::string reason;             ///< why this advice (e.g. "advisor not configured: safe defaults")
};

/// What the advisor did in a cycle (zeros when it was not consulted).
struct AdvisorReport {
  bool consulted = false;          ///< a model was asked for a proposal
  bool accepted = false;           ///< the proposal passed every gate (applied only in nominal mode)
  std::string gate = "none";       ///< the first failed gate (a FallbackReason name) or "none"
  std::vector<double> proposal;    ///< the proposed controls, config.controls order
  double spread = 0.0;             ///< largest ensemble std of the predicted sensors [u]
  double ood = 0.0;                ///< out-of-distribution score (about 1 inside the training data)
  double cost = 0.0;               ///< the proposal's objective value through the surrogate
  double latency_ms = 0.0;         ///< wall-clock time of the advise step (without the physics check)
  double physics_error = std::numeric_limits<double>::quiet_NaN();  ///< largest |surrogate - solver| at the
                                   ///< sensors over the horizon [u]; NaN when not checked
  std::string model;               ///< "surrogate v3"
};

/// What the anomaly diagnosis concluded in a cycle (not consulted: no anomaly model, or before
/// it is armed). Advisory only: a flag never changes the controls by itself.
struct AnomalyReport {
  bool consulted = false;
  bool flagged = false;            ///< a fault class's probability reached advisor.anomaly_threshold
  std::string fault_class = "none"; ///< most probable class: none, sensor_fault, heat_source,
                                   ///< cooling_degradation, heater_failure
  double confidence = 0.0;         ///< its probability (ensemble mean)
  std::vector<std::string> sensors; ///< the sensors that explain it, most telling first (at most 3)
  std::vector<double> attribution; ///< their shares of the evidence, in the same order
  std::string model;               ///< "anomaly v2"
  std::string reason;              ///< why not consulted, when not
};

/// The twin's estimate at one sensor after a cycle.
struct SensorEstimate {
  std::string sensor;
  double observed = 0.0;          ///< last reading used or rejected this cycle (NaN if none)
  QcReason qc = QcReason::missing;
  double forecast = 0.0;          ///< ensemble mean before assimilation
  double forecast_spread = 0.0;   ///< ensemble std before assimilation
  double analysis = 0.0;          ///< ensemble mean after assimilation
  double spread = 0.0;            ///< ensemble std after assimilation
  /// The stated uncertainty of `analysis`: `spread` combined in quadrature with the error the
  /// twin's grid makes at the sensor (assimilation.grid_check_cycles; docs/twin-cycle.md, "The grid
  /// check"); `spread` without the check.
  double std = 0.0;
};

/// A named parameter's estimate.
struct ParameterEstimate {
  std::string name;
  double mean = 0.0;
  /// The stated standard uncertainty: the members' spread, combined in quadrature with the
  /// shift the parameter made while the readings last disagreed with the twin's physics, until
  /// that shift is confirmed (docs/twin-cycle.md, "Unconfirmed shift"), and with the
  /// structural uncertainty the twin's grid adds (docs/twin-cycle.md, "The grid check").
  double std = 0.0;
  double ensemble_std = 0.0;  ///< the members' spread alone
};

/// Wall-clock time of each stage of one cycle [ms].
struct CycleTimings {
  double qc_ms = 0.0, forecast_ms = 0.0, assimilate_ms = 0.0, advise_ms = 0.0, emit_ms = 0.0, record_ms = 0.0,
         total_ms = 0.0;
  double lifecycle_ms = 0.0;       ///< retraining work in the cycle's slack (in total_ms; docs/lifecycle.md)
};

/// A drift detected in a cycle by one of the `drift:` monitors (docs/advisor.md).
struct DriftDetection {
  std::string signal;              ///< surrogate_error, ood, innovation, anomaly_rate or parameter:<name>
  std::string detector;            ///< cusum, page_hinkley or adwin
  double value = 0.0;              ///< the signal this cycle (raw units; a parameter's estimate)
  double reference = 0.0;          ///< its reference level (median over the reference window; the flag rate's mean)
  double statistic = 0.0;          ///< the detector's statistic at the alarm
  double threshold = 0.0;          ///< the value it crossed
};

/// A step of the advisor's model lifecycle (docs/lifecycle.md): a retraining started or
/// finished, a version put in shadow, promoted, rejected or rolled back, the advisor paused or
/// resumed, or an operator command refused.
struct LifecycleEvent {
  int cycle = 0;
  std::string event;               ///< retrain_started, shadow, promoted, rejected, rolled_back, watch_passed,
                                   ///< retrain_failed, paused, resumed, refused
  std::string model;               ///< "surrogate v4", when the event concerns a version
  std::string reason;
};

/// An operator's command to the running advisor, applied at the next cycle boundary.
struct OperatorCommand {
  enum class Kind { promote, rollback, pause, resume, retrain };
  Kind kind = Kind::pause;
  int version = 0;                 ///< promote: the surrogate version (0: the one in shadow)
  std::string reason;              ///< who and why, for the audit log and the model's history
};

/// A cycle's innovation (the readings less the twin's forecast of them) split along the
/// signatures of what could explain a departure from the twin's physics (docs/advisor.md).
struct InnovationSplit {
  /// Along each estimated parameter's signature (its covariances with the readings), in standard
  /// deviations: standard normal while the plant behaves as the twin's physics say, large when it
  /// departs as a changed parameter would (degrading cooling along the cooling factor's). Empty
  /// when nothing was assimilated or no parameter is estimated.
  std::vector<double> along_parameters;
  /// Along each control's signature (how the sensors change over a period when that control's
  /// output changes), in standard deviations: a heater that fails departs along its own,
  /// negatively. Empty when nothing was assimilated or there are no controls.
  std::vector<double> along_controls;
  /// The root mean square, per degree of freedom left, of the innovation once every parameter's
  /// and control's signature is fitted: about 1 while consistent, large for a departure none of
  /// them explains (a heat source away from the heaters). NaN when nothing was assimilated or
  /// the readings were no more than the signatures (parameters with spread and controls):
  /// nothing left to tell by.
  double unexplained = std::numeric_limits<double>::quiet_NaN();
};

/// Everything `Runtime::step` reports.
struct CycleOutcome {
  Advice advice;
  AdvisorReport advisor;
  AnomalyReport anomaly;
  std::vector<SensorEstimate> sensors;
  std::vector<ParameterEstimate> parameters;
  CycleTimings timings;
  bool deadline_missed = false;
  bool assimilated = false;        ///< false when skipped (no valid readings, disabled, no time left)
  std::string solver_status = "ok";
  int accepted = 0;                ///< readings assimilated
  int rejected = 0;                ///< readings rejected by QC (missing ones not counted)
  /// The assimilated readings' innovation consistency d^T G^-1 d (chi-square with `accepted`
  /// degrees of freedom for a calibrated ensemble); NaN when nothing was assimilated.
  double innovation_statistic = std::numeric_limits<double>::quiet_NaN();
  /// The share of the filter's parameter update applied this cycle: below 1 when the readings
  /// failed the consistency test at assimilation.parameter_gate (docs/assimilation.md).
  double parameter_update_weight = 1.0;
  /// Per estimated parameter, the move of its mean that weight withheld (0 when it was 1): the
  /// pull of the readings on the parameters, which the anomaly diagnosis reads.
  std::vector<double> parameter_withheld;
  /// The innovation split along the signatures of what could explain a departure, which the
  /// anomaly diagnosis reads.
  InnovationSplit innovation_split;
  /// The model error added to this cycle's forecast, the std of its random fields [u]; 0 without
  /// assimilation.model_error_gain (docs/twin-cycle.md, "Model error").
  double model_error_std = 0.0;
  /// The parameters waited this cycle for that model error to fade (it stood above a tenth of
  /// the readings' noise variance): the twin is still absorbing a departure from its physics.
  bool model_error_hold = false;
  /// After such a hold, the parameters' update weight was capped this cycle while the state the
  /// departure left, where no sensor reads it, settles (its spread not yet back).
  bool model_error_settling = false;
  /// A sensor's innovations, less what the parameters explain, persisted beyond chance over the
  /// last analyses (the model error's persistence test, assimilation.innovation_persistence_cycles):
  /// the plant departs from the twin's physics, though the readings may pass the consistency
  /// test; the model error's estimate treats the cycle as one that failed it.
  bool model_error_persistent = false;
  std::vector<DriftDetection> drift; ///< drifts detected this cycle (rank 0; empty without `drift:`)
  std::vector<LifecycleEvent> lifecycle; ///< lifecycle steps this cycle (rank 0; empty without `lifecycle:`)
  double surrogate_error = std::numeric_limits<double>::quiet_NaN(); ///< the active surrogate's realised error
                                   ///< maturing this cycle, RMS at the sensors [u] (rank 0, with `lifecycle:`)
};

}  // namespace twin
