// The model lifecycle inside the real twin cycle (docs/lifecycle.md), on 1 and 2 ranks: a
// retraining on schedule fine-tunes in the cycles' slack, goes to shadow and is judged; the
// captured data windows are real HDF5 files named by their content and the new version's
// lineage names them; operator commands pause and resume the advisor; a deliberately worse
// version promoted by an operator is rolled back within the watch window; the lifecycle's state
// survives a restart snapshot.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <fstream>
#include <nlohmann/json.hpp>

#include "decision/advised_twin.hpp"
#include "decision/data_capture.hpp"
#include "decision/drift_watch.hpp"
#include "decision/lifecycle.hpp"
#include "driver/operator_commands.hpp"
#include "io/data_window.hpp"
#include "io/model_file.hpp"
#include "io/model_registry.hpp"
#include "io/state_archive.hpp"
#include "twin/error.hpp"
#include "twin/runtime.hpp"

namespace {

namespace fs = std::filesystem;
using twin::LifecycleEvent;
using twin::OperatorCommand;
using twin::test::advised_config;
using twin::test::copy_registry;
using twin::test::scratch;

int rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

twin::Config lifecycle_config(const std::string& registry) {
  twin::Config c = advised_config(registry);
  c.advisor->anomaly.reset();
  twin::LifecycleConfig lc;
  lc.window_cycles = 5;
  lc.retrain_on.clear();  // this twin has no drift monitors: the schedule and the operator start retrainings
  lc.retrain.control_sequences = 1;
  lc.retrain.segments = 2;
  lc.retrain.members_per_solver = 2;
  lc.retrain.warmup_cycles = 2;
  lc.retrain.epochs = 5;
  lc.shadow_cycles = 4;
  lc.shadow_max_cycles = 12;
  lc.watch_cycles = 8;
  lc.watch_min_cycles = 3;
  c.lifecycle = lc;
  return c;
}

// Runs `cycles` cycles of a plate at about 296 K; `before(cycle, runtime)` may send commands.
struct Cycles {
  std::vector<twin::CycleOutcome> out;
  std::vector<LifecycleEvent> events;
  std::vector<LifecycleEvent> of(const std::string& what) const {
    std::vector<LifecycleEvent> v;
    for (const auto& e : events)
      if (e.event == what) v.push_back(e);
    return v;
  }
};

Cycles run(const twin::Config& c, int cycles, const std::string& run_dir,
        const std::function<void(int, twin::Runtime&)>& before = {}) {
  twin::RuntimeOptions options;
  options.run_dir = run_dir;
  twin::Runtime rt(c, MPI_COMM_WORLD, options);
  Cycles r;
  for (int i = 0; i < cycles; ++i) {
    if (before) before(i, rt);
    std::vector<twin::Observation> readings;
    for (const auto& s : c.sensors) readings.push_back({(i + 1) * c.twin.control_period_s, s.name, 296.0 + 0.01 * i});
    rt.ingest(readings);
    r.out.push_back(rt.step(std::chrono::milliseconds(5000)));
    for (const auto& e : r.out.back().lifecycle) r.events.push_back(e);
    for (std::size_t j = 0; j < c.controls.size(); ++j) {  // the envelope holds throughout
      EXPECT_GE(r.out.back().advice.controls[j].value, c.controls[j].min);
      EXPECT_LE(r.out.back().advice.controls[j].value, c.controls[j].max);
    }
  }
  return r;
}

std::vector<nlohmann::json> audit_lifecycle(const std::string& run_dir) {
  std::vector<nlohmann::json> found;
  std::ifstream in(run_dir + "/audit.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json r = nlohmann::json::parse(line);
    if (r.contains("lifecycle"))
      for (const auto& e : r["lifecycle"]) found.push_back(e);
  }
  return found;
}

TEST(Lifecycle, AScheduledRetrainingGoesToShadowIsJudgedAndNamesItsData) {
  twin::Config c = lifecycle_config(copy_registry("lifecycle_schedule"));
  c.lifecycle->retrain_every_cycles = 8;
  const std::string dir = (scratch() / "run_lifecycle_schedule").string();
  const Cycles r = run(c, 36, dir);
  if (rank() != 0) {
    EXPECT_TRUE(r.events.empty()) << "the lifecycle lives on rank 0";
    return;
  }
  const auto started = r.of("retrain_started"), shadow = r.of("shadow");
  ASSERT_FALSE(started.empty());
  EXPECT_EQ(started[0].cycle, 8);
  EXPECT_NE(started[0].reason.find("schedule"), std::string::npos);
  ASSERT_FALSE(shadow.empty()) << "the retraining (a few ms of solver and training) fits in the slack of a 5 s deadline";
  EXPECT_LE(shadow[0].cycle - started[0].cycle, 3);
  EXPECT_EQ(shadow[0].model, "surrogate v2");
  // Judged within shadow_max_cycles: promoted or rejected, never left hanging.
  const auto promoted = r.of("promoted"), rejected = r.of("rejected");
  ASSERT_GE(promoted.size() + rejected.size(), 1u);
  const int judged = promoted.empty() ? rejected[0].cycle : promoted[0].cycle;
  EXPECT_LE(judged - shadow[0].cycle, c.lifecycle->shadow_max_cycles);
  // The registry agrees, and the new version's lineage names its parent and captured windows.
  twin::io::ModelRegistry registry(*c.advisor->registry);
  const std::string state = registry.state("surrogate", 2);
  EXPECT_TRUE(state == (promoted.empty() ? "rejected" : "active") || state == "rolled_back" || state == "retired") << state;
  const auto chain = registry.lineage("surrogate", 2);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[1].version, 1);
  EXPECT_NE(chain[0].attributes.at("origin").find("at cycle 8"), std::string::npos);
  const std::string windows = chain[0].attributes.at("data_windows");
  ASSERT_FALSE(windows.empty()) << "by cycle 8, five rows had matured: one window";
  const std::string first = windows.substr(0, windows.find(','));
  const twin::io::DataWindow w = twin::io::read_data_window(dir + "/data/" + first + ".h5");
  EXPECT_EQ(w.rows(), 5);
  EXPECT_EQ(w.inputs.size(), twin::detail::surrogate_layout(c).inputs.size());
  // Every transition is in the audit log and summary-ready.
  const auto audited = audit_lifecycle(dir);
  EXPECT_EQ(audited.size(), r.events.size());
  // A window altered after it was written no longer reads.
  fs::copy_file(dir + "/data/" + first + ".h5", dir + "/altered.h5");
  EXPECT_THROW(twin::io::read_data_window(dir + "/altered.h5"), twin::DataError);
}

