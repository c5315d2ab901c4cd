#pragma once
// The built-in plant emulator (DESIGN.md, "source"): a truth simulation on a finer grid with
// hidden parameter values, sensor noise, and scheduled events (sensor faults, a failing heater,
// an unexpected heat source, degrading cooling). It applies the twin's controls, so the loop is
// closed. Collective over its communicator; readings appear on rank 0.

#include <mpi.h>

#include <memory>
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
};
/// Cycles after a plant fault (heater, cooling, heat source) ends in which the twin is taken to
/// be still settling: left out of the anomaly training labels and of the "quiet" evaluation.
inline constexpr int plant_fault_settle_cycles = 8;
EventCycles event_cycles(const PlantEventConfig& event, double period);

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
