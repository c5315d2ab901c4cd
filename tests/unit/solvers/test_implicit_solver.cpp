// The PETSc implicit path: Crank-Nicolson convergence, the Robin-cooled heated plate against its
// analytic steady state, agreement with the explicit solver, and a failing KSP as a status.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <vector>

#include <petscsys.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "common/field_util.hpp"
#include "solvers/explicit_solver.hpp"
#include "solvers/implicit_solver.hpp"
#include "twin/config.hpp"

namespace {

constexpr double pi = 3.14159265358979323846;
using twin::solvers::SolveStatus;

struct Outcome {
  std::vector<double> values;
  twin::solvers::StepReport report;
  twin::solvers::LocalGrid grid;
};

Outcome run(const std::string& yaml, double duration, const std::function<double(double, double)>& initial) {
  const twin::Config config = twin::parse_config(yaml);
  twin::solvers::Decomposition dec(config.grid, MPI_COMM_SELF);
  auto solver = twin::solvers::make_solver(twin::solvers::SolverConfig::from(config), dec, 1);
  const auto& g = solver->grid();
  auto u = solver->make_field("u");
  twin::test::set_interior(u, g, [&](int, int i, int j, int) { return initial((i + 0.5) * g.dx[0], (j + 0.5) * g.dx[1]); });
  Outcome r;
  r.report = solver->advance(u, 0.0, duration);
  r.values = twin::test::interior(u, g);
  r.grid = g;
  return r;
}

double rms(const Outcome& r, const std::function<double(double, double)>& exact) {
  double sum = 0.0;
  std::size_t n = 0;
  for (int j = 0; j < r.grid.cells[1]; ++j)
    for (int i = 0; i < r.grid.cells[0]; ++i, ++n) {
      const double e = r.values[n] - exact((i + 0.5) * r.grid.dx[0], (j + 0.5) * r.grid.dx[1]);
      sum += e * e;
    }
  return std::sqrt(sum / static_cast<double>(n));
}

}  // namespace

TEST(ImplicitSolver, CrankNicolsonIsSecondOrderWithDtProportionalToDx) {
  const double k = 0.05, t = 1.0;
  auto exact = [&](double x, double y) { return std::exp(-2.0 * k * pi * pi * t) * std::sin(pi * x) * std::sin(pi * y); };
  std::vector<double> errors;
  for (int n : {16, 32, 64}) {
    const std::string yaml = "grid: {cells: [" + std::to_string(n) + ", " + std::to_string(n) +
                             "], extent_m: [1, 1]}\nphysics: {diffusivity_m2_s: 0.05, boundaries: {default: {type: "
                             "dirichlet, value: 0}}}\ntime: {integrator: crank_nicolson, max_dt_s: " +
                             std::to_string(2.0 / n) + "}\n";
    const Outcome r = run(yaml, t, [](double x, double y) { return std::sin(pi * x) * std::sin(pi * y); });
    ASSERT_EQ(r.report.status, SolveStatus::ok);
    EXPECT_GT(r.report.linear_iterations, 0);
    errors.push_back(rms(r, exact));
  }
  const double p1 = std::log2(errors[0] / errors[1]), p2 = std::log2(errors[1] / errors[2]);
  std::printf("  measured orders: %f %f\n", p1, p2);
  EXPECT_GE(p1, 1.9);
  EXPECT_GE(p2, 1.9);
}

// A plate heated uniformly (source s), cooled at x = 0 and x = L through Robin walls (h, T_a),
// insulated in y. Steady state: u(x) = T_a + s L / (2 h) + s / (2 k) ((L/2)^2 - (x - L/2)^2).
TEST(ImplicitSolver, RobinCooledHeatedPlateReachesTheAnalyticSteadyState) {
  const double k = 1e-4, s = 0.01, h = 2e-4, ta = 293.15, length = 0.4;
  auto exact = [&](double x, double) {
    return ta + s * length / (2 * h) + s / (2 * k) * (length * length / 4 - (x - length / 2) * (x - length / 2));
  };
  std::vector<double> errors;
  for (int n : {16, 32, 64}) {
    const std::string yaml = "grid: {cells: [" + std::to_string(n) +
                             ", 4], extent_m: [0.4, 0.1]}\nphysics:\n  diffusivity_m2_s: 1e-4\n  source: 0.01\n"
                             "  initial_value: 293.15\n  boundaries:\n    default: {type: neumann}\n"
                             "    x_low: {type: robin, transfer_m_s: 2e-4, value: 293.15}\n"
                             "    x_high: {type: robin, transfer_m_s: 2e-4, value: 293.15}\n"
                             "time: {integrator: backward_euler, max_dt_s: 1.0e6, implicit: {rtol: 1.0e-13}}\n";
    const Outcome r = run(yaml, 3.0e7, [&](double, double) { return ta; });
    ASSERT_EQ(r.report.status, SolveStatus::ok);
    errors.push_back(rms(r, exact));
  }
  const double p1 = std::log2(errors[0] / errors[1]), p2 = std::log2(errors[1] / errors[2]);
  std::printf("  steady-state errors %g %g %g, orders %f %f\n", errors[0], errors[1], errors[2], p1, p2);
  EXPECT_LT(errors[2], 1e-3 * exact(length / 2, 0) - 1e-3 * ta);
  EXPECT_GE(p1, 1.9);
  EXPECT_GE(p2, 1.9);
}

