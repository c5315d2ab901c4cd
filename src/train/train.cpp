#include "train/train.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iterator>
#include <random>

#include "ground/check.hpp"
#include "ground/mpi.hpp"
#include "ground/sha256.hpp"
#include "io/model_file.hpp"
#include "advisor/gates.hpp"
#include "advisor/model.hpp"
#include "advisor/version.hpp"
#include "solvers/solver.hpp"
#include "sources/plant.hpp"
#include "twin/runtime.hpp"
#include "twin/error.hpp"
#include "twin/version.hpp"

namespace twin::detail {

namespace {

// Sensor values of every member: [member][sensor], from a host copy of the field.
class SensorPicker {
 public:
  SensorPicker(const Config& config, const solvers::LocalGrid& g) {
    for (const auto& s : config.sensors) {
      int q[3] = {0, 0, 0};
      for (int d = 0; d < g.dims; ++d)
        q[d] = solvers::cell_containing(s.position_m[d], g.dx[d], g.global[d]);
      m_cells.push_back(g.index(q[0], q[1], q[2]));
    }
  }
  std::vector<std::vector<double>> operator()(const solvers::Field& u) const {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), u);
    std::vector<std::vector<double>> out(h.extent(0), std::vector<double>(m_cells.size()));
    for (std::size_t m = 0; m < h.extent(0); ++m)
      for (std::size_t s = 0; s < m_cells.size(); ++s) out[m][s] = h(m, m_cells[s]);
    return out;
  }

 private:
  std::vector<long> m_cells;
};

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

// sha256 over every rank's shard, in rank order (rank 0 gets it).
std::string data_digest(const advisor::Dataset& shard, MPI_Comm comm) {
  std::string mine = sha256_hex(shard.x.data(), shard.x.size() * sizeof(double)) +
                     sha256_hex(shard.y.data(), shard.y.size() * sizeof(double));
  int size = 1, rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &size));
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  std::string all(mine.size() * static_cast<std::size_t>(size), '\0');
  TWIN_MPI_CHECK(MPI_Gather(mine.data(), static_cast<int>(mine.size()), MPI_CHAR, all.data(), static_cast<int>(mine.size()),
                            MPI_CHAR, 0, comm));
  return rank == 0 ? sha256_hex(all) : std::string();
}

}  // namespace

