#include "ground/utc.hpp"
#include "train/train.hpp"
#include "train/held_out.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>

#include "ground/check.hpp"
#include "ground/mpi.hpp"
#include "ground/progress.hpp"
#include "ground/sha256.hpp"
#include "io/model_registry.hpp"
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

namespace {

// Lineage, timings and the registry entry of a freshly trained model (rank 0 writes).
// A model's held-out figure for the log: its validation error or accuracy, or that it has none
// (too few groups to hold any out: the trainers then store no validation metrics).
std::string validation_figure(const advisor::ModelPackage& p) {
  if (p.metrics.count("validation_relative_error"))
    return fmt::format("validation relative error {:.4f}", p.metrics.at("validation_relative_error"));
  if (p.metrics.count("validation_accuracy"))
    return fmt::format("validation accuracy {:.4f}", p.metrics.at("validation_accuracy"));
  return "no validation rows: too few groups to hold any out";
}

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
    io::ModelRegistry reg(registry, io::model_key(config.advisor ? config.advisor->model_key_file : std::nullopt));
    const int v = reg.add(p);
    spdlog::info("twin train: {} v{} in {} ({} rows, {}; data {:.1f} s, training {:.1f} s)", p.name, v,
                 reg.path(p.name, v), static_cast<long>(p.metrics["training_rows"]), validation_figure(p), data_s, train_s);
  }
  TWIN_MPI_CHECK(MPI_Barrier(comm));
}


// The rows of `all` whose group passes `keep` (groups kept).
template <class Keep>
advisor::Dataset rows_of(const advisor::Dataset& all, Keep keep) {
  advisor::Dataset out{all.inputs, all.outputs, {}, {}, {}};
  const long rows = all.rows();
  for (long i = 0; i < rows && static_cast<long>(all.group.size()) == rows; ++i)
    if (keep(all.group[i]))
      out.add(std::vector<double>(all.x.begin() + i * all.inputs, all.x.begin() + (i + 1) * all.inputs),
              std::vector<double>(all.y.begin() + i * all.outputs, all.y.begin() + (i + 1) * all.outputs), all.group[i]);
  return out;
}

