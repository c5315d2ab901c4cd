// Spatially varying physics: diffusivity regions, a velocity field, fixed and scheduled sources,
// controllable sources, and the named parameters members carry. Each against an exact or
// analytic answer, or against the uniform fast path the same physics must reproduce.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <type_traits>
#include <vector>

#include "common/field_util.hpp"
#include "solvers/explicit_solver.hpp"
#include "solvers/implicit_solver.hpp"
#include "twin/config.hpp"
#include "twin/error.hpp"

namespace {

using namespace twin::solvers;
constexpr double pi = 3.14159265358979323846;

struct Case {
  twin::Config config;
  Decomposition decomposition;
  std::unique_ptr<Solver> solver;
  Field u;
  explicit Case(const std::string& yaml, int members = 1)
      : config(twin::parse_config(yaml)),
        decomposition(config.grid, MPI_COMM_SELF),
        solver(make_solver(SolverConfig::from(config), decomposition, members)),
        u(solver->make_field("u")) {}
  const LocalGrid& grid() const { return solver->grid(); }
  std::vector<double> values(int m = 0) const { return twin::test::interior(u, grid(), m); }
  double mean(int m = 0) const {
    const auto v = values(m);
    return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  }
};

// Two materials in series between two fixed temperatures: piecewise linear with flux
// continuity at the interface, which the harmonic face mean reproduces exactly.
std::string two_layer_slab(const std::string& integrator) {
  return R"(
grid: {cells: [40, 3], extent_m: [1.0, 0.075]}
physics:
  diffusivity_m2_s: 0.01
  diffusivity_regions:
    - {shape: box, center_m: [0.75, 0.0375], size_m: [0.5, 1.0], diffusivity_m2_s: 0.04}
  boundaries:
    default: {type: neumann}
    x_low: {type: dirichlet, value: 0}
    x_high: {type: dirichlet, value: 1}
time: {integrator: )" + integrator + R"(, max_dt_s: 1.0e5}
)";
}

double two_layer_exact(double x) {
  const double k1 = 0.01, k2 = 0.04, interface = k2 / (k1 + k2);  // temperature at x = 0.5
  return x < 0.5 ? interface * x / 0.5 : interface + (1.0 - interface) * (x - 0.5) / 0.5;
}

void expect_two_layer_steady_state(Case& run, double duration, double tolerance) {
  ASSERT_EQ(run.solver->advance(run.u, 0.0, duration).status, SolveStatus::ok);
  const auto v = run.values();
  const LocalGrid& g = run.grid();
  double worst = 0.0;
  for (int j = 0; j < g.cells[1]; ++j)
    for (int i = 0; i < g.cells[0]; ++i)
      worst = std::max(worst, std::abs(v[i + g.cells[0] * j] - two_layer_exact((i + 0.5) * g.dx[0])));
  EXPECT_LT(worst, tolerance);
}

}  // namespace

TEST(Physics, TwoLayerSlabExplicitReachesTheExactSteadyState) {
  Case run(two_layer_slab("ssprk3"));
  expect_two_layer_steady_state(run, 800.0, 1e-9);
}

TEST(Physics, TwoLayerSlabImplicitReachesTheExactSteadyState) {
  Case run(two_layer_slab("backward_euler"));
  expect_two_layer_steady_state(run, 1.0e6, 1e-8);
}

