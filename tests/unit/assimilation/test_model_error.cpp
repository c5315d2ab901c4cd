// The twin's model error (assimilation/model_error.hpp, issue 16): the online estimate of its
// variance from the innovations, and the random fields that carry it into the members.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <random>
#include <vector>

#include "assimilation/model_error.hpp"
#include "twin/config.hpp"

namespace {

using twin::detail::ModelErrorNoise;
using twin::detail::ModelErrorVariance;
using twin::detail::ObservationSet;

// Readings of sensors 0..n-1 with noise 0.2, each `departure` above a forecast of 300 whose
// spread is `spread`.
struct Cycle {
  ObservationSet obs;
  std::vector<double> mean, spread;
  Cycle(int n, double departure, double spread_value) {
    for (int s = 0; s < n; ++s) {
      obs.sensor.push_back(s);
      obs.value.push_back(300.0 + departure);
      obs.error_std.push_back(0.2);
      mean.push_back(300.0);
      spread.push_back(spread_value);
    }
  }
};

}  // namespace

TEST(ModelError, TheVarianceGrowsByItsShareOfTheExcessOnlyInACycleThatFailsTheTest) {
  const Cycle c(4, 1.0, 0.3);  // d^2 = 1 against v = 0.09 + 0.04 = 0.13
  ModelErrorVariance q;
  q.update(c.obs, c.mean, c.spread, 1.0, 0.1, false);  // the first departure: nothing to persist from
  EXPECT_EQ(q.variance, 0.0);
  q.update(c.obs, c.mean, c.spread, 1.0, 0.1, true);  // it persists, but the cycle passes the test
  EXPECT_EQ(q.variance, 0.0) << "a cycle that passes the consistency test adds nothing";
  q.update(c.obs, c.mean, c.spread, 1.0, 0.1, false);  // the same departure again, the test failed
  EXPECT_NEAR(q.variance, 0.1 * (1.0 - 0.13), 1e-12);
  // After a cycle without an analysis (the runtime clears the last innovations) it waits again.
  q.last_innovation.clear();
  const double before = q.variance;
  q.update(c.obs, c.mean, c.spread, 1.0, 0.1, false);
  EXPECT_EQ(q.variance, before);
  // A reading 20 sd away counts as 3 sd: it moves it by at most 8 v times the gain.
  const Cycle wild(4, 20.0 * std::sqrt(0.13), 0.3);
  ModelErrorVariance clipped;
  clipped.update(wild.obs, wild.mean, wild.spread, 1.0, 0.1, false);
  clipped.update(wild.obs, wild.mean, wild.spread, 1.0, 0.1, false);
  EXPECT_NEAR(clipped.variance, 0.1 * 8.0 * 0.13, 1e-12);
  // The spread the filter assumed is the inflated one: 1.1 x 0.3 gives v = 0.1489.
  ModelErrorVariance inflated;
  inflated.update(c.obs, c.mean, c.spread, 1.1, 0.1, false);
  inflated.update(c.obs, c.mean, c.spread, 1.1, 0.1, false);
  EXPECT_NEAR(inflated.variance, 0.1 * (1.0 - 0.1489), 1e-12);
  // Only what persists counts: half the departure last cycle, d d' = 0.5, under this cycle's
  // excess 0.87; and never more than the excess: twice the departure last cycle, d d' = 2.
  const Cycle half(4, 0.5, 0.3), twice(4, 2.0, 0.3);
  ModelErrorVariance part, capped;
  part.update(half.obs, half.mean, half.spread, 1.0, 0.1, false);
  part.update(c.obs, c.mean, c.spread, 1.0, 0.1, false);
  EXPECT_NEAR(part.variance, 0.1 * 0.5, 1e-12);
  capped.update(twice.obs, twice.mean, twice.spread, 1.0, 0.1, false);
  capped.update(c.obs, c.mean, c.spread, 1.0, 0.1, false);
  EXPECT_NEAR(capped.variance, 0.1 * (1.0 - 0.13), 1e-12);
}

