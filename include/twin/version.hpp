#pragma once
/// @file
/// twinrt's version and the versions of the libraries it runs with.

#include <string>
#include <utility>
#include <vector>

namespace twin {

/// twinrt's own version, "MAJOR.MINOR.PATCH".
const char* version();

/// One line per library twinrt was built and runs with: name and version (Kokkos with its
/// execution-space backend, PETSc, LibTorch, HDF5, MPI, and the BLAS in use).
/// Safe to call before MPI or Kokkos are initialised.
std::vector<std::pair<std::string, std::string>> library_versions();

}  // namespace twin