TEST(Physics, VariablePathReproducesTheUniformFastPath) {
  const std::string common = R"(
grid: {cells: [30, 22], extent_m: [1.0, 0.7]}
time: {integrator: ssprk3}
physics:
  velocity_m_s: [0.02, -0.01]
  reaction_per_s: 0.01
  reaction_reference: 290
  source: 0.3
  boundaries:
    default: {type: robin, transfer_m_s: 0.004, value: 280}
    x_low: {type: dirichlet, value: 330}
    y_high: {type: neumann, flux: 0.02}
)";
  // A region with the base diffusivity changes nothing physically but selects the array kernel.
  Case uniform(common + "  diffusivity_m2_s: 1.0e-3\n");
  Case variable(common + "  diffusivity_m2_s: 1.0e-3\n  diffusivity_regions: [{center_m: [0.5, 0.3], size_m: "
                        "[0.2, 0.2], diffusivity_m2_s: 1.0e-3}]\n");
  ASSERT_TRUE(uniform.solver->stable_dt() > 0);
  EXPECT_NEAR(uniform.solver->stable_dt(), variable.solver->stable_dt(), 1e-12 * uniform.solver->stable_dt());
  for (Case* r : {&uniform, &variable}) {
    twin::test::set_interior(r->u, r->grid(), twin::test::bump);
    ASSERT_EQ(r->solver->advance(r->u, 0.0, 40.0).status, SolveStatus::ok);
  }
  const auto a = uniform.values(), b = variable.values();
  for (std::size_t n = 0; n < a.size(); ++n) ASSERT_NEAR(a[n], b[n], 1e-11 * std::abs(a[n])) << "cell " << n;
}

// Sources in a uniform medium (the common heated plate) take the folded-weights kernel with the
// source array added; it must give what the full array kernel gives, in 2D and 3D, for a blended
// stage and an unblended one (SSPRK3 has both), with advection, reaction and a scheduled source.
TEST(Physics, SourcesInAUniformMediumReproduceTheArrayKernel) {
  for (const bool three_d : {false, true}) {
    const std::string grid = three_d ? "grid: {cells: [14, 10, 8], extent_m: [1.0, 0.7, 0.5]}\n"
                                     : "grid: {cells: [30, 22], extent_m: [1.0, 0.7]}\n";
    const std::string at = three_d ? "[0.4, 0.3, 0.25]" : "[0.4, 0.3]", size = three_d ? "[0.1, 0.1, 0.1]" : "[0.1, 0.1]";
    const std::string common = grid + R"(time: {integrator: ssprk3}
physics:
  velocity_m_s: )" + (three_d ? std::string("[0.02, -0.01, 0.01]") : std::string("[0.02, -0.01]")) + R"(
  reaction_per_s: 0.01
  reaction_reference: 290
  source: 0.3
  diffusivity_m2_s: 1.0e-3
  boundaries:
    default: {type: robin, transfer_m_s: 0.004, value: 280}
    x_low: {type: dirichlet, value: 330}
)";
    const std::string burner =
        "  sources: [{name: burner, shape: gaussian, center_m: " + at + ", size_m: " + size + ", rate: 2.0, start_s: 10}]\n";
    Case folded(common + burner);
    Case arrays(common + burner + "  diffusivity_regions: [{center_m: " + at + ", size_m: " + size +
                ", diffusivity_m2_s: 1.0e-3}]\n");
    Case unheated(common);  // no source array at all: the plain folded kernel
    for (Case* r : {&folded, &arrays, &unheated}) {
      twin::test::set_interior(r->u, r->grid(), twin::test::bump);
      for (int period = 0; period < 4; ++period)  // the source switches on during the second
        ASSERT_EQ(r->solver->advance(r->u, 8.0 * period, 8.0).status, SolveStatus::ok);
    }
    const auto a = folded.values(), b = arrays.values(), c = unheated.values();
    double burner_effect = 0.0;
    for (std::size_t n = 0; n < a.size(); ++n) {
      ASSERT_NEAR(a[n], b[n], 1e-11 * std::abs(a[n])) << (three_d ? "3D" : "2D") << " cell " << n;
      burner_effect = std::max(burner_effect, a[n] - c[n]);
    }
    EXPECT_GT(burner_effect, 1.0) << "the burner's source array must reach the field";
  }
}

