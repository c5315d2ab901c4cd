#pragma once
// Explicit advection-diffusion-reaction stepping with SSP Runge-Kutta on a decomposed grid.

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "solvers/detail/adr_kernels.hpp"
#include "solvers/field.hpp"
#include "solvers/grid.hpp"
#include "solvers/halo.hpp"
#include "solvers/physics.hpp"
#include "solvers/solver.hpp"
#include "twin/config.hpp"

namespace twin::solvers {

/// Advances ensemble fields of du/dt + v.grad u = div(k grad u) - r (u - u_ref) + s(x, t) +
/// sum_j p_j b_j(x) under the configured boundary conditions, with SSPRK2 or SSPRK3 and a step
/// inside the explicit stability limit. Every member is advanced by the same kernel launches;
/// members may carry their own named parameters. Methods are collective over the
/// decomposition's communicator; not thread-safe.
class ExplicitSolver final : public Solver {
 public:
  ExplicitSolver(const SolverConfig& config, const Decomposition& decomposition, int members);

  Field make_field(const std::string& name) const override;

  /// Advances `u` from facility time t0_s by `duration_s`, in equal steps no larger than the
  /// stable step times time.cfl (and time.max_dt_s). Returns a non-ok status, never throws, when
  /// the state becomes non-finite or blows up; the state is then left as computed.
  StepReport advance(Field& u, double t0_s, double duration_s) override;

  void set_controls(const std::vector<double>& controls) override;
  void set_parameters(const std::vector<ParameterSet>& parameters) override;
  const std::vector<ParameterSet>& parameters() const override { return m_parameters; }

  /// One forward-Euler step, out = in + dt L(in), ghosts of `in` filled first. The kernel every
  /// SSPRK stage is made of; the stencil benchmark measures it. `dt` must be stable.
  void euler_step(const Field& in, const Field& out, double dt);

  /// Largest stable explicit step [s] before the CFL factor.
  double stable_dt() const override { return m_stable_dt; }
  double largest_step_s() const override { return std::min(m_cfl * m_stable_dt, m_max_dt); }
  FieldStats stats(const Field& u) const override;
  SolveStatus health(const Field& u) const override;
  const LocalGrid& grid() const override { return m_decomposition->local(); }
  int members() const override { return m_members; }

  /// Fills ghost cells: halo exchange with neighbours, then wall conditions. `u` may hold a
  /// block of members (a subview), the first of them member `first`.
  void fill_ghosts(const Field& u, int first = 0);

  /// Members advanced together through a whole period: all of them on device backends; on host
  /// backends as many as keep their three fields within `host_block_bytes` (at least one), half
  /// of a 1 MiB L2, the rest left to the grid's coefficient arrays. On a 128^2 grid with 64
  /// members, blocks of 1 ran as fast as separate solvers, blocks of 2 at 0.91-0.95x and one
  /// block of all at 0.73x (bench_ensemble).
  /// The same on every rank of the decomposition (the smallest of theirs).
  int member_block() const { return m_member_block; }
  static constexpr long host_block_bytes = 512L * 1024;

  /// out = b (in + dt L(in)) with diffusion and reaction weighted by (1 - implicit_share), ghosts
  /// of `in` filled first: the explicit half of the implicit solver's theta-scheme.
  void explicit_part(const Field& in, const Field& out, double dt, double implicit_share);

  const PhysicsFields& physics() const { return m_physics; }
  /// Selects the scheduled sources active at facility time t_s, with the controls in force
  /// (advance does this every step; the implicit solver calls it for its explicit part).
  void set_source_time(double t_s) { m_physics.update_source(t_s, m_controls); }
  /// Member m's coefficients (host copy), its parameters applied.
  const detail::AdrCoefficients& coefficients(int m) const { return m_coef_host(m); }
  /// Member m's wall condition on face f (x_low, x_high, y_low, y_high, z_low, z_high), for a
  /// uniform diffusivity; with diffusivity regions the wall cell's own k replaces w.k.
  const detail::WallCondition& wall(int m, int f) const { return m_walls_host(m, f); }
  /// Largest stable step of the advection part alone [s] (infinite at rest).
  double advection_dt() const { return m_advection_dt; }
  /// The control parameters in force.
  const std::vector<double>& controls() const { return m_controls; }

 private:
  void stage(const Field& u0, const Field& in, const Field& out, double a, double b, double dt, double share = 0.0,
             int first = 0);
  void apply_walls(const Field& u, int first);

  using CoefView = Kokkos::View<detail::AdrCoefficients*>;
  using WallView = Kokkos::View<detail::WallCondition* [6]>;

  const Decomposition* m_decomposition;
  int m_members;
  int m_member_block = 1;
  int m_stages;  // SSPRK2 or SSPRK3
  double m_cfl;
  double m_max_dt;
  double m_initial;
  double m_blow_up_bound;
  double m_stable_dt = 0.0;
  double m_advection_dt = 0.0;
  double m_max_diffusion_rate = 0.0;  // global maxima of PhysicsFields' rates
  std::array<double, 3> m_max_half_peclet{0.0, 0.0, 0.0};  // and half cell Péclet numbers
  double m_max_advection_rate = 0.0;
  const PhysicsConfig m_config;
  PhysicsFields m_physics;
  std::vector<ParameterSet> m_parameters;
  std::vector<double> m_controls;
  CoefView m_coef;
  CoefView::HostMirror m_coef_host;
  WallView m_walls;
  WallView::HostMirror m_walls_host;
  HaloExchange m_halo;
  Field m_stage1, m_stage2;
};

}  // namespace twin::solvers