TEST(ImplicitSolver, AgreesWithExplicitSolverAtSmallSteps) {
  const std::string physics = R"(
grid: {cells: [40, 30], extent_m: [1.0, 0.75]}
physics:
  diffusivity_m2_s: 1.0e-3
  velocity_m_s: [0.01, -0.005]
  reaction_per_s: 0.02
  reaction_reference: 290
  source: 0.3
  initial_value: 300
  boundaries:
    default: {type: robin, transfer_m_s: 0.003, value: 285}
    x_low: {type: dirichlet, value: 320}
    y_high: {type: neumann, flux: 0.01}
)";
  auto initial = [](double x, double y) { return 300.0 + 5.0 * std::sin(3 * x) * std::cos(2 * y); };
  const Outcome ex = run(physics + "time: {integrator: ssprk3}\n", 20.0, initial);
  const Outcome cn = run(physics + "time: {integrator: crank_nicolson, max_dt_s: 0.05}\n", 20.0, initial);
  const Outcome be = run(physics + "time: {integrator: backward_euler, max_dt_s: 0.05}\n", 20.0, initial);
  ASSERT_EQ(ex.report.status, SolveStatus::ok);
  ASSERT_EQ(cn.report.status, SolveStatus::ok);
  ASSERT_EQ(be.report.status, SolveStatus::ok);
  double worst_cn = 0, worst_be = 0, change = 0;
  for (std::size_t n = 0; n < ex.values.size(); ++n) {
    worst_cn = std::max(worst_cn, std::abs(cn.values[n] - ex.values[n]));
    worst_be = std::max(worst_be, std::abs(be.values[n] - ex.values[n]));
    change = std::max(change, std::abs(ex.values[n] - 300.0));
  }
  EXPECT_GT(change, 1.0);          // the state moved...
  EXPECT_LT(worst_cn, 0.02);       // ...and the schemes agree to their time error
  EXPECT_LT(worst_be, 0.05);
}

TEST(ImplicitSolver, CentralAdvectionStaysStableAtTheAdvectiveStepLimit) {
  // Cell Peclet number 1.9 (the hybrid scheme differences centrally, explicitly) with backward
  // Euler's implicit diffusion at the largest step the solver takes (cfl 1: dt = dx / v), from
  // rough initial values that hold every mode: no mode may grow (docs/architecture.md).
  const std::string yaml = R"(
grid: {cells: [64, 8], extent_m: [1.0, 0.125]}
physics: {diffusivity_m2_s: 0.004, velocity_m_s: [0.4864, 0.0], initial_value: 300}
time: {integrator: backward_euler, cfl: 1.0, max_dt_s: 10.0}
)";
  const auto rough = [](double x, double y) {
    const double h = std::sin(12.9898 * x * 64 + 78.233 * y * 64) * 43758.5453;
    return 300.0 + (h - std::floor(h) - 0.5);
  };
  const auto spread = [](const std::vector<double>& v) {
    double mean = 0.0, sum = 0.0;
    for (double x : v) mean += x / static_cast<double>(v.size());
    for (double x : v) sum += (x - mean) * (x - mean);
    return std::sqrt(sum / static_cast<double>(v.size()));
  };
  const Outcome start = run(yaml, 1e-12, rough);
  const Outcome end = run(yaml, 20.0, rough);
  ASSERT_EQ(end.report.status, SolveStatus::ok);
  EXPECT_GE(end.report.steps, 600);  // dt = dx / v = 0.032 s
  EXPECT_GT(spread(start.values), 0.2);
  EXPECT_LT(spread(end.values), spread(start.values));
  for (double v : end.values) ASSERT_TRUE(std::isfinite(v) && std::abs(v - 300.0) < 0.5) << v;
}