advisor::Dataset generate_surrogate_data(const Config& config, const SurrogateLayout& layout, int rank, int ranks,
                                         bool progress) {
  Config local = config;
  local.grid.ranks.clear();  // each rank runs whole-grid solvers of its own
  const solvers::Decomposition decomposition(local.grid, MPI_COMM_SELF);
  const SensorPicker sensors(local, decomposition.local());
  const TrainingConfig& tc = config.training;
  const int M = tc.members_per_solver, S = layout.sensors, C = layout.controls, P = layout.parameters;
  const double period = config.twin.control_period_s;
  const int horizon = layout.lead_cycles.back();
  std::mt19937_64 rng;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::normal_distribution<double> normal(0.0, 1.0);

  const auto random_controls = [&](const std::vector<double>& prev) {
    std::vector<double> u(C);
    const bool jump = unit(rng) < 0.5;
    for (int j = 0; j < C; ++j) {
      const auto& c = config.controls[j];
      const double r = c.max - c.min;
      u[j] = jump ? c.min + r * unit(rng) : std::min(c.max, std::max(c.min, prev[j] + 0.25 * r * normal(rng)));
    }
    return u;
  };

  advisor::Dataset data{static_cast<int>(layout.inputs.size()), static_cast<int>(layout.outputs.size()), {}, {}, {}};
  std::vector<double> x(layout.inputs.size()), y(layout.outputs.size());
  // Sequence g goes to rank g % ranks and draws from (seed, g): the data are the same on any
  // number of ranks, only their split over the ranks differs.
  for (int g = rank; g < tc.control_sequences; g += ranks) {
    std::seed_seq seq{tc.seed, 0x5u, static_cast<unsigned>(g)};
    rng.seed(seq);
    auto solver = solvers::make_solver(local, decomposition, M);
    solvers::Field u = solver->make_field("twin::training");
    // Members start at different temperatures and carry different parameters.
    {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), u);
      for (int m = 0; m < M; ++m) {
        const double offset = 4.0 * (unit(rng) - 0.5);
        for (std::size_t c = 0; c < h.extent(1); ++c) h(m, c) += offset;
      }
      Kokkos::deep_copy(u, h);
    }
    std::vector<solvers::ParameterSet> params(M, solvers::configured_parameters(config.physics));
    std::vector<std::vector<double>> theta(M, std::vector<double>(P));
    for (int m = 0; m < M; ++m)
      for (int p = 0; p < P; ++p) {
        const auto& e = config.ensemble.parameters[p];
        const double v = e.prior_mean + tc.parameter_spread * e.prior_std * (2.0 * unit(rng) - 1.0);
        theta[m][p] = std::min(e.max, std::max(e.min, v));
        params[m][solvers::parameter_index(e.name)] = theta[m][p];
      }
    solver->set_parameters(params);
    std::vector<double> ctl;
    for (const auto& c : config.controls) ctl.push_back(c.initial);
    double t = 0.0;
    const auto step = [&](const std::vector<double>& controls) {
      solver->set_controls(controls);
      const solvers::StepReport r = solver->advance(u, t, period);
      t += period;
      if (r.status != solvers::SolveStatus::ok)
        throw Error("training data generation: the solver failed (" + std::string(solvers::to_string(r.status)) +
                    "); check the config with `twin run` first");
    };
    std::vector<std::vector<double>> y_prev = sensors(u);
    for (int w = 0; w < tc.warmup_cycles; ++w) {
      if (w % 6 == 0) ctl = random_controls(ctl);
      y_prev = sensors(u);
      step(ctl);
    }
    for (int seg = 0; seg < tc.segments; ++seg) {
      std::vector<double> u_prev = ctl;
      ctl = random_controls(ctl);
      // Two samples per segment: right after the change, and one horizon later at steady controls.
      for (int half = 0; half < 2; ++half) {
        const std::vector<std::vector<double>> y0 = sensors(u);
        std::vector<std::vector<std::vector<double>>> at_lead;
        std::vector<std::vector<double>> before_last;
        std::size_t next = 0;
        for (int k = 1; k <= horizon; ++k) {
          if (k == horizon) before_last = sensors(u);
          step(ctl);
          if (next < layout.lead_cycles.size() && layout.lead_cycles[next] == k) {
            at_lead.push_back(sensors(u));
            ++next;
          }
        }
        for (int m = 0; m < M; ++m) {
          surrogate_inputs(layout, y0[m].data(), y_prev[m].data(), u_prev.data(), ctl.data(), theta[m].data(), x.data());
          for (std::size_t l = 0; l < at_lead.size(); ++l)
            for (int s = 0; s < S; ++s) y[layout.output(static_cast<int>(l), s)] = at_lead[l][m][s] - y0[m][s];
          data.add(x, y, g);  // validation holds out whole control sequences
        }
        y_prev = before_last;
        u_prev = ctl;
      }
    }
    if (progress) spdlog::info("training data: control sequence {} of {} done, {} samples on rank 0", g + 1, tc.control_sequences, data.rows());
  }
  return data;
}

namespace {
constexpr int plant_fault_label_cycles = 12;  // a plant fault is labelled for this many cycles
constexpr int sensor_recovery_cycles = 3;     // left out after a sensor fault ends
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
  const int warmup = config.advisor ? config.advisor->anomaly_warmup_cycles : AdvisorConfig{}.anomaly_warmup_cycles;

