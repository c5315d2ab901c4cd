#include "solvers/explicit_solver.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ground/check.hpp"
#include "solvers/detail/backend.hpp"
#include "twin/error.hpp"

namespace twin::solvers {

namespace {
// The ghost map of wall `w` with variable physics: the wall cell's own diffusivity k, which the
// wall face slot of k_face holds.
KOKKOS_INLINE_FUNCTION detail::WallAffine wall_with_cell_k(detail::WallCondition w, double k) {
  w.k = k;
  w.k_over_dx = k / w.dx;
  return detail::wall_affine(w);
}
}  // namespace

const char* to_string(SolveStatus status) {
  switch (status) {
    case SolveStatus::ok: return "ok";
    case SolveStatus::non_finite: return "non_finite";
    case SolveStatus::blow_up: return "blow_up";
    case SolveStatus::not_converged: return "not_converged";
    case SolveStatus::step_limit: return "step_limit";
  }
  return "?";
}

ExplicitSolver::ExplicitSolver(const SolverConfig& config, const Decomposition& decomposition, int members)
    : m_decomposition(&decomposition),
      m_members(members),
      m_stages(config.time.integrator == "ssprk2" ? 2 : 3),
      m_cfl(config.time.cfl),
      m_max_dt(config.time.max_dt_s.value_or(std::numeric_limits<double>::infinity())),
      m_initial(config.physics.initial_value),
      m_config(config.physics),
      m_physics(config, decomposition.local()),
      m_halo(decomposition, members) {
  TWIN_REQUIRE(members >= 1, Error, "an ensemble needs at least one member");
  const LocalGrid& g = decomposition.local();
  const PhysicsConfig& p = config.physics;

  // The stability bound needs the largest rates over all ranks, and every rank must choose the
  // same advection scheme: the largest half cell Péclet numbers too.
  const auto& pe = m_physics.max_half_peclet();
  double rates[5] = {m_physics.max_diffusion_rate(), m_physics.max_advection_rate(), pe[0], pe[1], pe[2]};
  double global_rates[5] = {0, 0, 0, 0, 0};
  TWIN_MPI_CHECK(MPI_Allreduce(rates, global_rates, 5, MPI_DOUBLE, MPI_MAX, decomposition.comm()));
  m_max_diffusion_rate = global_rates[0];
  m_max_advection_rate = global_rates[1];
  for (int d = 0; d < 3; ++d) m_max_half_peclet[d] = global_rates[2 + d];
  m_advection_dt = m_max_advection_rate > 0.0 ? 1.0 / m_max_advection_rate : std::numeric_limits<double>::infinity();

  double scale = std::max({std::abs(p.initial_value), std::abs(p.reaction_reference), 1.0});
  for (int f = 0; f < 2 * g.dims; ++f) scale = std::max(scale, std::abs(p.boundaries.face(f).value));
  if (p.reaction_per_s > 0.0) scale = std::max(scale, m_physics.max_source() / p.reaction_per_s);
  m_blow_up_bound = 1.0e6 * scale;

  m_coef = CoefView("twin::member_coefficients", members);
  m_coef_host = Kokkos::create_mirror_view(m_coef);
  m_walls = WallView("twin::member_walls", members);
  m_walls_host = Kokkos::create_mirror_view(m_walls);
  m_controls.reserve(config.controls.size());
  for (const auto& c : config.controls) m_controls.push_back(c.initial);
  set_parameters(std::vector<ParameterSet>(static_cast<std::size_t>(members), configured_parameters(p)));

  m_stage1 = Field(Kokkos::ViewAllocateWithoutInitializing("twin::stage1"), members, g.padded_size());
  m_stage2 = Field(Kokkos::ViewAllocateWithoutInitializing("twin::stage2"), members, g.padded_size());

  // Blocks exchange halos in turn, so every rank of the decomposition must use the same block
  // size, whatever the size of its own part of the grid: the smallest.
  m_member_block = members;
  if constexpr (detail::host_backend) {
    const long per_member = 3L * g.padded_size() * static_cast<long>(sizeof(double));
    m_member_block = static_cast<int>(std::clamp(host_block_bytes / per_member, 1L, static_cast<long>(members)));
  }
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &m_member_block, 1, MPI_INT, MPI_MIN, decomposition.comm()));
}

