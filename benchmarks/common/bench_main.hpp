#pragma once
// Shared by twinrt's benchmarks: MPI and Kokkos set-up around Google Benchmark, a reporter that
// keeps each run's rate counters, and the summary JSON (figures of merit beside the limit
// measured in the same run, with the git commit, build type, config hash and rank count).

#include <benchmark/benchmark.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace twin::bench {

/// Rate counters of every finished run, by benchmark name.
class KeepingReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, std::map<std::string, double>> counters;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      auto& c = counters[run.benchmark_name()];
      for (const auto& [name, counter] : run.counters) c[name] = counter.value;
      c["real_time_s"] = run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
    }
    ConsoleReporter::ReportRuns(runs);
  }
  /// Counter `counter` of the run whose name starts with `name` (names carry "/iterations:..").
  double rate(const std::string& name, const std::string& counter) const {
    for (const auto& [run, c] : counters)
      if (run == name || run.rfind(name + "/", 0) == 0) return c.count(counter) ? c.at(counter) : 0.0;
    return 0.0;
  }
};

/// Removes "--NAME VALUE" or "--NAME=VALUE" from argv; returns VALUE or `fallback`.
inline std::string take_option(int& argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    int consumed = 0;
    if (a == "--" + name && i + 1 < argc) value = argv[i + 1], consumed = 2;
    else if (a.rfind("--" + name + "=", 0) == 0) value = a.substr(name.size() + 3), consumed = 1;
    if (!consumed) continue;
    for (int j = i; j + consumed <= argc; ++j) argv[j] = argv[j + consumed];
    argc -= consumed;
    return value;
  }
  return fallback;
}

/// Context stored with every summary.
inline nlohmann::json context(const std::string& config_text) {
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  char hash[32];
  std::snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(config_text));
  return {{"git_commit", TWIN_GIT_COMMIT},
          {"build_type", TWIN_BUILD_TYPE},
          {"config_hash", hash},
          {"ranks", ranks},
          {"kokkos_backend", Kokkos::DefaultExecutionSpace::name()}};
}

/// Prints the summary on rank 0 and writes it to `path` when given.
inline void write_summary(const nlohmann::json& summary, const std::string& path) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return;
  std::cout << summary.dump(2) << std::endl;
  if (!path.empty()) std::ofstream(path) << summary.dump(2) << "\n";
}

/// main() of a benchmark: MPI and Kokkos around Google Benchmark. `setup(argc, argv)` takes the
/// benchmark's own options, registers its benchmarks and returns a function that turns the kept
/// counters into the summary JSON; "--summary FILE" also writes the summary to FILE.
template <class Setup>
int run_benchmarks(int argc, char** argv, Setup setup) {
  MPI_Init(&argc, &argv);
  int code = 0;
  {
    Kokkos::ScopeGuard kokkos_guard(argc, argv);
    const std::string summary_path = take_option(argc, argv, "summary", "");
    auto summarize = setup(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
      code = 2;
    } else {
      KeepingReporter reporter;
      benchmark::RunSpecifiedBenchmarks(&reporter);
      write_summary(summarize(reporter), summary_path);
    }
    benchmark::Shutdown();
  }
  MPI_Finalize();
  return code;
}

}  // namespace twin::bench
