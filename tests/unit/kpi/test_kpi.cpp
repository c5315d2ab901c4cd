// The run's KPIs (src/kpi): the control score's arithmetic on a known truth, and metrics.prom.
#include <gtest/gtest.h>

#include <cmath>

#include "kpi/control_score.hpp"
#include "kpi/run_kpis.hpp"
#include "twin/config.hpp"

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

TEST(Metrics, PrometheusTextHasEveryGaugeAndRejectionCounter) {
  nlohmann::json s = {{"cycles", 3}, {"facility_time_s", 30.0}, {"realtime_factor", 12.5}, {"deadline_misses", 1},
                      {"cycle_ms", {{"p99", 4.5}}}, {"rmse_analysis", 0.25}};
  s["qc"]["rejected"]["T07"]["stuck"] = 4;
  const std::string text = twin::detail::prometheus(nine_cells(), s);
  EXPECT_NE(text.find("twin_cycles{twin=\"k\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_deadline_misses{twin=\"k\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_rmse_analysis{twin=\"k\"} 0.25\n"), std::string::npos) << text;
  EXPECT_NE(text.find("twin_qc_rejected_total{twin=\"k\",sensor=\"T07\",reason=\"stuck\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE twin_realtime_factor gauge"), std::string::npos) << text;
}
