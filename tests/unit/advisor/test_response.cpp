// Response models (kind response_ensemble): the least-squares fit of a function linear in some
// inputs with coefficients polynomial in others, its order chosen on validation data, the
// spread of its bootstrap members and noise term on data it has not seen, the model file, the
// checks on a package, refits, and proposals through it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "advisor/model.hpp"
#include "advisor/training.hpp"
#include "io/model_file.hpp"
#include "twin/error.hpp"

namespace {

namespace fs = std::filesystem;
using twin::advisor::Dataset;
using twin::advisor::Model;
using twin::advisor::ModelPackage;

// Inputs x0, x1 (a control) and a parameter t, rows grouped in trajectories of 10:
//   y0 = (1 + 0.5 t) x0 + 2 x1 + 0.3 t^2 x0,  y1 = -t x1 + 1, plus Gaussian noise.
// Linear in x0 and x1 for a given t; y0's coefficient is quadratic in t.
Dataset response_data(unsigned seed, int rows, double noise, double gain = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0), theta(-2.0, 2.0);
  std::normal_distribution<double> e(0.0, noise);
  Dataset d{3, 2, {}, {}, {}};
  double t = 0.0;
  for (int i = 0; i < rows; ++i) {
    if (i % 10 == 0) t = theta(rng);
    const double a = u(rng), b = u(rng);
    d.add({a, b, t}, {gain * ((1.0 + 0.5 * t) * a + 2.0 * b + 0.3 * t * t * a) + e(rng), -t * b + 1.0 + e(rng)},
          static_cast<long>(seed) * 100000 + i / 10);
  }
  return d;
}

twin::advisor::TrainSpec response_spec(unsigned seed = 3) {
  twin::advisor::TrainSpec s;
  s.name = "response";
  s.role = "surrogate";
  s.inputs = {"x0", "x1", "t"};
  s.outputs = {"y0", "y1"};
  s.ensemble = 5;
  s.seed = seed;
  s.response_factors = {"t"};
  return s;
}

ModelPackage fitted(const Dataset& d, unsigned seed = 3) {
  return twin::advisor::train_response_ensemble(d, response_spec(seed), MPI_COMM_SELF);
}

// The truth of response_data without noise.
std::vector<double> truth(const double* x) {
  return {(1.0 + 0.5 * x[2]) * x[0] + 2.0 * x[1] + 0.3 * x[2] * x[2] * x[0], -x[2] * x[1] + 1.0};
}

// With no group held out there is no held-out figure: the metrics say nothing rather than a
// perfect 0 (twin train with one control sequence).
TEST(Response, WithoutValidationRowsTheModelClaimsNoValidationError) {
  twin::advisor::TrainSpec spec = response_spec();
  spec.validation_group = [](long) { return false; };
  const ModelPackage p = twin::advisor::train_response_ensemble(response_data(1, 200, 0.01), spec, MPI_COMM_SELF);
  EXPECT_EQ(p.metrics.count("validation_rmse"), 0u);
  EXPECT_EQ(p.metrics.count("validation_relative_error"), 0u);
  EXPECT_EQ(p.metrics.count("final_validation_loss"), 0u);
  EXPECT_GT(p.metrics.at("training_rows"), 0.0);
  const ModelPackage held = fitted(response_data(1, 200, 0.01));
  EXPECT_GT(held.metrics.at("validation_rmse"), 0.0);
}

TEST(Response, FitsAFunctionLinearInTheInputsWithCoefficientsQuadraticInTheFactor) {
  const ModelPackage p = fitted(response_data(1, 2000, 0.01));
  EXPECT_EQ(p.kind, twin::advisor::kind_response_ensemble);
  EXPECT_EQ(p.metrics.at("response_order"), 2.0);  // t^2 x0 needs the second order
  EXPECT_EQ(p.attributes.at("response_factors"), "t");
  EXPECT_LT(p.metrics.at("validation_rmse"), 0.015);  // the noise is 0.01
  const Model m(p);
  const Dataset fresh = response_data(9, 200, 0.0);
  double worst = 0.0;
  for (long r = 0; r < fresh.rows(); ++r) {
    std::vector<double> mean, sd;
    m.predict_moments(fresh.x.data() + 3 * r, 1, mean, sd);
    const std::vector<double> y = truth(fresh.x.data() + 3 * r);
    for (int o = 0; o < 2; ++o) worst = std::max(worst, std::abs(mean[o] - y[o]));
  }
  EXPECT_LT(worst, 0.02);  // outputs span about 8
  // Batched and single-row inference agree (torch path and the plain C++ path).
  std::vector<double> batch_mean, batch_sd, row_mean, row_sd;
  m.predict_moments(fresh.x.data(), 4, batch_mean, batch_sd);
  m.predict_moments(fresh.x.data() + 3 * 3, 1, row_mean, row_sd);
  EXPECT_NEAR(batch_mean[6], row_mean[0], 1e-5);
  EXPECT_NEAR(batch_sd[7], row_sd[1], 1e-5);
}

