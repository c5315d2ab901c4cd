#include "solvers/explicit_solver.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/check.hpp"
#include "twin/error.hpp"

namespace twin::solvers {

const char* to_string(SolveStatus status) {
  switch (status) {
    case SolveStatus::ok: return "ok";
    case SolveStatus::non_finite: return "non_finite";
    case SolveStatus::blow_up: return "blow_up";
    case SolveStatus::not_converged: return "not_converged";
  }
  return "?";
}

ExplicitSolver::ExplicitSolver(const Config& config, const Decomposition& decomposition, int members)
    : m_decomposition(&decomposition),
      m_members(members),
      m_integrator(config.time.integrator),
      m_cfl(config.time.cfl),
      m_max_dt(config.time.max_dt_s.value_or(std::numeric_limits<double>::infinity())),
      m_initial(config.physics.initial_value),
      m_halo(decomposition, members) {
  TWIN_REQUIRE(members >= 1, Error, "an ensemble needs at least one member");
  const LocalGrid& g = decomposition.local();
  const PhysicsConfig& p = config.physics;
  const double k = p.diffusivity_m2_s;

  double rate_bound = p.reaction_per_s, advection_bound = 0.0;
  double scale = std::max({std::abs(p.initial_value), std::abs(p.reaction_reference), 1.0});
  for (int d = 0; d < g.dims; ++d) {
    const double v = p.velocity_m_s.empty() ? 0.0 : p.velocity_m_s[d];
    m_coefficients.k_over_dx2[d] = k / (g.dx[d] * g.dx[d]);
    m_coefficients.v_pos[d] = std::max(v, 0.0) / g.dx[d];
    m_coefficients.v_neg[d] = std::min(v, 0.0) / g.dx[d];
    m_coefficients.stride[d] = g.stride(d);
    rate_bound += 2.0 * m_coefficients.k_over_dx2[d] + std::abs(v) / g.dx[d];
    advection_bound += std::abs(v) / g.dx[d];
  }
  m_coefficients.reaction = p.reaction_per_s;
  m_coefficients.reference = p.reaction_reference;
  m_coefficients.source = p.source;
  // A forward-Euler stage keeps every weight of the folded stencil non-negative (a maximum
  // principle) when dt * (sum_d (2 k/dx^2 + |v|/dx) + r) <= 1; SSPRK2/3 inherit that bound.
  m_stable_dt = rate_bound > 0.0 ? 1.0 / rate_bound : std::numeric_limits<double>::infinity();
  m_advection_dt = advection_bound > 0.0 ? 1.0 / advection_bound : std::numeric_limits<double>::infinity();

  for (int f = 0; f < 6; ++f) {
    const int axis = f / 2;
    if (axis >= g.dims) continue;
    const BoundaryConfig& b = p.boundaries.face(f);
    detail::WallCondition& w = m_walls[f];
    w.kind = b.type == BoundaryType::dirichlet ? 0 : b.type == BoundaryType::neumann ? 1 : 2;
    w.value = b.value;
    w.flux = b.flux;
    w.transfer = b.transfer_m_s;
    w.dx = g.dx[axis];
    w.k = k;
    w.k_over_dx = k / g.dx[axis];
    scale = std::max(scale, std::abs(b.value));
  }
  if (p.reaction_per_s > 0.0) scale = std::max(scale, std::abs(p.source) / p.reaction_per_s);
  m_blow_up_bound = 1.0e6 * scale;

  m_stage1 = Field(Kokkos::ViewAllocateWithoutInitializing("twin::stage1"), members, g.padded_size());
  m_stage2 = Field(Kokkos::ViewAllocateWithoutInitializing("twin::stage2"), members, g.padded_size());
}

Field ExplicitSolver::make_field(const std::string& name) const {
  Field u(Kokkos::ViewAllocateWithoutInitializing(name), m_members, grid().padded_size());
  Kokkos::deep_copy(u, m_initial);
  return u;
}

void ExplicitSolver::apply_walls(const Field& u) {
  const LocalGrid g = grid();
  for (int f = 0; f < 2 * g.dims; ++f) {
    const int axis = f / 2, side = f % 2;
    if (m_decomposition->neighbor(axis, side) != MPI_PROC_NULL) continue;
    const long nf = face_cells(g, axis);
    const detail::WallCondition w = m_walls[f];
    const long step = side == 0 ? -g.stride(axis) : g.stride(axis);
    const int layer = side == 0 ? g.ghost[axis] : g.ghost[axis] + g.cells[axis] - 1;
    Kokkos::parallel_for(
        "twin::wall_ghosts", Kokkos::RangePolicy<>(0, nf * m_members), KOKKOS_LAMBDA(const long n) {
          const long m = n / nf;
          const long inner = g.face_index(axis, layer, n % nf);
          u(m, inner + step) = detail::ghost_value(u(m, inner), w);
        });
  }
}

void ExplicitSolver::fill_ghosts(const Field& u) {
  m_halo.exchange(u);
  apply_walls(u);
  Kokkos::fence();
}

namespace {

// out = a * u0 + b * (in + dt * L(in)). Blend = false is the a = 0 stage, which skips reading
// u0: a third less memory traffic. On host backends one work item is a grid row, so the inner
// loop is contiguous and vectorises; on devices one work item is one cell.
template <int Dims, bool Blend>
struct StageKernel {
  Field u0, in, out;
  LocalGrid g;
  detail::StageWeights w;
  double a;

