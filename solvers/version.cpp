#include "solvers/version.hpp"

#include <petscsys.h>

#include <Kokkos_Core.hpp>

namespace twin::solvers {

std::vector<std::pair<std::string, std::string>> library_versions() {
  const int kv = KOKKOS_VERSION;  // e.g. 30401
  std::string kokkos = std::to_string(kv / 10000) + "." + std::to_string(kv / 100 % 100) + "." + std::to_string(kv % 100);
  kokkos += std::string(" (") + Kokkos::DefaultExecutionSpace::name();
  if (!std::is_same_v<Kokkos::DefaultExecutionSpace, Kokkos::DefaultHostExecutionSpace>)
    kokkos += std::string(", host ") + Kokkos::DefaultHostExecutionSpace::name();
  kokkos += ")";
  char petsc[256] = {};
  if (PetscGetVersion(petsc, sizeof petsc) != 0) std::snprintf(petsc, sizeof petsc, "unknown");
  std::string p(petsc);
  if (auto at = p.find("Release Version "); at != std::string::npos) p = p.substr(at + 16);
  if (auto comma = p.find(','); comma != std::string::npos) p.resize(comma);
  return {{"Kokkos", kokkos}, {"PETSc", p}};
}

}  // namespace twin::solvers