TEST(ImplicitSolver, FailingKspIsAStatusNotAnAbort) {
  const std::string yaml = R"(
grid: {cells: [32, 32], extent_m: [1, 1]}
physics: {diffusivity_m2_s: 1.0, initial_value: 1, boundaries: {default: {type: dirichlet, value: 0}}}
time: {integrator: backward_euler, implicit: {ksp_type: cg, pc_type: none, rtol: 1.0e-12, max_iterations: 2}}
)";
  const Outcome r = run(yaml, 1.0, [](double x, double y) { return std::sin(7 * x) * std::cos(5 * y); });
  EXPECT_EQ(r.report.status, SolveStatus::not_converged);
  EXPECT_EQ(r.report.linear_iterations, 2);
}

// The default preconditioner, geometric multigrid on the cell-centred grid: with a step far
// beyond the explicit limit (dt k / dx^2 from 16 to 4096) CG needs about as many iterations on
// 256^2 cells as on 32^2, and the solution is the one Jacobi-preconditioned CG finds.
TEST(ImplicitSolver, MultigridIterationsStayFlatAsTheGridIsRefined) {
  auto yaml = [](int n, const std::string& pc, const std::string& rtol) {
    return "grid: {cells: [" + std::to_string(n) + ", " + std::to_string(n) +
           "], extent_m: [1, 1]}\nphysics: {diffusivity_m2_s: 1.0e-3, reaction_per_s: 1.0e-3, source: 1.0,\n"
           "  initial_value: 300, boundaries: {default: {type: robin, transfer_m_s: 1.0e-2, value: 290},\n"
           "  x_low: {type: dirichlet, value: 350}}}\ntime: {integrator: backward_euler, max_dt_s: 16.0,\n"
           "  implicit: {pc_type: " + pc + ", rtol: " + rtol + ", max_iterations: 5000}}\n";
  };
  auto initial = [](double x, double y) { return 300.0 + 20.0 * std::sin(5 * x) * std::cos(3 * y); };
  std::vector<double> per_step;
  for (int n : {32, 64, 128, 256}) {
    const Outcome r = run(yaml(n, "mg", "1.0e-8"), 64.0, initial);
    ASSERT_EQ(r.report.status, SolveStatus::ok) << n;
    per_step.push_back(static_cast<double>(r.report.linear_iterations) / r.report.steps);
  }
  std::printf("  CG iterations per step, 32^2 .. 256^2: %g %g %g %g\n", per_step[0], per_step[1], per_step[2], per_step[3]);
  for (double its : per_step) EXPECT_LE(its, 6.0);
  EXPECT_LE(*std::max_element(per_step.begin(), per_step.end()) - *std::min_element(per_step.begin(), per_step.end()), 1.5);

  const Outcome mg = run(yaml(64, "mg", "1.0e-12"), 64.0, initial);
  const Outcome jacobi = run(yaml(64, "jacobi", "1.0e-12"), 64.0, initial);
  ASSERT_EQ(jacobi.report.status, SolveStatus::ok);
  EXPECT_GT(jacobi.report.linear_iterations, 4 * mg.report.linear_iterations);
  double worst = 0;
  for (std::size_t n = 0; n < mg.values.size(); ++n) worst = std::max(worst, std::abs(mg.values[n] - jacobi.values[n]));
  EXPECT_LT(worst, 1e-7);
}

// The same in 3D, on a grid whose axes halve a different number of times (24 = 2^3 * 3, 20 =
// 2^2 * 5, 16 = 2^4): the hierarchy halves the axes it can and stops at the coarsest it can.
TEST(ImplicitSolver, MultigridOnUnevenThreeDimensionalGrid) {
  auto yaml = [](const std::string& pc) {
    return "grid: {cells: [24, 20, 16], extent_m: [1.2, 1.0, 0.8]}\nphysics: {diffusivity_m2_s: 1.0e-2,\n"
           "  boundaries: {default: {type: neumann}, z_low: {type: dirichlet, value: 250},\n"
           "  x_high: {type: robin, transfer_m_s: 0.01, value: 300}}}\ntime: {integrator: crank_nicolson,\n"
           "  max_dt_s: 4.0, implicit: {pc_type: " + pc + ", rtol: 1.0e-12, max_iterations: 5000}}\n";
  };
  auto initial = [](double x, double y) { return 280.0 + 10.0 * std::cos(4 * x) * std::sin(2 * y); };
  const Outcome mg = run(yaml("mg"), 20.0, initial);
  const Outcome jacobi = run(yaml("jacobi"), 20.0, initial);
  ASSERT_EQ(mg.report.status, SolveStatus::ok);
  ASSERT_EQ(jacobi.report.status, SolveStatus::ok);
  EXPECT_LT(mg.report.linear_iterations, jacobi.report.linear_iterations);
  double worst = 0;
  for (std::size_t n = 0; n < mg.values.size(); ++n) worst = std::max(worst, std::abs(mg.values[n] - jacobi.values[n]));
  EXPECT_LT(worst, 1e-7);
}