TEST(Physics, HeaterSteadyStateScalesWithItsControl) {
  // A heater covering the plate, linear cooling, insulated edges: du/dt = p g - r (u - u_ref).
  Case run(R"(
grid: {cells: [8, 6], extent_m: [0.4, 0.3]}
physics:
  reaction_per_s: 0.02
  reaction_reference: 293
  initial_value: 293
  boundaries: {default: {type: neumann}}
controls:
  - {name: H1, shape: box, center_m: [0.2, 0.15], size_m: [1, 1], gain: 0.5, max: 2}
time: {max_dt_s: 0.5}
)");
  const double r = 0.02, g = 0.5, t = 100.0;
  for (double p : {0.0, 0.5, 2.0}) {
    twin::test::set_interior(run.u, run.grid(), [](int, int, int, int) { return 293.0; });
    run.solver->set_controls({p});
    ASSERT_EQ(run.solver->advance(run.u, 0.0, t).status, SolveStatus::ok);
    const double exact = 293.0 + p * g / r * (1.0 - std::exp(-r * t));
    for (double v : run.values()) ASSERT_NEAR(v, exact, 1e-6) << "control " << p;
  }
  EXPECT_THROW(run.solver->set_controls({1.0, 2.0}), twin::Error);
  EXPECT_THROW(run.solver->set_controls({std::nan("")}), twin::Error);
}

TEST(Physics, ScheduledSourceAddsItsHeatOnlyWhileActiveAndVariableDiffusionConserves) {
  // Insulated, no reaction: the mean changes only by what the source adds; the gaussian
  // diffusivity region must not create or destroy anything (conservation to round-off).
  Case run(R"(
grid: {cells: [24, 20], extent_m: [1.2, 1.0]}
physics:
  diffusivity_m2_s: 2.0e-3
  diffusivity_regions: [{shape: gaussian, center_m: [0.4, 0.5], size_m: [0.2, 0.3], diffusivity_m2_s: 8.0e-3}]
  initial_value: 10
  sources:
    - {name: leak, shape: box, center_m: [0.9, 0.3], size_m: [0.2, 0.2], rate: 0.5, start_s: 10, end_s: 30}
  boundaries: {default: {type: neumann}}
)");
  const LocalGrid& g = run.grid();
  twin::test::set_interior(run.u, g, [](int m, int i, int j, int k) { return twin::test::bump(m, i, j, k) - 290.0; });
  // Cells whose centre lies in the box: x in [0.8, 1.0], y in [0.2, 0.4] -> 4 x 4 of 24 x 20.
  const double fraction = 16.0 / (24.0 * 20.0);
  double expected = run.mean();
  const double period = 10.0;
  for (int cycle = 0; cycle < 5; ++cycle) {
    const double t0 = cycle * period;
    ASSERT_EQ(run.solver->advance(run.u, t0, period).status, SolveStatus::ok);
    if (t0 >= 10.0 && t0 < 30.0) expected += 0.5 * fraction * period;
    EXPECT_NEAR(run.mean(), expected, 1e-12 * std::abs(expected)) << "after cycle " << cycle;
  }
}

TEST(Physics, NamedParametersActLikeScaledCoefficients) {
  const std::string body = R"(
  velocity_m_s: [0.01, 0.0]
  reaction_reference: 280
  boundaries:
    default: {type: robin, value: 280, transfer_m_s: TRANSFER}
    x_low: {type: dirichlet, value: 320}
)";
  auto yaml = [&](double k, double r, double h, bool heater) {
    std::string b = body;
    b.replace(b.find("TRANSFER"), 8, std::to_string(h));
    return "grid: {cells: [20, 16], extent_m: [1.0, 0.8]}\ntime: {max_dt_s: 0.05}\nphysics:\n  diffusivity_m2_s: " + std::to_string(k) +
           "\n  reaction_per_s: " + std::to_string(r) + b +
           (heater ? "controls: [{name: H, shape: gaussian, center_m: [0.5, 0.4], size_m: [0.1, 0.1], gain: 2, "
                     "initial: 0.7}]\n"
                   : "");
  };
  for (bool heater : {false, true}) {
    Case ensemble(yaml(1e-3, 0.004, 0.002, heater), 2);
    ensemble.solver->set_parameters({ParameterSet{1.0, 1.0}, ParameterSet{2.0, 0.5}});
    Case scaled(yaml(2e-3, 0.002, 0.001, heater));
    for (Case* r : {&ensemble, &scaled})  // every member from the same state
      twin::test::set_interior(r->u, r->grid(), [](int, int i, int j, int k) { return twin::test::bump(0, i, j, k); });
    ASSERT_EQ(ensemble.solver->advance(ensemble.u, 0.0, 30.0).status, SolveStatus::ok);
    ASSERT_EQ(scaled.solver->advance(scaled.u, 0.0, 30.0).status, SolveStatus::ok);
    // Both take the same steps (max_dt_s is below either stability limit), so the scaled member
    // and the scaled configuration do the same arithmetic.
    const auto a = ensemble.values(1), b = scaled.values(), first = ensemble.values(0);
    EXPECT_LT(twin::test::max_abs_difference(a, b), 1e-10) << (heater ? "array kernel" : "uniform kernel");
    EXPECT_GT(twin::test::max_abs_difference(a, first), 1.0) << "the parameters must change the answer";
  }
  Case run(yaml(1e-3, 0.004, 0.002, false));
  EXPECT_THROW(run.solver->set_parameters({ParameterSet{0.0, 1.0}}), twin::Error);
  EXPECT_THROW(run.solver->set_parameters({ParameterSet{1.0, -1.0}}), twin::Error);
  EXPECT_THROW(run.solver->set_parameters({ParameterSet{1.0, 1.0}, ParameterSet{1.0, 1.0}}), twin::Error);
}

