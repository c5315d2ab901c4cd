// The ensemble Kalman filter's pieces (src/assimilation): the localisation function and the
// parameter gate's threshold, weight and mixture.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <optional>
#include <random>
#include <vector>

#include "assimilation/enkf.hpp"
#include "assimilation/signatures.hpp"

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

// The signatures at a cycle's readings: a parameter's are its covariances with them over the
// members, a control's its response at each reading's sensor (readings in any order, sensors
// missing from the cycle left out).
TEST(Enkf, TheSignatureRowsArePerParameterCovariancesThenPerControlResponses) {
  const int N = 3, P = 1;
  const std::vector<double> theta = {1.0, 2.0, 3.0};  // mean 2
  // Two readings: anomalies (-1, 0, 1) and (2, 0, -2) over the members.
  const std::vector<double> yp = {-1.0, 2.0, 0.0, 0.0, 1.0, -2.0};
  const std::vector<int> sensor = {2, 0};                          // readings of sensors 2 and 0
  const std::vector<std::vector<double>> controls = {{10.0, 20.0, 30.0}, {-1.0, -2.0, -3.0}};
  const std::vector<double> rows = twin::detail::signature_rows(theta, yp, N, P, sensor, &controls);
  const std::vector<double> expected = {1.0, -2.0,    // (sum (theta - 2) yp) / (N - 1)
                                        30.0, 10.0,   // the first control at sensors 2 and 0
                                        -3.0, -1.0};  // the second
  ASSERT_EQ(rows.size(), expected.size());
  for (std::size_t i = 0; i < rows.size(); ++i) EXPECT_DOUBLE_EQ(rows[i], expected[i]) << i;
  EXPECT_EQ(twin::detail::signature_rows(theta, yp, N, P, sensor, nullptr).size(), 2u);
}

// The innovation split along the parameters' signatures (for the anomaly diagnosis): a departure
// shaped as a parameter's covariances with the readings is all along it, with nothing left
// unexplained; one at a single reading the signatures do not reach is all unexplained; under
// consistency (d drawn from G) each `along` is standard normal and the rest chi-square with
// n - P degrees of freedom.
TEST(Enkf, TheInnovationSplitsAlongTheParametersSignatures) {
  using twin::detail::split_along_signatures;
  const int n = 4, P = 2;
  // G = diag(1, 4, 1, 1) plus a correlation between readings 0 and 1.
  std::vector<double> g = {1.0, 0.5, 0.0, 0.0, 0.5, 4.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0};
  ASSERT_TRUE(twin::detail::cholesky(g, n));
  const std::vector<double> c = {0.3, 0.6, 0.1, 0.0,    // the first parameter's signature
                                 0.0, 0.2, -0.4, 0.0};  // the second's; neither reaches reading 3
  {
    const std::vector<double> d = {0.9, 1.8, 0.3, 0.0};  // 3 times the first signature
    const auto split = split_along_signatures(g, n, d, c, P);
    EXPECT_NEAR(split.unexplained, 0.0, 1e-6);  // the ridge on B leaves a trace
    EXPECT_EQ(split.dof, 2);
    // along_0^2 is then all of D: d = 3 c_0, so D = 9 c_0' G^-1 c_0 = along_0^2.
    std::vector<double> gid(d);
    twin::detail::cholesky_solve(g, n, gid.data());
    double D = 0.0;
    for (int r = 0; r < n; ++r) D += d[r] * gid[r];
    EXPECT_NEAR(split.statistic, D, 1e-12 * D);
    EXPECT_NEAR(split.along[0] * split.along[0], D, 1e-9);
    EXPECT_GT(split.along[0], 0.0);
  }
  {
    const std::vector<double> d = {0.0, 0.0, 0.0, -2.5};  // where no signature reaches
    const auto split = split_along_signatures(g, n, d, c, P);
    EXPECT_NEAR(split.along[0], 0.0, 1e-12);
    EXPECT_NEAR(split.along[1], 0.0, 1e-12);
    EXPECT_NEAR(split.unexplained, 6.25, 1e-9);
  }
  {  // strongly correlated signatures are fitted together, not one by one: a departure made of
     // both leaves nothing, where fitting each alone would leave (or remove) their overlap twice
    const std::vector<double> close = {0.3, 0.6, 0.1, 0.0,   //
                                       0.25, 0.5, 0.2, 0.05};
    const std::vector<double> d = {0.55, 1.1, 0.3, 0.05};  // the sum of the two
    const auto split = split_along_signatures(g, n, d, close, P);
    EXPECT_NEAR(split.unexplained, 0.0, 1e-6);
    std::vector<double> gid(d);
    twin::detail::cholesky_solve(g, n, gid.data());
    double D = 0.0;
    for (int r = 0; r < n; ++r) D += d[r] * gid[r];
    const double one_by_one = D - split.along[0] * split.along[0] - split.along[1] * split.along[1];
    EXPECT_GT(std::abs(one_by_one), 0.1 * D) << "the test's signatures must overlap for it to tell the two apart";
  }
  {  // no more readings than signatures: nothing left to tell a remainder by
    std::vector<double> g2 = {1.0, 0.0, 0.0, 1.0};
    ASSERT_TRUE(twin::detail::cholesky(g2, 2));
    const auto split = split_along_signatures(g2, 2, {1.0, -1.0}, {1.0, 0.0, 0.0, 1.0}, 2);
    EXPECT_EQ(split.dof, 0);
    EXPECT_TRUE(std::isnan(split.unexplained));
    EXPECT_DOUBLE_EQ(split.along[0], 1.0);
  }
  {  // a parameter without spread has no signature: along 0, nothing fitted for it
    const std::vector<double> flat = {0.3, 0.6, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0};
    const auto split = split_along_signatures(g, n, {0.0, 0.0, 1.0, 0.0}, flat, P);
    EXPECT_DOUBLE_EQ(split.along[1], 0.0);
    EXPECT_EQ(split.dof, 3);
  }
  // Consistent innovations: d = L e with e standard normal has covariance G.
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  const int draws = 20000;
  double along0 = 0.0, along0_sq = 0.0, rest = 0.0;
  for (int k = 0; k < draws; ++k) {
    std::vector<double> e(n), d(n, 0.0);
    for (double& v : e) v = normal(rng);
    for (int a = 0; a < n; ++a)
      for (int b = 0; b <= a; ++b) d[a] += g[a * n + b] * e[b];
    const auto split = split_along_signatures(g, n, d, c, P);
    along0 += split.along[0] / draws;
    along0_sq += split.along[0] * split.along[0] / draws;
    rest += split.unexplained / draws;
  }
  EXPECT_NEAR(along0, 0.0, 0.03);
  EXPECT_NEAR(along0_sq, 1.0, 0.04);
  EXPECT_NEAR(rest, 2.0, 0.06);  // chi-square with n - P = 2 degrees of freedom
}

