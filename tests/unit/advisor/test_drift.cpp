// The drift detectors on synthetic streams with known change points: false alarms on
// independent standard normal values against the rate each was calibrated to, detection delay
// after a shift of the mean, and restart from a saved state. Seeded: the same streams each run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>
#include <vector>

#include "advisor/drift.hpp"
#include "twin/error.hpp"

namespace {

using twin::advisor::DriftDetector;
using twin::advisor::DriftSettings;

struct Runs {
  long updates = 0, alarms = 0;
};

// Alarms over `streams` drift-free streams of `length` values.
Runs false_alarms(const std::string& type, double arl0, int streams, int length, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  Runs r;
  for (int s = 0; s < streams; ++s) {
    auto d = DriftDetector::create(type, {arl0, 1.0});
    for (int i = 0; i < length; ++i, ++r.updates) r.alarms += d->update(z(rng)) ? 1 : 0;
  }
  return r;
}

// Cycles from a shift of the mean by `shift` standard deviations (after `before` drift-free
// values) to the alarm, per stream; -1 when none came within `after` values.
std::vector<int> delays(const std::string& type, double arl0, double shift, int streams, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  std::vector<int> out;
  const int before = 300, after = 300;
  for (int s = 0; s < streams; ++s) {
    auto d = DriftDetector::create(type, {arl0, 1.0});
    for (int i = 0; i < before; ++i) d->update(z(rng));  // an alarm here is a false one: the delay counts from the shift
    int delay = -1;
    for (int i = 0; i < after && delay < 0; ++i)
      if (d->update(z(rng) + shift)) delay = i + 1;
    out.push_back(delay);
  }
  return out;
}

double median(std::vector<int> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

TEST(Drift, CusumThresholdFollowsSiegmund) {
  // One-sided CUSUM, k = 0.5: h = 5 gives ARL0 of about 930 (Siegmund's approximation; the
  // exact value is 938 by the Markov-chain method).
  EXPECT_NEAR(twin::advisor::cusum_threshold(0.5, 938.0), 5.0, 0.05);
  EXPECT_GT(twin::advisor::cusum_threshold(0.5, 10000.0), twin::advisor::cusum_threshold(0.5, 1000.0));
}

class EachDetector : public ::testing::TestWithParam<std::string> {};

TEST_P(EachDetector, FalseAlarmsStayWithinTheCalibratedRate) {
  const double arl0 = 500.0;
  // ADWIN tests every cut of its window each update: a shorter run keeps the test quick.
  const Runs r = GetParam() == "adwin" ? false_alarms(GetParam(), arl0, 8, 2500, 7) : false_alarms(GetParam(), arl0, 40, 5000, 7);
  const double run_length = static_cast<double>(r.updates) / std::max(1L, r.alarms);
  std::cout << GetParam() << ": " << r.alarms << " false alarms in " << r.updates << " drift-free updates, run length "
            << run_length << " (calibrated to " << arl0 << ")\n";
  // CUSUM and Page-Hinkley are calibrated to the rate (within the approximation); ADWIN's bound
  // is conservative: fewer false alarms, never more.
  EXPECT_GE(run_length, 0.6 * arl0) << GetParam() << ": " << r.alarms << " alarms in " << r.updates << " updates";
  if (GetParam() != "adwin") {
    EXPECT_LE(run_length, 2.0 * arl0) << GetParam() << ": " << r.alarms << " alarms";
  }
}

TEST_P(EachDetector, AShiftOfOneDeviationIsDetectedQuickly) {
  const std::vector<int> d = delays(GetParam(), 5000.0, 1.0, 60, 11);
  const long missed = std::count(d.begin(), d.end(), -1);
  EXPECT_EQ(missed, 0) << GetParam();
  // CUSUM's expected delay is about (h + 1.166) / (shift - k) = 15 cycles here.
  // ADWIN (39 and 8 with these seeds) waits for enough values on both sides of a cut.
  EXPECT_LE(median(d), GetParam() == "adwin" ? 50 : 25) << GetParam();
  const std::vector<int> big = delays(GetParam(), 5000.0, 3.0, 60, 13);
  std::cout << GetParam() << ": median delay " << median(d) << " updates after a 1-sigma shift, " << median(big)
            << " after a 3-sigma shift (false-alarm rate 1/5000)\n";
  EXPECT_LE(median(big), GetParam() == "adwin" ? 12 : 6) << GetParam();
}

TEST_P(EachDetector, ARestoredStateDecidesAsTheOriginal) {
  std::mt19937 rng(3);
  std::normal_distribution<double> z(0.0, 1.0);
  auto a = DriftDetector::create(GetParam(), {1000.0, 1.0});
  for (int i = 0; i < 200; ++i) a->update(z(rng) + (i > 150 ? 0.5 : 0.0));
  auto b = DriftDetector::create(GetParam(), {1000.0, 1.0});
  b->restore(a->state());
  for (int i = 0; i < 300; ++i) {
    const double x = z(rng) + 0.7;
    ASSERT_EQ(a->update(x), b->update(x)) << "update " << i;
    ASSERT_EQ(a->statistic(), b->statistic());
  }
  EXPECT_THROW(b->restore({1.0}), twin::DataError) << "a state of another shape";
}

TEST_P(EachDetector, NonFiniteValuesAreIgnored) {
  auto d = DriftDetector::create(GetParam(), {1000.0, 1.0});
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(d->update(i % 2 ? std::nan("") : INFINITY));
}

INSTANTIATE_TEST_SUITE_P(Types, EachDetector, ::testing::Values("cusum", "page_hinkley", "adwin"));

TEST(Drift, UnknownTypeIsAConfigError) {
  EXPECT_THROW(DriftDetector::create("ewma", {}), twin::ConfigError);
}

}  // namespace
