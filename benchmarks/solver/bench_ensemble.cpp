// Ensemble members advanced together (one kernel launch per stage, member as a View dimension)
// against the same members advanced by separate single-member solvers, one after the other.
//
//   build/bin/bench_ensemble [--grid 128] [--members 1,4,16,64] [--summary FILE]
#include <sstream>
#include <vector>

#include "common/bench_main.hpp"
#include "solvers/explicit_solver.hpp"
#include "twin/config.hpp"

namespace {

int g_grid = 128;

std::string config_text() {
  const std::string n = std::to_string(g_grid);
  return "grid: {cells: [" + n + ", " + n + "], extent_m: [0.4, 0.4]}\n"
         "physics: {diffusivity_m2_s: 4.0e-6, reaction_per_s: 2.0e-4, reaction_reference: 293.15, source: 0.01,\n"
         "          initial_value: 293.15, boundaries: {default: {type: robin, transfer_m_s: 2.0e-6, value: 293.15}}}\n";
}

// One control period (10 s of facility time) for `members` members.
void BM_Batched(benchmark::State& state) {
  const int members = static_cast<int>(state.range(0));
  const twin::Config config = twin::parse_config(config_text());
  twin::solvers::Decomposition dec(config.grid, MPI_COMM_SELF);
  twin::solvers::ExplicitSolver solver(twin::solvers::SolverConfig::from(config), dec, members);
  auto u = solver.make_field("bench::ensemble");
  for (auto _ : state) solver.advance(u, 0.0, 10.0);
  state.counters["members"] = members;
}

void BM_Separate(benchmark::State& state) {
  const int members = static_cast<int>(state.range(0));
  const twin::Config config = twin::parse_config(config_text());
  twin::solvers::Decomposition dec(config.grid, MPI_COMM_SELF);
  std::vector<std::unique_ptr<twin::solvers::ExplicitSolver>> solvers;
  std::vector<twin::solvers::Field> fields;
  for (int m = 0; m < members; ++m) {
    solvers.push_back(std::make_unique<twin::solvers::ExplicitSolver>(twin::solvers::SolverConfig::from(config), dec, 1));
    fields.push_back(solvers.back()->make_field("bench::single"));
  }
  for (auto _ : state)
    for (int m = 0; m < members; ++m) solvers[m]->advance(fields[m], 0.0, 10.0);
  state.counters["members"] = members;
}

}  // namespace

int main(int argc, char** argv) {
  return twin::bench::run_benchmarks(argc, argv, [](int& argc_, char** argv_) {
    g_grid = std::stoi(twin::bench::take_option(argc_, argv_, "grid", "128"));
    std::vector<int> counts;
    std::stringstream list(twin::bench::take_option(argc_, argv_, "members", "1,4,16,64"));
    for (std::string item; std::getline(list, item, ',');) counts.push_back(std::stoi(item));
    for (int m : counts) {
      benchmark::RegisterBenchmark(("batched/" + std::to_string(m)).c_str(), BM_Batched)->Arg(m)->Unit(benchmark::kMillisecond)->UseRealTime();
      benchmark::RegisterBenchmark(("separate/" + std::to_string(m)).c_str(), BM_Separate)->Arg(m)->Unit(benchmark::kMillisecond)->UseRealTime();
    }
    return [counts](const twin::bench::KeepingReporter& reporter) {
      nlohmann::json series = nlohmann::json::array();
      for (int m : counts) {
        const double batched = reporter.rate("batched/" + std::to_string(m), "real_time_s");
        const double separate = reporter.rate("separate/" + std::to_string(m), "real_time_s");
        series.push_back({{"members", m},
                          {"batched_seconds_per_period", batched},
                          {"separate_seconds_per_period", separate},
                          {"speedup", batched > 0 ? separate / batched : 0.0}});
      }
      return nlohmann::json{{"benchmark", "bench_ensemble"},
                            {"grid", {g_grid, g_grid}},
                            {"series", series},
                            {"context", twin::bench::context(config_text())}};
    };
  });
}
