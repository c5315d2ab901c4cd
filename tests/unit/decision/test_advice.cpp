// Degraded modes of the advisor inside the real twin cycle: a missing, truncated or tampered
// model puts the advisor off with the reason and the twin keeps running; gate failures fall back
// with their reason and open the circuit breaker; every decision is in the hash-chained audit log.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "decision/advisor_models.hpp"
#include "decision/features.hpp"
#include "io/audit.hpp"
#include "io/model_registry.hpp"
#include "decision/advised_twin.hpp"
#include "twin/error.hpp"
#include "twin/runtime.hpp"

namespace {

namespace fs = std::filesystem;
using twin::test::advised_config;
using twin::test::copy_registry;
using twin::test::scratch;
using twin::test::trained_registry;

// Changes the active version of `model` in place without updating its sha256 (rank 0), as a
// corrupted or hand-edited file would be.
void tamper(const std::string& registry, const std::string& model,
            const std::function<void(twin::advisor::ModelPackage&)>& change) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    twin::io::ModelRegistry r(registry);
    const std::string path = r.path(model, *r.active(model));
    twin::advisor::ModelPackage p = twin::io::read_model(path);
    change(p);
    twin::io::write_model(path, p);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

std::vector<twin::CycleOutcome> run(const twin::Config& c, int cycles, const std::string& run_dir = "") {
  twin::RuntimeOptions options;
  if (!run_dir.empty()) options.run_dir = run_dir;
  twin::Runtime rt(c, MPI_COMM_WORLD, options);
  std::vector<twin::CycleOutcome> out;
  for (int i = 0; i < cycles; ++i) {
    std::vector<twin::Observation> readings;  // a plate at 296 K everywhere
    for (const auto& s : c.sensors) readings.push_back({(i + 1) * c.twin.control_period_s, s.name, 296.0 + 0.01 * i});
    rt.ingest(readings);
    out.push_back(rt.step(std::chrono::milliseconds(5000)));
  }
  return out;
}

void expect_inside_bounds(const twin::Config& c, const std::vector<twin::CycleOutcome>& out) {
  for (const auto& o : out)
    for (std::size_t j = 0; j < c.controls.size(); ++j) {
      EXPECT_GE(o.advice.controls[j].value, c.controls[j].min);
      EXPECT_LE(o.advice.controls[j].value, c.controls[j].max);
    }
}

TEST(Advice, TrainedModelAdvisesAndEveryDecisionIsAudited) {
  const twin::Config c = advised_config(trained_registry());
  const std::string dir = (scratch() / "run_ok").string();
  const auto out = run(c, 6, dir);
  int consulted = 0;
  for (const auto& o : out) {
    consulted += o.advisor.consulted ? 1 : 0;
    EXPECT_FALSE(o.advice.reason.empty());
    if (o.advice.mode == twin::Mode::nominal) {  // applied: it passed every gate
      EXPECT_TRUE(o.advisor.accepted);
      EXPECT_EQ(o.advisor.gate, "none");
    } else {  // not applied: the gate that stopped it is named
      EXPECT_NE(o.advisor.gate, "none") << o.advice.reason;
    }
  }
  EXPECT_EQ(consulted, 6);
  expect_inside_bounds(c, out);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return;
  const twin::io::AuditCheck check = twin::io::verify_audit(dir + "/audit.jsonl");
  EXPECT_TRUE(check.ok) << check.reason;
  EXPECT_EQ(check.records, 6);
}

TEST(Advice, MissingModelTurnsTheAdvisorOffAndTheTwinRuns) {
  const twin::Config c = advised_config((scratch() / "no_such_registry").string());
  const auto out = run(c, 3);
  for (const auto& o : out) {
    EXPECT_EQ(o.advice.mode, twin::Mode::advisor_off);
    EXPECT_NE(o.advice.reason.find("no active version of model 'surrogate'"), std::string::npos) << o.advice.reason;
    EXPECT_EQ(o.advisor.gate, "model_unavailable");
    EXPECT_TRUE(o.assimilated);  // the twin itself carries on
  }
  expect_inside_bounds(c, out);
}

TEST(Advice, TamperedModelTurnsTheAdvisorOff) {
  const std::string reg = copy_registry("tampered");
  tamper(reg, "surrogate", [](twin::advisor::ModelPackage& p) { p.weights[0].values[0] += 0.01f; });
  const auto out = run(advised_config(reg), 2);
  EXPECT_EQ(out.back().advice.mode, twin::Mode::advisor_off);
  EXPECT_NE(out.back().advice.reason.find("sha256 mismatch"), std::string::npos) << out.back().advice.reason;
}

TEST(Advice, TruncatedModelTurnsTheAdvisorOff) {
  const std::string reg = copy_registry("truncated");
  twin::io::ModelRegistry r(reg);
  const std::string path = r.path("surrogate", *r.active("surrogate"));
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) fs::resize_file(path, fs::file_size(path) / 3);
  MPI_Barrier(MPI_COMM_WORLD);
  const auto out = run(advised_config(reg), 2);
  EXPECT_EQ(out.back().advice.mode, twin::Mode::advisor_off);
  EXPECT_NE(out.back().advice.reason.find("truncated or corrupt"), std::string::npos) << out.back().advice.reason;
}

