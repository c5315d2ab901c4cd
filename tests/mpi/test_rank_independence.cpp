// The decomposed solvers against the same problem on one rank (ctest runs this at 2 and 4 ranks;
// on one rank it would compare a run with itself, so it refuses to): explicit results
// bit-identical, implicit ones to the KSP tolerance.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/field_util.hpp"
#include "ground/mpi.hpp"
#include "solvers/solver.hpp"
#include "twin/config.hpp"

namespace {

using namespace twin::solvers;

constexpr const char* one_rank = "on one rank the decomposed run is the serial run: run this under mpirun -n 2 or 4";

// A solver over `comm` whose state starts from the bump (test::bump) at global cells.
struct BumpRun {
  Decomposition decomposition;
  std::unique_ptr<Solver> solver;
  Field u;
  BumpRun(const twin::Config& config, MPI_Comm comm, int members)
      : decomposition(config.grid, comm), solver(make_solver(SolverConfig::from(config), decomposition, members)) {
    u = solver->make_field("bump");
    twin::test::set_interior(u, solver->grid(), twin::test::bump);
  }
};

// Every member of the decomposed run equals the one-rank run, bit for bit, at this rank's cells.
void expect_same_members(const BumpRun& whole, const BumpRun& split, int members) {
  const LocalGrid& gl = split.solver->grid();
  const LocalGrid& gs = whole.solver->grid();
  for (int m = 0; m < members; ++m) {
    const auto expected = twin::test::at_block(twin::test::interior(whole.u, gs, m), gs, gl);
    const auto mine = twin::test::interior(split.u, gl, m);
    std::size_t mismatches = 0;
    for (std::size_t n = 0; n < mine.size(); ++n) mismatches += mine[n] != expected[n] ? 1 : 0;
    const auto& pg = split.decomposition.process_grid();
    EXPECT_EQ(mismatches, 0u) << "member " << m << " on a " << pg[0] << "x" << pg[1] << "x" << pg[2] << " process grid";
  }
}

void expect_rank_independent(const std::string& yaml, int members) {
  ASSERT_GT(twin::world_size(), 1) << one_rank;
  const twin::Config config = twin::parse_config(yaml);
  BumpRun whole(config, MPI_COMM_SELF, members), split(config, MPI_COMM_WORLD, members);
  Solver &serial = *whole.solver, &parallel = *split.solver;
  Field &us = whole.u, &up = split.u;

  const double duration = 15.0 * serial.stable_dt();
  const StepReport rs = serial.advance(us, 0.0, duration);
  const StepReport rp = parallel.advance(up, 0.0, duration);
  ASSERT_EQ(rs.status, SolveStatus::ok);
  ASSERT_EQ(rp.status, SolveStatus::ok);
  ASSERT_EQ(rs.steps, rp.steps);

  expect_same_members(whole, split, members);
  // Collective statistics agree too.
  const FieldStats a = serial.stats(us), b = parallel.stats(up);
  EXPECT_EQ(a.min, b.min);
  EXPECT_EQ(a.max, b.max);
  EXPECT_NEAR(a.mean, b.mean, 1e-12 * std::abs(a.mean));
}

}  // namespace

TEST(RankIndependence, Explicit2D) {
  expect_rank_independent(R"(
grid: {cells: [37, 26], extent_m: [1.0, 0.7]}
physics:
  diffusivity_m2_s: 1.0e-3
  velocity_m_s: [0.02, -0.03]
  reaction_per_s: 0.01
  source: 0.2
  boundaries:
    default: {type: robin, transfer_m_s: 0.004, value: 280}
    x_low: {type: dirichlet, value: 330}
    y_high: {type: neumann, flux: 0.02}
)", 1);
}

TEST(RankIndependence, Explicit3DEnsemble) {
  expect_rank_independent(R"(
grid: {cells: [13, 10, 9], extent_m: [1.0, 0.8, 0.6]}
physics:
  diffusivity_m2_s: 2.0e-3
  velocity_m_s: [-0.01, 0.02, 0.015]
  boundaries:
    default: {type: neumann}
    z_low: {type: dirichlet, value: 250}
    x_high: {type: robin, transfer_m_s: 0.01, value: 300}
)", 3);
}

// Large enough that members go through the period in blocks (ExplicitSolver::member_block). On
// two ranks the halves (99 and 98 columns) fit one and two members in 512 KiB: the ranks must
// still agree on one block size, or their halo messages no longer match.
TEST(RankIndependence, ExplicitEnsembleAdvancedInMemberBlocks) {
  expect_rank_independent(R"(
grid: {cells: [197, 107], extent_m: [1.0, 0.55]}
physics:
  diffusivity_m2_s: 1.0e-4
  velocity_m_s: [0.01, -0.005]
  boundaries:
    default: {type: robin, transfer_m_s: 0.004, value: 280}
    x_low: {type: dirichlet, value: 330}
)", 3);
}

