// Model packages end to end: data-parallel training, the HDF5 file, integrity and version
// checks, deterministic training, and proposals through a surrogate.
#include <gtest/gtest.h>

#include <hdf5.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "advisor/model.hpp"
#include "advisor/training.hpp"
#include "io/model_registry.hpp"
#include "twin/error.hpp"

namespace {

namespace fs = std::filesystem;
using twin::advisor::Dataset;
using twin::advisor::Model;
using twin::advisor::ModelPackage;

// y = A x with two inputs and two outputs: y0 = x0 + 2 x1, y1 = -x0 (plus a little noise).
Dataset linear_data(unsigned seed, int rows) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Dataset d{2, 2, {}, {}, {}};
  for (int i = 0; i < rows; ++i) {
    const double a = u(rng), b = u(rng);
    d.add({a, b}, {a + 2.0 * b + 0.001 * u(rng), -a});
  }
  return d;
}

twin::advisor::TrainSpec spec(unsigned seed) {
  twin::advisor::TrainSpec s;
  s.name = "toy";
  s.role = "surrogate";
  s.inputs = {"x0", "x1"};
  s.outputs = {"y0", "y1"};
  s.ensemble = 3;
  s.hidden = {32};
  s.epochs = 400;
  s.batch = 64;
  s.seed = seed;
  return s;
}

fs::path scratch(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("twin_test_models_" + std::to_string(::getpid())) / name;
  fs::create_directories(p.parent_path());
  return p;
}

ModelPackage trained(unsigned seed = 5) { return twin::advisor::train_mlp_ensemble(linear_data(1, 600), spec(seed), MPI_COMM_SELF); }

TEST(Training, LearnsAndStoresWhatItNeeds) {
  const ModelPackage p = trained();
  EXPECT_LT(p.metrics.at("validation_relative_error"), 0.05);
  EXPECT_EQ(p.weights.size(), 4u);  // two layers: weight and bias each
  EXPECT_EQ(p.weights_sha256, twin::advisor::weights_digest(p));
  EXPECT_EQ(p.training.mean.size(), 2u);
  EXPECT_NEAR(p.training.mean[0], 0.0, 0.1);
  EXPECT_NEAR(p.training.covariance[0], 1.0 / 3.0, 0.05);  // variance of U(-1, 1)
  EXPECT_EQ(p.training.fractions.size(), 2u * static_cast<std::size_t>(p.training.bins));
}

TEST(Training, IsDeterministicForASeed) {
  EXPECT_EQ(trained(5).weights_sha256, trained(5).weights_sha256);
  EXPECT_NE(trained(5).weights_sha256, trained(6).weights_sha256);
}

// Fine-tuning (the running twin's retraining) starts from a model's weights and normalisation:
// on data of a changed function it ends closer to it than the model it started from, and
// better than a model trained from scratch for the same few epochs.
TEST(Training, FineTuningStartsFromTheModelAndAdaptsToNewData) {
  const ModelPackage start = trained();
  Dataset changed{2, 2, {}, {}, {}};  // y0 gains 30 %: a plant that changed
  for (long i = 0; i < 300; ++i) {
    const double a = linear_data(2, 300).x[2 * i], b = linear_data(2, 300).x[2 * i + 1];
    changed.add({a, b}, {1.3 * (a + 2.0 * b), -a});
  }
  auto short_spec = spec(7);
  short_spec.epochs = 40;
  twin::advisor::EnsembleTrainer tuner(changed, short_spec, MPI_COMM_SELF, &start);
  const double before = tuner.validation_loss();  // the start model on the new data
  while (tuner.step()) {
  }
  EXPECT_EQ(tuner.epoch(), 40);
  const ModelPackage tuned = tuner.finish();
  const ModelPackage scratch_model = twin::advisor::train_mlp_ensemble(changed, short_spec, MPI_COMM_SELF);
  EXPECT_LT(tuner.validation_loss(), 0.5 * before);
  EXPECT_LT(tuned.metrics.at("validation_rmse"), scratch_model.metrics.at("validation_rmse"));
  EXPECT_EQ(tuned.input_mean, start.input_mean);  // the weights keep the normalisation they were trained with
  EXPECT_EQ(tuned.hidden, start.hidden);
  // Its OOD statistics cover both data sets: the pooled mean lies between theirs.
  EXPECT_EQ(tuned.training.samples, start.training.samples + 300);
  const double fresh = twin::advisor::train_mlp_ensemble(changed, short_spec, MPI_COMM_SELF).training.mean[0];
  EXPECT_NEAR(tuned.training.mean[0], (600.0 * start.training.mean[0] + 300.0 * fresh) / 900.0, 1e-12);
  auto other = spec(7);
  other.inputs = {"x0", "z"};
  EXPECT_THROW(twin::advisor::EnsembleTrainer(changed, other, MPI_COMM_SELF, &start), twin::Error);
}