TEST(Advice, GateFailuresFallBackThenOpenTheBreaker) {
  twin::Config c = advised_config(trained_registry());
  c.advisor->gates.max_spread = 1e-12;  // no ensemble is that sure: every proposal is uncertain
  c.advisor->breaker.failures = 3;
  c.advisor->breaker.cooldown_cycles = 2;
  const auto out = run(c, 7);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].advisor.gate, "uncertain");
    EXPECT_NE(out[i].advice.reason.find("uncertain: ensemble spread"), std::string::npos) << out[i].advice.reason;
  }
  EXPECT_EQ(out[0].advice.mode, twin::Mode::fallback);
  EXPECT_EQ(out[2].advice.mode, twin::Mode::advisor_off);  // the third failure opens the breaker
  EXPECT_NE(out[2].advice.reason.find("circuit breaker opened"), std::string::npos);
  EXPECT_EQ(out[3].advisor.gate, "breaker_open");
  EXPECT_FALSE(out[3].advisor.consulted);
  EXPECT_TRUE(out[5].advisor.consulted);  // cooled down: probing
  EXPECT_EQ(out[5].advice.mode, twin::Mode::advisor_off);
  expect_inside_bounds(c, out);
}

TEST(Advice, LateAndOutOfDistributionProposalsFallBack) {
  twin::Config c = advised_config(trained_registry());
  c.advisor->gates.latency_budget_ms = 1e-3;
  auto out = run(c, 1);
  EXPECT_EQ(out[0].advisor.gate, "late");
  EXPECT_EQ(out[0].advice.mode, twin::Mode::fallback);
  c = advised_config(trained_registry());
  c.advisor->gates.max_ood = 1e-6;
  out = run(c, 1);
  EXPECT_EQ(out[0].advisor.gate, "out_of_distribution");
  EXPECT_NE(out[0].advice.reason.find("OOD score"), std::string::npos);
}

TEST(Advice, NoAdvisorSectionMeansSafeDefaults) {
  twin::Config c = advised_config(trained_registry());
  c.advisor.reset();
  const auto out = run(c, 2);
  EXPECT_EQ(out[1].advice.mode, twin::Mode::advisor_off);
  EXPECT_EQ(out[1].advisor.gate, "no_advisor");
  for (std::size_t j = 0; j < c.controls.size(); ++j) EXPECT_DOUBLE_EQ(out[1].advice.controls[j].value, c.controls[j].initial);
}

