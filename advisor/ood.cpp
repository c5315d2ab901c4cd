#include "advisor/ood.hpp"

#include <cmath>
#include <limits>

#include "twin/error.hpp"

namespace twin::advisor {

OodScorer::OodScorer(const FeatureStatistics& s, std::vector<int> features) : m_features(std::move(features)) {
  const int all = static_cast<int>(s.mean.size());
  const int n = static_cast<int>(m_features.size());
  if (all == 0 || s.covariance.size() != static_cast<std::size_t>(all) * all)
    throw AdvisorError("model has no training statistics for OOD scores");
  for (int f : m_features)
    if (f < 0 || f >= all) throw AdvisorError("OOD feature index out of range");
  m_mean.resize(n);
  std::vector<double> c(static_cast<std::size_t>(n) * n);
  for (int a = 0; a < n; ++a) {
    m_mean[a] = s.mean[m_features[a]];
    for (int b = 0; b < n; ++b) c[a * n + b] = s.covariance[m_features[a] * all + m_features[b]];
  }
  // Ridge: neighbouring sensors are nearly collinear; without it a harmless departure from the
  // training correlations would score as far out of distribution.
  for (int a = 0; a < n; ++a) c[a * n + a] = c[a * n + a] * 1.05 + 1e-12;
  m_chol.assign(c.size(), 0.0);
  for (int j = 0; j < n; ++j) {
    double d = c[j * n + j];
    for (int k = 0; k < j; ++k) d -= m_chol[j * n + k] * m_chol[j * n + k];
    if (!(d > 0.0)) throw AdvisorError("training covariance is not positive definite");
    m_chol[j * n + j] = std::sqrt(d);
    for (int i = j + 1; i < n; ++i) {
      double v = c[i * n + j];
      for (int k = 0; k < j; ++k) v -= m_chol[i * n + k] * m_chol[j * n + k];
      m_chol[i * n + j] = v / m_chol[j * n + j];
    }
  }
}

double OodScorer::score(const double* x) const {
  const int n = static_cast<int>(m_features.size());
  if (n == 0) return 0.0;
  std::vector<double> z(n);
  double d2 = 0.0;
  for (int i = 0; i < n; ++i) {  // forward substitution: L z = x - mean
    double v = x[m_features[i]] - m_mean[i];
    for (int k = 0; k < i; ++k) v -= m_chol[i * n + k] * z[k];
    z[i] = v / m_chol[i * n + i];
    d2 += z[i] * z[i];
  }
  return std::isfinite(d2) ? std::sqrt(d2 / n) : std::numeric_limits<double>::infinity();
}

}  // namespace twin::advisor
