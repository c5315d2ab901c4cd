#pragma once
// Out-of-distribution score of a feature vector against the statistics of a model's training
// inputs: a regularised Mahalanobis distance, normalised by the number of features so that
// typical training points score about 1.

#include <vector>

#include "advisor/model_package.hpp"

namespace twin::advisor {

class OodScorer {
 public:
  OodScorer() = default;
  /// Uses the inputs listed in `features` (e.g. all but the candidate controls).
  /// @throws AdvisorError when the statistics are missing or do not match the model's inputs.
  OodScorer(const FeatureStatistics& stats, std::vector<int> features);
  /// sqrt(d^2 / n) with d^2 = (x - mean)^T (C + ridge)^-1 (x - mean); NaN inputs give +inf.
  double score(const double* x) const;
  bool empty() const { return m_features.empty(); }

 private:
  std::vector<int> m_features;
  std::vector<double> m_mean, m_chol;  // lower Cholesky factor of the regularised covariance
};

}  // namespace twin::advisor