namespace {

// Implicit solves agree across rank counts to the linear solver's tolerance (not bitwise: the
// preconditioner and reductions depend on the decomposition).
// With `max_iterations_per_step`, both runs must also converge in at most that many CG
// iterations per step: a preconditioner built wrongly across ranks still converges, slowly.
void expect_implicit_agreement(const std::string& yaml, double max_iterations_per_step = 0.0) {
  const twin::Config config = twin::parse_config(yaml);
  ASSERT_GT(twin::world_size(), 1) << one_rank;
  BumpRun whole(config, MPI_COMM_SELF, 1), split(config, MPI_COMM_WORLD, 1);
  Field &us = whole.u, &up = split.u;

  const StepReport rs = whole.solver->advance(us, 0.0, 50.0);
  const StepReport rp = split.solver->advance(up, 0.0, 50.0);
  ASSERT_EQ(rs.status, SolveStatus::ok);
  ASSERT_EQ(rp.status, SolveStatus::ok);
  if (max_iterations_per_step > 0.0) {
    const double whole_its = static_cast<double>(rs.linear_iterations) / rs.steps;
    const double split_its = static_cast<double>(rp.linear_iterations) / rp.steps;
    std::printf("  CG iterations per step: %g on one rank, %g split\n", whole_its, split_its);
    EXPECT_LE(whole_its, max_iterations_per_step);
    EXPECT_LE(split_its, max_iterations_per_step);
  }
  const LocalGrid& gl = split.solver->grid();
  const LocalGrid& gs = whole.solver->grid();
  const auto expected = twin::test::at_block(twin::test::interior(us, gs), gs, gl);
  std::vector<double> initial;  // the bump the run started from, at my cells
  for (int k = 0; k < gl.cells[2]; ++k)
    for (int j = 0; j < gl.cells[1]; ++j)
      for (int i = 0; i < gl.cells[0]; ++i)
        initial.push_back(twin::test::bump(0, i + gl.offset[0], j + gl.offset[1], k + gl.offset[2]));
  const auto mine = twin::test::interior(up, gl);
  const double change = twin::test::max_abs_difference(mine, initial);
  EXPECT_LT(twin::test::max_abs_difference(mine, expected), 1e-7) << "largest difference from the one-rank solve";
  EXPECT_GT(change, 0.1);
}

}  // namespace

TEST(RankIndependence, Implicit2DBackwardEuler) {
  expect_implicit_agreement(R"(
grid: {cells: [40, 29], extent_m: [1.0, 0.7]}
physics:
  diffusivity_m2_s: 1.0e-3
  velocity_m_s: [0.002, -0.001]
  reaction_per_s: 0.01
  source: 0.2
  boundaries:
    default: {type: robin, transfer_m_s: 0.004, value: 280}
    x_low: {type: dirichlet, value: 330}
time: {integrator: backward_euler, max_dt_s: 5.0, implicit: {rtol: 1.0e-12}}
)");
}

// Even sizes, so that the multigrid hierarchy (the default preconditioner) coarsens every axis
// several times on each rank count: its interpolations cross the ranks' blocks.
TEST(RankIndependence, Implicit2DMultigridAcrossRanks) {
  expect_implicit_agreement(R"(
grid: {cells: [64, 48], extent_m: [1.0, 0.75]}
physics:
  diffusivity_m2_s: 2.0e-3
  reaction_per_s: 0.01
  source: 0.2
  boundaries:
    default: {type: robin, transfer_m_s: 0.004, value: 280}
    y_low: {type: dirichlet, value: 330}
time: {integrator: backward_euler, max_dt_s: 25.0, implicit: {pc_type: mg, rtol: 1.0e-12}}
)", 10.0);
}

TEST(RankIndependence, Implicit3DCrankNicolson) {
  expect_implicit_agreement(R"(
grid: {cells: [14, 11, 9], extent_m: [1.0, 0.8, 0.6]}
physics:
  diffusivity_m2_s: 2.0e-3
  boundaries:
    default: {type: neumann}
    z_low: {type: dirichlet, value: 250}
time: {integrator: crank_nicolson, max_dt_s: 2.0, implicit: {rtol: 1.0e-12}}
)");
}

TEST(RankIndependence, ExplicitVariablePhysicsWithMemberParameters) {
  const twin::Config config = twin::parse_config(R"(
grid: {cells: [33, 28], extent_m: [1.1, 0.9]}
physics:
  diffusivity_m2_s: 1.0e-3
  diffusivity_regions: [{shape: gaussian, center_m: [0.4, 0.4], size_m: [0.2, 0.1], diffusivity_m2_s: 4.0e-3}]
  vortex: {center_m: [0.55, 0.45], angular_velocity_rad_s: 0.05}
  reaction_per_s: 0.01
  reaction_reference: 290
  sources: [{name: s1, center_m: [0.8, 0.2], size_m: [0.2, 0.2], rate: 0.4, start_s: 0.5}]
  boundaries:
    default: {type: robin, transfer_m_s: 0.004, value: 280}
    y_low: {type: dirichlet, value: 310}
controls: [{name: H, shape: gaussian, center_m: [0.3, 0.7], size_m: [0.1, 0.1], gain: 3, initial: 0.4}]
)");
  ASSERT_GT(twin::world_size(), 1) << one_rank;
  BumpRun whole(config, MPI_COMM_SELF, 2), split(config, MPI_COMM_WORLD, 2);
  for (BumpRun* r : {&whole, &split}) {
    r->solver->set_parameters({ParameterSet{1.0, 1.0}, ParameterSet{1.4, 0.7}});
    r->solver->set_controls({0.9});
    ASSERT_EQ(r->solver->advance(r->u, 0.0, 1.0).status, SolveStatus::ok);
  }
  expect_same_members(whole, split, 2);
}
