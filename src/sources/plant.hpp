#pragma once
// The built-in plant emulator (DESIGN.md, "source"): a truth simulation on a finer grid with
// hidden parameter values, sensor noise, and scheduled events (sensor faults, a failing heater,
// an unexpected heat source, degrading cooling). It applies the twin's controls, so the loop is
// closed. Collective over its communicator; readings appear on rank 0.

#include <mpi.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "solvers/grid.hpp"
#include "io/state_fields.hpp"
#include "solvers/solver.hpp"
#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin::detail {

/// The cycles whose readings an event can show: [first, last] (last = -1: to the end of the
/// run). Sensor events show in the readings taken at the end of a cycle; a heat source from
/// within the cycle it starts in; a failing heater and degrading cooling from the first cycle
/// that begins after they start (the emulator applies them per cycle).
struct EventCycles {
  long first = 0, last = -1;
  bool contains(long cycle) const { return cycle >= first && (last < 0 || cycle <= last); }
  /// Ended no more than `settle` cycles before `cycle` (the twin may still be catching up).
  bool settling(long cycle, long settle) const { return last >= 0 && cycle > last && cycle - last <= settle; }
  /// Both in effect in some cycle of a run of `cycles` cycles (0 .. cycles - 1).
  bool overlaps(const EventCycles& other, long cycles) const {
    const auto end = [cycles](long l) { return l < 0 ? cycles - 1 : std::min(l, cycles - 1); };
    return std::max(first, other.first) <= std::min(end(last), end(other.last));
  }
};
/// Cycles after a plant fault (heater, cooling, heat source) ends in which the twin is taken to
/// be still settling: left out of the anomaly training labels and of the "quiet" evaluation.
inline constexpr int plant_fault_settle_cycles = 8;
/// The same after a sensor fault ends (the reading is back; QC has kept the fault out).
inline constexpr int sensor_fault_settle_cycles = 3;
inline long settle_cycles(EventKind kind) {
  return is_sensor_event(kind) ? sensor_fault_settle_cycles : plant_fault_settle_cycles;
}
EventCycles event_cycles(const PlantEventConfig& event, double period);

/// Which cycles of a run with scheduled events are quiet, for the anomaly diagnosis's labels and
/// false-alarm figures (twin train's scenarios, a run's KPIs): no event in effect, none ended
/// within its fixed settling cycles, and the twin settled, from its start and again after each
/// event: its readings passed the filter's consistency test (the innovation statistic's
/// chi-square upper tail at least settle_alpha, and none rejected for departing from the
/// forecast: settling_consistency) in the last settle_consistent_cycles cycles. A
/// twin still spinning up, or still far from the plant after a fault (a tail near 0 long after
/// the fixed settling), is catching up, not quiet; once settled, a cycle that fails the test is
/// quiet (a candidate false alarm). Feed every cycle in order; the state is two counters.
class QuietCycles {
 public:
  static constexpr double settle_alpha = 0.001;
  static constexpr long settle_consistent_cycles = 3;

  QuietCycles() = default;
  /// `settle[i]`: the fixed settling cycles after events[i] ends.
  QuietCycles(std::vector<EventCycles> events, std::vector<long> settle)
      : m_events(std::move(events)), m_settle(std::move(settle)) {}
  /// For a run's scheduled events, each settling for settle_cycles(its kind).
  QuietCycles(const std::vector<PlantEventConfig>& events, double period) {
    for (const auto& e : events) {
      m_events.push_back(event_cycles(e, period));
      m_settle.push_back(settle_cycles(e.type));
    }
  }

  /// Cycle `cycle`'s verdict, given its consistency (the tail; NaN when nothing was assimilated,
  /// which neither counts nor breaks a run of consistent cycles).
  bool next(long cycle, double consistency) {
    if (consistency < settle_alpha) m_consistent = 0;
    else if (consistency >= settle_alpha) ++m_consistent;
    bool on = false, settling = false;
    for (std::size_t i = 0; i < m_events.size(); ++i) {
      on = on || m_events[i].contains(cycle);
      settling = settling || m_events[i].settling(cycle, i < m_settle.size() ? m_settle[i] : 0);
    }
    if (on) m_unsettled = 1;
    if (on || settling) return false;
    if (m_unsettled && m_consistent >= settle_consistent_cycles) m_unsettled = 0;
    return m_unsettled == 0;
  }

  std::vector<long long> state() const { return {m_consistent, m_unsettled}; }
  /// False when `s` is not a state() (the caller says where it came from).
  bool set_state(const std::vector<long long>& s) {
    if (s.size() != 2 || s[0] < 0 || (s[1] != 0 && s[1] != 1)) return false;
    m_consistent = s[0];
    m_unsettled = s[1];
    return true;
  }