// A response surrogate (training.surrogate_kind: response_ensemble) is refitted, not fine-tuned in
// epochs: one quantum, with its parent's structure and normalisation.
TEST(Lifecycle, AResponseSurrogateIsRefittedWithItsParentsStructure) {
  const std::string reg = (scratch() / "lifecycle_response").string();
  twin::Config c = lifecycle_config(reg);
  c.training.surrogate_kind = twin::advisor::kind_response_ensemble;
  c.training.transient_samples = true;
  if (rank() == 0) fs::remove_all(reg);
  MPI_Barrier(MPI_COMM_WORLD);
  twin::detail::TrainOptions o;
  o.registry = reg;
  o.progress = false;
  o.only = c.advisor->surrogate;
  twin::detail::train_models(c, MPI_COMM_WORLD, o);
  c.lifecycle->retrain_every_cycles = 8;
  const Cycles r = run(c, 30, (scratch() / "run_lifecycle_response").string());
  if (rank() != 0) return;
  const auto started = r.of("retrain_started"), shadow = r.of("shadow");
  ASSERT_FALSE(started.empty());
  EXPECT_NE(started[0].reason.find("refitting it"), std::string::npos) << started[0].reason;
  ASSERT_FALSE(shadow.empty());
  EXPECT_LE(shadow[0].cycle - started[0].cycle, 2);  // the solver runs, then one quantum of fitting
  EXPECT_GE(r.of("promoted").size() + r.of("rejected").size(), 1u);
  twin::io::ModelRegistry registry(reg);
  const twin::advisor::ModelPackage parent = twin::io::read_model(registry.path("surrogate", 1));
  const twin::advisor::ModelPackage refit = twin::io::read_model(registry.path("surrogate", 2));
  EXPECT_EQ(refit.kind, twin::advisor::kind_response_ensemble);
  EXPECT_EQ(refit.attributes.at("response_factors"), parent.attributes.at("response_factors"));
  EXPECT_EQ(refit.attributes.at("response_order"), parent.attributes.at("response_order"));
  EXPECT_EQ(refit.input_mean, parent.input_mean);
  EXPECT_EQ(refit.lineage.parent_version, 1);
}

