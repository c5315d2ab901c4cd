// The run's KPIs (src/kpi): the control score's arithmetic on a known truth, and metrics.prom.
#include <gtest/gtest.h>

#include <cmath>

#include "kpi/control_score.hpp"
#include "kpi/run_kpis.hpp"
#include "twin/config.hpp"
#include "twin/runtime.hpp"

namespace {

twin::Config nine_cells() {
  return twin::parse_config(R"(
twin: {name: k, control_period_s: 10.0}
grid: {cells: [3, 3], extent_m: [3.0, 3.0]}
physics: {diffusivity_m2_s: 1.0e-3}
controls:
  - {name: A, shape: box, center_m: [0.5, 0.5], size_m: [1, 1], gain: 1, unit: kW, max: 10}
  - {name: B, shape: box, center_m: [2.5, 2.5], size_m: [1, 1], gain: 1, unit: s, max: 10}
sensors:
  - {name: low, position_m: [0.5, 0.5], noise_std: 0.1}
  - {name: high, position_m: [2.5, 2.5], noise_std: 0.1}
objectives:
  targets: [{sensor: low, value: 300, weight: 1}, {sensor: high, value: 310, weight: 3}]
  limits: [{sensor: high, max: 312}]
)");
}

}  // namespace

TEST(ControlScore, TracksTargetsLimitsAndEnergy) {
  twin::detail::ControlScore score(nine_cells());
  // Cells x fastest: low is cell 0, high is cell 8.
  score.add({302, 0, 0, 0, 0, 0, 0, 0, 311}, {2.0, 3.0});  // tracking errors 2 and 1, under the limit
  score.add({300, 0, 0, 0, 0, 0, 0, 0, 314}, {1.0, 0.0});  // errors 0 and 4, over the limit
  score.add({}, {100.0, 100.0});            // off rank 0: nothing
  const auto j = score.json();
  EXPECT_DOUBLE_EQ(j["tracking_rmse"].get<double>(), std::sqrt((1 * 4.0 + 3 * 1.0 + 0.0 + 3 * 16.0) / 8.0));
  EXPECT_DOUBLE_EQ(j["limit_violation_s"].get<double>(), 10.0);
  // A in kW counts as power (1e3 W), B in s as unit-seconds: (2e3 + 3 + 1e3 + 0) * 10 s.
  EXPECT_DOUBLE_EQ(j["energy_j"].get<double>(), (2e3 + 3.0 + 1e3) * 10.0);
}

TEST(ControlScore, ReadsATargetBetweenCellCentresAsTheTwinsObservationOperatorDoes) {
  // A sensor on the edge between cells 0 and 1 (x = 1.0 m, centres at 0.5 and 1.5) and a quarter of
  // the way from cell 1's centre to cell 4's: the truth it scores is interpolated, not cell 0's.
  twin::Config c = nine_cells();
  c.sensors[0].position_m = {1.0, 0.75};
  c.objectives.targets = {{"low", 300.0, 1.0}};
  c.objectives.limits = {{"low", 305.0}};
  twin::detail::ControlScore score(c);
  //                 cell 0 cell 1                 cell 3 cell 4
  const std::vector<double> truth{300, 310, 0, 300, 310, 0, 0, 0, 0};
  score.add(truth, {0.0, 0.0});  // x halfway between 300 and 310 in both rows: 305, not over 305
  auto j = score.json();
  EXPECT_DOUBLE_EQ(j["tracking_rmse"].get<double>(), 5.0);
  EXPECT_DOUBLE_EQ(j["limit_violation_s"].get<double>(), 0.0);
  score.add({300, 312, 0, 300, 316, 0, 0, 0, 0}, {0.0, 0.0});  // rows 306 and 308, weighed 3:1: 306.5
  j = score.json();
  EXPECT_DOUBLE_EQ(j["tracking_rmse"].get<double>(), std::sqrt((25.0 + 6.5 * 6.5) / 2.0));
  EXPECT_DOUBLE_EQ(j["limit_violation_s"].get<double>(), 10.0);
}

TEST(Metrics, HistogramCountsEachLatencyInEveryBucketAtOrAboveIt) {
  // 0.5 ms, 3 ms, 30 ms and 20 s: the last is above every bucket and only in the count.
  const auto h = twin::detail::RunKpis::histogram({0.5, 3.0, 30.0, 20000.0});
  const auto le = h["le_s"].get<std::vector<double>>();
  const auto counts = h["cumulative_counts"].get<std::vector<long>>();
  ASSERT_EQ(le.size(), counts.size());
  for (std::size_t b = 0; b < le.size(); ++b) {
    const long expected = (le[b] >= 0.0005) + (le[b] >= 0.003) + (le[b] >= 0.03);
    EXPECT_EQ(counts[b], expected) << "bucket le=" << le[b];
  }
  EXPECT_EQ(h["count"].get<long>(), 4);
  EXPECT_DOUBLE_EQ(h["sum_s"].get<double>(), 0.0005 + 0.003 + 0.03 + 20.0);
}