// The part of an innovation the parameters' signatures explain (the model error's persistence
// test reads the rest): the generalised least-squares fit in G's metric, what split_along_signatures
// removes from D.
TEST(Enkf, TheFitAlongTheSignaturesIsWhatTheSplitRemoves) {
  using twin::detail::fitted_along_signatures;
  const int n = 4, P = 2;
  std::vector<double> g = {1.0, 0.5, 0.0, 0.0, 0.5, 4.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0};
  ASSERT_TRUE(twin::detail::cholesky(g, n));
  const std::vector<double> c = {0.3, 0.6, 0.1, 0.0,  //
                                 0.0, 0.2, -0.4, 0.0};
  const auto metric = [&](const std::vector<double>& v) {
    std::vector<double> gv(v);
    twin::detail::cholesky_solve(g, n, gv.data());
    double q = 0.0;
    for (int r = 0; r < n; ++r) q += v[r] * gv[r];
    return q;
  };
  {  // made of the signatures: all of it is fitted, and each one's share found
    const std::vector<double> d = {0.9, 2.2, -0.5, 0.0};  // 3 c_0 + 2 c_1
    const auto fitted = fitted_along_signatures(g, n, d, c, P);
    for (int r = 0; r < n; ++r) EXPECT_NEAR(fitted[r], d[r], 1e-6) << "reading " << r;
  }
  {  // where no signature reaches, nothing is fitted
    const auto fitted = fitted_along_signatures(g, n, {0.0, 0.0, 0.0, -2.5}, c, P);
    for (int r = 0; r < n; ++r) EXPECT_NEAR(fitted[r], 0.0, 1e-12) << "reading " << r;
  }
  {  // in general the residual's D is the split's unexplained part, and only the first K rows count
    const std::vector<double> d = {0.4, -1.0, 0.7, 1.3};
    const auto split = twin::detail::split_along_signatures(g, n, d, c, P);
    const auto fitted = fitted_along_signatures(g, n, d, c, P);
    std::vector<double> rest(n);
    for (int r = 0; r < n; ++r) rest[r] = d[r] - fitted[r];
    EXPECT_NEAR(metric(rest), split.unexplained, 1e-6);
    const auto first = fitted_along_signatures(g, n, d, c, 1);
    const auto split1 = twin::detail::split_along_signatures(g, n, d, c, 1);
    for (int r = 0; r < n; ++r) rest[r] = d[r] - first[r];
    EXPECT_NEAR(metric(rest), split1.unexplained, 1e-6);
    EXPECT_GT(split1.unexplained, split.unexplained + 0.01);
  }
  {  // a parameter without spread: nothing fitted for it
    const std::vector<double> flat(static_cast<std::size_t>(2 * n), 0.0);
    const auto fitted = fitted_along_signatures(g, n, {1.0, 1.0, 1.0, 1.0}, flat, P);
    for (int r = 0; r < n; ++r) EXPECT_EQ(fitted[r], 0.0) << "reading " << r;
  }
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

TEST(Enkf, AGatedUpdatesVarianceIsTheMixtures) {
  using twin::detail::gated_update_variance;
  EXPECT_DOUBLE_EQ(gated_update_variance(1.0, 4.0, 1.0, 3.0), 1.0);   // the readings believed: the update
  EXPECT_DOUBLE_EQ(gated_update_variance(0.0, 4.0, 1.0, 3.0), 4.0);   // not at all: the prior
  EXPECT_DOUBLE_EQ(gated_update_variance(0.5, 4.0, 1.0, 0.0), 2.5);   // no move: the two variances averaged
  EXPECT_DOUBLE_EQ(gated_update_variance(0.5, 4.0, 1.0, 2.0), 3.5);   // and the two means' distance
  EXPECT_DOUBLE_EQ(gated_update_variance(0.1, 1.0, 1.0, 10.0), 1.0 + 0.09 * 100.0);
}

namespace {

// One analysis of 20 members on a small plate with one estimated parameter that the two
// readings see (each member's forecast at the sensors moves 10 K per unit of it), and readings
// `departure` K above the members' mean: far enough past the consistency test to be gated.
struct GatedAnalysis {
  twin::Config config;
  twin::solvers::Decomposition decomposition;
  twin::solvers::EnsembleLayout layout;
  std::vector<double> theta, hx;
  twin::detail::ObservationSet obs;
  static constexpr int N = 20, S = 2;

  explicit GatedAnalysis(double departure)
      : config(make_config()),
        decomposition(config.grid, MPI_COMM_SELF),
        layout(MPI_COMM_SELF, N, std::nullopt, config.grid) {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> normal(0.0, 1.0);
    double mean = 0.0;
    for (int m = 0; m < N; ++m) {
      theta.push_back(1.0 + 0.2 * normal(rng));
      for (int s = 0; s < S; ++s) hx.push_back(300.0 + 10.0 * (theta.back() - 1.0) + 0.3 * normal(rng));
      mean += (hx[m * S] + hx[m * S + 1]) / (2.0 * N);
    }
    obs.sensor = {0, 1};
    obs.value = {mean + departure, mean + departure};
    obs.error_std = {0.5, 0.5};
  }
  static twin::Config make_config() {
    twin::Config c;
    c.grid.cells = {10, 8};
    c.grid.extent_m = {0.1, 0.08};
    c.ensemble.members = N;
    twin::EstimatedParameterConfig p;
    p.name = "diffusivity_factor";
    p.prior_std = 10.0;  // no cap on the mixture's spread here
    p.min = -100.0;
    p.max = 100.0;
    c.ensemble.parameters = {p};
    c.assimilation.localization_m = 0.05;
    c.assimilation.inflation = 1.0;
    return c;
  }
  // The parameters after one analysis with the gate at `gate` (0: off), and its report.
  std::vector<double> analyse(double gate, twin::detail::AnalysisReport& report, long cycle = 0) {
    config.assimilation.parameter_gate = gate;
    const std::vector<std::array<double, 3>> positions = {{{0.03, 0.04, 0.0}}, {{0.07, 0.04, 0.0}}};
    const twin::detail::EnsembleFilter filter(config, layout, decomposition.local(), positions);
    twin::solvers::Field x("x", N, decomposition.local().padded_size());
    Kokkos::deep_copy(x, 300.0);
    std::vector<double> t = theta, h = hx;
    report = filter.analyse(x, h, t, obs, cycle);
    return t;
  }
};

double mean_of(const std::vector<double>& v) {
  double s = 0.0;
  for (double e : v) s += e / v.size();
  return s;
}
double variance_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0.0;
  for (double e : v) s += (e - m) * (e - m) / (v.size() - 1);
  return s;
}

}  // namespace

