#pragma once
// Shared by the advisor benchmarks: options, the surrogate's registry entry, held-out cases from
// the solver and timing helpers. Both benchmarks run on one rank (MPI_COMM_SELF throughout).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <Kokkos_Core.hpp>
#include <mpi.h>

#include "decision/features.hpp"
#include "advisor/version.hpp"
#include "ground/log.hpp"
#include "twin/error.hpp"
#include "common/bench_main.hpp"
#include "io/model_registry.hpp"
#include "train/train.hpp"
#include "twin/config.hpp"

namespace twin::bench {

/// Exit status when there is no model: non-zero, and ctest's skip code for the smoke entries
/// (a fresh build has no trained model).
inline constexpr int exit_no_model = 77;

struct SurrogateSetup {
  Config config;
  std::string registry, name, path;  ///< registry directory, model name, active version's file
};

/// Reads --config and --registry (removing them from argv) and finds the active surrogate.
/// Returns the exit status to stop with, or 0. Touches neither MPI nor LibTorch, so it may run
/// before MPI_Init (and before a fork).
inline int find_surrogate(int& argc, char** argv, const char* program, SurrogateSetup& s) {
  const std::string config_path = take_option(argc, argv, "config", TWIN_SOURCE_DIR "/configs/plate.yaml");
  const std::string registry = take_option(argc, argv, "registry", "");
  try {
    s.config = load_config(config_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 2;
  }
  s.registry = registry.empty() ? io::registry_directory(s.config) : registry;
  s.name = s.config.advisor ? s.config.advisor->surrogate : "surrogate";
  const io::ModelRegistry reg(s.registry);
  const auto version = reg.active(s.name);
  if (!version) {
    std::fprintf(stderr, "%s: no active model '%s' in registry %s; train it first with: twin train %s%s%s\n", program,
                 s.name.c_str(), s.registry.c_str(), config_path.c_str(), registry.empty() ? "" : " --registry ",
                 registry.c_str());
    return exit_no_model;
  }
  s.path = reg.path(s.name, *version);
  return 0;
}

/// Surrogate cases the model has not seen: the training generator with training.seed + 1000
/// (other draws of states, parameters and controls), `solvers` x `members` x `segments` x 2 rows.
inline advisor::Dataset held_out(const Config& config, int solvers, int members, int segments) {
  Config c = config;
  c.training.seed += 1000;
  c.training.control_sequences = solvers;
  c.training.members_per_solver = members;
  c.training.segments = segments;
  return detail::generate_surrogate_data(c, detail::surrogate_layout(c), 0, 1, false);
}

using Clock = std::chrono::steady_clock;
/// MPI, logging, Kokkos and LibTorch threads around `run()`, which returns the JSON summary;
/// exit 1 with the error on stderr when it throws. Shared by the advisor benchmarks.
template <class Run>
int run_main(int& argc, char**& argv, const char* program, const std::string& summary, Run&& run) {
  MPI_Init(&argc, &argv);
  log::init_default();  // the library's log lines go to stderr; stdout carries the JSON alone
  int code = 0;
  {
    Kokkos::ScopeGuard kokkos(argc, argv);
    advisor::set_torch_threads(1, 1);
    try {
      if (argc > 1) throw Error(std::string("unknown option ") + argv[1]);
      write_summary(run(), summary);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", program, e.what());
      code = 1;
    }
  }
  MPI_Finalize();
  return code;
}

inline double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

/// The q-quantile (0..1) of `v` (nearest rank; v is reordered).
inline double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

}  // namespace twin::bench
