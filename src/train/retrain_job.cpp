#include "train/retrain_job.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "decision/features.hpp"
#include "ground/sha256.hpp"
#include "ground/utc.hpp"
#include "train/train.hpp"
#include "twin/error.hpp"
#include "twin/version.hpp"

namespace twin::detail {

using Clock = std::chrono::steady_clock;

namespace {

// The config the retraining's solver runs use: the retrain sizes, and the parameter priors
// centred on the twin's current estimates.
Config retrain_config(const Config& config, const RetrainRequest& r) {
  Config c = config;
  const RetrainConfig& rc = config.lifecycle->retrain;
  c.training.control_sequences = rc.control_sequences;
  c.training.segments = rc.segments;
  c.training.members_per_solver = rc.members_per_solver;
  c.training.warmup_cycles = rc.warmup_cycles;
  c.training.parameter_spread = rc.parameter_spread;
  c.training.seed = config.training.seed + 7919u * static_cast<unsigned>(r.cycle + 1);
  for (std::size_t p = 0; p < c.ensemble.parameters.size() && p < r.theta.size(); ++p) {
    auto& e = c.ensemble.parameters[p];
    if (std::isfinite(r.theta[p])) e.prior_mean = std::min(e.max, std::max(e.min, r.theta[p]));
  }
  return c;
}

}  // namespace

struct RetrainJob::Impl {
  Config config, data_config;
  advisor::ModelPackage active;
  RetrainRequest request;
  SurrogateLayout layout;
  std::unique_ptr<SurrogateDataGenerator> generator;
  std::vector<double> start_field;
  bool started = false;
  std::unique_ptr<advisor::EnsembleTrainer> trainer;  // an mlp_ensemble, fine-tuned in optimiser steps
  std::optional<advisor::ModelPackage> refit;         // a response_ensemble, refitted in one quantum
  advisor::Dataset data;
  double quantum_ms[2] = {0.0, 0.0};  // the slowest quantum seen, per phase (data, training)
  double busy_ms = 0.0, data_ms = 0.0;
  bool done = false;

  Impl(const Config& c, const advisor::ModelPackage& a, RetrainRequest r)
      : config(c), data_config(retrain_config(c, r)), active(a), request(std::move(r)), layout(surrogate_layout(c)) {}

  // One quantum of whichever phase is in hand (the first sets up the solver runs).
  void quantum() {
    if (!started) {
      started = true;
      if (data_config.training.control_sequences > 0)
        generator = std::make_unique<SurrogateDataGenerator>(data_config, layout, 0, 1, false, std::move(start_field));
      return;
    }
    if (generator) {
      if (!generator->advance()) {
        data = generator->data();
        generator.reset();
      }
      return;
    }
    if (!trainer && !refit) {
      // The captured rows join the solver's, each counted captured_weight times, grouped by
      // window so that validation holds out whole stretches of operation.
      const int weight = config.lifecycle->retrain.captured_weight;
      const advisor::Dataset& cap = request.captured;
      data.inputs = static_cast<int>(layout.inputs.size());
      data.outputs = static_cast<int>(layout.outputs.size());
      const bool grouped = static_cast<long>(data.group.size()) == data.rows();
      for (long i = 0; i < cap.rows(); ++i)
        for (int k = 0; k < weight; ++k) {
          const std::vector<double> xi(cap.x.begin() + i * cap.inputs, cap.x.begin() + (i + 1) * cap.inputs);
          const std::vector<double> yi(cap.y.begin() + i * cap.outputs, cap.y.begin() + (i + 1) * cap.outputs);
          data.add(xi, yi, grouped ? 1000000 + (cap.group.empty() ? 0 : cap.group[i]) : -1);
        }
      if (data.rows() < 8)
        throw Error("too little data to retrain on (" + std::to_string(data.rows()) +
                    " rows): set lifecycle.retrain.control_sequences or let the twin capture more");
      advisor::TrainSpec spec;
      spec.name = active.name;
      spec.role = active.role;
      spec.inputs = active.inputs;
      spec.outputs = active.outputs;
      spec.epochs = config.lifecycle->retrain.epochs;
      spec.learning_rate = config.lifecycle->retrain.learning_rate;
      spec.seed = data_config.training.seed;
      spec.validation_fraction = config.training.validation_fraction;
      if (active.kind == advisor::kind_response_ensemble) {
        refit = advisor::train_response_ensemble(data, spec, MPI_COMM_SELF, &active);
        done = true;
      } else {
        trainer = std::make_unique<advisor::EnsembleTrainer>(data, spec, MPI_COMM_SELF, &active);
      }
      return;
    }
    done = !trainer->step();
  }
};

RetrainJob::RetrainJob(const Config& config, const advisor::ModelPackage& active, RetrainRequest request)
    : m(std::make_unique<Impl>(config, active, std::move(request))) {}
RetrainJob::~RetrainJob() = default;

bool RetrainJob::work(Clock::time_point until) {
  Impl& s = *m;
  bool first = true;
  while (!s.done) {
    const int phase = !s.started || s.generator ? 0 : 1;
    const auto start = Clock::now();
    const auto expected = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(1.5 * s.quantum_ms[phase]));
    if (!first && start + expected > until) break;
    if (first && start >= until && s.quantum_ms[phase] > 0.0) break;
    first = false;
    s.quantum();
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    s.quantum_ms[phase] = std::max(s.quantum_ms[phase] * 0.98, ms);  // the slowest lately
    s.busy_ms += ms;
    if (phase == 0) s.data_ms += ms;
  }
  return s.done;
}