// The filter's gated update moves the parameter's mean w of the full update's way and gives its
// members the mixture's variance (the same draws: the full update is the gate-off analysis).
TEST(Enkf, AGatedParameterUpdateTakesTheMixturesMeanAndVariance) {
  GatedAnalysis a(8.0);
  twin::detail::AnalysisReport full_report, gated_report;
  const std::vector<double> full = a.analyse(0.0, full_report), gated = a.analyse(0.001, gated_report);
  ASSERT_DOUBLE_EQ(full_report.parameter_weight, 1.0);
  const double w = gated_report.parameter_weight;
  ASSERT_GT(w, 0.0);
  ASSERT_LT(w, 1.0) << "the readings are past the test";
  const double move = mean_of(full) - mean_of(a.theta);
  ASSERT_GT(std::abs(move), 2.0 * std::sqrt(variance_of(full))) << "the full update moves the parameter a long way";
  EXPECT_NEAR(mean_of(gated), mean_of(a.theta) + w * move, 1e-9);
  const double mixture = twin::detail::gated_update_variance(w, variance_of(a.theta), variance_of(full), move);
  EXPECT_NEAR(variance_of(gated), mixture, 1e-9 * mixture);
  // Moving each member w of its way alone leaves less than that: what the members used to claim.
  std::vector<double> partial(a.theta);
  for (std::size_t m = 0; m < partial.size(); ++m) partial[m] += w * (full[m] - a.theta[m]);
  EXPECT_LT(variance_of(partial), 0.8 * mixture);
  // A consistent cycle is not a mixture: the update as before.
  GatedAnalysis calm(0.0);
  twin::detail::AnalysisReport calm_full, calm_gated;
  const std::vector<double> calm_update = calm.analyse(0.001, calm_gated);
  EXPECT_EQ(calm.analyse(0.0, calm_full), calm_update);
  EXPECT_DOUBLE_EQ(calm_gated.parameter_weight, 1.0);
  // Nor is a consistent cycle in the hold after a failed one: its readings passed, and the cap
  // moves each member that share of its way, no more spread.
  calm.obs.parameter_weight_cap = 0.5;
  twin::detail::AnalysisReport held;
  const std::vector<double> capped = calm.analyse(0.001, held);
  ASSERT_DOUBLE_EQ(held.test_weight, 1.0);
  ASSERT_DOUBLE_EQ(held.parameter_weight, 0.5);
  for (std::size_t m = 0; m < capped.size(); ++m)
    EXPECT_NEAR(capped[m], calm.theta[m] + 0.5 * (calm_update[m] - calm.theta[m]), 1e-12) << m;
}

