#pragma once
// Inside access to a Runtime's state for restart snapshots: the driver adds the source's and
// the KPIs' state to the same snapshot part (src/driver/twin_run.cpp).

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cycle/snapshots.hpp"
#include "io/state_archive.hpp"
#include "twin/runtime.hpp"

namespace twin::detail {

struct RuntimeState {
  static void save(const Runtime& runtime, io::StateArchive& archive);
  static void restore(Runtime& runtime, SnapshotParts& parts);
  /// Flushes series.h5 and returns this rank's files a snapshot must not get ahead of.
  static std::vector<std::filesystem::path> files_to_sync(const Runtime& runtime);
  /// audit.jsonl's record count and chain head (rank 0 of a recording run), for summary.json.
  static std::optional<std::pair<long, std::string>> audit_head(const Runtime& runtime);
  /// What the grid check found at start-up (assimilation.grid_check_cycles), for summary.json:
  /// its cycles, each parameter's shift and uncertainty, each sensor's uncertainty, or why it
  /// did not run.
  static nlohmann::json grid_check(const Runtime& runtime);
  /// The previous run's chain head, put into this run's first audit record (rank 0).
  static void anchor_audit(Runtime& runtime, nlohmann::json previous_run);
};

}  // namespace twin::detail
