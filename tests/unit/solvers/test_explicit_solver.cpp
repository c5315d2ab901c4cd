// The explicit solver against a plain serial reference written out here, conservation, and
// the health status on NaN and blow-up.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <numeric>
#include <vector>

#include "common/field_util.hpp"
#include "solvers/explicit_solver.hpp"
#include "twin/config.hpp"
#include "twin/error.hpp"

namespace {

using twin::solvers::Decomposition;
using twin::solvers::ExplicitSolver;
using twin::solvers::SolverConfig;
using twin::solvers::SolveStatus;

// Plain serial reference: a global array with one ghost layer per active axis.
struct Reference {
  twin::Config c;
  std::array<int, 3> n{1, 1, 1}, p{1, 1, 1};
  std::array<double, 3> dx{1, 1, 1};
  std::vector<double> u;

  explicit Reference(const twin::Config& config) : c(config) {
    for (int d = 0; d < c.dims(); ++d) {
      n[d] = c.grid.cells[d];
      p[d] = n[d] + 2;
      dx[d] = c.grid.extent_m[d] / n[d];
    }
    u.assign(static_cast<std::size_t>(p[0]) * p[1] * p[2], 0.0);
  }
  std::size_t at(int i, int j, int k) const {  // i, j, k are padded coordinates
    return static_cast<std::size_t>(i) + p[0] * (static_cast<std::size_t>(j) + p[1] * static_cast<std::size_t>(k));
  }
  int g(int d) const { return d < c.dims() ? 1 : 0; }

  void walls(std::vector<double>& v) const {
    const double k = c.physics.diffusivity_m2_s;
    for (int f = 0; f < 2 * c.dims(); ++f) {
      const int axis = f / 2, side = f % 2;
      const twin::BoundaryConfig& b = c.physics.boundaries.face(f);
      for (int kk = g(2); kk < g(2) + n[2]; ++kk)
        for (int jj = g(1); jj < g(1) + n[1]; ++jj)
          for (int ii = g(0); ii < g(0) + n[0]; ++ii) {
            std::array<int, 3> q{ii, jj, kk};
            if (q[axis] != (side == 0 ? 1 : n[axis])) continue;
            const double inner = v[at(q[0], q[1], q[2])];
            q[axis] += side == 0 ? -1 : 1;
            double ghost = inner;
            if (b.type == twin::BoundaryType::dirichlet) ghost = 2.0 * b.value - inner;
            if (b.type == twin::BoundaryType::neumann) ghost = inner + b.flux * dx[axis] / k;
            if (b.type == twin::BoundaryType::robin) {
              const double kd = k / dx[axis], h = b.transfer_m_s;
              ghost = ((kd - 0.5 * h) * inner + h * b.value) / (kd + 0.5 * h);
            }
            v[at(q[0], q[1], q[2])] = ghost;
          }
    }
  }

  double rate(const std::vector<double>& v, int i, int j, int k) const {
    const twin::PhysicsConfig& ph = c.physics;
    const double uc = v[at(i, j, k)];
    double r = ph.source - ph.reaction_per_s * (uc - ph.reaction_reference);
    for (int d = 0; d < c.dims(); ++d) {
      std::array<int, 3> lo{i, j, k}, hi{i, j, k};
      lo[d] -= 1;
      hi[d] += 1;
      const double ul = v[at(lo[0], lo[1], lo[2])], uh = v[at(hi[0], hi[1], hi[2])];
      const double vel = ph.velocity_m_s.empty() ? 0.0 : ph.velocity_m_s[d] / dx[d];
      const double kd = ph.diffusivity_m2_s / (dx[d] * dx[d]);
      r += kd * (uh - 2.0 * uc + ul);
      if (vel != 0.0 && std::abs(vel) <= 2.0 * kd)
        r -= vel * (uh - ul) / 2.0;  // hybrid scheme: central up to a cell Peclet number of 2
      else
        r -= vel > 0.0 ? vel * (uc - ul) : vel * (uh - uc);
    }
    return r;
  }