// Wild readings that flip sign from cycle to cycle (QC's buddy check lets them through in pairs
// of neighbours departing the same way) are no departure of the plant from the twin's physics:
// they leave the model error at 0, where growing on their squares had run it up to 51 K in 20
// cycles and let every later wild reading in (tests/degraded, wild_noise).
TEST(ModelError, ReadingsThatDoNotPersistFromCycleToCycleDoNotGrowIt) {
  const Cycle up(4, 40.0, 0.3), down(4, -40.0, 0.3);
  ModelErrorVariance q;
  for (int k = 0; k < 20; ++k) {
    const Cycle& c = k % 2 ? up : down;
    q.update(c.obs, c.mean, c.spread, 1.0, 0.1, false);
  }
  EXPECT_EQ(q.variance, 0.0);
  ASSERT_EQ(q.last_innovation.size(), 4u);
  EXPECT_DOUBLE_EQ(q.last_innovation[0], 40.0);  // the last cycle's, for the next one (and snapshots)
  // A sensor not read this cycle has no innovation to persist into the next one.
  const Cycle three(3, 1.0, 0.3);  // readings of sensors 0..2 only
  q.update(three.obs, up.mean, up.spread, 1.0, 0.1, false);
  ASSERT_EQ(q.last_innovation.size(), 4u);
  EXPECT_DOUBLE_EQ(q.last_innovation[2], 1.0);
  EXPECT_TRUE(std::isnan(q.last_innovation[3]));
}

TEST(ModelError, TheVarianceShrinksWhileTheReadingsAgreeAndNeverGoesNegative) {
  ModelErrorVariance q;
  q.variance = 0.05;
  const Cycle agree(6, 0.0, 0.3);  // d = 0: every reading inside its predicted spread
  q.update(agree.obs, agree.mean, agree.spread, 1.0, 0.1, true);
  EXPECT_NEAR(q.variance, 0.05 - 0.1 * 0.13, 1e-12);
  for (int k = 0; k < 100; ++k) q.update(agree.obs, agree.mean, agree.spread, 1.0, 0.1, true);
  EXPECT_EQ(q.variance, 0.0);
  // Gain 0 (off) and no readings leave it alone.
  q.variance = 0.05;
  q.update(agree.obs, agree.mean, agree.spread, 1.0, 0.0, false);
  EXPECT_EQ(q.variance, 0.05);
  const Cycle none(0, 0.0, 0.3);
  q.update(none.obs, none.mean, none.spread, 1.0, 0.1, false);
  EXPECT_EQ(q.variance, 0.05);
}

TEST(ModelError, TheParametersWaitWhileTheModelErrorStandsAboveATenthOfTheNoise) {
  const Cycle c(3, 0.0, 0.3);  // noise variance 0.04
  ModelErrorVariance q;
  EXPECT_FALSE(q.holds_parameters(c.obs));
  q.variance = 0.0039;
  EXPECT_FALSE(q.holds_parameters(c.obs));
  q.variance = 0.0041;
  EXPECT_TRUE(q.holds_parameters(c.obs));
  EXPECT_FALSE(q.holds_parameters(Cycle(0, 0.0, 0.3).obs)) << "no readings: nothing to hold against";
}