// Training in steps (slices of the cycle's slack) gives the same model as training at once.
TEST(Training, StepByStepEqualsAtOnce) {
  const Dataset d = linear_data(1, 600);
  auto s = spec(5);
  s.epochs = 30;
  twin::advisor::EnsembleTrainer t(d, s, MPI_COMM_SELF);
  while (t.step()) {
  }
  EXPECT_EQ(t.epoch(), 30);
  EXPECT_FALSE(t.step());
  EXPECT_EQ(t.finish().weights_sha256, twin::advisor::train_mlp_ensemble(d, s, MPI_COMM_SELF).weights_sha256);
}

// Inputs far from 0 with small spread, as temperatures in K are: the normalisation folded into
// the first and last layers at load must give the same function the training fitted.
TEST(Model, PredictsInRawUnitsForInputsFarFromZero) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(300.0, 320.0);
  Dataset d{2, 2, {}, {}, {}};
  for (int i = 0; i < 600; ++i) {
    const double a = u(rng), b = u(rng);
    d.add({a, b}, {(a - 310.0) + 2.0 * (b - 310.0) + 500.0, -0.5 * (a - 310.0)});
  }
  const Model m(twin::advisor::train_mlp_ensemble(d, spec(5), MPI_COMM_SELF));
  double worst = 0.0;
  for (int i = 0; i < 50; ++i) {
    const double x[2] = {u(rng), u(rng)};
    std::vector<double> mean, sd;
    m.predict_moments(x, 1, mean, sd);
    worst = std::max(worst, std::abs(mean[0] - ((x[0] - 310.0) + 2.0 * (x[1] - 310.0) + 500.0)));
    worst = std::max(worst, std::abs(mean[1] + 0.5 * (x[0] - 310.0)));
  }
  EXPECT_LT(worst, 1.0);  // outputs span 60 and 10: a few per cent of the range
}

// One row goes through the plain C++ forward, batches through LibTorch: the same numbers.
TEST(Model, OneRowAndBatchesAgree) {
  const Model m(trained());
  const double x[4] = {0.3, -0.7, -0.2, 0.9};
  std::vector<double> batch, one, mean_b, sd_b, mean_1, sd_1;
  m.predict(x, 2, batch);  // [members, 2, outputs]
  m.predict_moments(x, 2, mean_b, sd_b);
  const int K = m.members(), O = m.outputs();
  for (int row = 0; row < 2; ++row) {
    m.predict(x + 2 * row, 1, one);
    ASSERT_EQ(static_cast<int>(one.size()), K * O);
    for (int k = 0; k < K; ++k)
      for (int o = 0; o < O; ++o) EXPECT_NEAR(one[k * O + o], batch[(k * 2 + row) * O + o], 1e-5);
    m.predict_moments(x + 2 * row, 1, mean_1, sd_1);
    for (int o = 0; o < O; ++o) {
      EXPECT_NEAR(mean_1[o], mean_b[row * O + o], 1e-5);
      EXPECT_NEAR(sd_1[o], sd_b[row * O + o], 1e-5);
    }
  }
  const double bad[2] = {std::nan(""), 0.0};
  m.predict_moments(bad, 1, mean_1, sd_1);
  EXPECT_TRUE(std::isnan(mean_1[0]));  // passed on for the gates to catch, never hidden
}