void ExplicitSolver::set_parameters(const std::vector<ParameterSet>& parameters) {
  TWIN_REQUIRE(static_cast<int>(parameters.size()) == m_members, Error,
               "expected parameters for " + std::to_string(m_members) + " members, got " + std::to_string(parameters.size()));
  const LocalGrid& g = grid();
  const PhysicsConfig& p = m_config;
  const bool uniform = m_physics.uniform();
  const bool folded = m_physics.uniform_operator();  // k and v fold into weights, sources or not
  double rate_bound = 0.0;
  for (int m = 0; m < m_members; ++m) {
    const double fk = parameters[m][static_cast<int>(Parameter::diffusivity_factor)];
    const double fc = parameters[m][static_cast<int>(Parameter::cooling_factor)];
    TWIN_REQUIRE(std::isfinite(fk) && fk > 0.0, Error, "diffusivity_factor must be finite and > 0, got " + std::to_string(fk));
    TWIN_REQUIRE(std::isfinite(fc) && fc >= 0.0, Error, "cooling_factor must be finite and >= 0, got " + std::to_string(fc));
    const double k = fk * m_physics.base_k();
    detail::AdrCoefficients& a = m_coef_host(m);
    a = detail::AdrCoefficients{};
    for (int d = 0; d < g.dims; ++d) {
      const double v = folded ? m_physics.uniform_velocity()[d] : 0.0;
      a.k_over_dx2[d] = folded ? k / (g.dx[d] * g.dx[d]) : 0.0;
      a.v_pos[d] = std::max(v, 0.0) / g.dx[d];
      a.v_neg[d] = std::min(v, 0.0) / g.dx[d];
      a.stride[d] = g.stride(d);
    }
    a.reaction = fc * p.reaction_per_s;
    a.reference = p.reaction_reference;
    a.source = uniform ? p.source : 0.0;  // otherwise part of PhysicsFields::source()
    a.k_factor = fk;
    // Hybrid advection: central along an axis where every cell's Péclet number with this
    // member's diffusivity is at most 2 (detail::AdrCoefficients).
    for (int d = 0; d < g.dims; ++d) a.central[d] = m_max_half_peclet[d] <= fk ? 1 : 0;
    // A forward-Euler stage keeps every weight of the stencil non-negative (a maximum principle)
    // when dt * (diffusion + advection + reaction rates) <= 1; SSPRK2/3 inherit that bound.
    rate_bound = std::max(rate_bound, fk * m_max_diffusion_rate + m_max_advection_rate + a.reaction);

    for (int f = 0; f < 6; ++f) {
      const int axis = f / 2;
      detail::WallCondition& w = m_walls_host(m, f);
      w = detail::WallCondition{};
      if (axis >= g.dims) continue;
      const BoundaryConfig& b = p.boundaries.face(f);
      w.kind = b.type == BoundaryType::dirichlet ? 0 : b.type == BoundaryType::neumann ? 1 : 2;
      w.value = b.value;
      w.flux = b.flux;
      w.transfer = fc * b.transfer_m_s;
      w.dx = g.dx[axis];
      w.k = k;
      w.k_over_dx = k / g.dx[axis];
    }
  }
  Kokkos::deep_copy(m_coef, m_coef_host);
  Kokkos::deep_copy(m_walls, m_walls_host);
  m_parameters = parameters;
  m_stable_dt = rate_bound > 0.0 ? 1.0 / rate_bound : std::numeric_limits<double>::infinity();
}