// The validation groups of a split, for the trainer (none: its own draw, for fewer than 3 groups).
std::function<bool(long)> validation_groups(const std::vector<Held>& held) {
  if (std::none_of(held.begin(), held.end(), [](Held h) { return h == Held::validation; })) return {};
  return [held](long g) { return g >= 0 && g < static_cast<long>(held.size()) && held[g] == Held::validation; };
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

void log_anomaly_figures(Metrics& m, const std::vector<Held>& held) {
  const long held_out = std::count(held.begin(), held.end(), Held::validation) +
                        (m["threshold_folds"] > 0 ? std::count(held.begin(), held.end(), Held::training) : 0);
  std::string per_class;
  for (const std::string& c : anomaly_classes())
    if (m.count("anomaly_threshold:" + c)) per_class += fmt::format("{}{} {:.3f}", per_class.empty() ? "" : ", ", c, m["anomaly_threshold:" + c]);
  spdlog::info("twin train: anomaly thresholds {}, chosen on {} held-out scenarios ({} quiet cycles{}) to a false-alarm "
               "budget of {:.2g} per quiet cycle, shared among the classes (reached: {:.4f})",
               per_class, held_out, static_cast<long>(m["validation_quiet_cycles"]),
               m["threshold_folds"] > 0 ? ", cross-fitted in " + std::to_string(static_cast<int>(m["threshold_folds"])) + " folds" : "",
               m["anomaly_false_alarm_budget"], m["validation_false_alarm_rate"]);
  if (m["validation_false_alarm_bound"] > m["anomaly_false_alarm_budget"])
    spdlog::warn("twin train: {} held-out quiet cycles cannot bound the false-alarm rate within {:.2g} (at best {:.4f}); "
                 "more anomaly scenarios (training.anomaly_scenarios) would",
                 static_cast<long>(m["validation_quiet_cycles"]), m["anomaly_false_alarm_budget"],
                 m["validation_false_alarm_bound"]);
  if (!m.count("test_quiet_cycles")) return;
  spdlog::info("twin train: on {} test scenarios: false alarms {:.4f} of {} quiet cycles",
               std::count(held.begin(), held.end(), Held::test), m["test_false_alarm_rate"],
               static_cast<long>(m["test_quiet_cycles"]));
  // A mean over no events (none named, none detectable) is "-", not a number.
  const auto mean_text = [&](const std::string& key) {
    return m.count(key) ? fmt::format("{:.1f} cycles", m[key]) : std::string("- (none)");
  };
  for (const std::string& c : anomaly_classes()) {
    if (c == "none" || !m.count("test_events:" + c)) continue;
    spdlog::info("twin train:   {:<20} {} of {} events named ({} in time), mean delay {}; {} detectable in the "
                 "readings, after {}; precision {:.2f}, recall {:.2f}",
                 c, static_cast<long>(m["test_named:" + c]), static_cast<long>(m["test_events:" + c]),
                 static_cast<long>(m["test_named_in_time:" + c]), mean_text("test_delay_mean:" + c),
                 static_cast<long>(m.count("test_detectable:" + c) ? m["test_detectable:" + c] : 0.0),
                 mean_text("test_detectable_delay_mean:" + c),
                 m.count("test_precision:" + c) ? m["test_precision:" + c] : 0.0,
                 m.count("test_recall:" + c) ? m["test_recall:" + c] : 0.0);
  }
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

  io::ModelRegistry registry(o.registry, io::model_key(config.advisor ? config.advisor->model_key_file : std::nullopt));
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
    p.package_sha256 = advisor::package_digest(p);  // a probe of this process's own package (the registry seals it again)
    try {
      const advisor::Model probe(p);
      probe.predict(reference.training.mean.data(), 1, members);
    } catch (const AdvisorError& e) {  // a module that does not load, answer or survive: bad input, not imported
      throw DataError("twin models import: " + o.file + ": " + e.what());
    }
  }
  if (members.empty() || members.size() % outputs.size() != 0)
    throw DataError("twin models import: " + o.file + " returned " + std::to_string(members.size()) + " values for one row, expected a multiple of " +
                    std::to_string(outputs.size()));
  for (double v : members)
    if (!std::isfinite(v)) throw DataError("twin models import: " + o.file + " returns non-finite values on the training mean");
  p.ensemble = static_cast<int>(members.size() / outputs.size());
  return registry.add(p, o.activate || !registry.active(o.name), "stored", "imported from " + o.file);
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
  const bool want_anomaly = advisor.anomaly && config.training.anomaly_scenarios > 0;
  if (options.only && *options.only != advisor.surrogate && !(want_anomaly && *options.only == *advisor.anomaly))
    throw ConfigError({config.source_name, 0, 0, "advisor"},
                      "twin train --model " + *options.only + ": this config trains '" + advisor.surrogate + "'" +
                          (want_anomaly ? " and '" + *advisor.anomaly + "'" : std::string()));
  const auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  // The epochs' bar: the trainer reports every 20th epoch and the last.
  const auto progress = [&](const std::string& name, int epochs) {
    auto bar = std::make_shared<Progress>("training " + name + " (epochs)", epochs, log);
    return [bar, epochs](int epoch, double train, double valid) {
      char note[96];
      std::snprintf(note, sizeof note, "loss %.4g, validation %.4g", train, valid);
      bar->update(epoch, note);
      if (epoch == epochs) bar->finish(note);
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
    const std::vector<Held> held = split_groups(config.training.seed, 0x5eu, config.training.control_sequences,
                                                config.training.validation_fraction, config.training.test_fraction);
    const auto is_test = [&](long g) { return g >= 0 && g < static_cast<long>(held.size()) && held[g] == Held::test; };

    advisor::TrainSpec spec = spec_for(config.training, advisor.surrogate, "surrogate", layout.inputs, layout.outputs,
                                       config.training.ensemble, config.training.hidden, config.training.epochs,
                                       config.training.seed);
    spec.validation_group = validation_groups(held);
    spec.response_factors.assign(layout.inputs.begin() + layout.theta0(), layout.inputs.begin() + layout.theta0() + layout.parameters);
    const auto train_start = std::chrono::steady_clock::now();
    const advisor::Dataset fit = rows_of(shard, [&](long g) { return !is_test(g); });
    advisor::ModelPackage p = config.training.surrogate_kind == advisor::kind_mlp_ensemble
                                  ? advisor::train_mlp_ensemble(fit, spec, comm, progress(spec.name, spec.epochs))
                                  : advisor::train_response_ensemble(fit, spec, comm);
    if (log && p.kind == advisor::kind_response_ensemble)
      spdlog::info("twin train: {} fitted by least squares: order {} in the parameters, ridge {:g}, {} bootstrap members, {}",
                   p.name, p.metrics["response_order"], p.metrics["response_ridge"], p.ensemble, validation_figure(p));
    const advisor::Dataset test = gather_rows(rows_of(shard, is_test), comm);
    if (rank == 0 && test.rows() > 0) {
      test_surrogate(advisor::Model(p), test, p.metrics);
      if (log)
        spdlog::info("twin train: {} on {} held-out control sequences: relative error {:.4f}, +-2 sd coverage {:.2f}",
                     p.name, std::count(held.begin(), held.end(), Held::test), p.metrics["test_relative_error"],
                     p.metrics["test_coverage_2sigma"]);
    }
    std::string leads;
    for (int l : layout.lead_cycles) leads += (leads.empty() ? "" : ",") + std::to_string(l);
    p.attributes["lead_cycles"] = leads;
    register_model(p, config, registry, digest, size, data_s, seconds_since(train_start), comm);
  }

  if (want_anomaly && (!options.only || *options.only == *advisor.anomaly)) {
    const auto start = std::chrono::steady_clock::now();
    const AnomalyLayout layout = anomaly_layout(config);
    if (log)
      spdlog::info("twin train: anomaly data from {} fault scenarios of {} cycles (the twin following an emulated plant) on {} ranks",
                   config.training.anomaly_scenarios, config.training.anomaly_cycles, size);
    std::vector<ScenarioCycle> cycles;
    const advisor::Dataset shard = generate_anomaly_data(config, rank, size, log, &cycles);
    const double data_s = seconds_since(start);
    const std::string digest = data_digest(shard, comm);
    const std::vector<Held> held = split_groups(config.training.seed, 0xa1u, config.training.anomaly_scenarios,
                                                config.training.validation_fraction, config.training.test_fraction);
    const auto in = [&](Held h) {
      return [&held, h](long g) { return g >= 0 && g < static_cast<long>(held.size()) && held[g] == h; };
    };

    advisor::TrainSpec spec = spec_for(config.training, *advisor.anomaly, "anomaly", layout.inputs, layout.outputs,
                                       config.training.anomaly_ensemble, config.training.anomaly_hidden,
                                       config.training.anomaly_epochs, config.training.seed + 1);
    spec.loss = advisor::Loss::classification;
    spec.batch = 128;
    spec.validation_group = validation_groups(held);
    const auto train_start = std::chrono::steady_clock::now();
    const advisor::Dataset fit = rows_of(shard, [&](long g) { return !in(Held::test)(g); });  // training and validation
    advisor::ModelPackage p = advisor::train_mlp_ensemble(fit, spec, comm, progress(spec.name, spec.epochs));
    const auto cycles_where = [&](const std::function<bool(long)>& keep) {
      std::vector<ScenarioCycle> out;
      for (const ScenarioCycle& c : cycles)
        if (keep(c.scenario)) out.push_back(c);
      return gather_cycles(out, static_cast<int>(layout.inputs.size()), comm);
    };
    // The threshold, cross-fitted (cross-conformal, Vovk 2015): the training and validation
    // scenarios fall into folds, and each fold's quiet cycles are scored by a model trained as
    // this one on the other folds. About four times the validation set's quiet cycles, so that
    // the threshold does not rest on the one highest (docs/advisor.md). The figures from the test
    // scenarios, with the model trained above.
    const std::vector<int> fold = fold_groups(config.training.seed, 0xa2u, held, anomaly_threshold_folds);
    const int folds = fold.empty() ? 0 : *std::max_element(fold.begin(), fold.end()) + 1;
    std::vector<ScoredCycle> scored;
    for (int f = 0; f < folds && folds >= 2; ++f) {
      const auto in_fold = [&fold, f](long g) { return g >= 0 && g < static_cast<long>(fold.size()) && fold[g] == f; };
      advisor::TrainSpec fs = spec;
      fs.validation_group = in_fold;
      const advisor::ModelPackage pf = advisor::train_mlp_ensemble(fit, fs, comm);
      const std::vector<ScenarioCycle> held_out = cycles_where(in_fold);
      if (rank != 0) continue;
      const std::vector<ScoredCycle> s = score_cycles(advisor::Model(pf), held_out);
      scored.insert(scored.end(), s.begin(), s.end());
      if (log) spdlog::info("twin train: anomaly threshold, fold {} of {}: {} cycles scored by a model without them", f + 1, folds, s.size());
    }
    const std::vector<ScenarioCycle> test = cycles_where(in(Held::test));
    if (folds < 2) {  // too few scenarios to fold: the validation scenarios alone (split conformal)
      const std::vector<ScenarioCycle> validation = cycles_where(in(Held::validation));  // collective
      if (rank == 0) scored = score_cycles(advisor::Model(p), validation);
    }
    if (rank == 0 && !scored.empty()) {
      const advisor::Model model(p);
      const AnomalyThresholds thresholds =
          choose_anomaly_thresholds(config, scored, config.training.anomaly_false_alarm_rate, p.metrics);
      p.metrics["threshold_folds"] = folds >= 2 ? folds : 0;
      if (!test.empty()) test_anomaly_model(config, model, thresholds, test, p.metrics);
      if (log) log_anomaly_figures(p.metrics, held);
    }
    register_model(p, config, registry, digest, size, data_s, seconds_since(train_start), comm);
  }
  return registry;
}

}  // namespace twin::detail
