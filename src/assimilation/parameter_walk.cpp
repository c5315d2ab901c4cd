#include "assimilation/parameter_walk.hpp"

#include <algorithm>
#include <cmath>

namespace twin::detail {

namespace {
// chi-square with one degree of freedom: P(X > 3.84) = 0.05.
constexpr double chance_bound = 3.841458820694124;

void moments(const std::vector<double>& theta, int members, int parameters, int p, double& mean, double& var) {
  mean = var = 0.0;
  for (int m = 0; m < members; ++m) mean += theta[m * parameters + p] / members;
  for (int m = 0; m < members; ++m) var += (theta[m * parameters + p] - mean) * (theta[m * parameters + p] - mean);
  var = members > 1 ? var / (members - 1) : 0.0;
}
}  // namespace

void ParameterWalk::record(const std::vector<double>& before, const std::vector<double>& after, int members, int memory) {
  if (memory <= 0 || members < 2 || before.size() != after.size() || before.empty()) return;
  const int P = static_cast<int>(before.size()) / members;
  const double lambda = 1.0 - 1.0 / memory;
  displacement.resize(static_cast<std::size_t>(P), 0.0);
  expected.resize(static_cast<std::size_t>(P), 0.0);
  for (int p = 0; p < P; ++p) {
    double m0, v0, m1, v1;
    moments(before, members, P, p, m0, v0);
    moments(after, members, P, p, m1, v1);
    if (!std::isfinite(m1 - m0) || !std::isfinite(v0 - v1)) continue;
    displacement[p] = lambda * displacement[p] + (m1 - m0);
    expected[p] = lambda * lambda * expected[p] + std::max(0.0, v0 - v1);
  }
}

std::vector<double> ParameterWalk::step(int memory) const {
  std::vector<double> std_dev(displacement.size(), 0.0);
  if (memory <= 0) return std_dev;
  const double lambda = 1.0 - 1.0 / memory;
  for (std::size_t p = 0; p < displacement.size(); ++p) {
    const double excess = displacement[p] * displacement[p] - chance_bound * (p < expected.size() ? expected[p] : 0.0);
    std_dev[p] = std::sqrt(std::max(0.0, excess) * (1.0 - lambda * lambda));
  }
  return std_dev;
}

}  // namespace twin::detail
