// The ensemble Kalman filter's pieces (src/assimilation): the localisation function.
#include <gtest/gtest.h>

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
