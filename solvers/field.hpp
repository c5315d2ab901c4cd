#pragma once
// State storage: one row per ensemble member, each row the padded grid (grid.hpp).

#include <Kokkos_Core.hpp>

namespace twin::solvers {

/// u(member, padded_cell). A single-member twin is the members = 1 case.
using Field = Kokkos::View<double**, Kokkos::LayoutRight>;

/// Outcome of advancing the state; the runtime maps anything but `ok` to safe_hold.
enum class SolveStatus {
  ok,            ///< finite and bounded
  non_finite,    ///< NaN or Inf in the state
  blow_up,       ///< finite but beyond the physically plausible bound
  not_converged, ///< an implicit solve did not reach its tolerance
  step_limit     ///< the period needs more steps than max_steps_per_advance; nothing was advanced
};

const char* to_string(SolveStatus status);

}  // namespace twin::solvers