  // out = a u0 + b (in + dt L(in))
  void stage(const std::vector<double>& u0, std::vector<double>& in, std::vector<double>& out, double a, double b,
             double dt) const {
    walls(in);
    for (int kk = g(2); kk < g(2) + n[2]; ++kk)
      for (int jj = g(1); jj < g(1) + n[1]; ++jj)
        for (int ii = g(0); ii < g(0) + n[0]; ++ii) {
          const std::size_t idx = at(ii, jj, kk);
          out[idx] = a * u0[idx] + b * (in[idx] + dt * rate(in, ii, jj, kk));
        }
  }

  void ssprk3(double dt, int steps) {
    std::vector<double> s1 = u, s2 = u;
    for (int s = 0; s < steps; ++s) {
      stage(u, u, s1, 0.0, 1.0, dt);
      stage(u, s1, s2, 0.75, 0.25, dt);
      stage(u, s2, u, 1.0 / 3.0, 2.0 / 3.0, dt);
    }
  }
};

twin::Config config_2d() {
  return twin::parse_config(R"(
grid: {cells: [23, 17], extent_m: [1.0, 0.7]}
physics:
  diffusivity_m2_s: 1.0e-3
  velocity_m_s: [0.02, -0.01]
  reaction_per_s: 0.01
  reaction_reference: 290
  source: 0.5
  boundaries:
    default: {type: robin, transfer_m_s: 0.004, value: 280}
    x_low: {type: dirichlet, value: 330}
    y_high: {type: neumann, flux: 0.02}
time: {integrator: ssprk3, cfl: 0.9}
)");
}

twin::Config config_3d() {
  return twin::parse_config(R"(
grid: {cells: [11, 9, 7], extent_m: [1.0, 0.8, 0.6]}
physics:
  diffusivity_m2_s: 2.0e-3
  velocity_m_s: [-0.01, 0.02, 0.015]
  reaction_per_s: 0.02
  source: 1.0
  boundaries:
    default: {type: neumann, flux: 0.0}
    z_low: {type: dirichlet, value: 250}
    x_high: {type: robin, transfer_m_s: 0.01, value: 300}
)");
}

// The plate of config_2d with a flow fast enough along x (cell Peclet number 8.7) that the hybrid
// scheme differences it upwind there, and centrally along y (0.4).
twin::Config config_2d_fast_flow() {
  twin::Config c = config_2d();
  c.physics.velocity_m_s = {0.2, -0.01};
  return c;
}

void expect_matches_reference(const twin::Config& config) {
  Decomposition dec(config.grid, MPI_COMM_SELF);
  ExplicitSolver solver(SolverConfig::from(config), dec, 1);
  twin::solvers::Field u = solver.make_field("u");
  twin::test::set_interior(u, solver.grid(), twin::test::bump);
  const double duration = 20.0 * solver.stable_dt();
  const auto report = solver.advance(u, 0.0, duration);
  ASSERT_EQ(report.status, SolveStatus::ok);
  ASSERT_GT(report.steps, 20);  // cfl < 1 forces more steps than stable_dt alone would

  Reference ref(config);
  const auto& g = solver.grid();
  for (int k = 0; k < g.cells[2]; ++k)
    for (int j = 0; j < g.cells[1]; ++j)
      for (int i = 0; i < g.cells[0]; ++i)
        ref.u[ref.at(i + 1, j + 1, k + ref.g(2))] = twin::test::bump(0, i, j, k);
  ref.ssprk3(report.dt_s, report.steps);

  const std::vector<double> got = twin::test::interior(u, g);
  std::size_t n = 0;
  double worst = 0.0;
  for (int k = 0; k < g.cells[2]; ++k)
    for (int j = 0; j < g.cells[1]; ++j)
      for (int i = 0; i < g.cells[0]; ++i, ++n)
        worst = std::max(worst, std::abs(got[n] - ref.u[ref.at(i + 1, j + 1, k + ref.g(2))]));
  EXPECT_LT(worst, 1e-10) << "largest difference from the serial reference";
  // The state must actually have changed, or the comparison proves nothing.
  double change = 0.0;
  n = 0;
  for (int k = 0; k < g.cells[2]; ++k)
    for (int j = 0; j < g.cells[1]; ++j)
      for (int i = 0; i < g.cells[0]; ++i, ++n) change = std::max(change, std::abs(got[n] - twin::test::bump(0, i, j, k)));
  EXPECT_GT(change, 0.1);
}

}  // namespace