// After a departure the parameters learn at the rate the state is known again: their weight is
// capped at (spread before / spread now)^2 until the state's spread is back, for at most as many
// cycles as the hold lasted (docs/filter-history.md, "The state a departure leaves").
TEST(ModelError, AfterAHoldTheParametersLearnAtTheRateTheStateSettles) {
  const Cycle c(3, 0.0, 0.3);  // noise variance 0.04: a hold above 0.004
  ModelErrorVariance q;
  EXPECT_EQ(q.parameter_weight_cap(c.obs, 0.05), 1.0);  // no departure yet: 0.05 is the spread to return to
  q.variance = 0.01;
  for (int k = 0; k < 3; ++k) EXPECT_EQ(q.parameter_weight_cap(c.obs, 0.5), 0.0) << "held in cycle " << k;
  q.variance = 0.0;
  EXPECT_DOUBLE_EQ(q.parameter_weight_cap(c.obs, 0.1), 0.25);      // twice the spread before
  EXPECT_DOUBLE_EQ(q.parameter_weight_cap(c.obs, 0.0625), 0.64);
  q.variance = 0.01;  // the departure returns before the state settled: held again, the same spread to return to
  EXPECT_EQ(q.parameter_weight_cap(c.obs, 0.5), 0.0);
  q.variance = 0.0;  // held 4 analyses in all: capped for the next 4
  EXPECT_DOUBLE_EQ(q.parameter_weight_cap(c.obs, 0.1), 0.25);
  for (int k = 1; k < 4; ++k) EXPECT_DOUBLE_EQ(q.parameter_weight_cap(c.obs, 0.1), 0.25) << "settling analysis " << k;
  EXPECT_EQ(q.parameter_weight_cap(c.obs, 0.1), 1.0) << "no longer than the hold lasted";

  // The spread back at its level before: the parameters learn fully, and the departure is over.
  ModelErrorVariance back;
  back.parameter_weight_cap(c.obs, 0.05);
  back.variance = 0.01;
  for (int k = 0; k < 3; ++k) back.parameter_weight_cap(c.obs, 0.5);
  back.variance = 0.0;
  EXPECT_DOUBLE_EQ(back.parameter_weight_cap(c.obs, 0.1), 0.25);
  EXPECT_EQ(back.parameter_weight_cap(c.obs, 0.05), 1.0) << "the spread is back";
  EXPECT_EQ(back.parameter_weight_cap(c.obs, 0.1), 1.0) << "the departure is over";
  EXPECT_EQ(back.parameter_weight_cap(c.obs, std::nan("")), 1.0);
  EXPECT_EQ(back.spread_last, 0.1) << "a spread that is not finite is not kept as the one to return to";

  // A spread that never comes back caps them for no longer than the hold lasted (4 cycles).
  ModelErrorVariance r;
  r.parameter_weight_cap(c.obs, 0.05);
  r.variance = 0.01;
  for (int k = 0; k < 4; ++k) r.parameter_weight_cap(c.obs, 0.5);
  r.variance = 0.0;
  for (int k = 0; k < 4; ++k) EXPECT_DOUBLE_EQ(r.parameter_weight_cap(c.obs, 0.1), 0.25) << "settling cycle " << k;
  EXPECT_EQ(r.parameter_weight_cap(c.obs, 0.1), 1.0);

  // A hold before any cycle without one has no spread to return to: nothing is capped after it.
  ModelErrorVariance s;
  s.variance = 0.01;
  EXPECT_EQ(s.parameter_weight_cap(c.obs, 0.5), 0.0);
  s.variance = 0.0;
  EXPECT_EQ(s.parameter_weight_cap(c.obs, 0.5), 1.0);
}

