#pragma once
// Versions of the libraries the solver core runs with.

#include <string>
#include <utility>
#include <vector>

namespace twin::solvers {

/// {"Kokkos", "3.4.1 (Serial)"}, {"PETSc", "3.18.5"}.
std::vector<std::pair<std::string, std::string>> library_versions();

}  // namespace twin::solvers
