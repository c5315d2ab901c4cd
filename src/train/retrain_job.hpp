#pragma once
// A retraining of the surrogate inside a running twin (docs/lifecycle.md), done in quanta so
// that it fits in the slack of the cycles: solver runs around the twin's current parameter
// estimates (one solver step per quantum), then fine-tuning from the active model (one
// optimiser step per quantum) on those runs plus the rows the twin captured. Rank-local: no
// collective (the solver runs on MPI_COMM_SELF); deterministic for a given request.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "advisor/model_package.hpp"
#include "advisor/training.hpp"
#include "twin/config.hpp"

namespace twin::detail {

struct RetrainRequest {
  int cycle = 0;                         ///< when it was asked for (seeds the data)
  std::string reason;                    ///< a drift detection, the schedule or an operator
  std::vector<double> theta;             ///< the twin's parameter estimates, config.ensemble.parameters order
  advisor::Dataset captured;             ///< rows the twin captured (surrogate layout)
  std::vector<std::string> windows;      ///< the data windows they are in (content hashes)
};

class RetrainJob {
 public:
  RetrainJob(const Config& config, const advisor::ModelPackage& active, RetrainRequest request);
  ~RetrainJob();
  RetrainJob(const RetrainJob&) = delete;
  RetrainJob& operator=(const RetrainJob&) = delete;

  /// Works quantum by quantum while the next one is expected to end before `until` (at least
  /// one quantum per call); true once the model is trained.
  /// @throws Error when the solver or the training fails.
  bool work(std::chrono::steady_clock::time_point until);
  /// The field the solver runs start from (the twin's current ensemble mean, interior cells of
  /// the whole grid, x fastest); before the first work() only. Without it they start from the
  /// configured initial state.
  void set_start_field(std::vector<double> field);
  bool started() const;
  /// "data", "training" or "done", with progress, for logs.
  std::string progress() const;
  const RetrainRequest& request() const;
  /// The trained package (once work() returned true), with lineage: the active version as
  /// parent, the data digest, the captured windows, config hash and code version.
  advisor::ModelPackage take();
  double busy_ms() const;  ///< wall time spent in quanta so far

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

}  // namespace twin::detail