void ExplicitSolver::set_controls(const std::vector<double>& controls) {
  TWIN_REQUIRE(controls.size() == m_controls.size(), Error,
               "expected " + std::to_string(m_controls.size()) + " control values, got " + std::to_string(controls.size()));
  for (double c : controls) TWIN_REQUIRE(std::isfinite(c), Error, "a control value is not finite");
  m_controls = controls;
}

Field ExplicitSolver::make_field(const std::string& name) const {
  Field u(Kokkos::ViewAllocateWithoutInitializing(name), m_members, grid().padded_size());
  Kokkos::deep_copy(u, m_initial);
  return u;
}

void ExplicitSolver::apply_walls(const Field& u, int first) {
  const LocalGrid g = grid();
  const long members = static_cast<long>(u.extent(0));
  const auto walls = m_walls;
  const auto coef = m_coef;
  const auto k_face = m_physics.k_face();
  const bool variable = !m_physics.uniform();
  for (int f = 0; f < 2 * g.dims; ++f) {
    const int axis = f / 2, side = f % 2;
    if (m_decomposition->neighbor(axis, side) != MPI_PROC_NULL) continue;
    const long nf = face_cells(g, axis);
    const long step = side == 0 ? -g.stride(axis) : g.stride(axis);
    const int layer = side == 0 ? g.ghost[axis] : g.ghost[axis] + g.cells[axis] - 1;
    const double dx2 = g.dx[axis] * g.dx[axis];
    if constexpr (detail::host_backend) {
      // One work item per member: its wall's affine map is computed once (uniform k) and the
      // face is walked without dividing per cell.
      Kokkos::parallel_for(
          "twin::wall_ghosts", Kokkos::RangePolicy<>(0, members), KOKKOS_LAMBDA(const long m) {
            const long member = first + m;
            const detail::WallCondition w = walls(member, f);
            const detail::WallAffine fixed = detail::wall_affine(w);
            for (long q = 0; q < nf; ++q) {
              const long inner = g.face_index(axis, layer, q);
              const detail::WallAffine af =
                  variable ? wall_with_cell_k(w, coef(member).k_factor * k_face(axis, side == 0 ? inner : inner + step) * dx2)
                           : fixed;
              u(m, inner + step) = af.alpha * u(m, inner) + af.beta;
            }
          });
      continue;
    }
    Kokkos::parallel_for(
        "twin::wall_ghosts", Kokkos::RangePolicy<>(0, nf * members), KOKKOS_LAMBDA(const long n) {
          const long m = n / nf, member = first + m;
          const long inner = g.face_index(axis, layer, n % nf);
          const detail::WallCondition w = walls(member, f);
          const detail::WallAffine af =
              variable ? wall_with_cell_k(w, coef(member).k_factor * k_face(axis, side == 0 ? inner : inner + step) * dx2)
                       : detail::wall_affine(w);
          u(m, inner + step) = af.alpha * u(m, inner) + af.beta;
        });
  }
}

void ExplicitSolver::fill_ghosts(const Field& u, int first) {
  m_halo.exchange(u);
  apply_walls(u, first);
  Kokkos::fence();
}

namespace {

// out = a * u0 + b * (in + dt * L(in)). Blend = false is the a = 0 stage, which skips reading
// u0: a third less memory traffic. How the operator's coefficients are read:
//   folded: uniform k and v and no source array, folded into per-member scalar weights;
//   folded_source: the same weights plus the source array q (controls, fixed sources), the common
//     case of a uniform medium with heaters: 2 streams per cell instead of the 6 of `arrays`;
//   arrays: PhysicsFields' k_face, velocity and q (diffusivity regions, a vortex).
// On host backends one work item is a grid row, so the inner loop is contiguous and vectorises;
// on devices one work item is one cell.
enum class Coefficients { folded, folded_source, arrays };

template <int Dims, bool Blend, Coefficients Mode>
struct StageKernel {
  Field u0, in, out;
  LocalGrid g;
  Kokkos::View<detail::AdrCoefficients*> coef;
  PhysicsFields::Array2 k_face, velocity;
  Kokkos::View<double*> q;
  double a, b, dt, share;
  int first;  // the member that row 0 of the fields holds: coefficients are indexed from it