  KOKKOS_INLINE_FUNCTION void cell(const double* KOKKOS_RESTRICT u, const double* KOKKOS_RESTRICT x0,
                                   double* KOKKOS_RESTRICT y, long c) const {
    const double next = detail::stage_value<Dims>(u, c, w);
    y[c] = Blend ? a * x0[c] + next : next;
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
    for (int i = 0; i < nx; ++i) cell(u, x0, y, base + i);
  }

  struct Cell {};
  KOKKOS_INLINE_FUNCTION void operator()(Cell, const long n) const {
    const long per_member = 1L * g.cells[0] * g.cells[1] * g.cells[2];
    const int m = static_cast<int>(n / per_member);
    const long c = n % per_member;
    const int i = static_cast<int>(c % g.cells[0]);
    const int j = static_cast<int>((c / g.cells[0]) % g.cells[1]);
    const int k = static_cast<int>(c / (1L * g.cells[0] * g.cells[1]));
    cell(&in(m, 0), &u0(m, 0), &out(m, 0), g.index(i, j, k));
  }
};

constexpr bool host_backend =
    std::is_same_v<Kokkos::DefaultExecutionSpace::memory_space, Kokkos::HostSpace>;

template <int Dims, bool Blend>
void launch_stage_dims(const StageKernel<Dims, Blend>& kernel, int members) {
  using K = StageKernel<Dims, Blend>;
  const LocalGrid& g = kernel.g;
  const char* label = Dims == 2 ? "twin::adr_stage_2d" : "twin::adr_stage_3d";
  if constexpr (host_backend)
    Kokkos::parallel_for(label, Kokkos::RangePolicy<typename K::Row>(0, members * g.cells[1] * g.cells[2]), kernel);
  else
    Kokkos::parallel_for(label, Kokkos::RangePolicy<typename K::Cell>(0, members * g.interior_size()), kernel);
}

template <bool Blend>
void launch_stage(const Field& u0, const Field& in, const Field& out, const LocalGrid& g,
                  const detail::AdrCoefficients& coef, double a, double b, double dt, int members) {
  const detail::StageWeights w = detail::stage_weights(coef, g.dims, b, dt);
  if (g.dims == 2)
    launch_stage_dims(StageKernel<2, Blend>{u0, in, out, g, w, a}, members);
  else
    launch_stage_dims(StageKernel<3, Blend>{u0, in, out, g, w, a}, members);
}

}  // namespace

void ExplicitSolver::stage(const Field& u0, const Field& in, const Field& out, double a, double b, double dt) {
  fill_ghosts(in);
  if (a == 0.0)
    launch_stage<false>(u0, in, out, grid(), m_coefficients, a, b, dt, m_members);
  else
    launch_stage<true>(u0, in, out, grid(), m_coefficients, a, b, dt, m_members);
}

void ExplicitSolver::apply_weights(const Field& in, const Field& out, const detail::StageWeights& weights) {
  fill_ghosts(in);
  const LocalGrid& g = grid();
  if (g.dims == 2)
    launch_stage_dims(StageKernel<2, false>{in, in, out, g, weights, 0.0}, m_members);
  else
    launch_stage_dims(StageKernel<3, false>{in, in, out, g, weights, 0.0}, m_members);
}

void ExplicitSolver::euler_step(const Field& in, const Field& out, double dt) {
  stage(in, in, out, 0.0, 1.0, dt);
  Kokkos::fence();
}

StepReport ExplicitSolver::advance(Field& u, double duration_s) {
  StepReport report;
  const double dt_max = std::min(m_cfl * m_stable_dt, m_max_dt);
  report.steps = std::max(1, static_cast<int>(std::ceil(duration_s / dt_max - 1e-12)));
  report.dt_s = duration_s / report.steps;
  const double dt = report.dt_s;
  for (int s = 0; s < report.steps; ++s) {
    if (m_integrator == Integrator::ssprk2) {
      stage(u, u, m_stage1, 0.0, 1.0, dt);
      stage(u, m_stage1, u, 0.5, 0.5, dt);
    } else {
      stage(u, u, m_stage1, 0.0, 1.0, dt);
      stage(u, m_stage1, m_stage2, 0.75, 0.25, dt);
      stage(u, m_stage2, u, 1.0 / 3.0, 2.0 / 3.0, dt);
    }
  }
  Kokkos::fence();
  report.status = health(u);
  return report;
}

namespace {

// min, max, sum of finite values and count of non-finite ones, in one pass.
struct Tally {
  double min, max, sum, non_finite;
};

struct TallyReducer {
  using reducer = TallyReducer;
  using value_type = Tally;
  using result_view_type = Kokkos::View<Tally, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>;
  result_view_type result;