TEST(Lifecycle, OperatorPausesResumesAndAForcedBadPromotionIsRolledBack) {
  const std::string registry_dir = copy_registry("lifecycle_operator");
  int added = 2;
  if (rank() == 0) {  // a deliberately worse version: every prediction 3 K off
    twin::io::ModelRegistry registry(registry_dir);
    twin::advisor::ModelPackage bad = twin::io::read_model(registry.path("surrogate", 1));
    for (double& m : bad.output_mean) m += 3.0;
    bad.lineage.parent_version = 1;
    added = registry.add(bad, false, "stored", "deliberately worse, for the test");
  }
  MPI_Bcast(&added, 1, MPI_INT, 0, MPI_COMM_WORLD);  // before the assertion: a failing rank 0 must not leave rank 1 waiting
  ASSERT_EQ(added, 2);
  const twin::Config c = lifecycle_config(registry_dir);
  const std::string dir = (scratch() / "run_lifecycle_operator").string();
  const Cycles r = run(c, 34, dir, [](int i, twin::Runtime& rt) {
    if (i == 3) rt.command({OperatorCommand::Kind::pause, 0, "shift change"});
    if (i == 6) rt.command({OperatorCommand::Kind::resume, 0, "shift change over"});
    if (i == 10) rt.command({OperatorCommand::Kind::promote, 2, "try v2"});
    if (i == 11) rt.command({OperatorCommand::Kind::promote, 99, "no such version"});
  });
  if (rank() != 0) return;
  // Paused cycles emit the safe default with the reason; resumed, the advisor is asked again.
  for (int i = 3; i < 6; ++i) {
    EXPECT_EQ(r.out[i].advice.mode, twin::Mode::advisor_off) << i;
    EXPECT_EQ(r.out[i].advisor.gate, "paused") << i;
    EXPECT_NE(r.out[i].advice.reason.find("shift change"), std::string::npos);
  }
  EXPECT_TRUE(r.out[7].advisor.consulted);
  const auto promoted = r.of("promoted"), rolled = r.of("rolled_back"), refused = r.of("refused");
  ASSERT_EQ(promoted.size(), 1u);
  EXPECT_EQ(promoted[0].cycle, 11);
  EXPECT_EQ(promoted[0].model, "surrogate v2");
  ASSERT_EQ(rolled.size(), 1u) << "the worse version is rolled back within its watch";
  EXPECT_LE(rolled[0].cycle - promoted[0].cycle, c.lifecycle->watch_cycles + 2);
  EXPECT_NE(rolled[0].reason.find("back to surrogate v1"), std::string::npos) << rolled[0].reason;
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_NE(refused[0].reason.find("no such model file"), std::string::npos) << refused[0].reason;
  twin::io::ModelRegistry registry(registry_dir);
  EXPECT_EQ(registry.active("surrogate"), 1);
  EXPECT_EQ(registry.state("surrogate", 2), "rolled_back");
  const auto history = registry.history("surrogate");
  ASSERT_GE(history.size(), 3u);
  EXPECT_NE(history.back().reason.find("realised error"), std::string::npos) << history.back().reason;
  EXPECT_EQ(r.out.back().advisor.model, "surrogate v1");
}

TEST(Lifecycle, ThePauseAndTheLifecycleSurviveARestartSnapshot) {
  const twin::Config c = lifecycle_config(copy_registry("lifecycle_restart"));
  const std::string dir = (scratch() / "run_lifecycle_restart").string();
  {
    twin::RuntimeOptions options;
    options.run_dir = dir;
    twin::Runtime rt(c, MPI_COMM_WORLD, options);
    rt.command({OperatorCommand::Kind::pause, 0, "maintenance"});
    for (int i = 0; i < 9; ++i) rt.step(std::chrono::milliseconds(5000));
    rt.save_snapshot(dir + "/state");
  }
  twin::RuntimeOptions options;
  options.run_dir = dir;
  twin::Runtime rt(c, MPI_COMM_WORLD, options);
  rt.restore(dir + "/state");
  const twin::CycleOutcome out = rt.step(std::chrono::milliseconds(5000));
  if (rank() != 0) return;
  EXPECT_EQ(out.advisor.gate, "paused");
  EXPECT_NE(out.advice.reason.find("maintenance"), std::string::npos);
}

