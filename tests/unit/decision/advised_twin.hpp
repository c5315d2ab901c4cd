#pragma once
// A small advised twin for the decision tests: the small plate with targets and an advisor, and
// one registry trained for it once per test process (collective: every rank trains its shard).

#include <mpi.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "train/train.hpp"
#include "twin/config.hpp"

namespace twin::test {

inline twin::Config advised_config(const std::string& registry) {
  twin::Config c = twin::load_config(std::string(TWIN_SOURCE_DIR) + "/tests/data/small_plate.yaml");
  c.source.plant.events.clear();
  for (auto& u : c.controls) u.rate_limit_per_s = 0.02;
  c.objectives.targets = {{"S2", 305.0, 1.0}, {"S4", 303.0, 1.0}};
  c.advisor = twin::AdvisorConfig{};
  c.advisor->registry = registry;
  c.advisor->gates.max_ood = 1e6;    // a tiny training set: the OOD gate is tested on its own
  c.advisor->gates.max_spread = 1e6;
  // Networks, not the default response models: these tests fine-tune them in the lifecycle and
  // watch their realised error rise with a plant drift (test_lifecycle.cpp has a response model's refit).
  c.training.surrogate_kind = twin::advisor::kind_mlp_ensemble;
  c.training.control_sequences = 2;
  c.training.members_per_solver = 3;
  c.training.segments = 3;
  c.training.warmup_cycles = 2;
  c.training.lead_cycles = {1, 2};
  c.training.epochs = 40;
  c.training.ensemble = 2;
  c.training.hidden = {16};
  c.training.anomaly_scenarios = 2;  // a small anomaly model: these tests check its plumbing
  c.training.anomaly_cycles = 30;
  c.training.anomaly_epochs = 30;
  c.training.anomaly_hidden = {8};
  c.advisor->anomaly_warmup_cycles = 3;
  return c;
}

/// One scratch folder per test job, the same on every rank (named after rank 0's process).
inline std::filesystem::path scratch() {
  static const std::filesystem::path p = [] {
    long pid = static_cast<long>(::getpid());
    MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    return std::filesystem::temp_directory_path() / ("twin_test_advice_" + std::to_string(pid));
  }();
  return p;
}

/// One trained registry for every test of the process (collective).
inline const std::string& trained_registry() {
  static const std::string dir = [] {
    const std::string d = (scratch() / "models").string();
    twin::detail::TrainOptions o;
    o.registry = d;
    o.progress = false;
    twin::detail::train_models(advised_config(d), MPI_COMM_WORLD, o);
    return d;
  }();
  return dir;
}

/// A copy of the trained registry that a test may change (collective).
inline std::string copy_registry(const std::string& name) {
  const std::filesystem::path to = scratch() / name;
  const std::string& from = trained_registry();
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {  // one writer; the others wait for the copy
    std::filesystem::remove_all(to);
    std::filesystem::create_directories(to);
    std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return to.string();
}

}  // namespace twin::test