void RetrainJob::set_start_field(std::vector<double> field) {
  if (!m->started) m->start_field = std::move(field);
}
bool RetrainJob::started() const { return m->started; }

std::string RetrainJob::progress() const {
  if (m->generator) return "data: " + std::to_string(m->generator->sequences_done()) + " of " +
                           std::to_string(m->data_config.training.control_sequences) + " solver runs";
  if (m->refit) return "done";
  if (!m->trainer) return "data ready";
  if (!m->done) return "training: epoch " + std::to_string(m->trainer->epoch()) + " of " + std::to_string(m->trainer->epochs());
  return "done";
}

const RetrainRequest& RetrainJob::request() const { return m->request; }
double RetrainJob::busy_ms() const { return m->busy_ms; }

advisor::ModelPackage RetrainJob::take() {
  Impl& s = *m;
  if (!s.done) throw Error("RetrainJob::take before the training is done");
  advisor::ModelPackage p = s.refit ? *s.refit : s.trainer->finish();
  p.lineage.parent_version = s.active.version;
  p.lineage.data_sha256 = sha256_hex(sha256_hex(s.data.x.data(), s.data.x.size() * sizeof(double)) +
                                     sha256_hex(s.data.y.data(), s.data.y.size() * sizeof(double)));
  p.lineage.config_sha256 = sha256_hex(to_yaml(s.config));
  p.lineage.seed = s.data_config.training.seed;
  p.lineage.ranks = 1;
  p.lineage.created_utc = utc_now();
  p.lineage.twinrt_version = version();
  p.attributes = s.active.attributes;  // lead times, control period
  p.attributes.erase("imported_from");
  p.attributes.erase("statistics_from");
  p.attributes["origin"] = "retrained in the run of twin '" + s.config.twin.name + "' at cycle " +
                           std::to_string(s.request.cycle) + " (" + s.request.reason + ") from " + advisor::label(s.active);
  std::string windows;
  for (const auto& w : s.request.windows) windows += (windows.empty() ? "" : ",") + w;
  p.attributes["data_windows"] = windows;
  p.metrics["data_generation_s"] = s.data_ms / 1000.0;
  p.metrics["training_s"] = (s.busy_ms - s.data_ms) / 1000.0;
  p.metrics["captured_rows"] = static_cast<double>(s.request.captured.rows());
  return p;
}

}  // namespace twin::detail