// The persistence test (assimilation.innovation_persistence_cycles): a sensor whose innovations
// keep one sign for cycles is a departure from the twin's physics, though no single cycle fails
// the consistency test; white innovations, as a calibrated filter's are, almost never look so.
TEST(ModelError, ASensorWhoseInnovationsPersistGrowsItThoughEveryCyclePassesTheTest) {
  const int n = 12, L = 8;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 0.2);  // v = 0.2^2 with no forecast spread
  // Reading r is configured sensor n - 1 - r: the means are per sensor, the fit per reading.
  const auto readings = [&](double bias) {
    Cycle c(n, 0.0, 0.0);
    for (int r = 0; r < n; ++r) {
      c.obs.sensor[r] = n - 1 - r;
      c.obs.value[r] += noise(rng) + (r == 0 ? bias : 0.0);
    }
    return c;
  };
  ModelErrorVariance white;
  int flagged = 0;
  for (int k = 0; k < 4000; ++k) {
    const Cycle c = readings(0.0);
    white.update(c.obs, c.mean, c.spread, 1.0, 0.3, true, {L, 0.001, {}, true});
    flagged += white.persistent() ? 1 : 0;
  }
  // 0.001 per cycle by construction, an EWMA's flags come in runs of a few: 20 is 0.5 %.
  EXPECT_LE(flagged, 20) << "white innovations flagged in " << flagged << " of 4000 cycles";
  ASSERT_EQ(white.mean_innovation.size(), static_cast<std::size_t>(n));

  // Sensor 0 reads 2.25 sd low, cycle after cycle (the module's sensor above its failed heater);
  // D is about n + 5, below the test's 32.9 for 12 readings, so every cycle passes it.
  ModelErrorVariance q, off;
  q.mean_innovation = white.mean_innovation;  // from where the white run left it
  int first = -1;
  for (int k = 0; k < 30; ++k) {
    const Cycle c = readings(-0.45);
    q.update(c.obs, c.mean, c.spread, 1.0, 0.3, true, {L, 0.001, {}, true});
    off.update(c.obs, c.mean, c.spread, 1.0, 0.3, true, {0, 0.001, {}, true});
    if (q.persistent() && first < 0) first = k;
  }
  EXPECT_GE(first, 1) << "one cycle is no persistence";
  EXPECT_LE(first, 8) << "found after " << first + 1 << " cycles";
  EXPECT_TRUE(q.persistent());
  EXPECT_EQ(q.persistent_sensor, n - 1) << "reading 0 is sensor " << n - 1;
  EXPECT_LT(q.mean_innovation[n - 1], -1.0);
  EXPECT_GT(q.variance, 0.0);
  EXPECT_FALSE(off.persistent());
  EXPECT_EQ(off.variance, 0.0) << "without the test, a cycle that passes the consistency test adds nothing";

  // The same departure along a parameter's signature (a plant parameter that drifts, or one not
  // yet learnt) is the parameters' business: fitted away, it leaves nothing to persist.
  ModelErrorVariance along;
  std::vector<double> explained(n, 0.0);
  explained[0] = -0.45;
  for (int k = 0; k < 30; ++k) {
    const Cycle c = readings(-0.45);
    along.update(c.obs, c.mean, c.spread, 1.0, 0.3, true, {L, 0.001, explained, true});
    EXPECT_FALSE(along.persistent()) << "cycle " << k;
  }
  EXPECT_EQ(along.variance, 0.0);

  // In the filter's spin-up (not armed) nothing is kept or found: the twin's initial error,
  // decaying, persists too. Armed, the mean starts from 0 and needs cycles again.
  ModelErrorVariance spin_up;
  for (int k = 0; k < 20; ++k) {
    const Cycle c = readings(-0.45);
    spin_up.update(c.obs, c.mean, c.spread, 1.0, 0.3, true, {L, 0.001, {}, false});
    EXPECT_FALSE(spin_up.persistent()) << "cycle " << k;
  }
  EXPECT_EQ(spin_up.variance, 0.0);
  const Cycle armed = readings(-0.45);
  spin_up.update(armed.obs, armed.mean, armed.spread, 1.0, 0.3, true, {L, 0.001, {}, true});
  EXPECT_FALSE(spin_up.persistent()) << "one armed cycle is no persistence";

  // A sensor not read (QC rejected it) starts afresh when it is read again: a mean frozen at its
  // departure would find one at its first reading back.
  ModelErrorVariance out = q;  // sensor n - 1 persistent
  Cycle without = readings(0.0);
  without.obs.sensor.erase(without.obs.sensor.begin());  // reading 0, sensor n - 1, rejected
  without.obs.value.erase(without.obs.value.begin());
  without.obs.error_std.erase(without.obs.error_std.begin());
  out.update(without.obs, without.mean, without.spread, 1.0, 0.3, true, {L, 0.001, {}, true});
  EXPECT_EQ(out.mean_innovation[n - 1], 0.0);
  const Cycle back_in = readings(0.0);
  out.update(back_in.obs, back_in.mean, back_in.spread, 1.0, 0.3, true, {L, 0.001, {}, true});
  EXPECT_FALSE(out.persistent());

  // No degree of freedom left for the fit (NaN): the sensor is not tested this cycle.
  ModelErrorVariance untested = q;
  const Cycle biased = readings(-0.45);
  untested.update(biased.obs, biased.mean, biased.spread, 1.0, 0.3, true,
                  {L, 0.001, std::vector<double>(n, std::nan("")), true});
  EXPECT_FALSE(untested.persistent());

  // The departure over, the mean decays: no longer persistent within a few windows.
  int back = -1;
  for (int k = 0; k < 40 && back < 0; ++k) {
    const Cycle c = readings(0.0);
    q.update(c.obs, c.mean, c.spread, 1.0, 0.3, true, {L, 0.001, {}, true});
    if (!q.persistent()) back = k;
  }
  EXPECT_GE(back, 0);
  EXPECT_LE(back, 3 * L);
}