TEST(ModelFile, RoundTripGivesTheSamePredictions) {
  ModelPackage p = trained();
  p.name = "toy";
  p.version = 1;
  p.package_sha256 = twin::advisor::package_digest(p);  // sealed again after the edits, as the registry does
  const std::string path = scratch("toy.h5").string();
  twin::io::write_model(path, p);
  const Model a(p), b(twin::io::read_model(path));
  const std::vector<double> x{0.3, -0.2, -0.5, 0.9};
  std::vector<double> ma, sa, mb, sb;
  a.predict_moments(x.data(), 2, ma, sa);
  b.predict_moments(x.data(), 2, mb, sb);
  ASSERT_EQ(ma.size(), 4u);
  for (std::size_t i = 0; i < ma.size(); ++i) EXPECT_DOUBLE_EQ(ma[i], mb[i]);
  EXPECT_NEAR(ma[0], 0.3 - 0.4, 0.1);
  EXPECT_NEAR(ma[1], -0.3, 0.1);
  EXPECT_EQ(b.members(), 3);
}

TEST(ModelFile, TamperedWeightsAreRefusedBeforeUse) {
  ModelPackage p = trained();
  p.weights[0].values[3] += 1e-3f;  // one changed weight, hash not updated
  const std::string path = scratch("tampered.h5").string();
  twin::io::write_model(path, p);
  try {
    Model m(twin::io::read_model(path));
    FAIL() << "a tampered model was accepted";
  } catch (const twin::AdvisorError& e) {
    EXPECT_NE(std::string(e.what()).find("sha256 mismatch"), std::string::npos) << e.what();
  }
}

TEST(ModelFile, FlippedBytesAndTruncationAreCaught) {
  const ModelPackage p = trained();
  const std::string good = scratch("good.h5").string();
  twin::io::write_model(good, p);
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Truncated: half a file.
  const std::string half = scratch("half.h5").string();
  std::ofstream(half, std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size() / 2));
  EXPECT_THROW(twin::io::read_model(half), twin::DataError);
  // Every 97th byte flipped in turn, one at a time: never accepted silently with other weights.
  int caught = 0, identical = 0;
  for (std::size_t at = 0; at < bytes.size(); at += 97) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    const std::string path = scratch("flipped.h5").string();
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(flipped.data(), static_cast<long>(flipped.size()));
    try {
      const Model m(twin::io::read_model(path));
      // Accepted: the flip hit bytes that carry no weight (padding, unused metadata space).
      EXPECT_EQ(m.package().weights_sha256, p.weights_sha256);
      ++identical;
    } catch (const twin::Error&) {  // DataError (unreadable) or AdvisorError (hash, shapes)
      ++caught;
    }
  }
  EXPECT_GT(caught, 0);
  SUCCEED() << caught << " flips refused, " << identical << " harmless";
}

// Model files are written in HDF5's checksummed (1.8) format, and a file in the unchecksummed
// default format, whose damaged symbol tables libhdf5 walks unchecked, is refused before libhdf5
// parses more than its first bytes, with a message that says how to convert an intact one.
TEST(ModelFile, OnlyTheChecksummedHdf5FormatIsRead) {
  const std::string path = scratch("format.h5").string();
  twin::io::write_model(path, trained());
  const auto superblock_version = [](const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    char head[9] = {0};
    in.read(head, sizeof head);
    return static_cast<int>(static_cast<unsigned char>(head[8]));
  };
  EXPECT_EQ(superblock_version(path), 2);
  EXPECT_NO_THROW(twin::io::read_model(path));

  const std::string old = scratch("unchecksummed.h5").string();
  {
    const hid_t f = H5Fcreate(old.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);  // the 1.6 default
    ASSERT_GE(f, 0);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t set = H5Dcreate2(f, "metadata", H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(set);
    H5Sclose(space);
    H5Fclose(f);
  }
  ASSERT_EQ(superblock_version(old), 0);
  try {
    twin::io::read_model(old);
    FAIL() << "a model file in the unchecksummed format was read";
  } catch (const twin::DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(old), std::string::npos) << what;
    EXPECT_NE(what.find("unchecksummed"), std::string::npos) << what;
    EXPECT_NE(what.find("h5repack --latest"), std::string::npos) << what;
  }
}