  FaultScenario sc;
  Config& c = sc.config;
  c = config;
  c.grid.ranks.clear();
  c.ensemble.member_groups = 0;
  c.advisor.reset();
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
    const long quiet = (is_sensor_event(e.type) ? sensor_recovery_cycles : plant_fault_settle_cycles) + 4 + pick(10);
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
    } else if (ec.settling(cycle, is_sensor_event(e.type) ? sensor_recovery_cycles : plant_fault_settle_cycles)) {
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

advisor::Dataset generate_anomaly_data(const Config& config, int rank, int ranks, bool progress) {
  const AnomalyLayout layout = anomaly_layout(config);
  const double T = config.twin.control_period_s;
  const int warmup = config.advisor ? config.advisor->anomaly_warmup_cycles : AdvisorConfig{}.anomaly_warmup_cycles;
  advisor::Dataset data{static_cast<int>(layout.inputs.size()), static_cast<int>(layout.outputs.size()), {}, {}, {}};
  std::vector<double> y(layout.outputs.size());
  for (int g = rank; g < config.training.anomaly_scenarios; g += ranks) {
    const FaultScenario sc = fault_scenario(config, g);
    PlantEmulator plant(sc.config, MPI_COMM_SELF);
    Runtime twin(sc.config, MPI_COMM_SELF);
    AnomalyFeatures features(sc.config);
    long kept = 0;
    for (int c = 0; c < static_cast<int>(sc.controls.size()); ++c) {
      const std::vector<double>& u = sc.controls[c];
      const std::vector<Observation> readings = plant.advance(c * T, T, u, c);
      twin.apply_controls(u);
      twin.ingest(readings);
      const CycleOutcome out = twin.step(std::chrono::hours(1));  // never skip a stage for time
      std::vector<double> theta;
      for (const auto& p : out.parameters) theta.push_back(p.mean);
      const std::vector<double> x = features.push(out.sensors, theta, u);
      if (out.solver_status != "ok")
        throw Error("anomaly training data: the twin's solver failed in scenario " + std::to_string(g) + " at cycle " +
                    std::to_string(c) + " (" + out.solver_status + ")");
      if (c + 1 <= warmup) continue;  // diagnosis is not armed yet
      const int label = anomaly_label(sc.config.source.plant.events, c, T);
      if (label < 0) continue;
      std::fill(y.begin(), y.end(), 0.0);
      y[static_cast<std::size_t>(label)] = 1.0;
      data.add(x, y, g);  // validation holds out whole scenarios
      ++kept;
    }
    if (progress)
      spdlog::info("anomaly data: fault scenario {} of {} done ({} events, {} rows)", g + 1,
                   config.training.anomaly_scenarios, sc.config.source.plant.events.size(), kept);
  }
  return data;
}

namespace {

// Lineage, timings and the registry entry of a freshly trained model (rank 0 writes).
void register_model(advisor::ModelPackage& p, const Config& config, const std::string& registry, const std::string& digest,
                    int ranks, double data_s, double train_s, MPI_Comm comm) {
  int rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    p.lineage.data_sha256 = digest;
    p.lineage.config_sha256 = sha256_hex(to_yaml(config));
    p.lineage.seed = config.training.seed;
    p.lineage.ranks = ranks;
    p.lineage.created_utc = utc_now();
    p.lineage.twinrt_version = version();
    p.metrics["data_generation_s"] = data_s;
    p.metrics["training_s"] = train_s;
    p.attributes["control_period_s"] = std::to_string(config.twin.control_period_s);
    io::ModelRegistry reg(registry);
    const int v = reg.add(p);
    const bool regression = p.metrics.count("validation_relative_error") > 0;
    spdlog::info("twin train: {} v{} in {} ({} rows, validation {} {:.4f}; data {:.1f} s, training {:.1f} s)", p.name, v,
                 reg.path(p.name, v), static_cast<long>(p.metrics["training_rows"]),
                 regression ? "relative error" : "accuracy",
                 regression ? p.metrics["validation_relative_error"] : p.metrics["validation_accuracy"], data_s, train_s);
  }
  TWIN_MPI_CHECK(MPI_Barrier(comm));
}


advisor::TrainSpec spec_for(const TrainingConfig& t, const std::string& name, const std::string& role,
                            const std::vector<std::string>& inputs, const std::vector<std::string>& outputs, int ensemble,
                            const std::vector<int>& hidden, int epochs, unsigned seed) {
  advisor::TrainSpec spec;
  spec.name = name;
  spec.role = role;
  spec.inputs = inputs;
  spec.outputs = outputs;
  spec.ensemble = ensemble;
  spec.hidden = hidden;
  spec.epochs = epochs;
  spec.learning_rate = t.learning_rate;
  spec.seed = seed;
  spec.validation_fraction = t.validation_fraction;
  return spec;
}

}  // namespace

