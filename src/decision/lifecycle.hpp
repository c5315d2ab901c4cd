#pragma once
// The advisor's model lifecycle inside a running twin (docs/lifecycle.md), on the rank that
// holds the models; no MPI:
//
//   capture ──► retrain ──► shadow ──► promote ──► watch ──► (kept | rolled back)
//   (rows of     (on a drift   (scored beside  (better by a   (compared with the
//    each cycle)  detection,    the active one, margin, gates  version it replaced;
//                 schedule or   never applied)  passing)       worse: rolled back)
//                 operator)
//
// Per cycle, after the decision: Decider calls cycle() with what the cycle knew, then the
// runtime gives the retraining the cycle's slack through work(). Operator commands (promote,
// roll back, pause, resume, retrain) are queued by command() and applied at the next cycle().
// Every transition is a LifecycleEvent (audit record, summary.json, log line) and a line in the
// registry's history of the model.

#include <chrono>
#include <cmath>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "advisor/model.hpp"
#include "advisor/ood.hpp"
#include "decision/prediction_ledger.hpp"
#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin::io {
class StateArchive;
}

namespace twin::detail {

class AdvisorModels;
class DataCapture;
class RetrainJob;

/// The one-sample t-statistic of paired block differences (mean over its standard error): 0 with
/// fewer than 3 blocks; the lifecycle's promotion test.
double paired_t(const std::vector<double>& blocks);

/// What one cycle tells the lifecycle.
struct LifecycleCycle {
  int cycle = 0;
  bool healthy = true;
  std::vector<double> analysis;            ///< at the sensors
  std::vector<double> theta;               ///< parameter estimates
  std::vector<double> features;            ///< surrogate inputs with the emitted controls (empty: none)
  std::vector<DriftDetection> drift;       ///< this cycle's detections
  std::optional<bool> shadow_gates_pass;   ///< whether the shadow's proposal passed the gates (when asked)
};

class Lifecycle {
 public:
  /// `data_dir`: the run's data/ folder (empty: captured windows stay in memory).
  Lifecycle(const Config& config, AdvisorModels& models, const std::string& data_dir);
  ~Lifecycle();

  /// Queues an operator's command for the next cycle().
  void command(const OperatorCommand& command);
  bool paused() const { return m_paused; }
  const std::string& pause_reason() const { return m_pause_reason; }
  /// The version in shadow, if any (its proposals are gated each cycle, never applied).
  advisor::Model* shadow() const { return m_shadow.get(); }
  /// The OOD scorer of the shadow's training statistics (built once per shadow version).
  const advisor::OodScorer& shadow_ood() const;

  /// Applies the queued commands at the start of a cycle's advise stage (before the proposal:
  /// a pause or a promotion counts from this cycle on); their transitions are returned by
  /// this cycle's cycle().
  void apply_commands(const LifecycleCycle& in);
  /// One cycle (see the file comment); returns its transitions.
  std::vector<LifecycleEvent> cycle(const LifecycleCycle& in);
  /// The active surrogate's realised error that matured in the last cycle() (NaN: none).
  double last_error() const { return m_last_error; }
  /// A retraining has started and waits for the twin's current state (its solver runs start
  /// there): the runtime gathers the ensemble mean and hands it over with give_field.
  bool wants_field() const;
  void give_field(std::vector<double> field);
  /// Retraining work until `until` (nothing when no retraining is in hand); returns the ms spent.
  double work(std::chrono::steady_clock::time_point until);

  /// summary.json `lifecycle`: the transitions, the captured data and the realised errors
  /// (before drift, in shadow, after promotion).
  nlohmann::json summary() const;
  void save(io::StateArchive& a) const;
  void restore(const io::StateArchive& a);

 private:
  void apply(const OperatorCommand& c, const LifecycleCycle& in, std::vector<LifecycleEvent>& events);
  void start_retraining(const LifecycleCycle& in, const std::string& reason, std::vector<LifecycleEvent>& events);
  void finish_retraining(const LifecycleCycle& in, std::vector<LifecycleEvent>& events);
  void judge_shadow(const LifecycleCycle& in, std::vector<LifecycleEvent>& events);
  void judge_watch(const LifecycleCycle& in, std::vector<LifecycleEvent>& events);
  /// Makes `model` the active surrogate (the registry's pointer too); the one it replaces is
  /// kept for the watch when `watch`, and is recorded as `replaced_state`.
  void install(std::unique_ptr<advisor::Model> model, const std::string& reason, const std::string& replaced_state, bool watch);
  std::optional<std::vector<double>> predict(const advisor::Model& model, const LifecycleCycle& in) const;
  LifecycleEvent event(const LifecycleCycle& in, const std::string& what, const std::string& model, const std::string& reason);

  const Config& m_config;
  const LifecycleConfig& m_lc;
  AdvisorModels& m_models;
  std::unique_ptr<DataCapture> m_capture;
  std::unique_ptr<RetrainJob> m_job;
  std::vector<OperatorCommand> m_queue;
  std::vector<LifecycleEvent> m_pending;    // the commands' transitions, for this cycle's cycle()
  bool m_paused = false;
  std::string m_pause_reason;
  // Shadow: the candidate and the running sums of both models' realised errors on the same cycles.
  std::unique_ptr<advisor::Model> m_shadow;
  mutable std::optional<advisor::OodScorer> m_shadow_ood;  // of the version named by m_shadow_ood_of
  mutable std::string m_shadow_ood_of;
  PredictionLedger m_active_ledger, m_shadow_ledger, m_replaced_ledger;
  int m_shadow_since = -1, m_shadow_scored = 0, m_shadow_gated = 0, m_shadow_passed = 0;
  double m_shadow_sq = 0.0, m_active_sq = 0.0;
  // The paired test: per block of cycles (the longest lead: errors within it are correlated),
  // the mean of active^2 - shadow^2; the block being filled in m_block_sum / m_block_n.
  std::vector<double> m_blocks;
  double m_block_sum = 0.0;
  int m_block_n = 0;
  int m_last_look = 0;                      // m_shadow_scored at the last look
  int block_cycles() const;  // the longest lead
  // Watch: the version a promotion replaced, kept to compare with until the watch ends.
  std::unique_ptr<advisor::Model> m_replaced;
  int m_watch_since = -1, m_watch_scored = 0;
  double m_watch_sq = 0.0, m_replaced_sq = 0.0;
  // Figures for summary.json.
  std::vector<LifecycleEvent> m_events;
  double m_ref_sq = 0.0;                    // the active version's reference level: its realised error over
  long m_ref_n = 0;                         // its first reference_cycles scored cycles (after the warm-up)
  long m_retrainings = 0;
  double m_retrain_ms = 0.0;
  bool m_job_ready = false;
  bool m_field_given = false;
  double m_last_error = std::nan("");
  std::string m_job_failed;
};

}  // namespace twin::detail
