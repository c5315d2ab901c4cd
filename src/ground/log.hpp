#pragma once
// Logging set-up: spdlog's default logger, with the MPI rank on every line.
// Code logs with spdlog::info(...) etc.; progress is logged on rank 0 (other ranks keep
// warnings and errors unless logging.all_ranks is set).

#include <string>

#include "twin/logging_config.hpp"

namespace twin::log {

/// Console logging before the config is known: info on rank 0, warnings elsewhere.
void init_default();

/// Applies the `logging:` section. `{rank}` in `json_file` is replaced by the rank.
/// @throws ConfigError when the JSON-lines file cannot be opened.
void init(const LoggingConfig& config);

/// Flushes every sink (before exit or abort).
void flush();

}  // namespace twin::log