int import_torchscript(const Config& config, const ImportOptions& o) {
  std::vector<std::string> inputs, outputs;
  if (o.role == "surrogate") {
    const SurrogateLayout l = surrogate_layout(config);
    inputs = l.inputs;
    outputs = l.outputs;
  } else if (o.role == "anomaly") {
    const AnomalyLayout l = anomaly_layout(config);
    inputs = l.inputs;
    outputs = l.outputs;
  } else {
    throw DataError("twin models import: --role must be surrogate or anomaly, not '" + o.role + "'");
  }
  std::ifstream in(o.file, std::ios::binary);
  if (!in) throw DataError(o.file + ": cannot open the TorchScript file");
  advisor::ModelPackage p;
  p.script.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (p.script.empty()) throw DataError(o.file + ": empty file");

  io::ModelRegistry registry(o.registry);
  const std::string source = o.statistics_from.value_or(o.name);
  const auto from = registry.active(source);
  if (!from)
    throw DataError("twin models import: the OOD score needs training statistics, and registry " + o.registry +
                    " has no active '" + source + "' to take them from (train one with twin train, or name one with --statistics-from)");
  const advisor::ModelPackage reference = io::read_model(registry.path(source, *from));
  if (reference.inputs != inputs)
    throw DataError("twin models import: '" + source + "' v" + std::to_string(*from) +
                    " has other inputs than this config's " + o.role + "; its statistics do not apply");

  p.name = o.name;
  p.role = o.role;
  p.kind = advisor::kind_torchscript;
  p.inputs = inputs;
  p.outputs = outputs;
  p.ensemble = 1;
  p.input_mean.assign(inputs.size(), 0.0);  // the module takes raw inputs and returns raw outputs
  p.input_scale.assign(inputs.size(), 1.0);
  p.output_mean.assign(outputs.size(), 0.0);
  p.output_scale.assign(outputs.size(), 1.0);
  p.training = reference.training;
  p.libtorch_version = advisor::libtorch_version();
  p.weights_sha256 = advisor::weights_digest(p);
  p.lineage.config_sha256 = sha256_hex(to_yaml(config));
  p.lineage.created_utc = utc_now();
  p.lineage.twinrt_version = version();
  p.attributes["imported_from"] = o.file;
  p.attributes["statistics_from"] = source + " v" + std::to_string(*from);

  // Load and run it before it enters the registry; the members follow from its output.
  std::vector<double> members;
  {
    const advisor::Model probe(p);
    probe.predict(reference.training.mean.data(), 1, members);
  }
  if (members.empty() || members.size() % outputs.size() != 0)
    throw DataError("twin models import: " + o.file + " returned " + std::to_string(members.size()) + " values for one row, expected a multiple of " +
                    std::to_string(outputs.size()));
  for (double v : members)
    if (!std::isfinite(v)) throw DataError("twin models import: " + o.file + " returns non-finite values on the training mean");
  p.ensemble = static_cast<int>(members.size() / outputs.size());
  const std::optional<int> active_before = registry.active(o.name);
  const int v = registry.add(p);
  if (!o.activate && active_before) registry.promote(o.name, *active_before);
  return v;
}