  explicit TallyReducer(Tally& t) : result(&t) {}
  KOKKOS_INLINE_FUNCTION void join(Tally& dst, const Tally& src) const {
    if (src.min < dst.min) dst.min = src.min;
    if (src.max > dst.max) dst.max = src.max;
    dst.sum += src.sum;
    dst.non_finite += src.non_finite;
  }
  KOKKOS_INLINE_FUNCTION void join(volatile Tally& dst, const volatile Tally& src) const {
    if (src.min < dst.min) dst.min = src.min;
    if (src.max > dst.max) dst.max = src.max;
    dst.sum += src.sum;
    dst.non_finite += src.non_finite;
  }
  KOKKOS_INLINE_FUNCTION void init(Tally& t) const {
    t.min = Kokkos::reduction_identity<double>::min();
    t.max = Kokkos::reduction_identity<double>::max();
    t.sum = 0.0;
    t.non_finite = 0.0;
  }
  KOKKOS_INLINE_FUNCTION Tally& reference() const { return *result.data(); }
  KOKKOS_INLINE_FUNCTION result_view_type view() const { return result; }
  KOKKOS_INLINE_FUNCTION bool references_scalar() const { return true; }
};

}  // namespace

FieldStats ExplicitSolver::stats(const Field& u) const {
  const LocalGrid g = grid();
  const long n_int = g.interior_size();
  Tally local{};
  Kokkos::parallel_reduce(
      "twin::field_stats", Kokkos::RangePolicy<>(0, n_int * m_members),
      KOKKOS_LAMBDA(const long n, Tally& acc) {
        const long m = n / n_int, c = n % n_int;
        const int i = static_cast<int>(c % g.cells[0]);
        const int j = static_cast<int>((c / g.cells[0]) % g.cells[1]);
        const int k = static_cast<int>(c / (1L * g.cells[0] * g.cells[1]));
        const double v = u(m, g.index(i, j, k));
        if (!detail::is_finite(v)) {
          acc.non_finite += 1.0;
          return;
        }
        if (v < acc.min) acc.min = v;
        if (v > acc.max) acc.max = v;
        acc.sum += v;
      },
      TallyReducer(local));

  // Two reductions: {min, -max} with MPI_MIN, {sum, non-finite, cells} with MPI_SUM.
  const MPI_Comm comm = m_decomposition->comm();
  double extremes[2] = {local.min, -local.max}, global_extremes[2] = {0, 0};
  double totals[3] = {local.sum, local.non_finite, static_cast<double>(n_int * m_members)}, global_totals[3] = {0, 0, 0};
  TWIN_MPI_CHECK(MPI_Allreduce(extremes, global_extremes, 2, MPI_DOUBLE, MPI_MIN, comm));
  TWIN_MPI_CHECK(MPI_Allreduce(totals, global_totals, 3, MPI_DOUBLE, MPI_SUM, comm));
  FieldStats s;
  s.min = global_extremes[0];
  s.max = -global_extremes[1];
  s.non_finite = static_cast<long>(global_totals[1]);
  s.mean = global_totals[0] / std::max(1.0, global_totals[2] - global_totals[1]);
  return s;
}

SolveStatus ExplicitSolver::health(const Field& u) const {
  const FieldStats s = stats(u);
  if (s.non_finite > 0) return SolveStatus::non_finite;
  if (std::max(std::abs(s.min), std::abs(s.max)) > m_blow_up_bound) return SolveStatus::blow_up;
  return SolveStatus::ok;
}

}  // namespace twin::solvers