// After a promotion the realised error comes in another model's units (its validation RMSE):
// the monitor takes a new reference instead of calling the change of scale a drift.
TEST(Lifecycle, APromotionReReferencesTheMonitorsOfTheModelsSignals) {
  twin::DriftConfig dc;
  dc.warmup_cycles = 0;
  dc.reference_cycles = 20;
  dc.monitors = {{"surrogate_error", "cusum", 1.0}};
  const auto detections = [&](bool rereference) {
    twin::detail::DriftWatch watch(dc, {});
    std::mt19937 rng(3);
    std::lognormal_distribution<double> noise(0.0, 0.2);
    int found = 0;
    for (int c = 0; c < 300; ++c) {
      if (c == 100 && rereference) watch.rereference("surrogate_error");
      const double level = c < 100 ? 1.0 : 15.0;  // the same errors over a 15x smaller validation RMSE
      found += static_cast<int>(watch.observe({{"surrogate_error", level * noise(rng)}}).size());
    }
    return found;
  };
  EXPECT_GE(detections(false), 1) << "the change of scale alone looks like a drift";
  EXPECT_EQ(detections(true), 0);
}

// The parameters' monitors (signal `parameters`): a plant drift that the filter follows with a
// parameter is a shift of that parameter's level, up or down; the estimates' slow wander within
// the filter's spread is not. Each detection names its parameter; a restored watch decides as
// the original.
TEST(Drift, AParameterThatLeavesItsLevelIsADriftEitherWayItsWanderIsNot) {
  twin::DriftConfig dc;
  dc.warmup_cycles = 10;
  dc.reference_cycles = 40;
  dc.monitors = {{"parameters", "cusum", 1.0}};
  // Estimates that wander as AR(1) with lag-1 correlation 0.9 and a stationary deviation of
  // 0.005, with an ensemble spread of 0.01; `b` steps by `step` from cycle 300 on. (With the
  // random seeds 1 to 60 in place of 5: no false alarm in 3000 cycles, every step found within
  // 25 cycles.)
  const auto estimates = [](double step, int cycles) {
    std::mt19937 rng(5);
    std::normal_distribution<double> n(0.0, 0.005 * std::sqrt(1.0 - 0.81));
    double ea = 0.0, eb = 0.0;
    std::vector<std::vector<double>> theta;
    for (int c = 0; c < cycles; ++c) {
      ea = 0.9 * ea + n(rng);
      eb = 0.9 * eb + n(rng);
      theta.push_back({1.2 + ea, 0.8 + eb + (c >= 300 ? step : 0.0)});
    }
    return theta;
  };
  // Feeds cycles [from, to) and returns the detections, their `statistic` replaced by the cycle.
  const auto feed = [](twin::detail::DriftWatch& watch, const std::vector<std::vector<double>>& theta, int from, int to) {
    std::vector<twin::DriftDetection> found;
    for (int c = from; c < to; ++c)
      for (auto& d : watch.observe_parameters(theta[c], {0.01, 0.01})) {
        found.push_back(d);
        found.back().statistic = c;
        EXPECT_EQ(watch.last_values().at("parameter:b"), theta[c][1]);
      }
    return found;
  };
  {
    twin::detail::DriftWatch watch(dc, {"a", "b"});
    const auto quiet = feed(watch, estimates(0.0, 3000), 0, 3000);
    EXPECT_EQ(quiet.size(), 0u) << "a wander within the spread, detected at cycle " << (quiet.empty() ? 0 : quiet[0].statistic);
  }
  for (double step : {-0.08, 0.08}) {
    twin::detail::DriftWatch watch(dc, {"a", "b"});
    const auto found = feed(watch, estimates(step, 400), 0, 400);
    ASSERT_EQ(found.size(), 1u) << "step " << step;
    EXPECT_EQ(found[0].signal, "parameter:b");
    EXPECT_GE(found[0].statistic, 300);
    EXPECT_LE(found[0].statistic, 325) << "a step of 8 spreads is found within 25 cycles";
    EXPECT_NEAR(found[0].reference, 0.8, 0.01);
    EXPECT_EQ(found[0].value > found[0].reference, step > 0);
  }
  // A watch saved at cycle 250 and restored meets the step as the original does.
  const auto theta = estimates(0.08, 400);
  twin::detail::DriftWatch original(dc, {"a", "b"});
  EXPECT_TRUE(feed(original, theta, 0, 250).empty());
  twin::io::StateArchive at250;
  original.save(at250);
  twin::detail::DriftWatch restored(dc, {"a", "b"});
  restored.restore(at250);
  const auto a = feed(original, theta, 250, 400), b = feed(restored, theta, 250, 400);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].statistic, b[0].statistic);
  // A snapshot from before the parameters' monitors restores them afresh rather than failing.
  twin::io::StateArchive older;
  twin::detail::DriftWatch({}, {}).save(older);
  twin::detail::DriftWatch later(dc, {"a", "b"});
  EXPECT_NO_THROW(later.restore(older));
  EXPECT_EQ(feed(later, theta, 0, 400).size(), 1u);
}