// The spin-up test (assimilation.parameter_spin_up_cycles) acts in its first cycles only: from
// that cycle on, the update is the one without it, draw for draw.
TEST(Enkf, TheSpinUpTestEndsAfterItsCycles) {
  GatedAnalysis a(0.0);
  // A parameter the readings barely see: its members' forecasts move 0.1 K per unit of it, less
  // than the members' own scatter, so chance correlations are most of its update.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int m = 0; m < GatedAnalysis::N; ++m)
    for (int s = 0; s < GatedAnalysis::S; ++s) a.hx[m * GatedAnalysis::S + s] = 300.0 + 0.1 * (a.theta[m] - 1.0) + 0.3 * normal(rng);
  a.obs.value = {300.5, 300.5};
  twin::detail::AnalysisReport report;
  const long last = 4;
  std::vector<std::vector<double>> off, on;
  for (long cycle : {last, last + 1, last + 20}) {
    a.config.assimilation.parameter_spin_up_cycles = 0;
    off.push_back(a.analyse(0.0, report, cycle));
    a.config.assimilation.parameter_spin_up_cycles = static_cast<int>(last + 1);
    on.push_back(a.analyse(0.0, report, cycle));
  }
  const double move_off = std::abs(mean_of(off[0]) - mean_of(a.theta)), move_on = std::abs(mean_of(on[0]) - mean_of(a.theta));
  EXPECT_LT(move_on, 0.5 * move_off) << "in its last cycle the test holds back most of a chance update";
  EXPECT_EQ(on[1], off[1]) << "the cycle after it, the update is the plain one";
  EXPECT_EQ(on[2], off[2]);
}
