#pragma once
// The solver core's interface to the runtime: advance ensemble fields by a control period and
// report their health. Implementations: ExplicitSolver (SSPRK2/3, Kokkos) and ImplicitSolver
// (backward Euler / Crank-Nicolson, PETSc KSP), registered by time.integrator; make_solver
// creates the configured one.

#include <memory>
#include <string>
#include <vector>

#include "ground/registry.hpp"
#include "solvers/field.hpp"
#include "solvers/grid.hpp"
#include "solvers/physics.hpp"
#include "solvers/solver_config.hpp"
#include "twin/config.hpp"

namespace twin::solvers {

/// Global statistics of a field's interior (collective).
struct FieldStats {
  double min = 0.0;
  double max = 0.0;
  double mean = 0.0;
  long non_finite = 0;
};

/// What one `advance` did.
struct StepReport {
  SolveStatus status = SolveStatus::ok;
  int steps = 0;             ///< time steps taken
  double dt_s = 0.0;         ///< step size used [s]
  long linear_iterations = 0;///< KSP iterations, summed over steps and members (implicit only)
};

/// Advances ensemble fields (one row per member) of the configured physics. Every method is
/// collective over the decomposition's communicator; not thread-safe. A solver never throws for
/// a numerical failure: `advance` returns its status and the runtime decides (safe_hold).
class Solver {
 public:
  /// The time integrators a config may name (time.integrator), each registered beside its
  /// implementation: ssprk2 and ssprk3 (explicit_solver.cpp), backward_euler and crank_nicolson
  /// (implicit_solver.cpp).
  using Registry = twin::Registry<Solver, const SolverConfig&, const Decomposition&, int>;
  static Registry& registry();

  virtual ~Solver() = default;

  /// A field with one row per member, interior and ghosts at physics.initial_value.
  virtual Field make_field(const std::string& name) const = 0;
  /// Advances `u` from facility time `t0_s` (which selects the active scheduled sources) by
  /// `duration_s` in equal steps.
  virtual StepReport advance(Field& u, double t0_s, double duration_s) = 0;
  /// Control parameters p_j, one per config.controls entry, held until the next call.
  /// @throws Error on a wrong count or a non-finite value.
  virtual void set_controls(const std::vector<double>& controls) = 0;
  /// Named parameters per member (physics.parameters for all members until set).
  /// @throws Error on a wrong count, a non-finite value, diffusivity_factor <= 0 or
  ///         cooling_factor < 0; callers keep estimates inside physical bounds.
  virtual void set_parameters(const std::vector<ParameterSet>& parameters) = 0;
  virtual const std::vector<ParameterSet>& parameters() const = 0;
  /// Largest step [s] the method allows before time.cfl (infinite when unconditionally stable).
  virtual double stable_dt() const = 0;
  /// The step [s] `advance` takes at most: time.cfl times stable_dt, at most time.max_dt_s.
  virtual double largest_step_s() const = 0;
  /// Interior statistics over all members and ranks.
  virtual FieldStats stats(const Field& u) const = 0;
  /// ok, non_finite, or blow_up (beyond 1e6 times the problem's value scale).
  virtual SolveStatus health(const Field& u) const = 0;
  virtual const LocalGrid& grid() const = 0;
  virtual int members() const = 0;
};

/// The most time steps one `advance` takes. A period that needs more (a stable step far below
/// the control period: tiny cells, a huge diffusivity, velocity or reaction rate) returns
/// SolveStatus::step_limit untouched; require_step_budget refuses such a config up front.
inline constexpr double max_steps_per_advance = 1.0e6;

/// Equal steps of at most `largest_step_s` that cover `duration_s`, as a double (it may exceed
/// any int); at least 1.
double steps_needed(double duration_s, double largest_step_s);

/// @throws ConfigError naming `who` (e.g. "the twin", "the plant emulator"), the step and the
///         keys that set it, when one control period of `period_s` needs more than
///         max_steps_per_advance steps with the solver's current parameters.
void require_step_budget(const Solver& solver, const TimeConfig& time, double period_s, const std::string& who);

/// The solver for config.time.integrator.
/// @throws ConfigError for an integrator nobody registered, PetscError when PETSc cannot set up
///         an implicit solver.
std::unique_ptr<Solver> make_solver(const SolverConfig& config, const Decomposition& decomposition, int members);

}  // namespace twin::solvers
