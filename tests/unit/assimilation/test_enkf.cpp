// The ensemble Kalman filter's pieces (src/assimilation): the localisation function and the
// parameter gate's threshold and weight.
#include <gtest/gtest.h>

#include <cmath>

#include "assimilation/enkf.hpp"

TEST(Enkf, GaspariCohnIsACompactCorrelation) {
  EXPECT_DOUBLE_EQ(twin::detail::gaspari_cohn(0.0, 1.0), 1.0);
  EXPECT_NEAR(twin::detail::gaspari_cohn(1.0, 1.0), 0.2083333, 1e-6);
  EXPECT_DOUBLE_EQ(twin::detail::gaspari_cohn(2.0, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(twin::detail::gaspari_cohn(5.0, 1.0), 0.0);
  double last = 1.0;
  for (double d = 0.05; d < 2.0; d += 0.05) {
    const double v = twin::detail::gaspari_cohn(d, 1.0);
    EXPECT_LE(v, last + 1e-15);
    EXPECT_GE(v, 0.0);
    last = v;
  }
}

TEST(Enkf, TheParameterGatesThresholdIsTheChiSquareQuantile) {
  // Tabulated chi-square upper 0.1 % points.
  EXPECT_NEAR(twin::detail::chi_square_upper_quantile(1, 0.001), 10.828, 1e-3);
  EXPECT_NEAR(twin::detail::chi_square_upper_quantile(16, 0.001), 39.252, 1e-3);
  EXPECT_NEAR(twin::detail::chi_square_upper_quantile(30, 0.05), 43.773, 1e-3);
}

TEST(Enkf, TheParameterUpdateWeightFallsAsTheReadingsDepartFurther) {
  using twin::detail::parameter_update_weight;
  EXPECT_DOUBLE_EQ(parameter_update_weight(5.0, 40.0), 1.0);
  EXPECT_DOUBLE_EQ(parameter_update_weight(40.0, 40.0), 1.0);
  EXPECT_DOUBLE_EQ(parameter_update_weight(80.0, 40.0), 0.25);  // twice the threshold: a quarter
  EXPECT_DOUBLE_EQ(parameter_update_weight(400.0, 40.0), 0.01);  // ten times: a hundredth
  EXPECT_DOUBLE_EQ(parameter_update_weight(std::nan(""), 40.0), 1.0);
}

// The sampling-error correction keeps a correlation that N members would produce by chance
// (r^2 about 1 / (N - 1)) out of the parameter update, and leaves a strong one nearly whole.
TEST(Enkf, TheSamplingErrorFactorShrinksChanceCorrelationsAway) {
  using twin::detail::sampling_error_factor;
  EXPECT_DOUBLE_EQ(sampling_error_factor(0.0, 20), 0.0);
  EXPECT_DOUBLE_EQ(sampling_error_factor(0.04, 20), 0.0);    // |r| 0.2 with 20 members: chance
  EXPECT_GT(sampling_error_factor(0.81, 20), 0.99);          // |r| 0.9: kept
  EXPECT_NEAR(sampling_error_factor(0.25, 20), 1.0 - 0.5625 / 19.0 / 0.25, 1e-12);  // |r| 0.5: 0.88
  double last = 0.0;
  for (double r2 = 0.01; r2 < 1.0; r2 += 0.01) {  // more correlation, more of it kept
    EXPECT_GE(sampling_error_factor(r2, 20), last) << r2;
    last = sampling_error_factor(r2, 20);
  }
  EXPECT_GT(sampling_error_factor(0.1, 100), sampling_error_factor(0.1, 20));  // more members, less chance
  EXPECT_DOUBLE_EQ(sampling_error_factor(1.0, 20), 1.0);
  EXPECT_DOUBLE_EQ(sampling_error_factor(0.5, 2), 0.0);  // two members estimate no correlation
  EXPECT_DOUBLE_EQ(sampling_error_factor(std::nan(""), 20), 0.0);
}

TEST(Enkf, TheGatesHoldCapsTheWeightByTheWorstOfTheLastHoldCycles) {
  twin::detail::ParameterGateHold hold;
  EXPECT_DOUBLE_EQ(hold.cap(), 1.0);
  hold.record(0.1, 3);  // a failed test
  EXPECT_DOUBLE_EQ(hold.cap(), 0.1);
  hold.record(1.0, 3);
  EXPECT_DOUBLE_EQ(hold.cap(), 0.1);  // the next analysis is the third within the hold
  hold.record(1.0, 3);
  EXPECT_DOUBLE_EQ(hold.cap(), 1.0);  // the failed one has left the window
  hold.record(0.2, 1);                // a hold of 1: no memory
  EXPECT_DOUBLE_EQ(hold.cap(), 1.0);
}