// A captured row is (inputs at n, analysis at n + lead - analysis at n); with a capture
// tolerance, only rows whose emitted controls stayed put until the longest lead are kept (the
// surrogate predicts for controls held).
TEST(Lifecycle, CapturedRowsAreTheRealisedChangesAndMovingControlsAreLeftOut) {
  twin::Config c = lifecycle_config("unused");
  c.lifecycle->window_cycles = 1000;
  const auto layout = twin::detail::surrogate_layout(c);  // leads {1, 2}
  const auto capture = [&](double tolerance, bool move) {
    c.lifecycle->capture_tolerance = tolerance;
    twin::detail::DataCapture d(c, "");
    for (int n = 1; n <= 20; ++n) {
      std::vector<double> x(layout.inputs.size(), 1.0), analysis(layout.sensors, 290.0 + n);
      for (int j = 0; j < layout.controls; ++j) x[layout.u0() + j] = move && n % 2 ? 0.5 : 0.0;
      d.add(n, x, analysis);
    }
    return d;
  };
  const auto all = capture(1.0, true).rows();
  EXPECT_EQ(all.rows(), 18);  // cycles 1..18 have matured (longest lead 2)
  EXPECT_DOUBLE_EQ(all.y[layout.output(0, 0)], 1.0);  // one cycle later: +1 K
  EXPECT_DOUBLE_EQ(all.y[layout.output(1, 0)], 2.0);
  EXPECT_EQ(capture(0.02, false).rows().rows(), 18);
  const auto moved = capture(0.02, true);
  EXPECT_EQ(moved.rows().rows(), 0);
  EXPECT_EQ(moved.rows_moved(), 18);
}

// The promotion test: the one-sample t-statistic of paired block differences, and its false
// promotion rate on equal models (blocks of zero-mean noise) at one look.
TEST(Lifecycle, ThePromotionTestIsAPairedBlockTTest) {
  using twin::detail::paired_t;
  EXPECT_EQ(paired_t({1.0, 2.0}), 0.0);  // too few blocks to judge
  EXPECT_NEAR(paired_t({1.0, 2.0, 3.0}), 2.0 * std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(paired_t({-1.0, -2.0, -3.0}), -2.0 * std::sqrt(3.0), 1e-12);
  EXPECT_TRUE(std::isinf(paired_t({0.5, 0.5, 0.5, 0.5})));
  EXPECT_EQ(paired_t({0.0, 0.0, 0.0}), 0.0);
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 1.0);
  int passed = 0;
  const int trials = 20000;
  for (int k = 0; k < trials; ++k) {
    std::vector<double> blocks(5);  // the plate's second look: 60 cycles in blocks of 12
    for (double& b : blocks) b = noise(rng);
    passed += paired_t(blocks) >= 3.0 ? 1 : 0;
  }
  // Student's t with 4 degrees of freedom: P(t >= 3) = 0.020.
  EXPECT_NEAR(static_cast<double>(passed) / trials, 0.020, 0.004);
}

TEST(OperatorCommands, FilesAreTakenOnceAndBadOnesAreRefusedWithTheReason) {
  if (rank() != 0) return;
  const fs::path dir = scratch() / "commands_test";
  fs::remove_all(dir);
  twin::detail::post_command(dir, {OperatorCommand::Kind::promote, 3, "better"});
  std::ofstream(dir / "zz-bad.json") << "{\"command\": \"delete everything\"}";
  std::ofstream(dir / "zz-worse.json") << "not json at all";
  const auto taken = twin::detail::take_commands(dir);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].kind, OperatorCommand::Kind::promote);
  EXPECT_EQ(taken[0].version, 3);
  EXPECT_EQ(taken[0].reason, "better");
  EXPECT_TRUE(twin::detail::take_commands(dir).empty()) << "a command is applied once";
  EXPECT_TRUE(fs::exists(dir / "zz-bad.json.refused"));
  std::ifstream in(dir / "zz-bad.json.refused");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("unknown command"), std::string::npos);
  EXPECT_THROW(twin::detail::parse_command("{\"command\": \"promote\", \"version\": -2}"), twin::DataError);
  EXPECT_THROW(twin::detail::parse_command("{\"command\": \"pause\", \"reason\": 7}"), twin::DataError);
}

}  // namespace
