#pragma once
// Loading a configuration on every rank of a job: rank 0 reads the file, every rank parses the
// same bytes, so all ranks accept it or all fail with the same ConfigError (none is left
// waiting in a collective).

#include <mpi.h>

#include <string>

#include "twin/config.hpp"

namespace twin::detail {

/// The bytes of a config file, at most max_config_bytes + 1 of them.
/// @throws ConfigError when the file cannot be opened or read.
std::string read_config_file(const std::string& path);

/// Reads on rank 0 of `comm`, broadcasts, parses everywhere. Collective.
Config load_config_on_all_ranks(const std::string& path, MPI_Comm comm);

}  // namespace twin::detail
