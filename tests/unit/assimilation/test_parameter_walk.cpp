// The parameters' adaptive random walk (assimilation/parameter_walk.hpp, issue 16): a filter
// whose parameter mean keeps moving the same way at a spread that calls each move noise gets a
// walk; one whose moves are the noise its spread states gets none.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "assimilation/parameter_walk.hpp"

namespace {

using twin::detail::ParameterWalk;

constexpr int members = 4, memory = 40;

// Members (one parameter) at `mean` with sample variance `var`: two at mean +- sqrt(3 var / 2),
// two at the mean (sum of squares 3 var over N - 1 = 3).
std::vector<double> members_at(double mean, double var) {
  const double d = std::sqrt(var * 3.0 / 2.0);
  return {mean - d, mean, mean, mean + d};
}

}  // namespace

// The arithmetic: D and V are the exponentially weighted sums of the increments and of the
// variance each analysis took, and the walk's variance is what D^2 holds beyond 3.84 V, per cycle.
TEST(ParameterWalk, SumsTheIncrementsAgainstTheVarianceTheyShouldHave) {
  ParameterWalk walk;
  EXPECT_TRUE(walk.step(memory).empty());  // nothing recorded yet: no walk
  const double lambda = 1.0 - 1.0 / memory;
  double d = 0.0, v = 0.0;
  for (int c = 0; c < 30; ++c) {
    // A mean that climbs by 0.002 a cycle while each analysis takes 1e-6 of a 1e-4 variance.
    walk.record(members_at(1.0 + 0.002 * c, 1.0e-4), members_at(1.0 + 0.002 * (c + 1), 0.99e-4), members, memory);
    d = lambda * d + 0.002;
    v = lambda * lambda * v + 1.0e-6;
  }
  ASSERT_EQ(walk.displacement.size(), 1u);
  EXPECT_NEAR(walk.displacement[0], d, 1e-12);
  EXPECT_NEAR(walk.expected[0], v, 1e-15);
  const double q = (d * d - 3.841458820694124 * v) * (1.0 - lambda * lambda);
  ASSERT_GT(q, 0.0);
  EXPECT_NEAR(walk.step(memory)[0], std::sqrt(q), 1e-12);
  // Turned off (memory 0), neither records nor walks.
  ParameterWalk off;
  off.record(members_at(1.0, 1e-4), members_at(1.1, 1e-6), members, 0);
  EXPECT_TRUE(off.displacement.empty());
  EXPECT_EQ(walk.step(0)[0], 0.0);
}

// A calibrated filter: each increment is drawn with the variance the analysis took (its spread is
// right), so D^2 / V is chi-square with one degree of freedom and exceeds 3.84 one cycle in
// twenty. Over 4000 cycles the walk is on in about 5 % of them (the exceedances come in runs:
// D remembers 40 cycles, so about 100 independent looks), and its step stays a small share of the
// spread. A lagging filter, whose mean moves by the same amount in one direction each cycle,
// walks in every cycle after the first few dozen, by a step near its movement.
TEST(ParameterWalk, WalksOnlyWhenTheMeanMovesMoreThanItsSpreadSays) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  const double v = 1.0e-6;  // variance taken each analysis: a step of 0.001
  ParameterWalk calibrated, lagging;
  int walking = 0, lag_walking = 0;
  double largest = 0.0, mean = 1.0;
  const int cycles = 4000;
  for (int c = 0; c < cycles; ++c) {
    const double increment = std::sqrt(v) * normal(rng);
    calibrated.record(members_at(mean, 1e-4), members_at(mean + increment, 1e-4 - v), members, memory);
    mean += increment;
    lagging.record(members_at(1.0 + 0.001 * c, 1e-4), members_at(1.0 + 0.001 * (c + 1), 1e-4 - v), members, memory);
    const double step = calibrated.step(memory)[0];
    walking += step > 0.0;
    largest = std::max(largest, step);
    if (c >= 40) lag_walking += lagging.step(memory)[0] > 0.0;
  }
  const double share = static_cast<double>(walking) / cycles;
  std::printf("calibrated: walks in %.3f of the cycles, largest step %.5f; lagging: walks in %d of %d, step %.5f\n", share,
              largest, lag_walking, cycles - 40, lagging.step(memory)[0]);
  EXPECT_LT(share, 0.12);
  EXPECT_LT(largest, 0.01);  // the spread is 0.01: never a walk of its size
  EXPECT_EQ(lag_walking, cycles - 40);
  // Steady state of the lagging mean: D = 0.001 / (1 - lambda) = 0.04, V = v / (1 - lambda^2),
  // q = (D^2 - 3.84 V)(1 - lambda^2): a step of 0.0087, nine times the 0.001 it moves by.
  EXPECT_NEAR(lagging.step(memory)[0], 0.0087, 0.0002);
}

// A parameter whose members all moved to non-finite values (a failed solver's garbage never
// reaches theta, but a snapshot could hold anything) leaves D and V as they were.
TEST(ParameterWalk, IgnoresNonFiniteMembers) {
  ParameterWalk walk;
  walk.record(members_at(1.0, 1e-4), members_at(1.01, 0.9e-4), members, memory);
  const double d = walk.displacement[0], v = walk.expected[0];
  walk.record(members_at(1.01, 1e-4), members_at(std::nan(""), 1e-4), members, memory);
  EXPECT_EQ(walk.displacement[0], d);
  EXPECT_EQ(walk.expected[0], v);
}