TEST(ModelFile, IncompatibleLibraryVersionAndShapesAreRefused) {
  ModelPackage p = trained();
  p.libtorch_version = "0.4.1";
  EXPECT_THROW(Model{p}, twin::AdvisorError);
  p = trained();
  p.inputs.push_back("x2");  // the weights expect 2 inputs
  p.input_mean.push_back(0.0);
  p.input_scale.push_back(1.0);
  EXPECT_THROW(Model{p}, twin::AdvisorError);
  EXPECT_THROW(twin::io::read_model(scratch("missing.h5").string()), twin::DataError);
}

TEST(Registry, AddPromoteRollback) {
  const fs::path dir = scratch("registry");
  twin::io::ModelRegistry r(dir.string());
  ModelPackage p = trained();
  EXPECT_EQ(r.add(p), 1);
  EXPECT_EQ(r.add(p), 2);
  EXPECT_EQ(r.active("toy"), 2);
  EXPECT_EQ(twin::io::read_model(r.path("toy", 2)).lineage.parent_version, 1);
  EXPECT_EQ(r.rollback("toy"), 1);
  EXPECT_EQ(r.active("toy"), 1);
  EXPECT_THROW(r.rollback("toy"), twin::DataError);  // v1 has no parent
  EXPECT_THROW(r.promote("toy", 7), twin::DataError);
  EXPECT_EQ(r.list().size(), 2u);
}

// Every transition is on record: a version's state (active, shadow, retired, rolled back,
// rejected) and the reason; lineage follows the parents; a broken history line is skipped.
TEST(Registry, StatesHistoryAndLineage) {
  const fs::path dir = scratch("registry_states");
  twin::io::ModelRegistry r(dir.string());
  ModelPackage p = trained();
  ASSERT_EQ(r.add(p), 1);
  p.attributes["origin"] = "retrained in a test";
  p.attributes["data_windows"] = "abc,def";
  ASSERT_EQ(r.add(p, false, "shadow", "drift of surrogate_error"), 2);
  EXPECT_EQ(r.active("toy"), 1);  // a shadow does not move the pointer
  EXPECT_EQ(r.state("toy", 1), "active");
  EXPECT_EQ(r.state("toy", 2), "shadow");
  r.promote("toy", 2, "better by 20 % over 30 cycles");
  EXPECT_EQ(r.state("toy", 1), "retired");
  EXPECT_EQ(r.state("toy", 2), "active");
  EXPECT_EQ(r.rollback("toy", "realised error 1.5x the retired one's"), 1);
  EXPECT_EQ(r.state("toy", 2), "rolled_back");
  EXPECT_EQ(r.state("toy", 1), "active");
  ASSERT_EQ(r.add(p, false, "shadow", "operator"), 3);
  r.mark("toy", 3, "rejected", "not better than the active one");
  EXPECT_EQ(r.state("toy", 3), "rejected");
  const auto chain = r.lineage("toy", 3);
  ASSERT_EQ(chain.size(), 2u);  // v3's parent is v1, the active one when it was stored
  EXPECT_EQ(chain[0].version, 3);
  EXPECT_EQ(chain[0].attributes.at("data_windows"), "abc,def");
  EXPECT_EQ(chain[1].version, 1);
  {
    std::ofstream(dir / "toy.history.jsonl", std::ios::app) << "{not json\n" << "[1,2]\n";
  }
  int skipped = 0;
  EXPECT_EQ(r.history("toy", &skipped).size(), 8u);
  EXPECT_EQ(skipped, 2);
  EXPECT_EQ(r.state("toy", 3), "rejected");
  fs::remove(dir / "toy-v0001.h5");  // a parent that is gone ends the chain with what went wrong
  const auto cut = r.lineage("toy", 3);
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_TRUE(cut[1].kind.empty());
  EXPECT_NE(cut[1].role.find("no such model file"), std::string::npos);
}

