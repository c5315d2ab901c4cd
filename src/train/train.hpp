#pragma once
// `twin train CONFIG`: generates training data with the twin's own solver (ensembles of
// perturbed states, parameters and controls, spread over the MPI ranks), trains the advisor's
// models in LibTorch (data-parallel over the ranks) and stores them as new versions in the
// model registry. Deterministic for a given training.seed and rank count.

#include <mpi.h>

#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "advisor/training.hpp"
#include "decision/features.hpp"
#include "twin/config.hpp"

namespace twin::detail {

struct TrainOptions {
  std::optional<std::string> registry;  ///< overrides advisor.registry
  std::optional<std::string> only;      ///< train only this model (advisor.surrogate or advisor.anomaly)
  bool progress = true;                 ///< log progress lines (rank 0)
};

/// This rank's shard of surrogate training data: control sequences rank, rank + ranks, ... of
/// training.control_sequences, each drawn from (training.seed, its index), so that the data do
/// not depend on the number of ranks. No communication.
advisor::Dataset generate_surrogate_data(const Config& config, const SurrogateLayout& layout, int rank, int ranks,
                                         bool progress = false);

/// The same data in steps, for work done in slices (the running twin's retraining): each
/// advance() is one solver step of one control sequence (or the set-up of the next); false once
/// this rank's sequences are done. Not copyable; Kokkos must outlive it.
class SurrogateDataGenerator {
 public:
  /// `start`: the field every run starts from (interior cells of the whole grid, x fastest, e.g.
  /// the twin's current ensemble mean), members offset by up to +-0.5; empty: the configured
  /// initial state, members offset by up to +-2.
  SurrogateDataGenerator(const Config& config, const SurrogateLayout& layout, int rank, int ranks, bool progress = false,
                         std::vector<double> start = {});
  ~SurrogateDataGenerator();
  SurrogateDataGenerator(const SurrogateDataGenerator&) = delete;
  SurrogateDataGenerator& operator=(const SurrogateDataGenerator&) = delete;
  bool advance();
  const advisor::Dataset& data() const;
  int sequences_done() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

/// One fault scenario for the anomaly model: the plant (hidden parameters, noise seed, events)
/// and the controls applied each cycle, all drawn from (training.seed, index).
struct FaultScenario {
  Config config;                              ///< the config with the scenario's plant
  std::vector<std::vector<double>> controls;  ///< per cycle, inside bounds and rate limits
};
FaultScenario fault_scenario(const Config& config, int index);

/// The training label of one cycle of a scenario: the class of the event in effect (a sensor
/// fault for as long as it lasts, a plant fault for its first cycles), or none; rows right after
/// an event ends, or long into a plant fault (when the filter has absorbed it), are left out.
/// Returns the class index in anomaly_classes(), or -1 to leave the cycle out.
int anomaly_label(const std::vector<PlantEventConfig>& events, long cycle, double period);

/// The set a control sequence or fault scenario belongs to.
enum class Held : char { training, validation, test };

/// Splits `count` groups (control sequences, fault scenarios) by seed: they are ordered by a
/// draw from (seed, salt, index); the first round(count * test_fraction) are the test set, the
/// next round(count * validation_fraction) the validation set, the rest training. Each held-out
/// set gets at least one group when count >= 3; with fewer groups all are training (and there
/// are no test figures). Independent of the rank count.
std::vector<Held> split_groups(unsigned seed, unsigned salt, int count, double validation_fraction, double test_fraction);

/// Folds over which the anomaly threshold is cross-fitted (docs/advisor.md).
inline constexpr int anomaly_threshold_folds = 5;

/// The cross-fitting folds of the groups `held` does not hold out for test: ordered by a draw
/// from (seed, salt, index) and dealt round-robin into min(folds, such groups) folds, so their
/// sizes differ by at most one; -1 for test groups. Independent of the rank count.
std::vector<int> fold_groups(unsigned seed, unsigned salt, const std::vector<Held>& held, int folds);

/// One cycle of a fault scenario after the diagnosis warm-up: the anomaly model's features and
/// the training label (anomaly_label; -1: left out of training).
struct ScenarioCycle {
  int scenario = 0, cycle = 0, label = -1;
  std::vector<double> x;
  /// The cycle's consistency as QuietCycles judged it (settling_consistency): P(chi-square >= its
  /// innovation statistic) with the assimilated readings' degrees of freedom, 0 when QC rejected
  /// a reading against the forecast, NaN when nothing was assimilated.
  double consistency = std::numeric_limits<double>::quiet_NaN();
  /// Quiet for the false-alarm figures (QuietCycles: no event in effect or settling).
  bool quiet = false;
  /// The evidence of the event in effect in the readings (FaultEvidence; NaN: no event).
  double evidence = std::numeric_limits<double>::quiet_NaN();
};

/// This rank's shard of anomaly training data: scenarios rank, rank + ranks, ... of
/// training.anomaly_scenarios, each a twin (without advisor) following an emulated plant with
/// scheduled faults, from the twin's own cycle outcomes; rows are grouped by scenario. With
/// `cycles`, every cycle after the warm-up is also kept there (for the held-out evaluation), with
/// its evidence (FaultEvidence: each scenario also runs on the same plant without its events).
/// A fault's cycles are labelled only from the first in which its evidence reaches
/// FaultEvidence::detectable_evidence (anomaly_label's label otherwise; -1 before). No
/// communication.
advisor::Dataset generate_anomaly_data(const Config& config, int rank, int ranks, bool progress = false,
                                       std::vector<ScenarioCycle>* cycles = nullptr);

/// What `twin models import` needs: a TorchScript module file (saved with torch.jit.save)
/// whose forward takes the twin's raw inputs [batch, inputs] (float32) and returns
/// [batch, outputs] or [members, batch, outputs].
struct ImportOptions {
  std::string registry, file, name;
  std::string role = "surrogate";             ///< surrogate or anomaly: fixes the input/output layout
  std::optional<std::string> statistics_from; ///< model whose training statistics the OOD score uses
                                              ///< (default: the active version of `name`)
  bool activate = false;                      ///< make the new version active
};

/// Imports a TorchScript module into a registry as the next version of `name`, for `config`'s
/// layout. The module is loaded and run once on the reference inputs (the training mean) before
/// anything is written; its outputs must have the layout's shape and be finite.
/// @returns the new version. @throws DataError (unreadable file, wrong shapes, no statistics),
///          AdvisorError (the module does not load or fails).
int import_torchscript(const Config& config, const ImportOptions& options);

/// Trains every model the config's advisor uses and adds them to the registry (rank 0 writes).
/// Returns the registry directory. Collective over `comm`.
std::string train_models(const Config& config, MPI_Comm comm, const TrainOptions& options);

}  // namespace twin::detail
