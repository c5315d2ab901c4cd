#include "solvers/solver.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "twin/error.hpp"

namespace twin::solvers {

Solver::Registry& Solver::registry() {
  static Registry integrators;
  return integrators;
}

double steps_needed(double duration_s, double largest_step_s) {
  return std::max(1.0, std::ceil(duration_s / largest_step_s - 1e-12));
}

void require_step_budget(const Solver& solver, const TimeConfig& time, double period_s, const std::string& who) {
  const double dt = solver.largest_step_s(), steps = steps_needed(period_s, dt);
  if (steps <= max_steps_per_advance) return;
  std::ostringstream s;
  s << who << ": one control period (twin.control_period_s " << period_s << " s) needs " << std::setprecision(3)
    << steps << " solver steps of at most " << dt << " s (time.integrator " << time.integrator << ", time.cfl "
    << time.cfl;
  if (time.max_dt_s) s << ", time.max_dt_s " << *time.max_dt_s;
  s << "), more than the " << static_cast<long>(max_steps_per_advance)
    << " a period may take: the stable step comes from the smallest cells (grid.cells, grid.extent_m) and the "
       "rates of physics.diffusivity_m2_s, velocity_m_s and reaction_per_s; check them, or use "
       "time.integrator: backward_euler, which diffusion does not limit";
  throw ConfigError(ConfigLocation{}, s.str());
}

std::unique_ptr<Solver> make_solver(const SolverConfig& config, const Decomposition& decomposition, int members) {
  return Solver::registry().create("time.integrator", config.time.integrator, config, decomposition, members);
}

}  // namespace twin::solvers
