#pragma once
// The advise, gate and emit stages of the twin cycle as one MPI-free state machine (DESIGN.md,
// "Degraded modes"). Per cycle, on the rank that holds the models:
//
//     AnomalyReport anomaly = decider.diagnose(inputs, sensors);
//     Proposal proposal = decider.propose(inputs);          // the surrogate's controls, gated
//     if (proposal.check) solver = <the real solver's sensors for proposal.report.proposal>;
//     Decision decision = decider.decide(inputs, proposal, solver);
//
// `decide` owns the whole mode machine: safe_hold when the twin is unhealthy, advisor_off when
// there is no advisor, no usable model or the circuit breaker is open, fallback when a gate or
// the physics check fails, nominal when the proposal is applied. The emitted controls are always
// inside the envelope relative to the previous advice. The runtime broadcasts the Decision, and
// every rank then `adopt`s it. Not thread-safe; no collective, no MPI.

#include <chrono>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "advisor/gates.hpp"
#include "advisor/model.hpp"
#include "advisor/safe_default.hpp"
#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin::io {
class StateArchive;
}

namespace twin::detail {

class AdvisorModels;
class DriftWatch;
class Lifecycle;

/// What the twin knows at the end of a cycle, for the advisor.
struct DecisionInputs {
  int cycle = 0;
  double t_s = 0.0;
  std::vector<double> analysis;   ///< ensemble mean at each sensor [u]
  std::vector<double> theta;      ///< estimated parameters (means), config.ensemble.parameters order
  std::vector<double> theta_std;  ///< their ensemble spreads
  std::vector<double> parameter_withheld;  ///< the moves of theta the filter's gate withheld this cycle (or empty)
  InnovationSplit innovation_split;  ///< CycleOutcome's (empty and NaN without an analysis)
  bool twin_healthy = true;
  std::string unhealthy_reason;
  std::string source_down;        ///< why the cycle has no fresh readings (a silent source), or empty
  std::chrono::steady_clock::time_point deadline;  ///< the cycle's wall-clock deadline
};

/// The advisor's proposal for a cycle, judged by the gates, before the mode machine decides.
struct Proposal {
  std::vector<double> features;   ///< the surrogate's inputs (their hash goes into the audit record)
  std::vector<double> fallback;   ///< the safe default's controls for this cycle, inside the envelope
  bool consulted = false;         ///< a model was asked (false: unhealthy, no advisor/model, breaker open)
  bool apply = false;             ///< the breaker is closed: accepted advice may reach the facility
  advisor::GateOutcome outcome;   ///< the gates' verdict, when consulted
  std::vector<double> predicted;  ///< the surrogate's sensors (absolute), lead by lead, sensor fastest
  bool check = false;             ///< the physics check is wanted and its last cost fits the deadline
  AdvisorReport report;           ///< scores so far (report.proposal: the proposed controls)
  std::optional<bool> shadow_gates_pass;  ///< the shadow version's proposal passed the gates (lifecycle)
};

/// What leaves the advise stage: the advice and the advisor's report.
struct Decision {
  Advice advice;
  AdvisorReport report;
};

class Decider {
 public:
  /// `load_models`: load the surrogate and anomaly models from the registry now (the rank that
  /// decides); a missing or broken model is not an error: the advisor starts in advisor_off.
  /// `data_dir`: where the lifecycle writes captured data windows (a run's data/; empty: none).
  Decider(const Config& config, bool load_models, const std::string& data_dir = {});
  ~Decider();
  Decider(const Decider&) = delete;
  Decider& operator=(const Decider&) = delete;

  /// Anomaly diagnosis of this cycle from its sensor estimates; call once per cycle, before
  /// propose. Without a usable model, or before advisor.anomaly_warmup_cycles, the report says
  /// why it was not consulted.
  AnomalyReport diagnose(const DecisionInputs& inputs, const std::vector<SensorEstimate>& sensors);
  /// Asks the surrogate for controls when the mode machine allows it, and gates them.
  Proposal propose(const DecisionInputs& inputs);
  /// The cycle's decision. `solver`: the real solver's sensors for the proposal (same layout as
  /// proposal.predicted; NaN where it failed), when proposal.check asked for them.
  Decision decide(const DecisionInputs& inputs, const Proposal& proposal, const std::optional<std::vector<double>>& solver);
  /// Takes a decision made elsewhere (rank 0's, after the broadcast): its controls are in force.
  void adopt(const Decision& decision);
  /// The wall-clock cost of the last physics check [ms], for the next cycle's deadline test.
  void record_check_cost(double ms) { m_last_check_ms = ms; }

