#pragma once
// `twin run`: the closed loop of a Runtime with its observation source (plant emulator, replay
// or stream), and the run directory's summary.json, metrics.prom and progress output.

#include <mpi.h>

#include <optional>
#include <string>
#include <vector>

#include "twin/config.hpp"

namespace twin::detail {

struct RunOptions {
  std::optional<std::string> run_dir;  ///< overrides twin.run_dir
  std::optional<int> cycles;           ///< overrides twin.cycles
  bool no_assimilation = false;        ///< the same twin without assimilation (a baseline)
  std::optional<std::string> registry; ///< overrides advisor.registry
  bool no_advisor = false;             ///< drop the advisor section: safe defaults only (a baseline)
  bool no_faults = false;              ///< the plant emulator without its scheduled events (a fault-free reference)
  bool overwrite = false;              ///< replace an earlier run's outputs in the run directory
  /// continue the run in this directory from its newest committed snapshot (state/)
  std::optional<std::string> resume;
  /// facility seconds per wall-clock second: 1 runs each cycle at its facility time (a twin
  /// attached to a real plant), N runs N times faster, 0 as fast as the twin goes. The plant and
  /// replay sources only: a stream is paced by its facility.
  double pace = 0.0;
};

/// How a run ended.
struct RunResult {
  int cycles = 0;       ///< control periods completed
  int stop_signal = 0;  ///< SIGTERM or SIGINT when one stopped it early, else 0
};

/// The run directory a config asks for: twin.run_dir, else "runs/<twin.name>".
std::string run_directory(const Config& config, const RunOptions& options);

/// The files a run writes into its run directory.
const std::vector<std::string>& run_outputs();

/// Runs the twin for its cycles; writes effective.yaml, series.h5 (+ .xmf), audit.jsonl,
/// metrics.prom and summary.json into the run directory. A run directory that is not empty is
/// refused unless options.overwrite (which removes an earlier run's outputs, nothing else).
/// SIGTERM or SIGINT end the run after the cycle in progress, with every output written.
/// Collective over comm.
/// @throws ConfigError, DataError (bad replay/stream input, a run directory in use), Error.
RunResult run_twin(const Config& config, const RunOptions& options, MPI_Comm comm);

}  // namespace twin::detail