TEST(Response, WithOnlyTheFirstOrderAllowedTheQuadraticCoefficientIsMissed) {
  auto s = response_spec();
  s.response_max_order = 1;
  const ModelPackage first = twin::advisor::train_response_ensemble(response_data(1, 2000, 0.01), s, MPI_COMM_SELF);
  EXPECT_EQ(first.metrics.at("response_order"), 1.0);
  EXPECT_GT(first.metrics.at("validation_rmse"), 5.0 * fitted(response_data(1, 2000, 0.01)).metrics.at("validation_rmse"));
}

// The +-2 sd band (members' spread and noise term) holds about 95 % of outcomes it has not
// seen, and the noise term is the data's noise.
TEST(Response, ItsSpreadCoversOutcomesItHasNotSeen) {
  const double noise = 0.1;
  const Model m(fitted(response_data(1, 2000, noise)));
  const Dataset fresh = response_data(17, 3000, noise);
  long covered = 0, total = 0;
  double sd_sum = 0.0;
  for (long r = 0; r < fresh.rows(); ++r) {
    std::vector<double> mean, sd;
    m.predict_moments(fresh.x.data() + 3 * r, 1, mean, sd);
    for (int o = 0; o < 2; ++o, ++total) {
      covered += std::abs(mean[o] - fresh.y[2 * r + o]) <= 2.0 * sd[o];
      sd_sum += sd[o];
    }
  }
  const double coverage = static_cast<double>(covered) / static_cast<double>(total);
  EXPECT_GT(coverage, 0.92);
  EXPECT_LT(coverage, 0.98);
  EXPECT_NEAR(sd_sum / static_cast<double>(total), noise, 0.3 * noise);
}

TEST(Response, IsDeterministicForASeedAndItsMembersDiffer) {
  const Dataset d = response_data(1, 600, 0.05);
  const ModelPackage a = fitted(d, 3), b = fitted(d, 3), c = fitted(d, 4);
  EXPECT_EQ(a.weights_sha256, b.weights_sha256);
  EXPECT_NE(a.weights_sha256, c.weights_sha256);  // other bootstrap draws
  std::vector<double> members;
  Model(a).predict(d.x.data(), 1, members);
  ASSERT_EQ(members.size(), 10u);
  EXPECT_NE(members[0], members[2]);
}

