#pragma once
// Explicit advection-diffusion-reaction stepping with SSP Runge-Kutta on a decomposed grid.

#include <string>

#include "solvers/detail/adr_kernels.hpp"
#include "solvers/field.hpp"
#include "solvers/grid.hpp"
#include "solvers/halo.hpp"
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
  int steps = 0;       ///< time steps taken
  double dt_s = 0.0;   ///< step size used [s]
};

/// Advances ensemble fields of du/dt + v.grad u = k lap u - r (u - u_ref) + s under the configured
/// boundary conditions, with SSPRK2 or SSPRK3 and a step inside the explicit stability limit.
/// Every member is advanced by the same kernel launches. Methods are collective over the
/// decomposition's communicator; not thread-safe.
class ExplicitSolver {
 public:
  ExplicitSolver(const Config& config, const Decomposition& decomposition, int members);

  /// A field with `members` rows, interior and ghosts set to physics.initial_value.
  Field make_field(const std::string& name) const;

  /// Advances `u` by `duration_s` of facility time, in equal steps no larger than the stable
  /// step times time.cfl (and time.max_dt_s). Returns a non-ok status, never throws, when the
  /// state becomes non-finite or blows up; the state is then left as computed.
  StepReport advance(Field& u, double duration_s);

  /// One forward-Euler step, out = in + dt L(in), ghosts of `in` filled first. The kernel every
  /// SSPRK stage is made of; the stencil benchmark measures it. `dt` must be stable.
  void euler_step(const Field& in, const Field& out, double dt);

  /// Largest stable explicit step [s] before the CFL factor.
  double stable_dt() const { return m_stable_dt; }

  /// Interior statistics over all members and ranks.
  FieldStats stats(const Field& u) const;

  /// Classifies a state: non-finite, blown up (beyond 1e6 times the scale of the problem's
  /// values) or ok. Collective.
  SolveStatus health(const Field& u) const;

  /// Fills ghost cells: halo exchange with neighbours, then wall conditions.
  void fill_ghosts(const Field& u);

  const LocalGrid& grid() const { return m_decomposition->local(); }
  int members() const { return m_members; }

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
  detail::AdrCoefficients m_coefficients;
  Kokkos::Array<detail::WallCondition, 6> m_walls;
  HaloExchange m_halo;
  Field m_stage1, m_stage2;
};

}  // namespace twin::solvers
