#pragma once
// Where a twin's readings come from (DESIGN.md, "source"): one abstract ObservationSource per
// `source.type`, chosen through its registry. Types: plant (the built-in plant emulator),
// replay (recorded readings), stream (JSON lines from a file, FIFO or stdin). The `api` source
// is the facility itself calling Runtime::ingest; it has no class here.
//
// A new source is one file that derives from ObservationSource and registers itself:
//     TWIN_REGISTER_TYPE(ObservationSource, "mytype", [](const SourceContext& c) { ... });
// The config reader then accepts `source.type: mytype`.

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

#include "ground/registry.hpp"
#include "io/state_fields.hpp"
#include "solvers/physics.hpp"
#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin::detail {

/// What a source is built from. Paths in config.source are already resolved (relative paths
/// beside the config file).
struct SourceContext {
  const Config& config;
  MPI_Comm comm;
};

/// The truth behind a source's readings, where the source knows it (the plant emulator does, a
/// facility does not): what the run's KPIs score the twin against. Values on rank 0.
class GroundTruth {
 public:
  virtual ~GroundTruth() = default;
  /// The truth on the twin's grid (x fastest) after the last cycle; empty off rank 0.
  virtual std::vector<double> field() const = 0;
  /// Hidden parameter values in force at facility time t_s.
  virtual solvers::ParameterSet parameters_at(double t_s) const = 0;
  /// Whether a scheduled event corrupts sensor s's reading taken at t_s.
  virtual bool sensor_faulty(int sensor, double t_s, double period_s) const = 0;
  /// The same plant driven by the safe default controller alone (the `control` KPIs' baseline),
  /// when there is one: its truth after the last cycle and the controls it applied then.
  virtual bool has_baseline() const = 0;
  virtual std::vector<double> baseline_field() const = 0;
  virtual const std::vector<double>& baseline_controls() const = 0;
};

class ObservationSource {
 public:
  using Registry = twin::Registry<ObservationSource, const SourceContext&>;
  /// The registered source types.
  static Registry& registry();
  /// The source for config.source.type. Collective over comm.
  /// @throws ConfigError for an unknown type, DataError for unreadable input files.
  static std::unique_ptr<ObservationSource> create(const SourceContext& context);

  virtual ~ObservationSource() = default;

  /// The readings of cycle `cycle`, covering facility time [t0_s, t0_s + period_s), on rank 0
  /// (other ranks may get an empty list). `controls`: what the facility applied during the cycle.
  /// Collective.
  virtual std::vector<Observation> readings(long cycle, double t0_s, double period_s,
                                            const std::vector<double>& controls) = 0;
  /// True once the input has ended and nothing is left to deliver (same answer on every rank;
  /// collective). Asked after `readings`, with whether that cycle had any.
  virtual bool ended(bool had_readings) = 0;
  /// Passes the cycle's advice to the facility when the source is also its output (stream).
  virtual void emit(const Advice& /*advice*/) {}
  /// The truth behind the readings, or nullptr.
  virtual const GroundTruth* truth() const { return nullptr; }
  /// Input lines that could not be parsed and were skipped (counted, logged).
  virtual long malformed() const { return 0; }
  /// Advice lines `emit` could not deliver (counted, logged once).
  virtual long failed_writes() const { return 0; }
  /// Why the last `readings` had no fresh data (a silent feed), or empty. Rank 0's counts.
  virtual std::string down() const { return {}; }
  /// Readings arrive at the facility's pace (wall clock), so waiting for them is part of the
  /// cycle's latency as the facility sees it.
  virtual bool paced() const { return false; }
  /// Cycles the source was down (rank 0).
  virtual long silent_cycles() const { return 0; }

  /// The source's state between cycles, for restart snapshots (prefix its names "source.").
  /// `save` runs on every rank into its own part; `restore` gets every part (rank 0's holds the
  /// replicated state). Collective.
  virtual void save(io::StateArchive& /*archive*/) const {}
  virtual void restore(const io::StateParts& /*parts*/) {}
};

}  // namespace twin::detail
