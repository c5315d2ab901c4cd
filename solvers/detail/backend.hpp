#pragma once
// Which kind of Kokkos backend the solvers run on: kernels choose their work items by it (a
// grid row per work item on host backends, a cell on devices).
#include <Kokkos_Core.hpp>

#include <type_traits>

namespace twin::solvers::detail {
inline constexpr bool host_backend = std::is_same_v<Kokkos::DefaultExecutionSpace::memory_space, Kokkos::HostSpace>;
}  // namespace twin::solvers::detail
