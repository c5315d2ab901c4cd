// twin train's held-out evaluation (src/train/held_out.cpp): the split of scenarios by seed, the
// anomaly threshold chosen on held-out scenarios to a false-alarm budget, its cross-fitting folds, and the test figures,
// with a real LibTorch model whose class probabilities are set by its inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "advisor/training.hpp"
#include "decision/features.hpp"
#include "sources/plant.hpp"
#include "train/held_out.hpp"
#include "train/train.hpp"

namespace {

using twin::detail::Held;
using twin::detail::ScenarioCycle;

twin::Config small_plate() {
  twin::Config c = twin::load_config(std::string(TWIN_SOURCE_DIR) + "/tests/data/small_plate.yaml");
  c.training.anomaly_cycles = 120;
  return c;
}

// One linear layer, one member, logits = the inputs: softmax(x) are the class probabilities.
twin::advisor::Model logits_model() {
  const int C = static_cast<int>(twin::detail::anomaly_classes().size());
  twin::advisor::Dataset d{C, C, {}, {}, {}};
  for (int i = 0; i < 8; ++i) {
    std::vector<double> x(C, 0.0), y(C, 0.0);
    x[i % C] = 1.0 + i;
    y[i % C] = 1.0;
    d.add(x, y);
  }
  twin::advisor::TrainSpec s;
  s.name = "anomaly";
  s.role = "anomaly";
  s.inputs = s.outputs = twin::detail::anomaly_classes();
  s.ensemble = 1;
  s.hidden = {};
  s.epochs = 1;
  s.loss = twin::advisor::Loss::classification;
  twin::advisor::ModelPackage p = twin::advisor::train_mlp_ensemble(d, s, MPI_COMM_SELF);
  p.input_mean.assign(C, 0.0);
  p.input_scale.assign(C, 1.0);
  for (auto& t : p.weights)
    for (std::size_t i = 0; i < t.values.size(); ++i)
      t.values[i] = t.name == "layer0.weight" && i / C == i % C ? 1.0f : 0.0f;
  p.weights_sha256 = twin::advisor::weights_digest(p);
  p.package_sha256 = twin::advisor::package_digest(p);
  return twin::advisor::Model(p);
}

// Logits giving class k the probability q, `none` the rest (the other classes ~0).
std::vector<double> calling(int k, double q) {
  std::vector<double> x(twin::detail::anomaly_classes().size(), -40.0);
  x[0] = 0.0;
  if (k > 0) x[k] = std::log(q / (1.0 - q));
  return x;
}

int class_of(const twin::PlantEventConfig& e) {
  const auto& names = twin::detail::anomaly_classes();
  return static_cast<int>(std::find(names.begin(), names.end(), twin::detail::anomaly_class(e.type)) - names.begin());
}

bool quiet(const std::vector<twin::PlantEventConfig>& events, long c, double T) {
  for (const auto& e : events) {
    const auto ec = twin::detail::event_cycles(e, T);
    if (ec.contains(c) || ec.settling(c, twin::detail::plant_fault_settle_cycles)) return false;
  }
  return true;
}

TEST(HeldOut, ScenariosAreSplitBySeedIntoSetsOfTheStatedSizes) {
  const auto a = twin::detail::split_groups(11, 0xa1, 64, 0.2, 0.2);
  EXPECT_EQ(a, twin::detail::split_groups(11, 0xa1, 64, 0.2, 0.2));
  EXPECT_NE(a, twin::detail::split_groups(12, 0xa1, 64, 0.2, 0.2));
  EXPECT_EQ(std::count(a.begin(), a.end(), Held::test), 13);
  EXPECT_EQ(std::count(a.begin(), a.end(), Held::validation), 13);
  EXPECT_EQ(std::count(a.begin(), a.end(), Held::training), 38);
  const auto few = twin::detail::split_groups(11, 0xa1, 3, 0.05, 0.05);  // each held-out set gets one
  EXPECT_EQ(std::count(few.begin(), few.end(), Held::test), 1);
  EXPECT_EQ(std::count(few.begin(), few.end(), Held::validation), 1);
  const auto two = twin::detail::split_groups(11, 0xa1, 2, 0.2, 0.2);  // too few to hold any out
  EXPECT_EQ(std::count(two.begin(), two.end(), Held::training), 2);
}

// The anomaly threshold's cross-fitting folds: every scenario not held out for test in one of
// them, sizes within one of each other, drawn by seed, the test scenarios in none.
TEST(HeldOut, TheThresholdsFoldsCoverTheNonTestScenariosEvenly) {
  const auto held = twin::detail::split_groups(11, 0xa1, 64, 0.2, 0.2);
  const auto fold = twin::detail::fold_groups(11, 0xa2, held, 5);
  ASSERT_EQ(fold.size(), held.size());
  std::vector<int> sizes(5, 0);
  for (std::size_t g = 0; g < held.size(); ++g) {
    if (held[g] == Held::test) {
      EXPECT_EQ(fold[g], -1);
      continue;
    }
    ASSERT_GE(fold[g], 0);
    ASSERT_LT(fold[g], 5);
    ++sizes[fold[g]];
  }
  EXPECT_EQ(sizes[0] + sizes[1] + sizes[2] + sizes[3] + sizes[4], 51);
  EXPECT_LE(*std::max_element(sizes.begin(), sizes.end()) - *std::min_element(sizes.begin(), sizes.end()), 1);
  EXPECT_EQ(fold, twin::detail::fold_groups(11, 0xa2, held, 5));
  EXPECT_NE(fold, twin::detail::fold_groups(12, 0xa2, held, 5));
  // Fewer scenarios than folds (5 scenarios, 1 for test): a fold for each of the other 4.
  auto few = twin::detail::fold_groups(11, 0xa2, twin::detail::split_groups(11, 0xa1, 5, 0.2, 0.2), 5);
  std::sort(few.begin(), few.end());
  EXPECT_EQ(few, (std::vector<int>{-1, 0, 1, 2, 3}));
}

// The split-conformal rule per class: class c's threshold just above the k-th highest score of
// the quiet cycles called c, k = floor(budget / (C - 1) (n + 1)) over all n quiet cycles, so
// that a new quiet cycle is flagged as c with probability at most k / (n + 1), as anything with
// at most budget; and a class the quiet cycles keep calling sets no other class's threshold.
TEST(HeldOut, TheThresholdsBoundTheFalseAlarmRateOnNewQuietCyclesByTheBudgetClassByClass) {
  const twin::Config c = small_plate();
  const double T = c.twin.control_period_s;
  const twin::advisor::Model model = logits_model();
  const auto& names = twin::detail::anomaly_classes();
  const double fault_classes = static_cast<double>(names.size() - 1);
  // Quiet cycles called heat_source (2) with probabilities spread over [0.5, 0.98], or
  // cooling_degradation (3) at 0.99; no quiet cycle calls the other two.
  std::vector<ScenarioCycle> validation;
  std::vector<double> heat;
  long quiet_cycles = 0;
  for (int g = 0; g < 12; ++g) {
    const auto events = twin::detail::fault_scenario(c, g).config.source.plant.events;
    for (int k = 21; k < c.training.anomaly_cycles; ++k) {
      const bool q = quiet(events, k, T);
      const double p = 0.5 + 0.48 * std::fmod(0.618 * k + 0.377 * g, 1.0);  // distinct across scenarios
      const bool cooling = k % 3 == 0;
      validation.push_back({g, k, 0, q ? (cooling ? calling(3, 0.99) : calling(2, p)) : calling(1, 0.99), 0.5, q});
      quiet_cycles += q;
      if (q && !cooling) heat.push_back(p);
    }
  }
  ASSERT_GT(heat.size(), 150u);
  twin::detail::Metrics m;
  const double budget = 0.04;
  const auto t = twin::detail::choose_anomaly_thresholds(c, model, validation, budget, m);
  ASSERT_EQ(t.size(), names.size());
  const double n = static_cast<double>(quiet_cycles);
  // The allowance floor(budget (n + 1)), water-filled: the two classes no quiet cycle calls reach
  // their floor with k = 1 each, and heat_source and cooling_degradation share the rest.
  const std::size_t total = static_cast<std::size_t>(std::floor(budget * (n + 1.0)));
  const std::size_t k = (total - 2) / 2;
  ASSERT_GE(k, 2u);
  ASSERT_GT(k, static_cast<std::size_t>(std::floor(budget / fault_classes * (n + 1.0))));  // more than an even split
  const std::size_t allowed = k - 1;  // flagged as heat_source on validation
  std::sort(heat.begin(), heat.end(), std::greater<>());
  // The model computes in float32: its probabilities match these to about 1e-7.
  ASSERT_GT(heat[allowed - 1] - heat[allowed], 1e-4);  // distinct enough to tell apart
  EXPECT_NEAR(t[2], heat[allowed], 1e-5);  // just above the first quiet cycle it must not flag
  EXPECT_GT(heat[allowed - 1], t[2]);      // and no higher: the ones it may flag are flagged
  EXPECT_NEAR(t[3], 0.99, 1e-5);          // above all of cooling_degradation's quiet calls
  EXPECT_GT(t[3], t[2]);                   // which do not raise heat_source's
  EXPECT_EQ(t[1], 0.5);                    // never called on a quiet cycle: the floor
  EXPECT_EQ(t[4], 0.5);
  for (std::size_t i = 1; i < names.size(); ++i) EXPECT_EQ(m.at("anomaly_threshold:" + names[i]), t[i]);
  EXPECT_EQ(m.at("anomaly_threshold"), t[3]);  // the highest, for readers of one threshold
  EXPECT_NEAR(m.at("validation_false_alarm_rate"), static_cast<double>(allowed) / n, 1e-12);
  EXPECT_EQ(m.at("validation_quiet_cycles"), n);
  EXPECT_LE(m.at("validation_false_alarm_rate"), budget);
  EXPECT_NEAR(m.at("validation_false_alarm_bound"), static_cast<double>(2 + 2 * k) / (n + 1.0), 1e-12);
  EXPECT_LE(m.at("validation_false_alarm_bound"), budget);
  // Too few quiet cycles to certify a budget of 0.001: above each class's highest, and the bound
  // says so.
  twin::detail::Metrics few;
  const auto t_few = twin::detail::choose_anomaly_thresholds(c, model, validation, 0.001, few);
  EXPECT_NEAR(t_few[2], heat[0], 1e-5);
  EXPECT_NEAR(t_few[3], 0.99, 1e-5);
  EXPECT_EQ(few.at("validation_false_alarm_rate"), 0.0);
  EXPECT_NEAR(few.at("validation_false_alarm_bound"), fault_classes / (n + 1.0), 1e-12);
  EXPECT_GT(few.at("validation_false_alarm_bound"), 0.001);
  // Quiet cycles calling a class above 0.999: its threshold stands above them (a cap at 0.999
  // would flag every one of them).
  for (auto& v : validation)
    if (v.quiet && v.cycle % 3 == 0) v = {v.scenario, v.cycle, 0, calling(3, 0.9995), 0.5, true};
  twin::detail::Metrics sure;
  const auto t_sure = twin::detail::choose_anomaly_thresholds(c, model, validation, budget, sure);
  EXPECT_GT(t_sure[3], 0.999);  // the old cap, exactly
  EXPECT_LE(t_sure[3], 1.0);
}

TEST(HeldOut, TestFiguresCountEventsDelaysAndConfusion) {
  const twin::Config c = small_plate();
  const double T = c.twin.control_period_s;
  const twin::advisor::Model model = logits_model();
  std::vector<ScenarioCycle> test;
  long events = 0, sensor_events = 0, labelled_none = 0, false_flag_cycle = -1, detectable = 0;
  for (int g = 5; g < 8; ++g) {
    const auto events_g = twin::detail::fault_scenario(c, g).config.source.plant.events;
    for (int k = 21; k < c.training.anomaly_cycles; ++k) {
      // Each event named with its class from its second cycle on (spikes last one cycle: at once).
      // Each event's evidence grows by 1 a cycle from 1 at its onset: detectable (3) from its
      // third cycle, a one-cycle spike never.
      int called = 0;
      double evidence = std::nan("");
      for (const auto& e : events_g) {
        const auto ec = twin::detail::event_cycles(e, T);
        const long from = ec.first + (ec.last == ec.first ? 0 : 2);
        if (ec.contains(k) && k >= from) called = class_of(e);
        if (ec.contains(k)) evidence = static_cast<double>(k - ec.first + 1);
      }
      const int label = twin::detail::anomaly_label(events_g, k, T);
      labelled_none += label == 0;
      // One false flag in a quiet cycle of the first scenario.
      if (g == 5 && called == 0 && quiet(events_g, k, T) && false_flag_cycle < 0) {
        false_flag_cycle = k;
        called = 3;
      }
      test.push_back({g, k, label, calling(called, called ? 0.9 : 0.5), 0.5, quiet(events_g, k, T), evidence});
    }
    for (const auto& e : events_g) {
      ++events;
      sensor_events += twin::is_sensor_event(e.type);
      const auto ec = twin::detail::event_cycles(e, T);
      detectable += (ec.last < 0 ? c.training.anomaly_cycles - 1 : ec.last) - ec.first >= 2;
    }
  }
  twin::detail::Metrics m;
  twin::detail::test_anomaly_model(c, model, twin::detail::AnomalyThresholds(twin::detail::anomaly_classes().size(), 0.8), test, m);
  long counted = 0, named = 0, shown = 0;
  double delay_sum = 0.0;
  for (const std::string& k : twin::detail::anomaly_classes()) {
    if (!m.count("test_events:" + k)) continue;
    counted += static_cast<long>(m.at("test_events:" + k));
    shown += static_cast<long>(m.at("test_detectable:" + k));
    if (m.at("test_detectable:" + k) > 0) {  // detectable 2 cycles after onset, named then too
      EXPECT_DOUBLE_EQ(m.at("test_detectable_delay_mean:" + k), 2.0) << k;
      EXPECT_DOUBLE_EQ(m.at("test_delay_after_detectable_mean:" + k), 0.0) << k;
    }
    named += static_cast<long>(m.at("test_named:" + k));
    EXPECT_EQ(m.at("test_named_in_time:" + k), m.at("test_named:" + k)) << k;
    delay_sum += m.at("test_delay_mean:" + k) * m.at("test_named:" + k);
  }
  EXPECT_EQ(counted, events);
  EXPECT_EQ(named, events);
  EXPECT_EQ(shown, detectable);
  EXPECT_LT(detectable, events) << "the scenarios' spikes are never detectable here";
  // Delays: 2 cycles for every event but spikes (0).
  long spikes = 0;
  for (int g = 5; g < 8; ++g)
    for (const auto& e : twin::detail::fault_scenario(c, g).config.source.plant.events) spikes += e.type == twin::EventKind::sensor_spike;
  EXPECT_DOUBLE_EQ(delay_sum, 2.0 * static_cast<double>(events - spikes));
  ASSERT_GE(false_flag_cycle, 0);
  EXPECT_NEAR(m.at("test_false_alarm_rate") * m.at("test_quiet_cycles"), 1.0, 1e-9);
  // The false flag is a cooling_degradation call of a cycle labelled none.
  EXPECT_EQ(m.at("test_confusion:none>cooling_degradation"), 1.0);
  EXPECT_EQ(m.at("test_confusion:none>none"), static_cast<double>(labelled_none - 1));
  EXPECT_LT(m.at("test_precision:cooling_degradation"), 1.0);
  EXPECT_GT(sensor_events, 0);
}

}  // namespace