  /// The controls in force (the last advice, or what override_controls set).
  const std::vector<double>& controls() const { return m_controls; }
  /// Why `controls` cannot be applied (wrong count, a non-finite value), or empty.
  std::string controls_problem(const std::vector<double>& controls) const;
  /// The facility applies other controls than advised; values outside a control's [min, max]
  /// are taken with a warning (the twin follows what the facility does).
  /// @throws DataError when controls_problem says why not (nothing changes).
  void override_controls(const std::vector<double>& controls);

  /// One audit.jsonl record of a decision: inputs hash, mode, reason, gate, scores, emitted
  /// controls, breaker state, model versions and the anomaly diagnosis.
  /// What the decider carries between cycles (controls in force, the breaker, model schedule,
  /// the anomaly windows), for restart snapshots; `restore` checks the models in use against
  /// the ones recorded and logs a change.
  void save(io::StateArchive& archive) const;
  void restore(const io::StateArchive& archive);

  nlohmann::json audit_record(const DecisionInputs& inputs, const Proposal& proposal, const Decision& decision,
                              const AnomalyReport& anomaly) const;

  /// The drift monitors' cycle (with `drift:`; after decide, before audit_record, which then
  /// carries the detections): feeds them the realised error of the surrogate's earlier
  /// predictions, this cycle's OOD score, the normalised innovations of `sensors` and the
  /// anomaly flag. A drift of the advisor's inputs or errors tightens the gates
  /// (drift.tighten) for drift.tighten_cycles or until another surrogate version is in use.
  std::vector<DriftDetection> watch_drift(const DecisionInputs& inputs, const Proposal& proposal, const Decision& decision,
                                          const AnomalyReport& anomaly, const std::vector<SensorEstimate>& sensors);

  /// The model lifecycle's cycle (with `lifecycle:`; after watch_drift, before audit_record,
  /// which then carries the transitions): captures the cycle's data, scores and gates the
  /// shadow version, applies queued operator commands, starts, promotes, rejects or rolls back
  /// (docs/lifecycle.md).
  std::vector<LifecycleEvent> run_lifecycle(const DecisionInputs& inputs, const Proposal& proposal, const Decision& decision,
                                            const std::vector<DriftDetection>& drift);
  /// The active surrogate's realised error that matured this cycle [u] (NaN: none).
  double realised_error() const;
  /// A retraining waits for the twin's current state (rank 0): hand it over with give_field.
  bool wants_field() const;
  void give_field(std::vector<double> field);
  /// Retraining work in the cycle's slack, until `until`; returns the ms spent.
  double lifecycle_work(std::chrono::steady_clock::time_point until);
  /// Queues an operator's command for the next cycle (ignored without `lifecycle:`, except
  /// pause and resume, which every advisor takes).
  void command(const OperatorCommand& command);

 private:
  advisor::GateOutcome consult(const DecisionInputs& in, Proposal& p, std::chrono::steady_clock::time_point start);
  /// advisor.gates, tightened while a drift of the advisor's inputs or errors is unhandled.
  GatesConfig gates(int cycle) const;
  /// The proposal problem of a cycle for the surrogate's layout, stopping at `deadline`.
  advisor::ProposalProblem problem(const DecisionInputs& in, const Proposal& p, std::chrono::steady_clock::time_point deadline) const;
  /// The surrogate's inputs of a cycle with the controls the decision emitted.
  std::vector<double> emitted_features(const Proposal& p, const Decision& d) const;
  bool paused() const;
  /// Whether the shadow version's proposal for this cycle passes the gates (never applied).
  bool shadow_gates_pass(const DecisionInputs& in, const Proposal& p, const advisor::Model& shadow) const;

  Config m_config;
  advisor::Envelope m_envelope;
  std::unique_ptr<advisor::SafeDefault> m_safe;
  advisor::Breaker m_breaker;
  std::unique_ptr<AdvisorModels> m_models;
  std::vector<double> m_controls, m_previous_analysis;
  std::vector<double> m_base_target, m_target_weight, m_limit;  // per surrogate output
  double m_last_check_ms = 0.0;
  bool m_holds_models = false;  // this rank loads the models (rank 0)
  std::unique_ptr<DriftWatch> m_drift;        // with `drift:`, on the rank that holds the models
  std::vector<DriftDetection> m_last_drift;   // this cycle's detections, for its audit record
  int m_tightened_until = -1;                 // the gates are tightened before this cycle...
  std::string m_tightened_for;                // ...while this surrogate version is in use
  std::string m_drift_model;                  // the surrogate the monitors' references are of
  std::unique_ptr<Lifecycle> m_lifecycle;     // with `lifecycle:`, on the rank that holds the models
  std::vector<LifecycleEvent> m_last_lifecycle;  // this cycle's transitions, for its audit record
  bool m_paused = false;                      // an operator paused the advisor (without `lifecycle:`)
  std::string m_pause_reason;
};

}  // namespace twin::detail