 private:
  std::vector<EventCycles> m_events;
  std::vector<long> m_settle;
  long long m_consistent = 0, m_unsettled = 1;  // the twin starts unsettled (its spin-up)
};

/// How plainly a scheduled event shows in the readings: the evidence that the best detector of
/// that exact fault could have, cycle by cycle. Each cycle it takes the readings of the plant
/// with its events and of the same plant without them (the same controls and noise draws: the
/// difference is the fault's own signal), less that difference in the cycle before the event in
/// effect began (what earlier events left behind), over each sensor's noise_std; the evidence is
/// the root of the sum of squares over the sensors and the cycles since the onset: the
/// signal-to-noise ratio of a matched filter that knows the fault's signature (Kay 1998,
/// Fundamentals of Statistical Signal Processing II, sec. 4.3). A reading one plant has and the
/// other lacks (a dropout) counts as detectable_evidence at once. An event is taken as
/// detectable from the first cycle its evidence reaches detectable_evidence: 3, a one-sided test
/// at 0.13 % false alarms per look with even odds of detection. No detector, and no anomaly
/// model, can name a fault with that confidence before then (docs/advisor.md, "Held-out
/// evaluation").
class FaultEvidence {
 public:
  static constexpr double detectable_evidence = 3.0;
  FaultEvidence(const Config& config, const std::vector<PlantEventConfig>& events);
  /// Cycle `cycle`'s readings from the plant with its events and without; returns the evidence
  /// of the event in effect (the latest begun), NaN when none is. Feed every cycle in order.
  double next(long cycle, const std::vector<Observation>& faulty, const std::vector<Observation>& clean);
  /// The index in `events` of the event in effect at the last next(), -1 when none was.
  int event() const { return m_event; }
  /// Event i's evidence at the last next(), NaN when it was not in effect. Events that overlap
  /// share one pair of plants: each is credited with all the plant did since its own onset (what
  /// began before it is its base), so that an event keeps its evidence while a later one comes
  /// and goes, and two that begin together are each credited with both.
  double evidence_of(std::size_t i) const { return i < m_evidence.size() ? m_evidence[i] : std::nan(""); }

 private:
  std::vector<EventCycles> m_events;
  std::vector<std::string> m_sensors;
  std::vector<double> m_noise;
  std::vector<double> m_last;               // last cycle's difference per sensor (NaN: not read by both)
  std::vector<std::vector<double>> m_base;  // per event: the difference before it began (empty before its onset)
  std::vector<double> m_sum;                // per event: sum of squared normalised signals since its onset
  std::vector<double> m_evidence;           // per event: the last next()'s evidence (NaN: not in effect)
  int m_event = -1;                         // the event in effect, the latest begun (-1: none)
};

/// A cycle's consistency for QuietCycles::next: the assimilated readings' chi-square upper tail
/// (NaN when none were), or 0 when QC rejected a reading for departing from the forecast. That
/// reading is left out of the statistic, yet where no sensor fault is in effect it is the twin
/// still far from the plant: after a heater fails, the twin can track the cells around it again
/// while the heater's own sensor stays kelvins off and rejected for cycles.
double settling_consistency(const CycleOutcome& out);

class PlantEmulator {
 public:
  PlantEmulator(const Config& config, MPI_Comm comm);
  ~PlantEmulator();

  /// Advances the truth over [t0, t0 + period) with `controls` (as the facility applies them:
  /// a failed heater delivers less), then returns the readings at t0 + period on rank 0.
  std::vector<Observation> advance(double t0, double period, const std::vector<double>& controls, long cycle);

  /// The truth averaged onto the twin's grid (x fastest), on rank 0; empty elsewhere. Uses the
  /// truth `advance` gathered for the readings: no communication.
  std::vector<double> truth_on_twin_grid() const;
  /// Hidden parameter values in force at time t (cooling degradation changes them).
  solvers::ParameterSet parameters_at(double t) const;
  /// Whether a scheduled event corrupts sensor s's reading at cycle end time t.
  bool sensor_faulty(int sensor, double t, double period) const;
  /// The truth config (finer grid, hidden values, heat sources as scheduled sources).
  const Config& truth_config() const { return m_truth; }
  /// The truth field and the held sensor values, for restart snapshots (names prefixed).
  void save(io::StateArchive& archive, const std::string& prefix) const;
  void restore(const io::StateParts& parts, const std::string& prefix);

 private:
  Config m_config, m_truth;
  solvers::Decomposition m_decomposition;
  std::unique_ptr<solvers::Solver> m_solver;
  solvers::Field m_u;
  std::vector<double> m_truth_field;  // rank 0: the whole fine truth after the last advance
  std::vector<double> m_held;  // sensor_stuck: the value the sensor froze at (NaN until onset)
  int m_rank = 0;
};

}  // namespace twin::detail
