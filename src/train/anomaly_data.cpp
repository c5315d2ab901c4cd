// Anomaly training data (twin train): fault scenarios of the twin following the plant emulator,
// labelled by the event in effect, spread over the ranks by scenario.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "ground/mpi.hpp"
#include "ground/progress.hpp"
#include "solvers/solver.hpp"
#include "train/train.hpp"
#include "advisor/gates.hpp"
#include "sources/plant.hpp"
#include "twin/runtime.hpp"

namespace twin::detail {

namespace {
constexpr int plant_fault_label_cycles = 12;  // a plant fault is labelled for this many cycles
}  // namespace

FaultScenario fault_scenario(const Config& config, int index) {
  const TrainingConfig& tc = config.training;
  std::seed_seq seq{tc.seed, 0xa0u, static_cast<unsigned>(index)};
  std::mt19937_64 rng(seq);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto uniform = [&](double a, double b) { return a + (b - a) * unit(rng); };
  const auto pick = [&](int n) { return std::min(n - 1, static_cast<int>(unit(rng) * n)); };
  const double T = config.twin.control_period_s;
  const int cycles = tc.anomaly_cycles;
  const int warmup = filter_spin_up_cycles(config);

  FaultScenario sc;
  Config& c = sc.config;
  c = config;
  c.grid.ranks.clear();
  c.ensemble.member_groups.reset();
  c.advisor.reset();
  // The grid check changes the stated uncertainty only, which no anomaly feature reads: not
  // run again for every scenario.
  c.assimilation.grid_check_cycles = 0;
  c.source.type = "plant";
  PlantConfig& plant = c.source.plant;
  plant.seed = static_cast<unsigned>(rng());
  c.ensemble.seed = static_cast<unsigned>(rng());
  plant.initial_offset = uniform(-3.0, 3.0);
  for (const auto& p : config.ensemble.parameters) {
    const double v = std::min(p.max, std::max(p.min, p.prior_mean + tc.parameter_spread * p.prior_std * uniform(-1.0, 1.0)));
    if (p.name == "diffusivity_factor") plant.parameters.diffusivity_factor = v;
    if (p.name == "cooling_factor") plant.parameters.cooling_factor = v;
  }
  plant.events.clear();

  // Faults one after another with quiet gaps; 40 % sensor faults, 20 % each plant fault.
  const EventKind sensor_kinds[] = {EventKind::sensor_stuck, EventKind::sensor_dropout, EventKind::sensor_spike,
                                    EventKind::sensor_drift, EventKind::sensor_bias};
  const int S = static_cast<int>(config.sensors.size()), C = static_cast<int>(config.controls.size());
  struct KeptOn {
    int control;
    long first, last;
  };
  std::vector<KeptOn> kept_on;  // a failing heater stays on, or its failure would not show
  for (long t = warmup + 2 + pick(6); t < cycles - 6;) {
    PlantEventConfig e;
    const double r = unit(rng);
    long duration = 0;
    if (r < 0.4 || C == 0) {
      e.type = sensor_kinds[pick(5)];
      e.target = config.sensors[pick(S)].name;
      const double sign = unit(rng) < 0.5 ? -1.0 : 1.0;
      if (e.type == EventKind::sensor_spike) e.magnitude = sign * uniform(8.0, 20.0);
      if (e.type == EventKind::sensor_bias) e.magnitude = sign * uniform(3.0, 8.0);
      if (e.type == EventKind::sensor_drift) e.magnitude = sign * uniform(0.04, 0.15);
      duration = e.type == EventKind::sensor_spike ? 1 : 4 + pick(7);
    } else if (r < 0.6) {
      e.type = EventKind::heat_source;
      const auto& near = config.sensors[pick(S)].position_m;
      for (std::size_t d = 0; d < near.size(); ++d) {
        const double L = config.grid.extent_m[d];
        e.center_m.push_back(std::min(0.95 * L, std::max(0.05 * L, near[d] + uniform(-0.02, 0.02))));
        e.size_m.push_back(uniform(0.02, 0.035));
      }
      e.magnitude = uniform(0.05, 0.12);
      duration = 10 + pick(5);
    } else if (r < 0.8) {
      e.type = EventKind::cooling_degradation;
      e.magnitude = uniform(0.1, 0.4);
      duration = 10 + pick(5);
    } else {
      e.type = EventKind::heater_failure;
      const int j = pick(C);
      e.target = config.controls[j].name;
      e.magnitude = uniform(0.0, 0.2);
      duration = 10 + pick(5);
      kept_on.push_back({j, t - 3, t + duration});
    }
    e.start_s = (static_cast<double>(t) + 0.5) * T;
    if (e.type != EventKind::sensor_spike) e.end_s = (static_cast<double>(t + duration) + 0.5) * T;
    plant.events.push_back(e);
    const long quiet = settle_cycles(e.type) + 4 + pick(10);
    t += duration + quiet;
  }

  // Controls: random targets held for 6 to 15 cycles, reached at the rate limits.
  const advisor::Envelope envelope = advisor::Envelope::from(config.controls);
  std::vector<double> u, target;
  for (const auto& ctl : config.controls) u.push_back(ctl.initial);
  target = u;
  long hold = 0;
  for (int k = 0; k < cycles; ++k) {
    if (--hold <= 0) {
      for (int j = 0; j < C; ++j) target[j] = uniform(config.controls[j].min, config.controls[j].max);
      hold = 6 + pick(10);
    }
    std::vector<double> want = target;
    for (const KeptOn& h : kept_on)
      if (k >= h.first && k <= h.last) {
        const auto& ctl = config.controls[h.control];
        want[h.control] = std::max(want[h.control], ctl.min + 0.6 * (ctl.max - ctl.min));
      }
    u = envelope.ramp_towards(want, u, T);
    sc.controls.push_back(u);
  }
  return sc;
}

int anomaly_label(const std::vector<PlantEventConfig>& events, long cycle, double period) {
  const PlantEventConfig* current = nullptr;  // the latest event in effect
  long current_first = -1;
  bool recovering = false;
  for (const auto& e : events) {
    const EventCycles ec = event_cycles(e, period);
    if (ec.contains(cycle) && ec.first > current_first) {
      current = &e;
      current_first = ec.first;
    } else if (ec.settling(cycle, settle_cycles(e.type))) {
      recovering = true;  // the twin is still settling after it
    }
  }
  if (!current) return recovering ? -1 : 0;
  if (is_sensor_event(current->type)) return 1;
  const long age = cycle - current_first;
  if (age == 0 || age >= plant_fault_label_cycles) return -1;  // barely begun, or absorbed by the filter
  const auto& names = anomaly_classes();
  return static_cast<int>(std::find(names.begin(), names.end(), anomaly_class(current->type)) - names.begin());
}

namespace {
// The groups in the order of a draw from (seed, salt, group): the same whatever the rank count.
std::vector<int> seeded_order(unsigned seed, unsigned salt, const std::vector<int>& groups) {
  std::vector<std::pair<std::uint64_t, int>> order;
  for (int g : groups) {
    std::seed_seq seq{seed, salt, static_cast<unsigned>(g)};
    std::mt19937_64 rng(seq);
    order.emplace_back(rng(), g);
  }
  std::sort(order.begin(), order.end());
  std::vector<int> out;
  for (const auto& o : order) out.push_back(o.second);
  return out;
}
}  // namespace

std::vector<Held> split_groups(unsigned seed, unsigned salt, int count, double validation_fraction, double test_fraction) {
  std::vector<Held> held(static_cast<std::size_t>(std::max(0, count)), Held::training);
  if (count < 3) return held;
  std::vector<int> groups(static_cast<std::size_t>(count));
  for (int g = 0; g < count; ++g) groups[g] = g;
  const std::vector<int> order = seeded_order(seed, salt, groups);
  const int tests = std::max(1, static_cast<int>(std::lround(count * test_fraction)));
  const int validations = std::max(1, static_cast<int>(std::lround(count * validation_fraction)));
  for (int i = 0; i < count; ++i)
    held[order[i]] = i < tests ? Held::test : i < tests + validations ? Held::validation : Held::training;
  return held;
}

std::vector<int> fold_groups(unsigned seed, unsigned salt, const std::vector<Held>& held, int folds) {
  std::vector<int> fold(held.size(), -1), groups;
  for (int g = 0; g < static_cast<int>(held.size()); ++g)
    if (held[g] != Held::test) groups.push_back(g);
  const std::vector<int> order = seeded_order(seed, salt, groups);
  const std::size_t n = static_cast<std::size_t>(std::min(std::max(folds, 1), static_cast<int>(order.size())));
  for (std::size_t i = 0; i < order.size(); ++i) fold[order[i]] = static_cast<int>(i % n);
  return fold;
}

advisor::Dataset generate_anomaly_data(const Config& config, int rank, int ranks, bool progress,
                                       std::vector<ScenarioCycle>* cycles) {
  const AnomalyLayout layout = anomaly_layout(config);
  const double T = config.twin.control_period_s;
  const int warmup = filter_spin_up_cycles(config);
  advisor::Dataset data{static_cast<int>(layout.inputs.size()), static_cast<int>(layout.outputs.size()), {}, {}, {}};
  std::vector<double> y(layout.outputs.size());
  const int scenarios = config.training.anomaly_scenarios;
  Progress bar("anomaly data (fault scenarios)", (scenarios + ranks - 1 - rank) / ranks, progress);
  long done = 0;
  for (int g = rank; g < config.training.anomaly_scenarios; g += ranks) {
    const FaultScenario sc = fault_scenario(config, g);
    PlantEmulator plant(sc.config, MPI_COMM_SELF);
    // The same plant without its events, for how plainly each shows (FaultEvidence).
    Config without = sc.config;
    without.source.plant.events.clear();
    PlantEmulator clean(without, MPI_COMM_SELF);
    FaultEvidence evidence(sc.config, sc.config.source.plant.events);
    Runtime twin(sc.config, MPI_COMM_SELF);
    AnomalyFeatures features(sc.config);
    QuietCycles quiet(sc.config.source.plant.events, T);
    for (int c = 0; c < static_cast<int>(sc.controls.size()); ++c) {
      const std::vector<double>& u = sc.controls[c];
      const std::vector<Observation> readings = plant.advance(c * T, T, u, c);
      const double shown = evidence.next(c, readings, clean.advance(c * T, T, u, c));
      twin.apply_controls(u);
      twin.ingest(readings);
      const CycleOutcome out = twin.step(std::chrono::hours(1));  // never skip a stage for time
      std::vector<double> theta;
      for (const auto& p : out.parameters) theta.push_back(p.mean);
      const std::vector<double> x = features.push(out.sensors, theta, u, out.parameter_withheld, out.innovation_split);
      if (out.solver_status != "ok")
        throw Error("anomaly training data: the twin's solver failed in scenario " + std::to_string(g) + " at cycle " +
                    std::to_string(c) + " (" + out.solver_status + ")");
      const double consistency = settling_consistency(out);
      const bool is_quiet = quiet.next(c, consistency);
      if (c + 1 <= warmup) continue;  // diagnosis is not armed yet
      // A fault is labelled only once it has shown in the readings: before, its cycles look like
      // quiet ones, and training the model to call them a fault teaches it to guess.
      int label = anomaly_label(sc.config.source.plant.events, c, T);
      if (label > 0 && !(shown >= FaultEvidence::detectable_evidence)) label = -1;
      if (cycles) cycles->push_back({g, c, label, x, consistency, is_quiet, shown});
      if (label < 0) continue;
      std::fill(y.begin(), y.end(), 0.0);
      y[static_cast<std::size_t>(label)] = 1.0;
      data.add(x, y, g);  // validation holds out whole scenarios
    }
    bar.update(++done, std::to_string(data.rows()) + " rows on rank 0");
  }
  bar.finish(std::to_string(data.rows()) + " rows on rank 0");
  return data;
}

}  // namespace twin::detail
