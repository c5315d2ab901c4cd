#pragma once
/// @file
/// The `logging:` section on its own, so that logging (the ground layer) needs no more of the
/// configuration than this. twin/config.hpp includes it.

#include <optional>
#include <string>

namespace twin {

/// Log verbosity.
enum class LogLevel { trace, debug, info, warn, error, off };

/// `logging:` — spdlog sinks. Every line carries the MPI rank.
struct LoggingConfig {
  LogLevel level = LogLevel::info;
  bool all_ranks = false;             ///< false: ranks other than 0 log warnings and errors only
  std::optional<std::string> json_file; ///< also write JSON lines here ("{rank}" is replaced)
};

/// "info", as written in YAML.
const char* to_string(LogLevel v);

}  // namespace twin
