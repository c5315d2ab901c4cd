// The held-out evaluation of twin train: threshold on validation scenarios, test figures.
#include "train/held_out.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>

#include "decision/features.hpp"
#include "ground/check.hpp"
#include "ground/mpi.hpp"
#include "sources/plant.hpp"
#include "twin/error.hpp"

namespace twin::detail {

namespace {

// Every rank's doubles, concatenated in rank order on rank 0.
std::vector<double> gather_doubles(const std::vector<double>& mine, MPI_Comm comm) {
  int rank = 0, size = 1;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &size));
  int count = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), offsets(static_cast<std::size_t>(size), 0);
  TWIN_MPI_CHECK(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm));
  for (int r = 1; r < size; ++r) offsets[r] = offsets[r - 1] + counts[r - 1];
  std::vector<double> all(rank == 0 ? static_cast<std::size_t>(offsets.back() + counts.back()) : 0);
  TWIN_MPI_CHECK(MPI_Gatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE, 0, comm));
  return all;
}

// Per cycle: the class probabilities (cycles x classes).
std::vector<double> probabilities(const advisor::Model& model, const std::vector<ScenarioCycle>& cycles) {
  const int n = model.inputs(), rows = static_cast<int>(cycles.size());
  std::vector<double> x;
  x.reserve(static_cast<std::size_t>(rows) * n);
  for (const ScenarioCycle& c : cycles) x.insert(x.end(), c.x.begin(), c.x.end());
  std::vector<double> members;
  if (rows > 0) model.predict(x.data(), rows, members);
  return class_probabilities(members, model.members(), rows, model.outputs());
}

// The class called at `thresholds` (0: none; without them, the most probable) and its score.
struct Call {
  int called = 0;
  double score = 0.0;
};
Call call(const double* p, int classes, const AnomalyThresholds* thresholds) {
  int best = 0;
  for (int c = 1; c < classes; ++c)
    if (p[c] > p[best]) best = c;
  const double score = best == 0 ? 0.0 : p[best];
  const bool flagged = !thresholds || (best < static_cast<int>(thresholds->size()) && score >= (*thresholds)[best]);
  return {flagged ? best : 0, score};
}

// The scenario's scheduled events (whether a cycle is quiet came with it: ScenarioCycle::quiet).
struct Schedule {
  std::vector<PlantEventConfig> events;
  std::vector<EventCycles> cycles;
  /// What came last before cycle c: "N cycles after <event> ended", or "no event before".
  std::string since(long c) const {
    long best = -1;
    std::size_t which = 0;
    for (std::size_t i = 0; i < cycles.size(); ++i)
      if (cycles[i].last >= 0 && cycles[i].last < c && cycles[i].last > best) best = cycles[i].last, which = i;
    if (best < 0) return "no event before it";
    return std::to_string(c - best) + " cycles after its " + to_string(events[which].type) + " ended";
  }
};
Schedule schedule(const Config& config, int scenario) {
  Schedule s;
  s.events = fault_scenario(config, scenario).config.source.plant.events;
  for (const auto& e : s.events) s.cycles.push_back(event_cycles(e, config.twin.control_period_s));
  return s;
}

}  // namespace

std::vector<ScenarioCycle> gather_cycles(const std::vector<ScenarioCycle>& mine, int features, MPI_Comm comm) {
  const std::size_t width = 6 + static_cast<std::size_t>(features);
  std::vector<double> packed;
  packed.reserve(mine.size() * width);
  for (const ScenarioCycle& c : mine) {
    TWIN_REQUIRE(static_cast<int>(c.x.size()) == features, Error, "gather_cycles: a cycle with " + std::to_string(c.x.size()) + " features");
    packed.insert(packed.end(),
                  {double(c.scenario), double(c.cycle), double(c.label), c.consistency, c.quiet ? 1.0 : 0.0, c.evidence});
    packed.insert(packed.end(), c.x.begin(), c.x.end());
  }
  const std::vector<double> all = gather_doubles(packed, comm);
  std::vector<ScenarioCycle> out;
  for (std::size_t i = 0; i + width <= all.size(); i += width)
    out.push_back({static_cast<int>(all[i]), static_cast<int>(all[i + 1]), static_cast<int>(all[i + 2]),
                   std::vector<double>(all.begin() + static_cast<long>(i + 6), all.begin() + static_cast<long>(i + width)),
                   all[i + 3], all[i + 4] != 0.0, all[i + 5]});
  std::sort(out.begin(), out.end(), [](const ScenarioCycle& a, const ScenarioCycle& b) {
    return a.scenario != b.scenario ? a.scenario < b.scenario : a.cycle < b.cycle;
  });
  return out;
}