// Where the grid does not coarsen (odd cell counts: one level of 101 x 99 cells), a direct
// coarse solve of the whole grid would be the preconditioner: the solver takes gamg instead and
// says so. A grid that coarsens gets its levels.
TEST(ImplicitSolver, MultigridFallsBackToGamgWhereTheGridDoesNotCoarsen) {
  auto config = [](int nx, int ny) {
    return twin::parse_config("grid: {cells: [" + std::to_string(nx) + ", " + std::to_string(ny) +
                              "], extent_m: [1, 1]}\nphysics: {diffusivity_m2_s: 1.0e-3, boundaries: {default: "
                              "{type: dirichlet, value: 0}}}\ntime: {integrator: backward_euler, max_dt_s: 10}\n");
  };
  const twin::Config odd = config(101, 99), even = config(128, 96);
  twin::solvers::Decomposition odd_dec(odd.grid, MPI_COMM_SELF), even_dec(even.grid, MPI_COMM_SELF);
  twin::solvers::ImplicitSolver fallback(twin::solvers::SolverConfig::from(odd), odd_dec, 1),
      multigrid(twin::solvers::SolverConfig::from(even), even_dec, 1);
  EXPECT_EQ(fallback.preconditioner(), "gamg");
  EXPECT_EQ(fallback.multigrid_levels(), 0);
  EXPECT_EQ(multigrid.preconditioner(), "mg");
  EXPECT_EQ(multigrid.multigrid_levels(), 5);  // 128x96, 64x48, 32x24, 16x12, 8x6 (48 cells)
  auto u = fallback.make_field("u");
  twin::test::set_interior(u, fallback.grid(), [](int, int i, int j, int) { return std::sin(0.1 * i) * std::cos(0.07 * j); });
  const auto report = fallback.advance(u, 0.0, 10.0);
  EXPECT_EQ(report.status, SolveStatus::ok);
  EXPECT_LT(report.linear_iterations, 30);
}

// time.implicit.petsc_options goes to PETSc's options database, which takes any name: a
// misspelt option was accepted without a word and did nothing. After the first solve the solver
// names each option PETSc has not used; one it used is not named.
TEST(ImplicitSolver, AnOptionPetscDidNotUseIsNamedInTheLog) {
  const std::string yaml = R"(
grid: {cells: [16, 16], extent_m: [1, 1]}
physics: {diffusivity_m2_s: 1.0, initial_value: 1, boundaries: {default: {type: dirichlet, value: 0}}}
time: {integrator: backward_euler, implicit: {ksp_type: cg, pc_type: jacobi, petsc_options: "-ksp_max_it 500 -ksp_monitr_twin_test 3"}}
)";
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  const Outcome r = run(yaml, 1.0, [](double x, double y) { return std::sin(3 * x) * std::cos(2 * y); });
  spdlog::set_default_logger(previous);
  // The options database outlives the solver: leave it as the other tests expect it.
  PetscOptionsClearValue(nullptr, "-ksp_max_it");
  PetscOptionsClearValue(nullptr, "-ksp_monitr_twin_test");
  EXPECT_EQ(r.report.status, SolveStatus::ok);
  EXPECT_NE(log.str().find("time.implicit.petsc_options: PETSc did not use '-ksp_monitr_twin_test'"), std::string::npos)
      << log.str();
  EXPECT_EQ(log.str().find("-ksp_max_it"), std::string::npos) << log.str();
}

// More multigrid levels than the grid gives (128x96 coarsens to 8x6 in 5 levels) were used as
// the grid allows without a word; the solver now says how many it uses.
TEST(ImplicitSolver, MoreMultigridLevelsThanTheGridGivesAreNamedInTheLog) {
  const twin::Config config = twin::parse_config(
      "grid: {cells: [128, 96], extent_m: [1, 1]}\nphysics: {diffusivity_m2_s: 1.0e-3, boundaries: {default: "
      "{type: dirichlet, value: 0}}}\ntime: {integrator: backward_euler, max_dt_s: 10, implicit: {pc_type: mg, "
      "mg_levels: 9}}\n");
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  twin::solvers::Decomposition dec(config.grid, MPI_COMM_SELF);
  twin::solvers::ImplicitSolver solver(twin::solvers::SolverConfig::from(config), dec, 1);
  spdlog::set_default_logger(previous);
  EXPECT_EQ(solver.multigrid_levels(), 5);
  EXPECT_NE(log.str().find("time.implicit.mg_levels 9: the grid gives only 5 levels"), std::string::npos) << log.str();
}
