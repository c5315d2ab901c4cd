#include "solvers/solver.hpp"

#include "solvers/explicit_solver.hpp"
#include "solvers/implicit_solver.hpp"

namespace twin::solvers {

std::unique_ptr<Solver> make_solver(const Config& config, const Decomposition& decomposition, int members) {
  switch (config.time.integrator) {
    case Integrator::ssprk2:
    case Integrator::ssprk3: return std::make_unique<ExplicitSolver>(config, decomposition, members);
    case Integrator::backward_euler:
    case Integrator::crank_nicolson: return std::make_unique<ImplicitSolver>(config, decomposition, members);
  }
  return nullptr;  // unreachable: the config parser accepts only the integrators above
}

}  // namespace twin::solvers