// Removes every version of `model` from a registry copy (rank 0), as if it was never trained.
void remove_model(const std::string& registry, const std::string& model) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0)
    for (const auto& e : fs::directory_iterator(registry))
      if (e.path().filename().string().rfind(model, 0) == 0) fs::remove(e.path());
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(Anomaly, TheThresholdIsTheConfigsElseTheModelsForTheClassElseItsOneElseTheDefault) {
  using twin::detail::anomaly_threshold;
  twin::AdvisorConfig a;
  twin::advisor::ModelPackage p;
  EXPECT_EQ(anomaly_threshold(a, p, "heat_source"), twin::detail::default_anomaly_threshold);  // imported
  p.metrics["anomaly_threshold"] = 0.9;  // one for all classes (a model trained before per-class ones)
  EXPECT_EQ(anomaly_threshold(a, p, "heat_source"), 0.9);
  p.metrics["anomaly_threshold:heat_source"] = 0.6;  // chosen by twin train for the class
  p.metrics["anomaly_threshold:sensor_fault"] = 0.95;
  EXPECT_EQ(anomaly_threshold(a, p, "heat_source"), 0.6);
  EXPECT_EQ(anomaly_threshold(a, p, "sensor_fault"), 0.95);
  EXPECT_EQ(anomaly_threshold(a, p, "cooling_degradation"), 0.9);  // none of its own
  a.anomaly_threshold = 0.7;  // the operator's word wins, for every class
  EXPECT_EQ(anomaly_threshold(a, p, "heat_source"), 0.7);
  EXPECT_EQ(anomaly_threshold(a, p, "sensor_fault"), 0.7);
  a.anomaly_threshold.reset();
  p.metrics["anomaly_threshold:heat_source"] = 1.5;  // not a probability: not used
  p.metrics["anomaly_threshold"] = -1.0;
  EXPECT_EQ(anomaly_threshold(a, p, "heat_source"), twin::detail::default_anomaly_threshold);
}

// The threshold is cross-fitted: the small twin's two fault scenarios make two folds, each
// scored by a model trained on the other. With one scenario there is nothing to fold or hold
// out: no threshold is stored (the default applies) and every rank still finishes training (the
// gathers of the held-out cycles are collective).
TEST(Anomaly, TheThresholdIsCrossFittedAndOneScenarioLeavesNothingToFold) {
  const twin::io::ModelRegistry trained(trained_registry());
  const twin::advisor::ModelPackage two = twin::io::read_model(trained.path("anomaly", *trained.active("anomaly")));
  ASSERT_TRUE(two.metrics.count("threshold_folds"));
  EXPECT_EQ(two.metrics.at("threshold_folds"), 2.0);
  EXPECT_GT(two.metrics.at("validation_quiet_cycles"), 0.0);
  EXPECT_GE(two.metrics.at("anomaly_threshold"), 0.5);
  double highest = 0.0;  // one per fault class; "anomaly_threshold" is the highest of them
  for (const std::string& k : twin::detail::anomaly_classes())
    if (k != "none") {
      ASSERT_TRUE(two.metrics.count("anomaly_threshold:" + k)) << k;
      highest = std::max(highest, two.metrics.at("anomaly_threshold:" + k));
    }
  EXPECT_EQ(two.metrics.at("anomaly_threshold"), highest);

  twin::Config c = advised_config((scratch() / "one_scenario").string());
  c.training.anomaly_scenarios = 1;
  twin::detail::TrainOptions o;
  o.registry = *c.advisor->registry;
  o.only = *c.advisor->anomaly;
  o.progress = false;
  twin::detail::train_models(c, MPI_COMM_WORLD, o);
  const twin::io::ModelRegistry one(*c.advisor->registry);
  const twin::advisor::ModelPackage p = twin::io::read_model(one.path("anomaly", *one.active("anomaly")));
  EXPECT_FALSE(p.metrics.count("anomaly_threshold"));
  EXPECT_FALSE(p.metrics.count("anomaly_threshold:heat_source"));
  EXPECT_EQ(twin::detail::anomaly_threshold(*c.advisor, p, "heat_source"), twin::detail::default_anomaly_threshold);
}

