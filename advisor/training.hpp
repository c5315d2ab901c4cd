#pragma once
// Data-parallel training of MLP ensembles in LibTorch: each rank holds a shard of the data,
// gradients are summed with MPI, every rank applies the same update, so all ranks end with the
// same weights. Deterministic for a given seed, data and rank count.

#include <mpi.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "advisor/model_package.hpp"

namespace twin::advisor {

/// Rows of (input, output) pairs, row-major, in raw units. Rows may carry a group (e.g. the
/// trajectory they come from): validation then holds out whole groups, so its metrics measure
/// generalisation to new trajectories rather than to neighbours of training rows.
struct Dataset {
  int inputs = 0, outputs = 0;
  std::vector<double> x, y;
  std::vector<long> group;  ///< empty, or one per row
  long rows() const { return inputs ? static_cast<long>(x.size()) / inputs : 0; }
  void add(const std::vector<double>& xi, const std::vector<double>& yi, long g = -1) {
    x.insert(x.end(), xi.begin(), xi.end());
    y.insert(y.end(), yi.begin(), yi.end());
    if (g >= 0) group.push_back(g);
  }
};

/// Loss of a model. regression: mean squared error on normalised outputs. classification: the
/// first `independent_outputs` outputs are independent binary logits (BCE), the rest one
/// softmax group (cross-entropy); targets are 0/1.
enum class Loss { regression, classification };

struct TrainSpec {
  std::string name, role;
  std::vector<std::string> inputs, outputs;
  int ensemble = 5;
  std::vector<int> hidden = {64, 64};
  int epochs = 400;
  int batch = 256;                  ///< rows per rank per step
  double learning_rate = 3e-3;
  unsigned seed = 11;
  Loss loss = Loss::regression;
  int independent_outputs = 0;      ///< classification: binary outputs before the softmax group
  double validation_fraction = 0.2;
  /// Grouped data: whether a group is validation (e.g. a split drawn by the caller, so that the
  /// same groups are held out whatever the rank count). Empty: a seeded draw per rank, each
  /// group with probability validation_fraction.
  std::function<bool(long)> validation_group;
  int histogram_bins = 16;
  /// Response models (train_response_ensemble): the inputs whose products with the others are
  /// features (a surrogate's parameters), and the highest order of their monomials it may choose.
  std::vector<std::string> response_factors;
  int response_max_order = 2;
};

/// Training in optimiser steps, for work done in slices (the running twin's retraining,
/// docs/lifecycle.md). train_mlp_ensemble is this class run to the end. Collective over `comm`
/// in every call.
class EnsembleTrainer {
 public:
  /// Splits the data and sets up the networks. `start`: fine-tune that model instead (its
  /// ensemble, widths, normalisation and weights are the starting point; spec.ensemble and
  /// spec.hidden are not used). The training statistics are pooled from the start model's and
  /// `shard`'s (mean and covariance of the union; the histogram is `shard`'s): the OOD score
  /// of the fine-tuned model covers what it started from and what it was tuned on.
  /// @throws Error on too little data, or a `start` of another layout or kind.
  EnsembleTrainer(const Dataset& shard, const TrainSpec& spec, MPI_Comm comm, const ModelPackage* start = nullptr);
  ~EnsembleTrainer();
  EnsembleTrainer(const EnsembleTrainer&) = delete;
  EnsembleTrainer& operator=(const EnsembleTrainer&) = delete;
  /// One optimiser step (one batch on every rank); false once spec.epochs are done.
  bool step();
  int epoch() const;   ///< epochs completed
  int epochs() const;
  double training_loss() const;
  double validation_loss() const;
  /// The package: weights, normalisation, statistics and validation metrics (see
  /// train_mlp_ensemble).
  ModelPackage finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

/// Progress: epoch, training loss, validation loss.
using TrainProgress = std::function<void(int, double, double)>;

/// Trains on every rank's shard (collective over `comm`). Returns the package on every rank with
/// weights, normalisation, training statistics and validation metrics filled; name, version,
/// lineage and hashes are the caller's (the registry's) to set.
/// Metrics: regression: "validation_rmse", "validation_relative_error" (||pred - y|| / ||y|| on
/// the raw outputs); classification: "validation_accuracy" (softmax group), "validation_loss".
ModelPackage train_mlp_ensemble(const Dataset& shard, const TrainSpec& spec, MPI_Comm comm,
                                const TrainProgress& progress = {});

/// Fits a response model (kind response_ensemble, advisor/response_ensemble.cpp) by ridge
/// least squares, collective over `comm`: outputs linear in the inputs, with coefficients
/// polynomial in spec.response_factors. The polynomial order (1 .. response_max_order) and the
/// ridge are chosen on the validation rows; the members are fits on bootstrap draws of the
/// training groups; a noise term per output, the smallest that puts 95 % of the validation
/// residuals within the ensemble's +-2 sd, is stored with them. Regression only. `start`: the
/// statistics are pooled with its (a refit in a running twin); its factors and order are kept.
/// Same metrics as train_mlp_ensemble's regression, and "response_order", "response_ridge".
/// (Without validation rows the order and ridge are chosen by generalised cross-validation and
/// the noise term is the residuals' standard deviation.) A refit (`start`) keeps the start's
/// normalisation and pulls its ridge towards the start's coefficients rather than towards 0.
/// @throws Error on too little data, or factors that are not inputs.
ModelPackage train_response_ensemble(const Dataset& shard, const TrainSpec& spec, MPI_Comm comm,
                                     const ModelPackage* start = nullptr);

}  // namespace twin::advisor
