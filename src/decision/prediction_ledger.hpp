#pragma once
// The realised error of one model's predictions: what it predicted at cycle n for lead k,
// scored against the analysis at the sensors at cycle n + k (RMS over the leads and sensors
// that mature in a cycle). The drift monitors (surrogate_error) and the model lifecycle
// (active, shadow and replaced versions) each keep one. Rank 0; no MPI.

#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace twin::detail {

class PredictionLedger {
 public:
  using Entry = std::pair<int, std::vector<double>>;  ///< cycle made, leads x sensors (sensor fastest)
  void clear() { m_made.clear(); }
  /// Scores the predictions maturing at `cycle`, then keeps `predicted` (absolute) when given.
  std::optional<double> score(int cycle, const std::vector<int>& leads, const std::vector<double>& analysis,
                              std::optional<std::vector<double>> predicted);
  /// The predictions not yet matured, for restart snapshots.
  const std::deque<Entry>& entries() const { return m_made; }
  void add(int cycle, std::vector<double> predicted) { m_made.emplace_back(cycle, std::move(predicted)); }

 private:
  std::deque<Entry> m_made;
};

}  // namespace twin::detail