  KOKKOS_INLINE_FUNCTION double value(const double* u, long n, const detail::AdrCoefficients& c,
                                      const detail::StageWeights& w) const {
    if constexpr (Mode == Coefficients::arrays)
      return detail::variable_stage_value<Dims>(u, n, c, k_face, velocity, q, b, dt, 1.0 - share);
    else if constexpr (Mode == Coefficients::folded_source)
      return detail::stage_value<Dims>(u, n, w) + b * dt * q(n);
    else
      return detail::stage_value<Dims>(u, n, w);
  }

  struct Row {};
  KOKKOS_INLINE_FUNCTION void operator()(Row, const int r) const {
    const int rows_per_member = g.cells[1] * g.cells[2];
    const int m = r / rows_per_member, row = r % rows_per_member;
    const long base = g.index(0, row % g.cells[1], row / g.cells[1]);
    const double* KOKKOS_RESTRICT u = &in(m, 0);
    const double* KOKKOS_RESTRICT x0 = &u0(m, 0);
    double* KOKKOS_RESTRICT y = &out(m, 0);
    const int nx = g.cells[0];
    const detail::AdrCoefficients c = coef(first + m);
    const detail::StageWeights w = detail::stage_weights(c, Dims, b, dt, share);
    for (int i = 0; i < nx; ++i) {
      const long n = base + i;
      const double next = value(u, n, c, w);
      y[n] = Blend ? a * x0[n] + next : next;
    }
  }

  struct Cell {};
  KOKKOS_INLINE_FUNCTION void operator()(Cell, const long n) const {
    const long per_member = 1L * g.cells[0] * g.cells[1] * g.cells[2];
    const int m = static_cast<int>(n / per_member);
    const long c = n % per_member;
    const int i = static_cast<int>(c % g.cells[0]);
    const int j = static_cast<int>((c / g.cells[0]) % g.cells[1]);
    const int k = static_cast<int>(c / (1L * g.cells[0] * g.cells[1]));
    const long at = g.index(i, j, k);
    const detail::AdrCoefficients& cf = coef(first + m);
    const double next = value(&in(m, 0), at, cf, detail::stage_weights(cf, Dims, b, dt, share));
    out(m, at) = Blend ? a * u0(m, at) + next : next;
  }
};

template <int Dims, bool Blend, Coefficients Mode>
void launch_stage_dims(const StageKernel<Dims, Blend, Mode>& kernel, int members) {
  using K = StageKernel<Dims, Blend, Mode>;
  const LocalGrid& g = kernel.g;
  const char* label = Dims == 2 ? "twin::adr_stage_2d" : "twin::adr_stage_3d";
  if constexpr (detail::host_backend)
    Kokkos::parallel_for(label, Kokkos::RangePolicy<typename K::Row>(0, members * g.cells[1] * g.cells[2]), kernel);
  else
    Kokkos::parallel_for(label, Kokkos::RangePolicy<typename K::Cell>(0, members * g.interior_size()), kernel);
}

template <bool Blend, Coefficients Mode>
void launch_stage(const Field& u0, const Field& in, const Field& out, const LocalGrid& g,
                  const Kokkos::View<detail::AdrCoefficients*>& coef, const PhysicsFields& physics, double a, double b,
                  double dt, double share, int first) {
  const int members = static_cast<int>(in.extent(0));
  if (g.dims == 2)
    launch_stage_dims(StageKernel<2, Blend, Mode>{u0, in, out, g, coef, physics.k_face(), physics.velocity(),
                                                  physics.source(), a, b, dt, share, first},
                      members);
  else
    launch_stage_dims(StageKernel<3, Blend, Mode>{u0, in, out, g, coef, physics.k_face(), physics.velocity(),
                                                  physics.source(), a, b, dt, share, first},
                      members);
}

template <bool Blend>
void launch_stage(Coefficients mode, const Field& u0, const Field& in, const Field& out, const LocalGrid& g,
                  const Kokkos::View<detail::AdrCoefficients*>& coef, const PhysicsFields& physics, double a, double b,
                  double dt, double share, int first) {
  if (mode == Coefficients::arrays)
    launch_stage<Blend, Coefficients::arrays>(u0, in, out, g, coef, physics, a, b, dt, share, first);
  else if (mode == Coefficients::folded_source)
    launch_stage<Blend, Coefficients::folded_source>(u0, in, out, g, coef, physics, a, b, dt, share, first);
  else
    launch_stage<Blend, Coefficients::folded>(u0, in, out, g, coef, physics, a, b, dt, share, first);
}

}  // namespace