advisor::Dataset gather_rows(const advisor::Dataset& mine, MPI_Comm comm) {
  return advisor::Dataset{mine.inputs, mine.outputs, gather_doubles(mine.x, comm), gather_doubles(mine.y, comm), {}};
}

std::vector<ScoredCycle> score_cycles(const advisor::Model& model, const std::vector<ScenarioCycle>& cycles) {
  const int C = model.outputs();
  const std::vector<double> prob = probabilities(model, cycles);
  std::vector<ScoredCycle> out;
  out.reserve(cycles.size());
  for (std::size_t i = 0; i < cycles.size(); ++i) {
    const Call k = call(&prob[i * C], C, nullptr);
    out.push_back({k.score, k.called, cycles[i]});
  }
  return out;
}

AnomalyThresholds choose_anomaly_thresholds(const Config& config, std::vector<ScoredCycle> scored, double budget,
                                            Metrics& out) {
  const auto& names = anomaly_classes();
  const std::size_t classes = names.size();
  scored.erase(std::remove_if(scored.begin(), scored.end(), [](const ScoredCycle& s) { return !s.cycle.quiet; }),
               scored.end());
  std::stable_sort(scored.begin(), scored.end(), [](const ScoredCycle& a, const ScoredCycle& b) { return a.score > b.score; });
  // The split-conformal rule, per class: class c's score of a quiet cycle is its
  // probability when c is the most probable, else 0. A new quiet cycle exchangeable with the n
  // held-out ones scores at or above the k_c-th highest of theirs with probability at most
  // k_c / (n + 1); the threshold is just above it, so k_c - 1 held-out cycles are flagged as c.
  // With sum k_c <= K = floor(budget (n + 1)) the C - 1 classes together stay within the budget.
  // One threshold for all let the class the quiet cycles call most (the plate with model error:
  // cooling_degradation, all of the 30 highest) hide the others' faults. The allowance K is
  // shared by water-filling: a class whose quiet calls reach its 0.5 floor with fewer than an
  // equal share (m calls at or above 0.5 need k = m + 1) takes only that, and the rest is shared
  // among the others. Too few quiet cycles to certify a class's share (k_c = 0): above its
  // highest; none at all: 0.999. A quiet cycle called with certainty (a probability of exactly 1
  // in float) cannot be stood above: 1, and a warning.
  const double n = static_cast<double>(scored.size());
  std::vector<std::vector<const ScoredCycle*>> mine(classes);  // each class's quiet calls, highest first
  for (const ScoredCycle& s : scored)
    if (s.called > 0 && static_cast<std::size_t>(s.called) < classes) mine[static_cast<std::size_t>(s.called)].push_back(&s);
  std::vector<std::size_t> k(classes, 0), need(classes, 1);  // need: the k that reaches the 0.5 floor
  for (std::size_t c = 1; c < classes; ++c)
    need[c] += static_cast<std::size_t>(
        std::count_if(mine[c].begin(), mine[c].end(), [](const ScoredCycle* s) { return s->score >= 0.5; }));
  {
    std::size_t left = static_cast<std::size_t>(std::floor(budget * (n + 1.0)));
    std::vector<bool> open(classes, true);
    open[0] = false;
    for (bool changed = true; changed;) {
      changed = false;
      const std::size_t still = static_cast<std::size_t>(std::count(open.begin(), open.end(), true));
      if (still == 0) break;
      const std::size_t share = left / still;
      for (std::size_t c = 1; c < classes; ++c) {
        if (!open[c] || need[c] > share) continue;
        k[c] = need[c];
        left -= need[c];
        open[c] = false;
        changed = true;
      }
      if (!changed)
        for (std::size_t c = 1; c < classes; ++c)
          if (open[c]) k[c] = share;
    }
  }
  AnomalyThresholds thresholds(classes, 1.0);
  double bound = 0.0;
  for (std::size_t c = 1; c < classes; ++c) {
    const std::size_t at = k[c] == 0 ? 0 : k[c] - 1;
    bound += static_cast<double>(std::max<std::size_t>(1, k[c])) / (n + 1.0);
    const double above = scored.empty() ? 1.0 : at < mine[c].size() ? std::nextafter(mine[c][at]->score, 2.0) : 0.0;
    thresholds[c] = scored.empty() ? 0.999 : std::min(1.0, std::max(0.5, above));
    if (above > 1.0)
      spdlog::warn("anomaly threshold for {}: quiet cycles call it with certainty (probability 1); the threshold "
                   "is 1 and its false alarms are not bounded by the budget",
                   names[c]);
    out["anomaly_threshold:" + names[c]] = thresholds[c];
    if (at < mine[c].size() && mine[c][at]->score >= 0.5) {  // which quiet cycle set it: a settling rule too short for this twin shows here
      const ScenarioCycle& q = mine[c][at]->cycle;
      spdlog::info("anomaly threshold {:.3f} for {} set by scenario {} cycle {} ({}; consistency {:.2g})", thresholds[c],
                   names[c], q.scenario, q.cycle, schedule(config, q.scenario).since(q.cycle), q.consistency);
    }
  }
  out["validation_false_alarm_bound"] = std::min(1.0, bound);
  long flagged = 0;
  for (const auto& s : scored) flagged += s.called != 0 && s.score >= thresholds[s.called];
  out["anomaly_threshold"] = *std::max_element(thresholds.begin() + 1, thresholds.end());
  out["anomaly_false_alarm_budget"] = budget;
  out["validation_quiet_cycles"] = n;
  out["validation_false_alarm_rate"] = scored.empty() ? 0.0 : static_cast<double>(flagged) / n;
  return thresholds;
}