TEST(Metrics, PrometheusTextUsesBaseUnitsCountersAndHistograms) {
  nlohmann::json s = {{"cycles", 3}, {"facility_time_s", 30.0}, {"realtime_factor", 12.5}, {"deadline_misses", 1},
                      {"rmse_analysis", 0.25}};
  s["histograms"]["cycle_seconds"] = twin::detail::RunKpis::histogram({4.0, 4.5, 600.0});
  s["resources"] = {{"cpu_core_s", 7.5}, {"energy_j", 75.0}, {"energy_source", "estimate"}};
  s["qc"]["rejected"]["T07"]["stuck"] = 4;
  s["qc"]["rejected"]["odd \"name\""]["stuck"] = 1;
  s["qc"]["blind_cycles"] = 12;
  s["last_mode"] = "safe_hold";
  s["advisor"]["modes"] = {{"nominal", 5}, {"safe_hold", 2}};
  s["confidence"]["model_error"] = {{"gain", 0.1}, {"mean_std", 0.05}, {"max_std", 0.4}, {"final_std", 0.125}, {"hold_cycles", 17}, {"settling_cycles", 9}, {"persistent_cycles", 6}};
  const std::string text = twin::detail::prometheus(nine_cells(), s);
  EXPECT_NE(text.find("# TYPE twin_cycles_total counter\ntwin_cycles_total{twin=\"k\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_deadline_misses_total{twin=\"k\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_rmse_analysis{twin=\"k\"} 0.25\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE twin_cycle_duration_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_cycle_duration_seconds_bucket{twin=\"k\",le=\"0.005\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_cycle_duration_seconds_bucket{twin=\"k\",le=\"0.5\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_cycle_duration_seconds_bucket{twin=\"k\",le=\"1\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_cycle_duration_seconds_bucket{twin=\"k\",le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_cycle_duration_seconds_count{twin=\"k\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_energy_joules_total{twin=\"k\",source=\"estimate\"} 75\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_qc_rejected_total{twin=\"k\",sensor=\"T07\",reason=\"stuck\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sensor=\"odd \\\"name\\\"\""), std::string::npos) << text;  // quotes escaped
  EXPECT_NE(text.find("# TYPE twin_model_error gauge\ntwin_model_error{twin=\"k\"} 0.125\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_model_error_hold_cycles_total{twin=\"k\"} 17\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_model_error_settling_cycles_total{twin=\"k\"} 9\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_model_error_persistent_cycles_total{twin=\"k\"} 6\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_qc_blind_cycles_total{twin=\"k\"} 12\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_mode{twin=\"k\",mode=\"safe_hold\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_mode{twin=\"k\",mode=\"nominal\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_advice_total{twin=\"k\",mode=\"nominal\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_advice_total{twin=\"k\",mode=\"fallback\"} 0\n"), std::string::npos) << text;
  // No unit but the base ones: nothing in milliseconds any more (promtool's lint).
  EXPECT_EQ(text.find("millisecond"), std::string::npos) << text;
  EXPECT_EQ(text.find("# TYPE twin_reading_to_advice_seconds"), std::string::npos) << "empty histograms are left out";
  // Without the model error (model_error_gain: 0) its metrics are left out, and nothing reads a
  // key that is not there.
  s["confidence"].erase("model_error");
  s["confidence"]["parameter_gate"] = {{"down_weighted_cycles", 2}};
  const std::string plain = twin::detail::prometheus(nine_cells(), s);
  EXPECT_EQ(plain.find("twin_model_error"), std::string::npos) << plain;
  EXPECT_NE(plain.find("twin_parameter_gate_down_weighted_cycles_total{twin=\"k\"} 2\n"), std::string::npos) << plain;
}

// The terminal's progress line shows the analysis RMSE only where a plant emulator gives a truth
// to measure it by; a replay or a stream showed "RMSE 0.000".
TEST(RunKpis, TheProgressLineShowsNoRmseWithoutATruth) {
  const twin::Config config = twin::load_config(std::string(TWIN_SOURCE_DIR) + "/tests/data/small_plate.yaml");
  const twin::detail::RunKpis kpis(config, MPI_COMM_SELF);
  const std::string line = kpis.progress(config.twin.cycles);
  EXPECT_NE(line.find("real time"), std::string::npos) << line;
  EXPECT_NE(line.find("mode nominal"), std::string::npos) << line;
  EXPECT_EQ(line.find("RMSE"), std::string::npos) << line;
}

// metrics.prom while a run goes on (rewritten every flush_every * 10 cycles) showed no QC
// rejection and no mode until the run ended: a dashboard watching a months-long run saw a quiet
// twin whatever QC did. The partial figures carry QC's counts and the latest advice's mode.
TEST(RunKpis, TheLiveMetricsShowQcRejectionsAndTheMode) {
  twin::Config config = nine_cells();
  twin::Runtime runtime(config, MPI_COMM_SELF);
  twin::detail::RunKpis kpis(config, MPI_COMM_SELF);
  runtime.ingest({{5.0, "low", std::nan("")}, {5.0, "high", 300.0}});
  const twin::CycleOutcome out = runtime.step(std::chrono::milliseconds(10000));
  kpis.record(0, out, std::vector<double>(config.controls.size(), 0.0), runtime, nullptr);
  const std::string text = twin::detail::prometheus(config, kpis.partial(runtime));
  EXPECT_NE(text.find("twin_qc_rejected_total{twin=\"k\",sensor=\"low\",reason=\"non_finite\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("twin_qc_blind_cycles_total{twin=\"k\"} 0\n"), std::string::npos) << text;
  const std::string mode = twin::to_string(out.advice.mode);
  EXPECT_NE(text.find("twin_mode{twin=\"k\",mode=\"" + mode + "\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_advice_total{twin=\"k\",mode=\"" + mode + "\"} 1\n"), std::string::npos) << text;
  int ones = 0;
  for (std::size_t at = text.find("\ntwin_mode{"); at != std::string::npos; at = text.find("\ntwin_mode{", at + 1))
    ones += text.compare(text.find("} ", at) + 2, 2, "1\n") == 0;
  EXPECT_EQ(ones, 1) << "one mode is the latest advice's:\n" << text;
}