TEST(Response, RoundTripsThroughTheModelFile) {
  const ModelPackage p = fitted(response_data(1, 600, 0.05));
  const fs::path dir = fs::temp_directory_path() / ("twin_test_response_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  twin::io::write_model((dir / "m.h5").string(), p);
  const Model loaded(twin::io::read_model((dir / "m.h5").string())), original(p);
  const double x[3] = {0.2, -0.4, 1.1};
  std::vector<double> a, sa, b, sb;
  loaded.predict_moments(x, 1, a, sa);
  original.predict_moments(x, 1, b, sb);
  EXPECT_EQ(a, b);
  EXPECT_EQ(sa, sb);
  fs::remove_all(dir);
}

// A package whose structure does not hold is refused with what is wrong, even with its digests
// made to match (a file written by hand or by another tool).
TEST(Response, APackageWhoseStructureDoesNotHoldIsRefused) {
  const ModelPackage good = fitted(response_data(1, 600, 0.05));
  const auto resealed = [](ModelPackage p) {
    p.weights_sha256 = twin::advisor::weights_digest(p);
    p.package_sha256 = twin::advisor::package_digest(p);
    return p;
  };
  const auto refused_for = [&](const ModelPackage& p, const std::string& what) {
    try {
      Model m(resealed(p));
      ADD_FAILURE() << "accepted; expected: " << what;
    } catch (const twin::AdvisorError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  ModelPackage p = good;
  p.attributes["response_order"] = "3";
  refused_for(p, "response_order must be 1 or 2");
  p = good;
  p.attributes["response_factors"] = "pressure";
  refused_for(p, "factor 'pressure' is not one of its inputs");
  p = good;
  p.attributes.erase("response_factors");
  refused_for(p, "needs the attributes");
  p = good;
  p.attributes["response_order"] = p.attributes["response_order"] == "2" ? "1" : "2";  // the weights no longer fit
  refused_for(p, "wrong name or shape");
  p = good;
  p.weights[2].values[0] = -1.0f;
  refused_for(p, "negative standard deviation");
  p = good;
  p.weights[0].values[5] = NAN;
  refused_for(p, "non-finite");
  p = good;
  p.weights[1].values[0] += 1.0f;  // not resealed: the digest says so
  EXPECT_THROW(Model{p}, twin::AdvisorError);
}

// A refit (the running twin's retraining) keeps the start's factors and order, pools its
// statistics, and follows the new data.
TEST(Response, ARefitFollowsNewDataAndKeepsTheStartsStructure) {
  const ModelPackage start = fitted(response_data(1, 1000, 0.01));
  const Dataset changed = response_data(2, 500, 0.01, 1.3);  // y0 gains 30 %
  auto s = response_spec(8);
  s.response_factors.clear();  // taken from the start
  const ModelPackage refit = twin::advisor::train_response_ensemble(changed, s, MPI_COMM_SELF, &start);
  EXPECT_EQ(refit.attributes.at("response_factors"), "t");
  EXPECT_EQ(refit.attributes.at("response_order"), start.attributes.at("response_order"));
  EXPECT_EQ(refit.training.samples, start.training.samples + 500);
  EXPECT_EQ(refit.input_mean, start.input_mean);  // its coefficients are pulled towards the start's, in the same units
  EXPECT_LT(refit.metrics.at("validation_rmse"), 0.03);
  auto other = s;
  other.inputs = {"x0", "x1", "u"};
  EXPECT_THROW(twin::advisor::train_response_ensemble(changed, other, MPI_COMM_SELF, &start), twin::Error);
  twin::advisor::TrainSpec classes = s;
  classes.loss = twin::advisor::Loss::classification;
  EXPECT_THROW(twin::advisor::train_response_ensemble(changed, classes, MPI_COMM_SELF), twin::Error);
}

TEST(Response, ProposalsOptimiseThroughIt) {
  // With x0 = 0.5 and t = 1 given, y0 = 0.9 + 2 x1: y0 = 2.1 needs x1 = 0.6. One member: the
  // proposal's spread can only be the noise term.
  auto s = response_spec();
  s.ensemble = 1;
  const Model m(twin::advisor::train_response_ensemble(response_data(1, 2000, 0.01), s, MPI_COMM_SELF));
  twin::advisor::ProposalProblem pb;
  pb.features = {0.5, 0.0, 1.0};
  pb.control_inputs = {1};
  pb.lower = {-1.0};
  pb.upper = {1.0};
  pb.start = {0.0};
  pb.base = {0.0, 0.0};
  pb.target = {2.1, 0.0};
  pb.target_weight = {1.0, 0.0};
  pb.limit = {HUGE_VAL, HUGE_VAL};
  pb.iterations = 200;
  const twin::advisor::ProposalResult r = twin::advisor::propose(m, pb);
  EXPECT_NEAR(r.controls[0], 0.6, 0.02);
  ASSERT_EQ(r.std.size(), 2u);
  EXPECT_GT(r.std[0], 0.005);  // the noise term is in the proposal's spread (the noise is 0.01)
  EXPECT_LT(r.std[0], 0.05);
  std::vector<double> mean, sd;
  const double x[3] = {0.5, r.controls[0], 1.0};
  m.predict_moments(x, 1, mean, sd);
  EXPECT_NEAR(r.std[0], sd[0], 1e-4);
}

// Two factors: their cross term a*b in the features, in the same order on the batched (torch)
// and the single-row (plain C++) paths.
TEST(Response, TwoFactorsAndTheirCrossTermAgreeOnBothPaths) {
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Dataset d{4, 1, {}, {}, {}};
  for (int i = 0; i < 1500; ++i) {
    const double x = u(rng), a = u(rng), b = u(rng), c = u(rng);
    d.add({x, a, c, b}, {(1.0 + a * b + 0.5 * a * a) * x + 0.2 * b * c}, i / 10);
  }
  auto s = response_spec();
  s.inputs = {"x", "a", "c", "b"};
  s.outputs = {"y"};
  s.response_factors = {"b", "a"};
  const ModelPackage p = twin::advisor::train_response_ensemble(d, s, MPI_COMM_SELF);
  EXPECT_EQ(p.metrics.at("response_order"), 2.0);
  EXPECT_LT(p.metrics.at("validation_rmse"), 1e-3);  // the function is in the model's span
  const Model m(p);
  std::vector<double> batch_mean, batch_sd;
  m.predict_moments(d.x.data(), 20, batch_mean, batch_sd);
  for (int r = 0; r < 20; ++r) {
    std::vector<double> mean, sd;
    m.predict_moments(d.x.data() + 4 * r, 1, mean, sd);
    EXPECT_NEAR(mean[0], batch_mean[r], 1e-4);
    EXPECT_NEAR(mean[0], d.y[r], 2e-3);
  }
}

}  // namespace
