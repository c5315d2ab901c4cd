#pragma once
// The advise, gate and emit stages of the twin cycle: the surrogate proposes controls, the gates
// judge them, the circuit breaker sets the mode, the safe default takes over with the reason,
// and every decision is appended to audit.jsonl. Rank 0 decides; every rank receives the same
// advice. Collective over the runtime's communicator.

#include <mpi.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin::detail {

/// What the twin knows at the end of a cycle, for the advisor.
struct AdviceInputs {
  int cycle = 0;
  double t_s = 0.0;
  std::vector<double> analysis;   ///< ensemble mean at each sensor [u]
  std::vector<double> theta;      ///< estimated parameters (means), config.ensemble.parameters order
  bool twin_healthy = true;
  std::string unhealthy_reason;
  std::chrono::steady_clock::time_point deadline;  ///< the cycle's wall-clock deadline
};

class AdviceStage {
 public:
  /// Loads the models (rank 0) and opens `run_dir`/audit.jsonl when a run directory is given.
  /// A missing or broken model is not an error: the advisor starts in advisor_off with the reason.
  AdviceStage(const Config& config, MPI_Comm comm, const std::optional<std::string>& run_dir);
  ~AdviceStage();
  AdviceStage(const AdviceStage&) = delete;
  AdviceStage& operator=(const AdviceStage&) = delete;

  /// The real solver's answer to the surrogate's question: the sensors (absolute values, lead by
  /// lead, sensor fastest) after each lead time with `controls` held, from the current analysis.
  /// Collective; called on every rank when a proposal is to be checked.
  using PhysicsCheck = std::function<std::vector<double>(const std::vector<double>& controls)>;

  /// Decides this cycle's advice (collective). The controls are always inside the envelope
  /// relative to the previous advice. With `physics`, an accepted proposal is checked with the
  /// real solver when its last measured cost fits before the cycle deadline (advisor.gates.physics_check).
  Advice decide(const AdviceInputs& inputs, AdvisorReport& report, const PhysicsCheck& physics = {});

  /// Anomaly diagnosis of this cycle from its sensor estimates (collective; call once per cycle,
  /// before decide). Rank 0
  /// asks the anomaly model; every rank gets the same report. Without a usable model, or before
  /// advisor.anomaly_warmup_cycles, the report says why it was not consulted.
  AnomalyReport diagnose(const AdviceInputs& inputs, const std::vector<SensorEstimate>& sensors);

  /// The controls in force (the last advice, or what override_controls set).
  const std::vector<double>& controls() const;
  /// The facility applies other controls than advised (collective; rank 0's values count).
  /// @throws DataError on a wrong count or a non-finite value.
  void override_controls(const std::vector<double>& controls);

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace twin::detail