std::string train_models(const Config& config, MPI_Comm comm, const TrainOptions& options) {
  int rank = 0, size = 1;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &size));
  if (config.controls.empty() || config.sensors.empty())
    throw ConfigError({config.source_name, 0, 0, "controls"}, "twin train needs controls and sensors to train for");
  const std::string registry = options.registry.value_or(io::registry_directory(config));
  const AdvisorConfig advisor = config.advisor.value_or(AdvisorConfig{});
  const bool log = options.progress && rank == 0;
  const bool want_anomaly = !advisor.anomaly.empty() && config.training.anomaly_scenarios > 0;
  if (options.only && *options.only != advisor.surrogate && !(want_anomaly && *options.only == advisor.anomaly))
    throw ConfigError({config.source_name, 0, 0, "advisor"},
                      "twin train --model " + *options.only + ": this config trains '" + advisor.surrogate + "'" +
                          (want_anomaly ? " and '" + advisor.anomaly + "'" : std::string()));
  const auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  const auto progress = [&](const std::string& name, int epochs) {
    return [&, name, epochs](int epoch, double train, double valid) {
      if (log) spdlog::info("training {}: epoch {}/{}, loss {:.4g} (validation {:.4g})", name, epoch, epochs, train, valid);
    };
  };

  if (!options.only || *options.only == advisor.surrogate) {
    const auto start = std::chrono::steady_clock::now();
    const SurrogateLayout layout = surrogate_layout(config);
    if (log)
      spdlog::info("twin train: surrogate data from the solver on {} ranks: {} control sequences x {} members, {} segments of {} cycles",
                   size, config.training.control_sequences, config.training.members_per_solver, config.training.segments,
                   2 * layout.lead_cycles.back());
    const advisor::Dataset shard = generate_surrogate_data(config, layout, rank, size, log);
    const double data_s = seconds_since(start);
    const std::string digest = data_digest(shard, comm);

    const advisor::TrainSpec spec = spec_for(config.training, advisor.surrogate, "surrogate", layout.inputs, layout.outputs,
                                             config.training.ensemble, config.training.hidden, config.training.epochs,
                                             config.training.seed);
    const auto train_start = std::chrono::steady_clock::now();
    advisor::ModelPackage p = advisor::train_mlp_ensemble(shard, spec, comm, progress(spec.name, spec.epochs));
    std::string leads;
    for (int l : layout.lead_cycles) leads += (leads.empty() ? "" : ",") + std::to_string(l);
    p.attributes["lead_cycles"] = leads;
    register_model(p, config, registry, digest, size, data_s, seconds_since(train_start), comm);
  }

  if (want_anomaly && (!options.only || *options.only == advisor.anomaly)) {
    const auto start = std::chrono::steady_clock::now();
    const AnomalyLayout layout = anomaly_layout(config);
    if (log)
      spdlog::info("twin train: anomaly data from {} fault scenarios of {} cycles (the twin following an emulated plant) on {} ranks",
                   config.training.anomaly_scenarios, config.training.anomaly_cycles, size);
    const advisor::Dataset shard = generate_anomaly_data(config, rank, size, log);
    const double data_s = seconds_since(start);
    const std::string digest = data_digest(shard, comm);

    advisor::TrainSpec spec = spec_for(config.training, advisor.anomaly, "anomaly", layout.inputs, layout.outputs,
                                       config.training.anomaly_ensemble, config.training.anomaly_hidden,
                                       config.training.anomaly_epochs, config.training.seed + 1);
    spec.loss = advisor::Loss::classification;
    spec.batch = 128;
    const auto train_start = std::chrono::steady_clock::now();
    advisor::ModelPackage p = advisor::train_mlp_ensemble(shard, spec, comm, progress(spec.name, spec.epochs));
    register_model(p, config, registry, digest, size, data_s, seconds_since(train_start), comm);
  }
  return registry;
}

}  // namespace twin::detail