AnomalyThresholds choose_anomaly_thresholds(const Config& config, const advisor::Model& model,
                                            const std::vector<ScenarioCycle>& validation, double budget, Metrics& out) {
  return choose_anomaly_thresholds(config, score_cycles(model, validation), budget, out);
}

void test_anomaly_model(const Config& config, const advisor::Model& model, const AnomalyThresholds& thresholds,
                        const std::vector<ScenarioCycle>& test, Metrics& out) {
  const int C = model.outputs();
  const auto& names = anomaly_classes();
  TWIN_REQUIRE(C == static_cast<int>(names.size()) && thresholds.size() == names.size(), Error,
               "test_anomaly_model: the model has " + std::to_string(C) + " classes, the thresholds " +
                   std::to_string(thresholds.size()));
  const std::vector<double> prob = probabilities(model, test);
  std::vector<std::vector<long>> confusion(C, std::vector<long>(C, 0));
  long quiet = 0, quiet_flagged = 0;
  struct Named {
    long events = 0, named = 0, in_time = 0, delay_sum = 0, delay_max = 0;
    long detectable = 0, detectable_sum = 0, after_count = 0, after_sum = 0;  // FaultEvidence
  };
  std::map<std::string, Named> by_class;
  for (std::size_t first = 0; first < test.size();) {  // scenario by scenario (sorted by scenario and cycle)
    std::size_t last = first;
    while (last < test.size() && test[last].scenario == test[first].scenario) ++last;
    const Schedule s = schedule(config, test[first].scenario);
    std::vector<long> first_right(s.events.size(), -1), first_shown(s.events.size(), -1);
    for (std::size_t i = first; i < last; ++i) {
      const ScenarioCycle& c = test[i];
      const Call k = call(&prob[i * C], C, &thresholds);
      if (c.label >= 0) ++confusion[c.label][k.called];
      if (c.quiet) {
        ++quiet;
        quiet_flagged += k.called != 0;
      }
      for (std::size_t e = 0; e < s.events.size(); ++e) {
        if (!s.cycles[e].contains(c.cycle)) continue;
        if (first_right[e] < 0 && k.called != 0 && names[k.called] == anomaly_class(s.events[e].type))
          first_right[e] = c.cycle;
        if (first_shown[e] < 0 && c.evidence >= FaultEvidence::detectable_evidence) first_shown[e] = c.cycle;
      }
    }
    const long seen_from = test[first].cycle;  // events before the diagnosis started are not counted
    for (std::size_t e = 0; e < s.events.size(); ++e) {
      if (s.cycles[e].first < seen_from) continue;
      Named& n = by_class[anomaly_class(s.events[e].type)];
      ++n.events;
      if (first_shown[e] >= 0) {
        ++n.detectable;
        n.detectable_sum += first_shown[e] - s.cycles[e].first;
        if (first_right[e] >= 0) {
          ++n.after_count;
          n.after_sum += first_right[e] - first_shown[e];
        }
      }
      if (first_right[e] < 0) continue;
      const long delay = first_right[e] - s.cycles[e].first;
      ++n.named;
      n.in_time += delay <= (is_sensor_event(s.events[e].type) ? 3 : 5);
      n.delay_sum += delay;
      n.delay_max = std::max(n.delay_max, delay);
    }
    first = last;
  }
  out["test_quiet_cycles"] = static_cast<double>(quiet);
  out["test_false_alarm_rate"] = quiet ? static_cast<double>(quiet_flagged) / static_cast<double>(quiet) : 0.0;
  for (int t = 0; t < C; ++t) {
    long row = 0, column = 0;
    for (int k = 0; k < C; ++k) {
      row += confusion[t][k];
      column += confusion[k][t];
      out["test_confusion:" + names[t] + ">" + names[k]] = static_cast<double>(confusion[t][k]);
    }
    if (row > 0) out["test_recall:" + names[t]] = static_cast<double>(confusion[t][t]) / static_cast<double>(row);
    if (column > 0) out["test_precision:" + names[t]] = static_cast<double>(confusion[t][t]) / static_cast<double>(column);
  }
  for (const auto& [name, n] : by_class) {
    out["test_events:" + name] = static_cast<double>(n.events);
    out["test_named:" + name] = static_cast<double>(n.named);
    out["test_named_in_time:" + name] = static_cast<double>(n.in_time);
    out["test_detectable:" + name] = static_cast<double>(n.detectable);
    if (n.detectable > 0)
      out["test_detectable_delay_mean:" + name] = static_cast<double>(n.detectable_sum) / static_cast<double>(n.detectable);
    if (n.after_count > 0)
      out["test_delay_after_detectable_mean:" + name] = static_cast<double>(n.after_sum) / static_cast<double>(n.after_count);
    if (n.named > 0) {
      out["test_delay_mean:" + name] = static_cast<double>(n.delay_sum) / static_cast<double>(n.named);
      out["test_delay_max:" + name] = static_cast<double>(n.delay_max);
    }
  }
}

void test_surrogate(const advisor::Model& model, const advisor::Dataset& test, Metrics& out) {
  const long rows = test.rows();
  out["test_rows"] = static_cast<double>(rows);
  if (rows == 0) return;
  std::vector<double> mean, sd;
  model.predict_moments(test.x.data(), static_cast<int>(rows), mean, sd);
  double err2 = 0.0, norm2 = 0.0;
  long covered = 0;
  for (std::size_t i = 0; i < test.y.size(); ++i) {
    const double e = mean[i] - test.y[i];
    err2 += e * e;
    norm2 += test.y[i] * test.y[i];
    covered += std::abs(e) <= 2.0 * sd[i];
  }
  const double n = static_cast<double>(test.y.size());
  out["test_rmse"] = std::sqrt(err2 / n);
  out["test_relative_error"] = norm2 > 0 ? std::sqrt(err2 / norm2) : 0.0;
  out["test_coverage_2sigma"] = static_cast<double>(covered) / n;
}

}  // namespace twin::detail
