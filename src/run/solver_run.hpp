#pragma once
// `twin run` while the closed loop is being built: the solver core alone, cycle by cycle.

#include <mpi.h>

#include <optional>
#include <string>

#include "twin/config.hpp"

namespace twin::detail {

struct RunOptions {
  std::optional<std::string> run_dir;  ///< overrides twin.run_dir
  std::optional<int> cycles;           ///< overrides twin.cycles
};

/// What a run did; also written to summary.json in the run directory.
struct RunSummary {
  std::string run_dir;
  int cycles = 0;
  double facility_time_s = 0.0;
  double wall_s = 0.0;
  double realtime_factor = 0.0;  ///< facility time / wall time
  int deadline_misses = 0;
  long solver_steps = 0;
  std::string status = "ok";     ///< solver health at the end
};

/// The run directory a config asks for: twin.run_dir, else "runs/<twin.name>".
std::string run_directory(const Config& config, const RunOptions& options);

/// Advances the twin's state for config.twin.cycles control periods, logging progress, and
/// writes effective.yaml and summary.json into the run directory (rank 0). Collective over comm.
/// @throws Error on failures it cannot continue from (MPI, file system).
RunSummary run_solver(const Config& config, const RunOptions& options, MPI_Comm comm);

}  // namespace twin::detail
