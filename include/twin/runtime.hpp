#pragma once
/// @file
/// `twin::Runtime`: the twin cycle, embeddable in a facility's control loop.
///
/// Once per control period the facility calls `ingest` with the readings it has, then `step`,
/// and applies the returned advice until the next period:
///
///     twin::Runtime twin(twin::load_config("plate.yaml"), MPI_COMM_WORLD);
///     for (;;) {
///       twin.ingest(read_sensors());
///       const twin::CycleOutcome out = twin.step(std::chrono::milliseconds(500));
///       apply(out.advice.controls);
///     }
///
/// Contract:
/// - Units: time is facility time in seconds from the start of the run (cycle n covers
///   [n T, (n+1) T) with T = twin.control_period_s); values are in the transported quantity's unit.
/// - Collective: every rank of the communicator calls every method in the same order. Readings
///   passed to `ingest` on rank 0 are used; other ranks may pass an empty list.
/// - Not thread-safe: one thread drives a Runtime. Kokkos must be initialised before construction
///   and outlive the object.
/// - `step` never waits for anything but its own work; the stages after the forecast are skipped
///   (and the skip reported) when the time left before the deadline is less than their last
///   measured cost. The forecast itself is not interruptible: size the grid so it fits.
/// - Advice is always inside each control's [min, max]; when the twin is unhealthy (solver
///   failure, non-finite state) the mode is safe_hold and the advice is the safe defaults.
/// - Throws: ConfigError from construction on an inconsistent config (e.g. ranks), Error on MPI,
///   HDF5 or file-system failures. Bad readings never throw: QC rejects them with a reason.

#include <mpi.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin {

namespace detail {
struct RuntimeState;
}

/// Options of a Runtime beyond its config.
struct RuntimeOptions {
  std::optional<std::string> run_dir;  ///< write series.h5, metrics.prom here; empty: no files
};

class Runtime {
 public:
  Runtime(const Config& config, MPI_Comm comm, RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// Queues readings for the next step (rank 0's are used). Never throws for bad values. At most
  /// 1024 readings of each sensor (and 1024 of all unknown names together) wait for QC (which
  /// uses the latest of a sensor's readings in a cycle): more are dropped and counted
  /// (readings_dropped), so a flood can neither stall a cycle nor crowd out the other sensors.
  void ingest(const std::vector<Observation>& observations);
  /// Readings `ingest` dropped because too many were waiting (rank 0; 0 elsewhere).
  long readings_dropped() const;

  /// Tells the twin that the facility applies `controls` (config.controls order) from now on
  /// instead of the last advice, e.g. an operator's override; the next forecast uses them and
  /// the next advice ramps from them. Rank 0's values count.
  /// @throws DataError when the count is wrong or a value is not finite (nothing changes).
  void apply_controls(const std::vector<double>& controls);

  /// Tells the twin that the next step has no fresh readings because its source is down (a
  /// silent feed, a lost bus): the step forecasts and assimilates what it has, and the advice
  /// is the safe default (mode fallback, reason "source down: <reason>"), not the advisor's.
  /// Applies to the next step only. Rank 0's reason counts.
  void report_source_down(const std::string& reason);

  /// An operator's command to the advisor (docs/lifecycle.md): promote a version (the one in
  /// shadow, or a named one), roll back, pause or resume the advisor, or retrain. It is applied
  /// at the start of the next step's advise stage and audited there with its reason (a refused
  /// command too, saying why). Promote, rollback and retrain need a `lifecycle:` section; pause
  /// and resume work with any advisor. Rank 0's command counts; the others may call it or not.
  void command(const OperatorCommand& command);

  /// Runs one cycle: QC, forecast to the end of the period, assimilation, advice, record. With
  /// `lifecycle:` a retraining in hand then works on rank 0 until lifecycle.slice of the
  /// deadline (timings.lifecycle_ms, included in total_ms).
  CycleOutcome step(std::chrono::milliseconds deadline);

  /// Facility time of the current state [s] and the cycles done.
  double time_s() const;
  int cycle() const;
  /// The last cycle's estimates at the sensors and of the parameters.
  const std::vector<SensorEstimate>& sensor_estimates() const;
  const std::vector<ParameterEstimate>& parameter_estimates() const;
  /// Ensemble mean of the state over the whole grid, cells with x fastest, gathered on rank 0
  /// (empty elsewhere). Collective.
  std::vector<double> mean_field() const;
  /// The free run (the same twin without assimilation, at the prior parameters), gathered on
  /// rank 0 as mean_field. Collective.
  std::vector<double> free_run_field() const;
  /// Writes a restart snapshot of the twin (ensemble, free run, QC memory, controls in force,
  /// advisor state, the audit chain head and series.h5 row count) into `state_dir`, a folder of
  /// snapshot folders such as a run directory's state/, and returns once it is committed
  /// (docs/operations.md). Collective. @throws Error when it cannot be written.
  void save_snapshot(const std::string& state_dir);
  /// Continues from the newest committed snapshot in `state_dir`, written by a Runtime of the
  /// same config (any rank count): the next step is the snapshot's next cycle, and with a run
  /// directory series.h5 and audit.jsonl continue where the snapshot left them. Call it before
  /// the first step. Collective. @throws DataError when there is no usable snapshot, it comes
  /// from another config or format, or the run directory's files do not match it.
  void restore(const std::string& state_dir);

  /// Readings QC rejected so far, by sensor and reason.
  const std::vector<std::vector<long>>& qc_counts() const;
  /// Cycles the twin spent blind: every reading had failed the innovation test for
  /// qc.blind_cycles cycles, and the facility got the safe default (docs/twin-cycle.md, "QC rules").
  long qc_blind_cycles() const;
  const Config& config() const;

 private:
  friend struct detail::RuntimeState;
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace twin
