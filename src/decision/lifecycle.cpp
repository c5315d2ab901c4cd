#include "decision/lifecycle.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "advisor/advisor_schema.hpp"
#include "decision/advisor_models.hpp"
#include "decision/data_capture.hpp"
#include "decision/lifecycle_figures.hpp"
#include "io/model_registry.hpp"
#include "train/retrain_job.hpp"
#include "twin/error.hpp"

namespace twin::detail {

using Clock = std::chrono::steady_clock;

using lifecycle_figures::fixed;
using lifecycle_figures::rms;
Lifecycle::Lifecycle(const Config& config, AdvisorModels& models, const std::string& data_dir)
    : m_config(config), m_lc(*config.lifecycle), m_models(models), m_capture(std::make_unique<DataCapture>(config, data_dir)) {}

Lifecycle::~Lifecycle() = default;

int Lifecycle::block_cycles() const {
  const std::vector<int>& leads = m_models.layout().lead_cycles;
  return leads.empty() ? 1 : std::max(1, *std::max_element(leads.begin(), leads.end()));
}

void Lifecycle::command(const OperatorCommand& command) { m_queue.push_back(command); }

const advisor::OodScorer& Lifecycle::shadow_ood() const {
  const std::string label = advisor::label(m_shadow->package());
  if (!m_shadow_ood || m_shadow_ood_of != label) {
    m_shadow_ood = m_models.ood_for(*m_shadow);
    m_shadow_ood_of = label;
  }
  return *m_shadow_ood;
}

LifecycleEvent Lifecycle::event(const LifecycleCycle& in, const std::string& what, const std::string& model,
                                const std::string& reason) {
  return {in.cycle, what, model, reason};
}

std::optional<std::vector<double>> Lifecycle::predict(const advisor::Model& model, const LifecycleCycle& in) const {
  const SurrogateLayout& layout = m_models.layout();
  if (!in.healthy || in.features.size() != layout.inputs.size()) return std::nullopt;
  std::vector<double> mean, sd;
  try {
    model.predict_moments(in.features.data(), 1, mean, sd);
  } catch (const std::exception&) {
    return std::nullopt;  // the gates report a failing model; unscored here
  }
  std::vector<double> out(mean.size());
  for (std::size_t l = 0; l < layout.lead_cycles.size(); ++l)
    for (int s = 0; s < layout.sensors; ++s) {
      const int o = layout.output(static_cast<int>(l), s);
      out[o] = in.analysis[s] + mean[o];
    }
  return out;
}

void Lifecycle::apply_commands(const LifecycleCycle& in) {
  for (const OperatorCommand& c : m_queue) apply(c, in, m_pending);
  m_queue.clear();
}

std::vector<LifecycleEvent> Lifecycle::cycle(const LifecycleCycle& in) {
  apply_commands(in);  // any queued since the advise stage began
  std::vector<LifecycleEvent> events = std::move(m_pending);
  m_pending.clear();

  try {
    const std::string window = m_capture->add(in.cycle, in.healthy ? in.features : std::vector<double>{}, in.analysis);
    if (!window.empty())
      spdlog::info("cycle {}: captured data window {} ({} rows so far; {} left out: the controls moved within their horizon)",
                   in.cycle, window.substr(0, 16), m_capture->rows_captured(), m_capture->rows_moved());
  } catch (const std::exception& e) {
    spdlog::error("cycle {}: a captured data window could not be written (its rows stay in memory): {}", in.cycle, e.what());
  }

  // Realised errors of the active model, the shadow and the version a promotion replaced, all
  // on the same cycles.
  const std::vector<int>& leads = m_models.layout().lead_cycles;
  advisor::Model* active = in.healthy ? m_models.surrogate() : nullptr;
  const auto a = m_active_ledger.score(in.cycle, leads, in.analysis, active ? predict(*active, in) : std::nullopt);
  const auto s = m_shadow_ledger.score(in.cycle, leads, in.analysis, m_shadow ? predict(*m_shadow, in) : std::nullopt);
  const auto r = m_replaced_ledger.score(in.cycle, leads, in.analysis, m_replaced ? predict(*m_replaced, in) : std::nullopt);
  m_last_error = a ? *a : std::nan("");
  const int warmup = m_config.drift ? m_config.drift->warmup_cycles : 0;
  if (a && in.cycle > warmup && m_ref_n < m_lc.reference_cycles) m_ref_sq += *a * *a, ++m_ref_n;
  if (m_shadow && a && s) {
    m_shadow_sq += *s * *s, m_active_sq += *a * *a, ++m_shadow_scored;
    m_block_sum += *a * *a - *s * *s;
    if (++m_block_n == block_cycles()) m_blocks.push_back(m_block_sum / m_block_n), m_block_sum = 0.0, m_block_n = 0;
  }
  if (m_shadow && in.shadow_gates_pass) ++m_shadow_gated, m_shadow_passed += *in.shadow_gates_pass ? 1 : 0;
  if (m_replaced && a && r) m_watch_sq += *a * *a, m_replaced_sq += *r * *r, ++m_watch_scored;

  if (!m_job_failed.empty()) {
    events.push_back(event(in, "retrain_failed", m_config.advisor->surrogate, m_job_failed));
    m_job.reset();
    m_job_failed.clear();
  }
  if (m_job && m_job_ready) finish_retraining(in, events);
  if (!m_job && !m_shadow && !m_replaced && active) {
    for (const DriftDetection& d : in.drift)
      if (std::any_of(m_lc.retrain_on.begin(), m_lc.retrain_on.end(), [&](const std::string& on) {
            return on == d.signal || (on == "parameters" && is_parameter_signal(d.signal));
          })) {
        start_retraining(in, "drift of " + d.signal + " (" + d.detector + ")", events);
        break;
      }
    if (!m_job && m_lc.retrain_every_cycles > 0 && in.cycle % m_lc.retrain_every_cycles == 0)
      start_retraining(in, "schedule: every " + std::to_string(m_lc.retrain_every_cycles) + " cycles", events);
  }
  judge_shadow(in, events);
  judge_watch(in, events);
  for (const LifecycleEvent& e : events) {
    spdlog::warn("cycle {}: lifecycle: {}{}: {}", e.cycle, e.event, e.model.empty() ? "" : " " + e.model, e.reason);
    m_events.push_back(e);
  }
  return events;
}

bool Lifecycle::wants_field() const { return m_job && !m_job->started() && !m_field_given; }

void Lifecycle::give_field(std::vector<double> field) {
  if (!m_job || m_job->started()) return;
  m_job->set_start_field(std::move(field));
  m_field_given = true;
}

double Lifecycle::work(Clock::time_point until) {
  if (!m_job || m_job_ready || !m_job_failed.empty()) return 0.0;
  const auto start = Clock::now();
  try {
    m_job_ready = m_job->work(until);
  } catch (const std::exception& e) {
    m_job_failed = e.what();
  }
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  m_retrain_ms += ms;
  return ms;
}

void Lifecycle::start_retraining(const LifecycleCycle& in, const std::string& reason, std::vector<LifecycleEvent>& events) {
  const advisor::Model* active = m_models.surrogate();
  const bool refit = active && active->package().kind == advisor::kind_response_ensemble;
  if (!active || (active->package().kind != advisor::kind_mlp_ensemble && !refit)) {
    events.push_back(event(in, "refused", m_config.advisor->surrogate,
                           "retraining (" + reason + "): " +
                               (active ? "the active model is a TorchScript import; retrain it outside the run"
                                       : "no active surrogate to fine-tune")));
    return;
  }
  RetrainRequest request;
  request.cycle = in.cycle;
  request.reason = reason;
  request.theta = in.theta;
  request.captured = m_capture->rows();
  request.windows = m_capture->windows();
  m_job = std::make_unique<RetrainJob>(m_config, active->package(), std::move(request));
  m_job_ready = false;
  m_field_given = false;
  ++m_retrainings;
  events.push_back(event(in, "retrain_started", advisor::label(active->package()),
                         reason + (refit ? "; refitting it on " : "; fine-tuning from it on ") +
                             std::to_string(m_lc.retrain.control_sequences) +
                             " solver runs around the current estimates and " +
                             std::to_string(m_job->request().captured.rows()) + " captured rows"));
}

void Lifecycle::finish_retraining(const LifecycleCycle& in, std::vector<LifecycleEvent>& events) {
  const std::string reason = m_job->request().reason;
  const int asked = m_job->request().cycle;
  const double busy_s = m_job->busy_ms() / 1000.0;
  try {
    advisor::ModelPackage p = m_job->take();
    io::ModelRegistry registry(io::registry_directory(m_config), io::model_key(m_config.advisor->model_key_file));
    const int v = registry.add(std::move(p), false, "shadow", reason);
    m_shadow = m_models.load_version(v);
    m_shadow_since = in.cycle;
    m_shadow_scored = m_shadow_gated = m_shadow_passed = 0;
    m_shadow_sq = m_active_sq = 0.0;
    m_blocks.clear();
    m_block_sum = 0.0;
    m_block_n = 0;
    m_last_look = 0;
    m_shadow_ledger.clear();
    m_active_ledger.clear();  // both score the same cycles from now on
    const auto& metrics = m_shadow->package().metrics;
    events.push_back(event(in, "shadow", advisor::label(m_shadow->package()),
                           reason + "; retrained over " + std::to_string(in.cycle - asked) + " cycles (" + fixed(busy_s) +
                               " s of slack), validation rmse " +
                               fixed(metrics.count("validation_rmse") ? metrics.at("validation_rmse") : -1.0)));
  } catch (const std::exception& e) {
    events.push_back(event(in, "retrain_failed", m_config.advisor->surrogate, e.what()));
  }
  m_job.reset();
  m_job_ready = false;
}

void Lifecycle::install(std::unique_ptr<advisor::Model> model, const std::string& reason, const std::string& replaced_state,
                        bool watch) {
  io::ModelRegistry registry(io::registry_directory(m_config));
  // The registry's pointer first: a restart then loads what the run uses.
  registry.promote(model->package().name, model->package().version, reason, replaced_state);
  std::unique_ptr<advisor::Model> previous = m_models.install_surrogate(std::move(model));
  m_ref_sq = 0.0;  // the new active version's reference level is set from its own first cycles
  m_ref_n = 0;
  m_active_ledger.clear();
  m_replaced_ledger.clear();
  m_watch_scored = 0;
  m_watch_sq = m_replaced_sq = 0.0;
  m_replaced = watch ? std::move(previous) : nullptr;
}

void Lifecycle::apply(const OperatorCommand& c, const LifecycleCycle& in, std::vector<LifecycleEvent>& events) {
  const std::string who = "operator" + (c.reason.empty() ? std::string() : ": " + c.reason);
  const std::string name = m_config.advisor->surrogate;
  try {
    switch (c.kind) {
      case OperatorCommand::Kind::pause:
        m_paused = true;
        m_pause_reason = who;
        events.push_back(event(in, "paused", "", who));
        return;
      case OperatorCommand::Kind::resume:
        if (!m_paused) throw DataError("the advisor is not paused");
        m_paused = false;
        events.push_back(event(in, "resumed", "", who));
        return;
      case OperatorCommand::Kind::retrain:
        if (m_job || m_shadow) throw DataError("a retrained version is already in hand (retraining or in shadow)");
        start_retraining(in, who, events);
        return;
      case OperatorCommand::Kind::promote: {
        std::unique_ptr<advisor::Model> model;
        if (c.version == 0 || (m_shadow && c.version == m_shadow->package().version)) {
          if (!m_shadow) throw DataError("no version in shadow; name the version to promote");
          model = std::move(m_shadow);
        } else {
          model = m_models.load_version(c.version);
        }
        const std::string label = advisor::label(model->package());
        install(std::move(model), who, "retired", true);
        events.push_back(event(in, "promoted", label, who + " (watched for " + std::to_string(m_lc.watch_cycles) + " cycles)"));
        return;
      }
      case OperatorCommand::Kind::rollback: {
        const advisor::Model* active = m_models.surrogate();
        std::unique_ptr<advisor::Model> back = std::move(m_replaced);
        if (!back) {
          if (!active || active->package().lineage.parent_version <= 0)
            throw DataError("the active surrogate has no parent version to roll back to");
          back = m_models.load_version(active->package().lineage.parent_version);
        }
        const std::string from = active ? advisor::label(active->package()) : name;
        const std::string to = advisor::label(back->package());
        install(std::move(back), who, "rolled_back", false);
        events.push_back(event(in, "rolled_back", from, who + ": back to " + to));
        return;
      }
    }
  } catch (const std::exception& e) {
    events.push_back(event(in, "refused", name, who + ": " + e.what()));
  }
}

}  // namespace twin::detail