TEST(Physics, VortexRotatesABlobAndLeavesAUniformFieldAlone) {
  const std::string yaml = R"(
grid: {cells: [64, 64], extent_m: [1.0, 1.0]}
physics:
  diffusivity_m2_s: 0.0
  vortex: {center_m: [0.5, 0.5], angular_velocity_rad_s: 0.1}
  boundaries: {default: {type: neumann}}
)";
  Case uniform(yaml);
  twin::test::set_interior(uniform.u, uniform.grid(), [](int, int, int, int) { return 7.0; });
  ASSERT_EQ(uniform.solver->advance(uniform.u, 0.0, 5.0).status, SolveStatus::ok);
  for (double v : uniform.values()) ASSERT_NEAR(v, 7.0, 1e-12);

  Case blob(yaml);
  const LocalGrid& g = blob.grid();
  auto centre = [&](int i, int j) { return std::array<double, 2>{(i + 0.5) * g.dx[0], (j + 0.5) * g.dx[1]}; };
  twin::test::set_interior(blob.u, g, [&](int, int i, int j, int) {
    const auto x = centre(i, j);
    const double dx = x[0] - 0.75, dy = x[1] - 0.5;
    return std::exp(-(dx * dx + dy * dy) / (2 * 0.05 * 0.05));
  });
  const double quarter_turn = 0.5 * pi / 0.1;
  ASSERT_EQ(blob.solver->advance(blob.u, 0.0, quarter_turn).status, SolveStatus::ok);
  const auto v = blob.values();
  double mass = 0.0, mx = 0.0, my = 0.0;
  for (int j = 0; j < g.cells[1]; ++j)
    for (int i = 0; i < g.cells[0]; ++i) {
      const double w = v[i + g.cells[0] * j];
      const auto x = centre(i, j);
      mass += w;
      mx += w * x[0];
      my += w * x[1];
    }
  // Counter-clockwise by a quarter turn: (0.75, 0.5) -> (0.5, 0.75), within two cells.
  EXPECT_NEAR(mx / mass, 0.5, 2.0 * g.dx[0]);
  EXPECT_NEAR(my / mass, 0.75, 2.0 * g.dx[1]);
}