namespace {

struct Bank {
  twin::Config config;
  twin::solvers::Decomposition decomposition;
  twin::solvers::EnsembleLayout layout;
  explicit Bank(int members, double scale = 1.0)
      : config(make_config(members, scale)),
        decomposition(config.grid, MPI_COMM_SELF),
        layout(MPI_COMM_SELF, members, std::nullopt, config.grid) {}
  static twin::Config make_config(int members, double scale) {
    twin::Config c;
    c.grid.cells = {static_cast<int>(40 * scale), static_cast<int>(30 * scale)};
    c.grid.extent_m = {0.4 * scale, 0.3 * scale};
    c.ensemble.members = members;
    c.ensemble.initial_length_m = 0.05;
    return c;
  }
  twin::solvers::Field perturbed(ModelErrorNoise& noise, long cycle, double variance) const {
    const auto& g = decomposition.local();
    twin::solvers::Field x("x", config.ensemble.members, g.padded_size());
    Kokkos::deep_copy(x, 300.0);
    noise.perturb(x, cycle, variance);
    return x;
  }
};

}  // namespace

// Every cell's members move by fields that sum to zero (the ensemble mean stays), with variance
// q^2 over the members and cells; the same cycle gives the same fields from a fresh bank (a
// resumed run adds what the uninterrupted one did), another cycle other fields.
TEST(ModelError, TheFieldsKeepTheMeanAddTheVarianceAndDependOnTheCycleAlone) {
  const int N = 24;
  const Bank b(N);
  const auto& g = b.decomposition.local();
  ModelErrorNoise noise(b.config, b.layout, g);
  const double q2 = 0.04;
  const auto x = b.perturbed(noise, 7, q2);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  double variance = 0.0;
  long cells = 0;
  for (int j = 0; j < g.cells[1]; ++j)
    for (int i = 0; i < g.cells[0]; ++i, ++cells) {
      double mean = 0.0, var = 0.0;
      for (int m = 0; m < N; ++m) mean += h(m, g.index(i, j, 0)) / N;
      for (int m = 0; m < N; ++m) var += (h(m, g.index(i, j, 0)) - mean) * (h(m, g.index(i, j, 0)) - mean) / (N - 1);
      ASSERT_NEAR(mean, 300.0, 1e-9) << "cell " << i << ", " << j;
      variance += var;
    }
  variance /= static_cast<double>(cells);
  // 24 members' variance of a field built from 32 random fields: within a quarter of q^2.
  EXPECT_NEAR(variance, q2, 0.25 * q2);
  // Smooth: neighbouring cells (1 cm apart, length 5 cm) move nearly together.
  double near = 0.0, far = 0.0;
  for (int m = 0; m < N; ++m) {
    near += std::abs(h(m, g.index(11, 10, 0)) - h(m, g.index(10, 10, 0)));
    far += std::abs(h(m, g.index(30, 25, 0)) - h(m, g.index(10, 10, 0)));
  }
  EXPECT_LT(near, 0.5 * far);

  ModelErrorNoise fresh(b.config, b.layout, g);
  const auto again = b.perturbed(fresh, 7, q2), other = b.perturbed(fresh, 8, q2);
  auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), again);
  auto ho = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), other);
  double same = 0.0, differ = 0.0;
  for (int m = 0; m < N; ++m)
    for (int i = 0; i < g.cells[0]; ++i) {
      same = std::max(same, std::abs(ha(m, g.index(i, 5, 0)) - h(m, g.index(i, 5, 0))));
      differ = std::max(differ, std::abs(ho(m, g.index(i, 5, 0)) - h(m, g.index(i, 5, 0))));
    }
  EXPECT_EQ(same, 0.0);
  EXPECT_GT(differ, 0.1 * std::sqrt(q2));

  // Nothing is added without a variance.
  const auto still = b.perturbed(fresh, 9, 0.0);
  auto hs = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), still);
  for (int m = 0; m < N; ++m) EXPECT_EQ(hs(m, g.index(3, 3, 0)), 300.0);
}

