// Implicit (backward Euler) diffusion-reaction steps through PETSc KSP: time per step and
// iterations per step as the grid grows. With a multigrid preconditioner the iterations stay
// nearly flat and the time grows close to linearly with the unknowns.
//
//   build/bin/bench_implicit [--max 1024] [--max3d 64] [--pc mg|gamg|hypre] [--summary FILE]
// The preconditioner is set up by a first, untimed step and reused, as in a twin run; every timed
// step then starts from the state that step left.
#include <vector>

#include "common/bench_main.hpp"
#include "solvers/solver.hpp"
#include "twin/config.hpp"

namespace {

std::string g_pc = "mg";

std::string config_text(const std::vector<int>& n) {
  std::string cells, extent;
  for (std::size_t d = 0; d < n.size(); ++d) {
    cells += (d ? ", " : "") + std::to_string(n[d]);
    extent += d ? ", 1.0" : "1.0";
  }
  // dt * k / dx^2 is 1000 at 1024^2: far beyond any explicit limit.
  return "grid: {cells: [" + cells + "], extent_m: [" + extent + "]}\n"
         "physics: {diffusivity_m2_s: 1.0e-3, reaction_per_s: 1.0e-3, source: 1.0, initial_value: 300,\n"
         "          boundaries: {default: {type: robin, transfer_m_s: 1.0e-2, value: 290}, x_low: {type: dirichlet, value: 350}}}\n"
         "time: {integrator: backward_euler, max_dt_s: 1.0, implicit: {ksp_type: cg, pc_type: " + g_pc + ", rtol: 1.0e-8}}\n";
}

void BM_ImplicitStep(benchmark::State& state, std::vector<int> n) {
  const twin::Config config = twin::parse_config(config_text(n));
  twin::solvers::Decomposition dec(config.grid, MPI_COMM_WORLD);
  auto solver = twin::solvers::make_solver(twin::solvers::SolverConfig::from(config), dec, 1);
  auto u = solver->make_field("bench::u");
  solver->advance(u, 0.0, 1.0);  // assembly and preconditioner set-up, untimed
  // Every timed step starts from this state, so each size times the same solve however many
  // steps the benchmark runs (on a trajectory the steps get easier towards the steady state).
  auto start = solver->make_field("bench::start");
  Kokkos::deep_copy(start, u);
  long iterations = 0, steps = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Kokkos::deep_copy(u, start);
    state.ResumeTiming();
    const auto report = solver->advance(u, 1.0, 1.0);
    if (report.status != twin::solvers::SolveStatus::ok) state.SkipWithError("solve failed");
    iterations += report.linear_iterations;
    ++steps;
  }
  double unknowns = 1;
  for (int c : n) unknowns *= c;
  state.counters["unknowns"] = unknowns;
  state.counters["ksp_iterations_per_step"] = static_cast<double>(iterations) / static_cast<double>(std::max(1L, steps));
}

}  // namespace

int main(int argc, char** argv) {
  return twin::bench::run_benchmarks(argc, argv, [](int& argc_, char** argv_) {
    const int max2d = std::stoi(twin::bench::take_option(argc_, argv_, "max", "1024"));
    const int max3d = std::stoi(twin::bench::take_option(argc_, argv_, "max3d", "64"));
    g_pc = twin::bench::take_option(argc_, argv_, "pc", "mg");
    std::vector<std::pair<std::string, std::vector<int>>> cases;
    for (int n = 64; n <= max2d; n *= 2) cases.push_back({"implicit_2d/" + std::to_string(n), {n, n}});
    for (int n = 16; n <= max3d; n *= 2) cases.push_back({"implicit_3d/" + std::to_string(n), {n, n, n}});
    for (const auto& [name, n] : cases)
      benchmark::RegisterBenchmark(name.c_str(), BM_ImplicitStep, n)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
    return [cases, max2d](const twin::bench::KeepingReporter& reporter) {
      nlohmann::json series = nlohmann::json::array();
      for (const auto& [name, n] : cases) {
        const double unknowns = reporter.rate(name, "unknowns"), seconds = reporter.rate(name, "real_time_s");
        const double iterations = reporter.rate(name, "ksp_iterations_per_step");
        // The cost of one CG iteration per unknown: flat where the work grows linearly; it rises
        // where a grid's matrix and vectors no longer fit in the last-level cache.
        const double ns = unknowns > 0 && iterations > 0 ? 1e9 * seconds / (unknowns * iterations) : 0.0;
        series.push_back({{"case", name},
                          {"unknowns", unknowns},
                          {"seconds_per_step", seconds},
                          {"ksp_iterations_per_step", iterations},
                          {"ns_per_unknown_and_iteration", ns}});
      }
      const double t256 = reporter.rate("implicit_2d/256", "real_time_s");
      const double t1024 = reporter.rate("implicit_2d/1024", "real_time_s");
      return nlohmann::json{{"benchmark", "bench_implicit"},
                            {"ksp_type", "cg"},
                            {"pc_type", g_pc},
                            {"rtol", 1e-8},
                            {"series", series},
                            {"time_ratio_1024_over_256", t256 > 0 && t1024 > 0 ? t1024 / t256 : 0.0},
                            {"unknowns_ratio_1024_over_256", 16},
                            {"context", twin::bench::context(config_text({max2d, max2d}))}};
    };
  });
}