TEST(ExplicitSolver, MatchesSerialReference2D) { expect_matches_reference(config_2d()); }
TEST(ExplicitSolver, MatchesSerialReference3D) { expect_matches_reference(config_3d()); }
TEST(ExplicitSolver, MatchesSerialReferenceWithUpwindAndCentralAxes) { expect_matches_reference(config_2d_fast_flow()); }

TEST(ExplicitSolver, APeriodBeyondTheStepLimitIsAStatusAndLeavesTheStateAlone) {
  // 10 s in steps of at most 1e-9 s: 1e10 steps, which overflowed the int step count into one
  // huge unstable step. Now a status, the state untouched, and a clear refusal up front.
  twin::Config config = config_2d();
  config.time.max_dt_s = 1e-9;
  Decomposition dec(config.grid, MPI_COMM_SELF);
  ExplicitSolver solver(SolverConfig::from(config), dec, 1);
  twin::solvers::Field u = solver.make_field("u");
  twin::test::set_interior(u, solver.grid(), twin::test::bump);
  const std::vector<double> before = twin::test::interior(u, solver.grid());
  const auto report = solver.advance(u, 0.0, 10.0);
  EXPECT_EQ(report.status, SolveStatus::step_limit);
  EXPECT_EQ(report.steps, 0);
  EXPECT_EQ(twin::test::interior(u, solver.grid()), before);
  EXPECT_EQ(twin::solvers::steps_needed(10.0, 1e-9), 1e10);
  try {
    twin::solvers::require_step_budget(solver, config.time, 10.0, "the twin");
    ADD_FAILURE() << "a period of 1e10 steps was accepted";
  } catch (const twin::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("the twin: one control period (twin.control_period_s 10 s) needs 1e+10 "
                                         "solver steps of at most 1e-09 s"),
              std::string::npos)
        << e.what();
  }
  // A period within the budget passes.
  config.time.max_dt_s = 1e-3;
  ExplicitSolver fine(SolverConfig::from(config), dec, 1);
  EXPECT_NO_THROW(twin::solvers::require_step_budget(fine, config.time, 10.0, "the twin"));
}

TEST(ExplicitSolver, ZeroFluxWallsConserveTheTotal) {
  const twin::Config config = twin::parse_config(R"(
grid: {cells: [32, 20], extent_m: [1.0, 0.6]}
physics: {diffusivity_m2_s: 1.0e-2}
)");
  Decomposition dec(config.grid, MPI_COMM_SELF);
  ExplicitSolver solver(SolverConfig::from(config), dec, 2);
  twin::solvers::Field u = solver.make_field("u");
  twin::test::set_interior(u, solver.grid(), twin::test::bump);
  const auto before = solver.stats(u);
  const auto report = solver.advance(u, 0.0, 5.0);
  ASSERT_EQ(report.status, SolveStatus::ok);
  const auto after = solver.stats(u);
  EXPECT_NEAR(after.mean, before.mean, 1e-12 * before.mean);
  EXPECT_LT(after.max - after.min, 0.5 * (before.max - before.min));  // and it did diffuse
}

TEST(ExplicitSolver, NonFiniteStateIsReported) {
  const twin::Config config = config_2d();
  Decomposition dec(config.grid, MPI_COMM_SELF);
  ExplicitSolver solver(SolverConfig::from(config), dec, 1);
  twin::solvers::Field u = solver.make_field("u");
  EXPECT_EQ(solver.health(u), SolveStatus::ok);
  twin::test::set_interior(u, solver.grid(), [](int, int i, int j, int) { return i == 5 && j == 3 ? std::nan("") : 300.0; });
  EXPECT_EQ(solver.health(u), SolveStatus::non_finite);
  EXPECT_EQ(solver.stats(u).non_finite, 1);
  EXPECT_EQ(solver.advance(u, 0.0, 1.0).status, SolveStatus::non_finite);  // spreads, and is reported, not thrown
}

TEST(ExplicitSolver, BlowUpIsReported) {
  const twin::Config config = config_2d();
  Decomposition dec(config.grid, MPI_COMM_SELF);
  ExplicitSolver solver(SolverConfig::from(config), dec, 1);
  twin::solvers::Field u = solver.make_field("u");
  twin::test::set_interior(u, solver.grid(), [](int, int i, int, int) { return i == 2 ? 1e12 : 300.0; });
  EXPECT_EQ(solver.health(u), SolveStatus::blow_up);
}
