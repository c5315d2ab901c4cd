#include "solvers/solver.hpp"

namespace twin::solvers {

Solver::Registry& Solver::registry() {
  static Registry integrators;
  return integrators;
}

std::unique_ptr<Solver> make_solver(const SolverConfig& config, const Decomposition& decomposition, int members) {
  return Solver::registry().create("time.integrator", config.time.integrator, config, decomposition, members);
}

}  // namespace twin::solvers