void ExplicitSolver::stage(const Field& u0, const Field& in, const Field& out, double a, double b, double dt,
                           double share, int first) {
  fill_ghosts(in, first);
  const Coefficients mode = m_physics.uniform()            ? Coefficients::folded
                           : m_physics.uniform_operator() ? Coefficients::folded_source
                                                          : Coefficients::arrays;
  if (a == 0.0) launch_stage<false>(mode, u0, in, out, grid(), m_coef, m_physics, a, b, dt, share, first);
  else launch_stage<true>(mode, u0, in, out, grid(), m_coef, m_physics, a, b, dt, share, first);
}

void ExplicitSolver::explicit_part(const Field& in, const Field& out, double dt, double implicit_share) {
  stage(in, in, out, 0.0, 1.0, dt, implicit_share);
  Kokkos::fence();
}

void ExplicitSolver::euler_step(const Field& in, const Field& out, double dt) {
  stage(in, in, out, 0.0, 1.0, dt);
  Kokkos::fence();
}

StepReport ExplicitSolver::advance(Field& u, double t0_s, double duration_s) {
  StepReport report;
  const double steps = steps_needed(duration_s, largest_step_s());
  if (!(steps <= max_steps_per_advance)) {
    report.status = SolveStatus::step_limit;
    return report;
  }
  report.steps = static_cast<int>(steps);
  report.dt_s = duration_s / report.steps;
  const double dt = report.dt_s;
  // Members are independent between exchanges, so a block of them can run the whole period
  // before the next block starts: on host backends a block's three fields stay in cache across
  // stages and steps (the whole ensemble streamed 25 MB per stage for 64 members of 128^2 and ran
  // at 0.79x the speed of separate solvers). Each member's arithmetic is the same either way.
  const int block = member_block();
  for (int first = 0; first < m_members; first += block) {
    const auto members = std::make_pair(first, std::min(first + block, m_members));
    const Field ub = Kokkos::subview(u, members, Kokkos::ALL);
    const Field s1 = Kokkos::subview(m_stage1, members, Kokkos::ALL);
    const Field s2 = Kokkos::subview(m_stage2, members, Kokkos::ALL);
    for (int s = 0; s < report.steps; ++s) {
      m_physics.update_source(t0_s + s * dt, m_controls);
      if (m_stages == 2) {
        stage(ub, ub, s1, 0.0, 1.0, dt, 0.0, first);
        stage(ub, s1, ub, 0.5, 0.5, dt, 0.0, first);
      } else {
        stage(ub, ub, s1, 0.0, 1.0, dt, 0.0, first);
        stage(ub, s1, s2, 0.75, 0.25, dt, 0.0, first);
        stage(ub, s2, ub, 1.0 / 3.0, 2.0 / 3.0, dt, 0.0, first);
      }
    }
  }
  Kokkos::fence();
  report.status = health(u);
  return report;
}

TWIN_REGISTER_TYPE(Solver, "ssprk2", [](const SolverConfig& c, const Decomposition& d, int members) {
  return std::make_unique<ExplicitSolver>(c, d, members);
});
TWIN_REGISTER_TYPE(Solver, "ssprk3", [](const SolverConfig& c, const Decomposition& d, int members) {
  return std::make_unique<ExplicitSolver>(c, d, members);
});

}  // namespace twin::solvers