TEST(Physics, ImplicitMembersWithTheirOwnParametersMatchExplicitOnes) {
  const std::string base = R"(
grid: {cells: [24, 18], extent_m: [1.0, 0.75]}
physics:
  diffusivity_m2_s: 2.0e-3
  diffusivity_regions: [{center_m: [0.3, 0.3], size_m: [0.3, 0.3], diffusivity_m2_s: 6.0e-3}]
  reaction_per_s: 0.003
  reaction_reference: 290
  boundaries:
    default: {type: robin, transfer_m_s: 0.003, value: 285}
controls: [{name: H, center_m: [0.7, 0.4], size_m: [0.2, 0.2], gain: 1.5, initial: 1.0}]
)";
  Case explicit_run(base + "time: {integrator: ssprk3, max_dt_s: 0.05}\n", 2);
  Case implicit_run(base + "time: {integrator: crank_nicolson, max_dt_s: 0.05, implicit: {rtol: 1.0e-12}}\n", 2);
  const std::vector<ParameterSet> p{ParameterSet{1.0, 1.0}, ParameterSet{1.3, 0.6}};
  for (Case* r : {&explicit_run, &implicit_run}) {
    r->solver->set_parameters(p);  // (members start from different bumps)
    twin::test::set_interior(r->u, r->grid(), twin::test::bump);
    ASSERT_EQ(r->solver->advance(r->u, 0.0, 20.0).status, SolveStatus::ok);
  }
  for (int m = 0; m < 2; ++m) {
    EXPECT_LT(twin::test::max_abs_difference(explicit_run.values(m), implicit_run.values(m)), 2e-3) << "member " << m;  // both second order in time at dt = 0.05 s
  }
}

// On host backends a large ensemble is advanced in blocks of members, each block through the
// whole period (its fields stay in cache). Every member must come out exactly as a solver of its
// own computes it, on the array kernel (a source that switches on mid-period, a heater) and on
// the uniform one.
TEST(Physics, MembersAdvancedInBlocksEqualSeparateSolvers) {
  // 100^2 cells: blocks of two members ({0, 1}, {2, 3}, {4}). max_dt_s is below every member's
  // stability limit, so all take the same steps.
  const std::string grid = "grid: {cells: [100, 100], extent_m: [0.5, 0.5]}\ntime: {max_dt_s: 0.01}\n";
  const std::string uniform = grid + R"(
physics:
  diffusivity_m2_s: 2.0e-4
  velocity_m_s: [0.002, -0.001]
  reaction_per_s: 1.0e-3
  reaction_reference: 290
  boundaries: {default: {type: robin, transfer_m_s: 1.0e-3, value: 285}, x_low: {type: dirichlet, value: 320}}
)";
  const std::string variable = uniform + R"(  sources:
    - {name: leak, shape: box, center_m: [0.35, 0.25], size_m: [0.1, 0.1], rate: 0.5, start_s: 1.5, end_s: 3.5}
controls: [{name: H, shape: gaussian, center_m: [0.15, 0.25], size_m: [0.08, 0.08], gain: 2, initial: 0.6}]
)";
  const std::vector<ParameterSet> parameters{{1.0, 1.0}, {1.5, 0.5}, {0.7, 2.0}, {1.2, 1.1}, {0.9, 0.8}};
  const int members = static_cast<int>(parameters.size());
  for (const std::string& yaml : {uniform, variable}) {
    Case ensemble(yaml, members);
    const auto& explicit_solver = dynamic_cast<const ExplicitSolver&>(*ensemble.solver);
    if (!std::is_same_v<Kokkos::DefaultExecutionSpace::memory_space, Kokkos::HostSpace>)
      GTEST_SKIP() << "device backends advance every member in one block";
    ASSERT_EQ(explicit_solver.member_block(), 2) << "the blocks this test is written for";
    ensemble.solver->set_parameters(parameters);
    twin::test::set_interior(ensemble.u, ensemble.grid(), twin::test::bump);
    ASSERT_EQ(ensemble.solver->advance(ensemble.u, 0.0, 5.0).status, SolveStatus::ok);
    for (int m = 0; m < members; ++m) {
      Case alone(yaml);
      alone.solver->set_parameters({parameters[static_cast<std::size_t>(m)]});
      twin::test::set_interior(alone.u, alone.grid(), [m](int, int i, int j, int k) { return twin::test::bump(m, i, j, k); });
      ASSERT_EQ(alone.solver->advance(alone.u, 0.0, 5.0).status, SolveStatus::ok);
      EXPECT_EQ(twin::test::max_abs_difference(ensemble.values(m), alone.values()), 0.0) << "member " << m;
    }
    EXPECT_GT(twin::test::max_abs_difference(ensemble.values(0), ensemble.values(1)), 0.01);
  }
}
