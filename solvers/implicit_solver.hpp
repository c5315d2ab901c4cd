#pragma once
// Backward Euler and Crank-Nicolson for diffusion and reaction (PETSc KSP on a DMDA), with
// upwind advection and sources explicit (IMEX).

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "solvers/explicit_solver.hpp"

namespace twin::solvers {

/// theta-scheme: (I - theta dt A) u' = u + (1 - theta) dt A u + dt E(u) + theta dt c, where A is
/// the diffusion-reaction operator with its wall conditions folded in (symmetric, negative
/// definite), c the walls' constant part, E the explicit part (advection, sources). theta = 1
/// (backward Euler) or 1/2 (Crank-Nicolson). The step is limited only by advection (times
/// time.cfl) and time.max_dt_s. The KSP and its preconditioner are set up once per step size
/// and reused; members are solved one after the other. Collective; not thread-safe.
class ImplicitSolver final : public Solver {
 public:
  ImplicitSolver(const SolverConfig& config, const Decomposition& decomposition, int members);
  ~ImplicitSolver() override;
  ImplicitSolver(const ImplicitSolver&) = delete;
  ImplicitSolver& operator=(const ImplicitSolver&) = delete;

  Field make_field(const std::string& name) const override { return m_explicit.make_field(name); }
  /// Returns not_converged (and leaves `u` at the last converged step) when a KSP solve fails.
  StepReport advance(Field& u, double t0_s, double duration_s) override;
  void set_controls(const std::vector<double>& controls) override { m_explicit.set_controls(controls); }
  /// Members with different parameters are solved with matrices assembled in turn (one set-up
  /// of the preconditioner per member and step); equal parameters share one.
  void set_parameters(const std::vector<ParameterSet>& parameters) override { m_explicit.set_parameters(parameters); }
  const std::vector<ParameterSet>& parameters() const override { return m_explicit.parameters(); }
  double stable_dt() const override { return m_explicit.advection_dt(); }
  double largest_step_s() const override { return std::min(m_cfl * m_explicit.advection_dt(), m_max_dt); }
  FieldStats stats(const Field& u) const override { return m_explicit.stats(u); }
  SolveStatus health(const Field& u) const override { return m_explicit.health(u); }
  const LocalGrid& grid() const override { return m_explicit.grid(); }
  int members() const override { return m_explicit.members(); }

  /// The PETSc preconditioner in force (PCType name: "mg", "gamg", ...) and, for "mg", its
  /// levels (the finest included; 0 otherwise).
  std::string preconditioner() const;
  int multigrid_levels() const;

 private:
  void assemble(double dt, int member);
  /// After the first solve (PETSc reads some options only when it sets the solver up): warns of
  /// each option of time.implicit.petsc_options that PETSc has not used.
  void report_unused_options();

  struct Assembled {
    double dt = -1.0;
    ParameterSet parameters{};
    bool operator==(const Assembled& o) const { return dt == o.dt && parameters == o.parameters; }
  };

  ExplicitSolver m_explicit;
  const Decomposition* m_decomposition;
  double m_theta;
  double m_cfl;
  double m_max_dt;
  Field m_rhs;
  std::vector<double> m_wall_constant;  // c: the walls' constant contribution, per interior cell
  Assembled m_assembled;
  std::string m_petsc_options;  // time.implicit.petsc_options, checked after the first solve; empty once checked
  struct Petsc;
  std::unique_ptr<Petsc> m_petsc;
};

}  // namespace twin::solvers
