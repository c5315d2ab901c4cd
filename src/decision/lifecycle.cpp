#include "decision/lifecycle.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "decision/advisor_models.hpp"
#include "decision/data_capture.hpp"
#include "io/model_registry.hpp"
#include "io/state_archive.hpp"
#include "train/retrain_job.hpp"
#include "twin/error.hpp"

namespace twin::detail {

using Clock = std::chrono::steady_clock;

namespace {

std::string fixed(double v, int digits = 3) { return fmt::format("{:.{}g}", v, digits); }
double rms(double sq, long n) { return n > 0 ? std::sqrt(sq / n) : std::nan(""); }

}  // namespace

/// The t-statistic of the blocks' mean (one sample, paired differences): mean / (sd / sqrt(n));
/// 0 with fewer than 3 blocks, +inf for identical positive blocks.
double paired_t(const std::vector<double>& blocks) {
  const std::size_t n = blocks.size();
  if (n < 3) return 0.0;
  double mean = 0.0;
  for (double b : blocks) mean += b;
  mean /= static_cast<double>(n);
  double var = 0.0;
  for (double b : blocks) var += (b - mean) * (b - mean);
  var /= static_cast<double>(n - 1);
  if (var <= 0.0) return mean > 0.0 ? std::numeric_limits<double>::infinity() : 0.0;
  return mean / std::sqrt(var / static_cast<double>(n));
}

namespace {

}  // namespace

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
      if (std::find(m_lc.retrain_on.begin(), m_lc.retrain_on.end(), d.signal) != m_lc.retrain_on.end()) {
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
  if (!active || active->package().kind != advisor::kind_mlp_ensemble) {
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
                         reason + "; fine-tuning from it on " + std::to_string(m_lc.retrain.control_sequences) +
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

void Lifecycle::judge_shadow(const LifecycleCycle& in, std::vector<LifecycleEvent>& events) {
  if (!m_shadow) return;
  const std::string label = advisor::label(m_shadow->package());
  // Judged at a few looks only (every shadow_cycles scored cycles, up to shadow_max_cycles): a
  // test repeated every cycle would promote on noise sooner or later.
  const bool last = in.cycle - m_shadow_since >= m_lc.shadow_max_cycles;
  const bool look = m_shadow_scored > 0 && m_shadow_scored != m_last_look &&
                    (m_shadow_scored % m_lc.shadow_cycles == 0 || last);
  if (look && m_ref_n >= m_lc.reference_cycles) {
    m_last_look = m_shadow_scored;
    const double rs = rms(m_shadow_sq, m_shadow_scored), ra = rms(m_active_sq, m_shadow_scored);
    const double pass = m_shadow_gated > 0 ? static_cast<double>(m_shadow_passed) / m_shadow_gated : 0.0;
    const double reference = rms(m_ref_sq, m_ref_n);
    const double t = paired_t(m_blocks);
    // Better by the margin (the size of the gain) and beyond the noise (the paired test).
    const bool better = rs <= (1.0 - m_lc.promotion_margin) * ra && t >= m_lc.promotion_z;
    // Only a degraded active version is replaced: a promotion is a risk taken for a reason.
    const bool degraded = ra >= m_lc.degraded_factor * reference;
    spdlog::info("cycle {}: lifecycle: {} in shadow: realised error {} against the active model's {} over {} cycles "
                 "(paired t {} over {} blocks; the active's reference level {}), gates passed {} %: {}",
                 in.cycle, label, fixed(rs), fixed(ra), m_shadow_scored, fixed(t), m_blocks.size(), fixed(reference),
                 fixed(100.0 * pass), better && degraded && pass >= m_lc.min_gate_pass ? "promote" : "not yet");
    if (better && degraded && pass >= m_lc.min_gate_pass) {
      const std::string why = "realised error " + fixed(rs) + " against the active model's " + fixed(ra) + " over " +
                              std::to_string(m_shadow_scored) + " cycles (paired t " + fixed(t) + " over " +
                              std::to_string(m_blocks.size()) + " blocks; its reference level " + fixed(reference) +
                              "), gates passed " + fixed(100.0 * pass) + " %";
      try {
        install(std::move(m_shadow), why, "retired", true);
        events.push_back(event(in, "promoted", label, why));
      } catch (const std::exception& e) {
        events.push_back(event(in, "refused", label, std::string("promotion: ") + e.what()));
      }
      m_shadow.reset();
      return;
    }
  }
  if (last) {
    const std::string why = "not promoted within " + std::to_string(m_lc.shadow_max_cycles) + " cycles: realised error " +
                            fixed(rms(m_shadow_sq, m_shadow_scored)) + " against the active model's " +
                            fixed(rms(m_active_sq, m_shadow_scored)) + " over " + std::to_string(m_shadow_scored) +
                            " cycles (paired t " + fixed(paired_t(m_blocks)) + " over " + std::to_string(m_blocks.size()) +
                            " blocks; its reference level " + fixed(rms(m_ref_sq, m_ref_n)) + "), gates passed " +
                            std::to_string(m_shadow_passed) + " of " + std::to_string(m_shadow_gated);
    try {
      io::ModelRegistry(io::registry_directory(m_config)).mark(m_shadow->package().name, m_shadow->package().version, "rejected", why);
    } catch (const std::exception& e) {
      spdlog::error("lifecycle: the rejection of {} could not be recorded in the registry: {}", label, e.what());
    }
    events.push_back(event(in, "rejected", label, why));
    m_shadow.reset();
  }
}

void Lifecycle::judge_watch(const LifecycleCycle& in, std::vector<LifecycleEvent>& events) {
  if (!m_replaced || m_watch_scored < m_lc.watch_min_cycles) return;
  const double rp = rms(m_watch_sq, m_watch_scored), rr = rms(m_replaced_sq, m_watch_scored);
  const std::string promoted = m_models.surrogate() ? advisor::label(m_models.surrogate()->package()) : std::string();
  const std::string figures = "realised error " + fixed(rp) + " against " + fixed(rr) + " of " +
                              advisor::label(m_replaced->package()) + " over " + std::to_string(m_watch_scored) + " cycles";
  if (rp > m_lc.rollback_factor * rr) {
    const std::string why = figures + " (more than " + fixed(m_lc.rollback_factor) + "x): back to " + advisor::label(m_replaced->package());
    try {
      install(std::move(m_replaced), why, "rolled_back", false);
      events.push_back(event(in, "rolled_back", promoted, why));
    } catch (const std::exception& e) {
      events.push_back(event(in, "refused", promoted, std::string("rollback: ") + e.what()));
    }
    m_replaced.reset();
  } else if (m_watch_scored >= m_lc.watch_cycles) {
    events.push_back(event(in, "watch_passed", promoted, figures));
    m_replaced.reset();
  }
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

nlohmann::json Lifecycle::summary() const {
  nlohmann::json events = nlohmann::json::array();
  for (const LifecycleEvent& e : m_events)
    events.push_back({{"cycle", e.cycle}, {"event", e.event}, {"model", e.model}, {"reason", e.reason}});
  const auto finite_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  const auto count = [&](const char* what) {
    return std::count_if(m_events.begin(), m_events.end(), [&](const LifecycleEvent& e) { return e.event == what; });
  };
  return {{"events", events},
          {"retrainings", m_retrainings},
          {"promotions", count("promoted")},
          {"rollbacks", count("rolled_back")},
          {"rejections", count("rejected")},
          {"retrain_slack_s", m_retrain_ms / 1000.0},
          {"captured_rows", m_capture->rows_captured()},
          {"data_windows", m_capture->windows()},
          {"paused", m_paused},
          {"active_reference_error", finite_or_null(rms(m_ref_sq, m_ref_n))},
          {"shadow", m_shadow ? nlohmann::json(advisor::label(m_shadow->package())) : nlohmann::json(nullptr)},
          {"active", m_models.surrogate() ? nlohmann::json(advisor::label(m_models.surrogate()->package())) : nlohmann::json(nullptr)}};
}

void Lifecycle::save(io::StateArchive& a) const {
  nlohmann::json j = summary();
  j["paused_reason"] = m_pause_reason;
  j["shadow_version"] = m_shadow ? m_shadow->package().version : 0;
  j["shadow"] = {m_shadow_since, m_shadow_scored, m_shadow_gated, m_shadow_passed, m_shadow_sq, m_active_sq};
  j["replaced_version"] = m_replaced ? m_replaced->package().version : 0;
  j["watch"] = {m_watch_since, m_watch_scored, m_watch_sq, m_replaced_sq};
  j["reference"] = {m_ref_sq, static_cast<double>(m_ref_n)};
  j["blocks"] = m_blocks;
  j["block"] = {m_block_sum, static_cast<double>(m_block_n), static_cast<double>(m_last_look)};
  if (m_job) j["job"] = {{"cycle", m_job->request().cycle}, {"reason", m_job->request().reason}, {"theta", m_job->request().theta}};
  a.put("decider.lifecycle", j.dump());
  m_capture->save(a);
}

void Lifecycle::restore(const io::StateArchive& a) {
  m_capture->restore(a);
  const auto& text = a.strings("decider.lifecycle");
  const nlohmann::json j = text.size() == 1 ? nlohmann::json::parse(text[0], nullptr, false) : nlohmann::json();
  try {
    m_paused = j.at("paused").get<bool>();
    m_pause_reason = j.at("paused_reason").get<std::string>();
    m_retrainings = j.at("retrainings").get<long>();
    m_retrain_ms = 1000.0 * j.at("retrain_slack_s").get<double>();
    m_events.clear();
    for (const auto& e : j.at("events"))
      m_events.push_back({e.at("cycle").get<int>(), e.at("event").get<std::string>(), e.at("model").get<std::string>(),
                          e.at("reason").get<std::string>()});
    const auto& sh = j.at("shadow");
    m_shadow_since = sh.at(0).get<int>();
    m_shadow_scored = sh.at(1).get<int>();
    m_shadow_gated = sh.at(2).get<int>();
    m_shadow_passed = sh.at(3).get<int>();
    m_shadow_sq = sh.at(4).get<double>();
    m_active_sq = sh.at(5).get<double>();
    const auto& w = j.at("watch");
    m_watch_since = w.at(0).get<int>();
    m_watch_scored = w.at(1).get<int>();
    m_watch_sq = w.at(2).get<double>();
    m_replaced_sq = w.at(3).get<double>();
    const auto& reference = j.at("reference");
    m_ref_sq = reference.at(0).get<double>();
    m_ref_n = static_cast<long>(reference.at(1).get<double>());
    m_blocks = j.at("blocks").get<std::vector<double>>();
    const auto& block = j.at("block");
    m_block_sum = block.at(0).get<double>();
    m_block_n = static_cast<int>(block.at(1).get<double>());
    m_last_look = static_cast<int>(block.at(2).get<double>());
    // The versions in shadow and under watch come back from the registry; a retraining in hand
    // starts again from its request (its data are drawn from the request, so it ends the same).
    const auto reload = [&](const char* key, std::unique_ptr<advisor::Model>& into) {
      const int v = j.at(key).get<int>();
      into.reset();
      if (v <= 0) return;
      try {
        into = m_models.load_version(v);
      } catch (const std::exception& e) {
        spdlog::warn("resume: lifecycle: {} v{} could not be loaded again ({}); its {} ends", m_config.advisor->surrogate, v,
                     e.what(), key);
      }
    };
    if (m_models.surrogate()) {
      reload("shadow_version", m_shadow);
      reload("replaced_version", m_replaced);
    }
    m_job.reset();
    m_job_ready = false;
    if (j.contains("job") && m_models.surrogate()) {
      RetrainRequest request;
      request.cycle = j["job"].at("cycle").get<int>();
      request.reason = j["job"].at("reason").get<std::string>();
      request.theta = j["job"].at("theta").get<std::vector<double>>();
      request.captured = m_capture->rows();
      request.windows = m_capture->windows();
      m_job = std::make_unique<RetrainJob>(m_config, m_models.surrogate()->package(), std::move(request));
      m_field_given = false;  // the resumed twin's state, gathered at its first step
    }
  } catch (const nlohmann::json::exception& e) {
    throw DataError(a.origin() + ": the model lifecycle's state is malformed: " + e.what());
  }
  m_active_ledger.clear();
  m_shadow_ledger.clear();
  m_replaced_ledger.clear();
}

}  // namespace twin::detail