TEST(Proposal, FindsTheControlsThatMeetTheTargetInsideTheBox) {
  // A surrogate of y0 = x0 + 2 x1: with x0 = 0.3 given, reach y0 = 1.1, i.e. x1 = 0.4.
  const Model m(trained());
  twin::advisor::ProposalProblem pb;
  pb.features = {0.3, 0.0};
  pb.control_inputs = {1};
  pb.lower = {-1.0};
  pb.upper = {1.0};
  pb.start = {0.0};
  pb.base = {0.0, 0.0};
  pb.target = {1.1, 0.0};
  pb.target_weight = {1.0, 0.0};
  pb.limit = {HUGE_VAL, HUGE_VAL};
  pb.iterations = 200;
  const twin::advisor::ProposalResult r = twin::advisor::propose(m, pb);
  EXPECT_TRUE(r.complete);
  EXPECT_NEAR(r.controls[0], 0.4, 0.05);
  pb.upper = {0.2};  // the box binds: the best is its edge
  const twin::advisor::ProposalResult edge = twin::advisor::propose(m, pb);
  EXPECT_LE(edge.controls[0], 0.2);
  EXPECT_NEAR(edge.controls[0], 0.2, 1e-3);
  pb.limit = {0.5, HUGE_VAL};  // a limit below the target pulls the proposal down
  pb.upper = {1.0};
  EXPECT_LT(twin::advisor::propose(m, pb).controls[0], 0.3);
  pb.deadline = std::chrono::steady_clock::now();  // no time: evaluated, not optimised
  EXPECT_FALSE(twin::advisor::propose(m, pb).complete);
}

}  // namespace

// Issue 14: the digest covers everything that changes a decision or what the audit log says.
TEST(ModelFile, EditsToNormalisationStatisticsOrMetadataAreRefused) {
  const fs::path dir = scratch("sealed");
  twin::io::ModelRegistry r(dir.string());
  r.add(trained());
  const std::string path = r.path("toy", 1);
  EXPECT_NO_THROW(Model m(twin::io::read_model(path)));
  const std::vector<std::pair<std::string, std::function<void(ModelPackage&)>>> edits = {
      {"input mean", [](ModelPackage& p) { p.input_mean[0] += 1e-9; }},
      {"output scale", [](ModelPackage& p) { p.output_scale[1] *= 1.0001; }},
      {"training statistics", [](ModelPackage& p) { p.training.std[0] *= 2.0; }},
      {"histogram", [](ModelPackage& p) { p.training.fractions[0] += 0.01; }},
      {"metrics", [](ModelPackage& p) { p.metrics["validation_relative_error"] = 0.0; }},
      {"version", [](ModelPackage& p) { p.version = 2; }},
      {"lineage", [](ModelPackage& p) { p.lineage.parent_version = 9; }},
      {"attributes", [](ModelPackage& p) { p.attributes["lead_cycles"] = "1"; }},
  };
  for (const auto& [what, edit] : edits) {
    ModelPackage p = twin::io::read_model(path);
    edit(p);
    const std::string edited = scratch("edited.h5").string();
    twin::io::write_model(edited, p);
    try {
      Model m(twin::io::read_model(edited));
      ADD_FAILURE() << "an edit of the " << what << " was accepted";
    } catch (const twin::AdvisorError& e) {
      EXPECT_NE(std::string(e.what()).find("package sha256 mismatch"), std::string::npos) << what << ": " << e.what();
    }
  }
  ModelPackage unsealed = twin::io::read_model(path);
  unsealed.package_sha256.clear();  // as twinrt 0.1.0 wrote them
  EXPECT_THROW(Model m(unsealed), twin::AdvisorError);
}

TEST(Registry, NamesThatLeaveTheRegistryAndPointersThatAreNotNumbersAreRefused) {
  const fs::path dir = scratch("names");
  twin::io::ModelRegistry r(dir.string());
  r.add(trained());
  for (const std::string& bad : std::vector<std::string>{"../outside/x", "a/b", "..", ".hidden", "", std::string(100, 'a')}) {
    EXPECT_THROW(r.path(bad, 1), twin::DataError) << bad;
    EXPECT_THROW(r.promote(bad, 1), twin::DataError) << bad;
    EXPECT_THROW(r.active(bad), twin::DataError) << bad;
  }
  EXPECT_FALSE(fs::exists(dir.parent_path() / "outside"));
  std::ofstream(dir / "toy.active") << "1 2\n";
  EXPECT_THROW(r.active("toy"), twin::DataError);
  std::ofstream(dir / "toy.active") << "-4\n";
  EXPECT_THROW(r.active("toy"), twin::DataError);
  fs::remove(dir / "toy.active");
  ASSERT_EQ(::mkfifo((dir / "toy.active").c_str(), 0600), 0);
  EXPECT_THROW(r.active("toy"), twin::DataError);  // a FIFO: refused at once, never opened
}
