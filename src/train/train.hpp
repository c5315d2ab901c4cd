#pragma once
// `twin train CONFIG`: generates training data with the twin's own solver (ensembles of
// perturbed states, parameters and controls, spread over the MPI ranks), trains the advisor's
// models in LibTorch (data-parallel over the ranks) and stores them as new versions in the
// model registry. Deterministic for a given training.seed and rank count.

#include <mpi.h>

#include <optional>
#include <string>

#include "advisor/training.hpp"
#include "advice/features.hpp"
#include "twin/config.hpp"

namespace twin::detail {

struct TrainOptions {
  std::optional<std::string> registry;  ///< overrides advisor.registry
  bool progress = true;                 ///< log progress lines (rank 0)
};

/// This rank's shard of surrogate training data: control sequences rank, rank + ranks, ... of
/// training.control_sequences, each drawn from (training.seed, its index), so that the data do
/// not depend on the number of ranks. No communication.
advisor::Dataset generate_surrogate_data(const Config& config, const SurrogateLayout& layout, int rank, int ranks,
                                         bool progress = false);

/// Trains every model the config's advisor uses and adds them to the registry (rank 0 writes).
/// Returns the registry directory. Collective over `comm`.
std::string train_models(const Config& config, MPI_Comm comm, const TrainOptions& options);

}  // namespace twin::detail
