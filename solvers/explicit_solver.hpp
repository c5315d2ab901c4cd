#pragma once
// Explicit advection-diffusion-reaction stepping with SSP Runge-Kutta on a decomposed grid.

#include <string>

#include "solvers/detail/adr_kernels.hpp"
#include "solvers/field.hpp"
#include "solvers/grid.hpp"
#include "solvers/halo.hpp"
#include "solvers/solver.hpp"
#include "twin/config.hpp"

namespace twin::solvers {

/// Advances ensemble fields of du/dt + v.grad u = k lap u - r (u - u_ref) + s under the configured
/// boundary conditions, with SSPRK2 or SSPRK3 and a step inside the explicit stability limit.
/// Every member is advanced by the same kernel launches. Methods are collective over the
/// decomposition's communicator; not thread-safe.
class ExplicitSolver final : public Solver {
 public:
  ExplicitSolver(const Config& config, const Decomposition& decomposition, int members);

  Field make_field(const std::string& name) const override;

  /// Advances `u` by `duration_s` of facility time, in equal steps no larger than the stable
  /// step times time.cfl (and time.max_dt_s). Returns a non-ok status, never throws, when the
  /// state becomes non-finite or blows up; the state is then left as computed.
  StepReport advance(Field& u, double duration_s) override;

  /// One forward-Euler step, out = in + dt L(in), ghosts of `in` filled first. The kernel every
  /// SSPRK stage is made of; the stencil benchmark measures it. `dt` must be stable.
  void euler_step(const Field& in, const Field& out, double dt);

  /// Largest stable explicit step [s] before the CFL factor.
  double stable_dt() const override { return m_stable_dt; }
  FieldStats stats(const Field& u) const override;
  SolveStatus health(const Field& u) const override;
  const LocalGrid& grid() const override { return m_decomposition->local(); }
  int members() const override { return m_members; }

  /// Fills ghost cells: halo exchange with neighbours, then wall conditions.
  void fill_ghosts(const Field& u);

  /// out = stage_value(in) with the given weights, ghosts of `in` filled first: the building
  /// block the implicit solver uses for its explicit part.
  void apply_weights(const Field& in, const Field& out, const detail::StageWeights& weights);

  const detail::AdrCoefficients& coefficients() const { return m_coefficients; }
  /// Wall condition of face f (x_low, x_high, y_low, y_high, z_low, z_high).
  const detail::WallCondition& wall(int f) const { return m_walls[f]; }
  /// Largest stable step of the advection part alone [s] (infinite at rest).
  double advection_dt() const { return m_advection_dt; }

 private:
  void stage(const Field& u0, const Field& in, const Field& out, double a, double b, double dt);
  void apply_walls(const Field& u);

  const Decomposition* m_decomposition;
  int m_members;
  Integrator m_integrator;
  double m_cfl;
  double m_max_dt;
  double m_initial;
  double m_blow_up_bound;
  double m_stable_dt;
  double m_advection_dt;
  detail::AdrCoefficients m_coefficients;
  Kokkos::Array<detail::WallCondition, 6> m_walls;
  HaloExchange m_halo;
  Field m_stage1, m_stage2;
};

}  // namespace twin::solvers
