#include "twin/version.hpp"

#include <fstream>

#include "advisor/version.hpp"
#include "ground/mpi.hpp"
#include "io/hdf5_version.hpp"
#include "solvers/version.hpp"

namespace twin {
namespace {

// The BLAS actually mapped into this process (Debian switches libblas.so.3 by alternatives).
std::string blas_in_use() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string file = path.substr(path.rfind('/') + 1);
    if (file.rfind("libblas", 0) == 0 || file.rfind("libopenblas", 0) == 0) {
      std::string dir = path.substr(0, path.rfind('/'));
      dir = dir.substr(dir.rfind('/') + 1);
      return (dir.find("openblas") != std::string::npos ? dir : std::string("reference BLAS")) + " (" + path + ")";
    }
  }
  return "not loaded";
}

}  // namespace

const char* version() { return TWIN_VERSION_STRING; }

std::vector<std::pair<std::string, std::string>> library_versions() {
  auto out = solvers::library_versions();
  for (auto& entry : advisor::library_versions()) out.push_back(std::move(entry));
  out.emplace_back("HDF5", io::hdf5_version());
  out.emplace_back("MPI", mpi_library_version());
  out.emplace_back("BLAS", blas_in_use());
  return out;
}

}  // namespace twin
