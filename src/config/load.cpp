#include "config/load.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "ground/mpi.hpp"
#include "twin/error.hpp"

namespace twin::detail {

std::string read_config_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ConfigError({path, 0, 0, ""}, "is a directory; give the path of a YAML file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError({path, 0, 0, ""}, std::string("cannot open the file: ") + std::strerror(errno));
  std::string text;
  std::vector<char> chunk(64 * 1024);
  while (text.size() <= max_config_bytes) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    if (in.gcount() <= 0) break;
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw ConfigError({path, 0, 0, ""}, "cannot read the file");
  return text;
}

Config load_config_on_all_ranks(const std::string& path, MPI_Comm comm) {
  int rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  std::string text, error;
  if (rank == 0) {
    try {
      text = read_config_file(path);
    } catch (const ConfigError& e) {
      error = e.message();
    }
  }
  // [0] = 1 when reading failed, [1] = length of the text or of the error message.
  long header[2] = {error.empty() ? 0L : 1L, static_cast<long>(error.empty() ? text.size() : error.size())};
  TWIN_MPI_CHECK(MPI_Bcast(header, 2, MPI_LONG, 0, comm));
  std::string& payload = header[0] ? error : text;
  payload.resize(static_cast<std::size_t>(header[1]));
  TWIN_MPI_CHECK(MPI_Bcast(payload.data(), static_cast<int>(header[1]), MPI_CHAR, 0, comm));
  if (header[0]) throw ConfigError({path, 0, 0, ""}, error);
  return parse_config(text, path);
}

}  // namespace twin::detail
