#include "assimilation/parameter_walk.hpp"

#include <algorithm>
#include <cmath>

#include "assimilation/assimilator.hpp"

namespace twin::detail {

namespace {
// chi-square with one degree of freedom: P(X > 3.84) = 0.05.
constexpr double chance_bound = 3.841458820694124;
}  // namespace

void ParameterWalk::record(const std::vector<double>& before, const std::vector<double>& after, int members, int memory) {
  if (memory <= 0 || members < 2 || before.size() != after.size() || before.empty() || before.size() % members != 0)
    return;
  const int P = static_cast<int>(before.size()) / members;
  const double lambda = 1.0 - 1.0 / memory;
  displacement.resize(static_cast<std::size_t>(P), 0.0);
  expected.resize(static_cast<std::size_t>(P), 0.0);
  for (int p = 0; p < P; ++p) {
    double m0, s0, m1, s1;
    member_moments(before, members, P, p, m0, s0);
    member_moments(after, members, P, p, m1, s1);
    const double taken = s0 * s0 - s1 * s1;  // the variance the analysis took from the members
    if (!std::isfinite(m1 - m0) || !std::isfinite(taken)) continue;
    displacement[p] = lambda * displacement[p] + (m1 - m0);
    expected[p] = lambda * lambda * expected[p] + std::max(0.0, taken);
  }
}

std::vector<double> ParameterWalk::step(int memory) const {
  std::vector<double> std_dev(displacement.size(), 0.0);
  if (memory <= 0) return std_dev;
  const double lambda = 1.0 - 1.0 / memory;
  for (std::size_t p = 0; p < displacement.size(); ++p) {
    const double excess = displacement[p] * displacement[p] - chance_bound * expected[p];
    std_dev[p] = std::sqrt(std::max(0.0, excess) * (1.0 - lambda * lambda));
  }
  return std_dev;
}

}  // namespace twin::detail