// The added variance is q^2 with the filter's N - 1 normalisation: over 32 cycles of 8 members on
// a domain of ten wavelengths each way, the members' variance averaged over the cells and cycles
// is within 5 % of q^2 (a factor N / (N - 1) would put it 14 % above).
TEST(ModelError, TheAddedSpreadIsQOnAverage) {
  const int N = 8, cycles = 32;
  const Bank b(N, 5.0);
  const auto& g = b.decomposition.local();
  ModelErrorNoise noise(b.config, b.layout, g);
  const double q2 = 0.25;
  double sum = 0.0;
  for (int c = 0; c < cycles; ++c) {
    const auto x = b.perturbed(noise, c, q2);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
    double variance = 0.0;
    for (int j = 0; j < g.cells[1]; ++j)
      for (int i = 0; i < g.cells[0]; ++i) {
        double mean = 0.0, var = 0.0;
        for (int m = 0; m < N; ++m) mean += h(m, g.index(i, j, 0)) / N;
        for (int m = 0; m < N; ++m) var += (h(m, g.index(i, j, 0)) - mean) * (h(m, g.index(i, j, 0)) - mean) / (N - 1);
        variance += var;
      }
    sum += variance / static_cast<double>(g.interior_size());
  }
  std::printf("mean added variance %.4f for q^2 %.4f\n", sum / cycles, q2);
  EXPECT_NEAR(sum / cycles, q2, 0.05 * q2);
}

// The bank is a function of the cycle alone: one kept through 70 cycles (one field drawn anew
// each, twice round the bank, with gaps where no model error was added) holds the same fields as
// one made at cycle 70, as after a restore.
TEST(ModelError, ABankKeptThroughTheRunEqualsOneMadeAtItsLastCycle) {
  const int N = 6;
  const Bank b(N);
  const auto& g = b.decomposition.local();
  ModelErrorNoise kept(b.config, b.layout, g), fresh(b.config, b.layout, g);
  for (int c = 0; c < 70; ++c)
    if (c % 5 != 3) b.perturbed(kept, c, 0.01);
  const auto a = b.perturbed(kept, 70, 0.01), f = b.perturbed(fresh, 70, 0.01);
  auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a);
  auto hf = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f);
  for (int m = 0; m < N; ++m)
    for (int j = 0; j < g.cells[1]; ++j)
      for (int i = 0; i < g.cells[0]; ++i)
        ASSERT_EQ(ha(m, g.index(i, j, 0)), hf(m, g.index(i, j, 0))) << "member " << m << " cell " << i << ", " << j;
}
