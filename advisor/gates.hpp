#pragma once
// What stands between a model's proposal and the facility: the safe envelope, the gates, the
// circuit breaker of the degraded-mode machine (DESIGN.md); the safe default is in safe_default.hpp.
// Plain C++, no LibTorch: these decide what leaves the process and are tested exhaustively.
//
// Invariant (tested with >= 100000 adversarial proposals): whatever a model returns, the advice
// emitted is inside the envelope: every p_j in [min_j, max_j] and |p_j - previous p_j| <=
// rate_j * dt. The safe default is reached by ramping at the rate limits.

#include <string>
#include <vector>

#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin::advisor {

/// Why a cycle's advice is not the model's proposal (none: it is).
enum class FallbackReason {
  none,
  no_advisor,          ///< no advisor section in the config
  model_unavailable,   ///< model missing, truncated, tampered or incompatible
  inference_error,     ///< the model threw at run time
  non_finite,          ///< NaN or Inf in the proposal or its scores
  late,                ///< the advise step overran its latency budget
  uncertain,           ///< ensemble spread above gates.max_spread
  out_of_distribution, ///< OOD score above gates.max_ood
  outside_envelope,    ///< a control outside its bounds or rate limit
  physics_check,       ///< the real solver disagrees with the surrogate
  breaker_open,        ///< too many consecutive failures: cooling down or probing
  twin_unhealthy,      ///< the twin's own state is not trustworthy (safe_hold)
  source_down,         ///< no fresh readings (a silent source): the model is not asked
  paused               ///< an operator paused the advisor
};
const char* to_string(FallbackReason reason);

/// Per-control bounds and rate limits, from config.controls.
struct Envelope {
  std::vector<double> min, max;
  std::vector<double> rate_per_s;  ///< +inf where a control has no rate limit

  static Envelope from(const std::vector<ControlConfig>& controls);
  std::size_t size() const { return min.size(); }
  /// The box the next advice must lie in: [min, max] intersected with previous +- rate * dt_s.
  void box(const std::vector<double>& previous, double dt_s, std::vector<double>& lower, std::vector<double>& upper) const;
  /// True when p is finite and inside box(previous, dt_s) (with a relative tolerance of 1e-9).
  bool contains(const std::vector<double>& p, const std::vector<double>& previous, double dt_s) const;
  /// The point of box(previous, dt_s) nearest to `target` (which may be anything, even NaN:
  /// a non-finite target component keeps the previous value).
  std::vector<double> ramp_towards(const std::vector<double>& target, const std::vector<double>& previous,
                                   double dt_s) const;
};

/// A model's proposal with the scores the gates look at.
struct Proposal {
  std::vector<double> controls;
  double spread = 0.0;       ///< largest ensemble std of the predicted sensors [u]
  double ood = 0.0;          ///< out-of-distribution score of the inputs
  double latency_ms = 0.0;   ///< wall-clock time of the advise step so far
};

/// A gate's verdict: accepted, or the first failed gate with a human-readable detail.
struct GateOutcome {
  bool accepted = false;
  FallbackReason reason = FallbackReason::none;
  std::string detail;
};

/// The gates in order: finite, on time, inside the envelope, confident, in distribution.
GateOutcome gate(const Proposal& proposal, const Envelope& envelope, const std::vector<double>& previous, double dt_s,
                 const GatesConfig& gates);

/// The circuit breaker: closed (nominal, proposals applied when they pass the gates), open
/// (advisor_off for cooldown_cycles, the advisor is not consulted), half-open (advisor_off, the
/// advisor is consulted and gated but not applied; clean_cycles clean cycles close it).
class Breaker {
 public:
  explicit Breaker(const BreakerConfig& config) : m_config(config) {}
  enum class State { closed, open, half_open };
  State state() const { return m_state; }
  /// Whether to consult the advisor this cycle, and whether its accepted advice may be applied.
  bool consult() const { return m_state != State::open; }
  bool apply() const { return m_state == State::closed; }
  /// Records a consulted cycle's gate outcome.
  void record(bool accepted);
  /// Records a cycle in which the advisor was not consulted (open).
  void skip();
  int failures() const { return m_failures; }
  std::string describe() const;
  /// Everything the breaker remembers, for restart snapshots: {state, failures, cooldown, clean}.
  std::vector<int> memory() const { return {static_cast<int>(m_state), m_failures, m_cooldown, m_clean}; }
  /// @returns false (and changes nothing) when `memory` is not one that memory() returns.
  bool restore(const std::vector<int>& memory) {
    if (memory.size() != 4 || memory[0] < 0 || memory[0] > 2 || memory[1] < 0 || memory[2] < 0 || memory[3] < 0) return false;
    m_state = static_cast<State>(memory[0]);
    m_failures = memory[1];
    m_cooldown = memory[2];
    m_clean = memory[3];
    return true;
  }

 private:
  BreakerConfig m_config;
  State m_state = State::closed;
  int m_failures = 0;  // consecutive, while closed
  int m_cooldown = 0;  // cycles left, while open
  int m_clean = 0;     // consecutive accepted, while half-open
};

}  // namespace twin::advisor