TEST(Anomaly, TrainedModelDiagnosesAfterItsWarmUpAndIsAudited) {
  const twin::Config c = advised_config(trained_registry());
  const std::string dir = (scratch() / "run_anomaly").string();
  const auto out = run(c, 6, dir);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(out[i].anomaly.consulted);
    EXPECT_NE(out[i].anomaly.reason.find("spin-up"), std::string::npos) << out[i].anomaly.reason;
  }
  const auto& classes = twin::detail::anomaly_classes();
  const twin::io::ModelRegistry registry(trained_registry());
  const twin::advisor::ModelPackage model = twin::io::read_model(registry.path("anomaly", *registry.active("anomaly")));
  for (int i = 3; i < 6; ++i) {
    const twin::AnomalyReport& a = out[i].anomaly;
    EXPECT_TRUE(a.consulted) << a.reason;
    EXPECT_EQ(a.model, "anomaly v1");
    EXPECT_NE(std::find(classes.begin(), classes.end(), a.fault_class), classes.end()) << a.fault_class;
    EXPECT_GE(a.confidence, 1.0 / static_cast<double>(classes.size()));  // the most probable of five
    EXPECT_LE(a.confidence, 1.0);
    EXPECT_EQ(a.flagged, a.fault_class != "none" && a.confidence >= twin::detail::anomaly_threshold(*c.advisor, model, a.fault_class));
    EXPECT_EQ(a.sensors.size(), a.attribution.size());
    EXPECT_TRUE(out[i].advisor.consulted);  // the surrogate advises beside it
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return;
  std::ifstream in(dir + "/audit.jsonl");
  std::string line;
  int n = 0, with_anomaly = 0;
  while (std::getline(in, line)) {
    ++n;
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("anomaly")) continue;
    ++with_anomaly;
    EXPECT_GT(j.at("cycle").get<int>(), 3);
    EXPECT_EQ(j.at("models").at("anomaly").at("version").get<std::string>(), "anomaly v1");
    EXPECT_TRUE(j.at("anomaly").contains("class"));
  }
  EXPECT_EQ(n, 6);
  EXPECT_EQ(with_anomaly, 3);
}

TEST(Anomaly, MissingModelLeavesTheSurrogateAdvising) {
  const std::string reg = copy_registry("no_anomaly");
  remove_model(reg, "anomaly");
  const auto out = run(advised_config(reg), 5);
  EXPECT_FALSE(out.back().anomaly.consulted);
  EXPECT_NE(out.back().anomaly.reason.find("no active version of model 'anomaly'"), std::string::npos)
      << out.back().anomaly.reason;
  EXPECT_TRUE(out.back().advisor.consulted);
  EXPECT_TRUE(out.back().assimilated);
}

TEST(Anomaly, TamperedModelIsRefusedWithTheReason) {
  const std::string reg = copy_registry("tampered_anomaly");
  tamper(reg, "anomaly", [](twin::advisor::ModelPackage& p) { p.weights[0].values[3] += 0.5f; });
  const auto out = run(advised_config(reg), 5);
  EXPECT_FALSE(out.back().anomaly.consulted);
  EXPECT_NE(out.back().anomaly.reason.find("sha256 mismatch"), std::string::npos) << out.back().anomaly.reason;
  EXPECT_TRUE(out.back().advisor.consulted);
}

TEST(Advice, TheFacilitysOverrideIsWhatTheTwinFollows) {
  twin::Config c = advised_config(trained_registry());
  c.advisor.reset();  // safe defaults: each control ramps back to its initial value
  twin::Runtime rt(c, MPI_COMM_WORLD);
  EXPECT_THROW(rt.apply_controls({0.1}), twin::DataError);
  EXPECT_THROW(rt.apply_controls({std::nan(""), 0.6}), twin::DataError);
  // Rank 0's values count: other ranks may pass anything, even another count.
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  rt.apply_controls(rank == 0 ? std::vector<double>{1.2, 0.6} : std::vector<double>{7.0});
  std::vector<twin::Observation> readings;
  for (const auto& s : c.sensors) readings.push_back({c.twin.control_period_s, s.name, 296.0});
  rt.ingest(readings);
  const twin::CycleOutcome out = rt.step(std::chrono::milliseconds(5000));
  // From 1.2 towards 0.6 at 0.02 /s over 10 s.
  EXPECT_NEAR(out.advice.controls[0].value, 1.0, 1e-12);
  EXPECT_NEAR(out.advice.controls[1].value, 0.6, 1e-12);
}

}  // namespace
