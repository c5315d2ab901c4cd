// The decider's drift and lifecycle stages (decision/decider.hpp): the drift monitors' cycle
// and the gates they tighten; the model lifecycle's cycle, its shadow proposal and operator
// commands (docs/lifecycle.md). decider.cpp has the advise, gate and emit stages.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "decision/advisor_models.hpp"
#include "decision/decider.hpp"
#include "decision/drift_watch.hpp"
#include "decision/lifecycle.hpp"

namespace twin::detail {
namespace {

using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

}  // namespace

bool Decider::shadow_gates_pass(const DecisionInputs& in, const Proposal& p, const advisor::Model& shadow) const {
  const auto start = Clock::now();
  const auto budget = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(m_config.advisor->gates.latency_budget_ms));
  const Clock::time_point until = std::min(start + budget, in.deadline);
  const advisor::ProposalProblem pb = problem(in, p, start + (until - start) * 8 / 10);
  advisor::Proposal proposal;
  try {
    const advisor::ProposalResult r = advisor::propose(shadow, pb);
    proposal.controls = r.controls;
    for (double s : r.std) proposal.spread = std::max(proposal.spread, std::isfinite(s) ? s : HUGE_VAL);
  } catch (const std::exception&) {
    return false;
  }
  proposal.ood = m_lifecycle->shadow_ood().score(p.features.data());
  proposal.latency_ms = ms_between(start, Clock::now());
  return advisor::gate(proposal, m_envelope, m_controls, m_config.twin.control_period_s, gates(in.cycle)).accepted;
}

std::vector<double> Decider::emitted_features(const Proposal& p, const Decision& d) const {
  const SurrogateLayout& layout = m_models->layout();
  std::vector<double> x = p.features;
  if (x.size() != layout.inputs.size()) return {};
  for (int j = 0; j < layout.controls && j < static_cast<int>(d.advice.controls.size()); ++j)
    x[layout.u0() + j] = d.advice.controls[j].value;
  return x;
}

bool Decider::paused() const { return m_lifecycle ? m_lifecycle->paused() : m_paused; }

void Decider::command(const OperatorCommand& c) {
  if (m_lifecycle) return m_lifecycle->command(c);
  if (!m_holds_models) return;
  // Without `lifecycle:` only pausing is the decider's own; the rest needs the lifecycle.
  const std::string who = "operator" + (c.reason.empty() ? std::string() : ": " + c.reason);
  if (c.kind == OperatorCommand::Kind::pause) {
    m_paused = true;
    m_pause_reason = who;
    spdlog::warn("advisor paused by {}", who);
  } else if (c.kind == OperatorCommand::Kind::resume) {
    m_paused = false;
    spdlog::warn("advisor resumed by {}", who);
  } else {
    spdlog::error("operator command refused: promote, rollback and retrain need a lifecycle: section in the config");
  }
}

std::vector<LifecycleEvent> Decider::run_lifecycle(const DecisionInputs& in, const Proposal& p, const Decision& d,
                                                   const std::vector<DriftDetection>& drift) {
  m_last_lifecycle.clear();
  if (!m_lifecycle) return {};
  LifecycleCycle c;
  c.cycle = in.cycle;
  c.healthy = in.twin_healthy;
  c.analysis = in.analysis;
  c.theta = in.theta;
  c.features = emitted_features(p, d);
  c.drift = drift;
  c.shadow_gates_pass = p.shadow_gates_pass;
  m_last_lifecycle = m_lifecycle->cycle(c);
  return m_last_lifecycle;
}

bool Decider::wants_field() const { return m_lifecycle && m_lifecycle->wants_field(); }
void Decider::give_field(std::vector<double> field) {
  if (m_lifecycle) m_lifecycle->give_field(std::move(field));
}

double Decider::realised_error() const { return m_lifecycle ? m_lifecycle->last_error() : std::nan(""); }

double Decider::lifecycle_work(Clock::time_point until) { return m_lifecycle ? m_lifecycle->work(until) : 0.0; }


GatesConfig Decider::gates(int cycle) const {
  GatesConfig g = m_config.advisor->gates;
  const advisor::Model* s = m_models->surrogate();
  if (cycle < m_tightened_until && s && advisor::label(s->package()) == m_tightened_for) {
    g.max_ood *= m_config.drift->tighten;
    g.max_spread *= m_config.drift->tighten;
  }
  return g;
}

std::vector<DriftDetection> Decider::watch_drift(const DecisionInputs& in, const Proposal& p, const Decision& d,
                                                 const AnomalyReport& anomaly, const std::vector<SensorEstimate>& sensors) {
  m_last_drift.clear();
  if (!m_drift) return {};
  std::map<std::string, double> values;
  // The filter: normalised innovations squared of the readings it accepted.
  double nis = 0.0;
  int accepted = 0;
  for (std::size_t s = 0; s < sensors.size() && s < m_config.sensors.size(); ++s) {
    const SensorEstimate& e = sensors[s];
    if (e.qc != QcReason::accepted) continue;
    const double noise = m_config.sensors[s].noise_std;
    const double var = e.forecast_spread * e.forecast_spread + noise * noise;
    if (!(var > 0.0) || !std::isfinite(e.observed - e.forecast)) continue;
    nis += (e.observed - e.forecast) * (e.observed - e.forecast) / var;
    ++accepted;
  }
  if (accepted > 0) values["innovation"] = nis / accepted;
  if (anomaly.consulted) values["anomaly_rate"] = anomaly.flagged ? 1.0 : 0.0;
  // The surrogate: its inputs' OOD score, and its prediction for the controls emitted, scored
  // when it matures against the analysis of that cycle.
  advisor::Model* surrogate = in.twin_healthy ? m_models->surrogate() : nullptr;
  // Another version in use (promoted, rolled back): its errors and OOD scores have another
  // scale, so their monitors take a new reference.
  if (m_models->surrogate()) {
    const std::string label = advisor::label(m_models->surrogate()->package());
    if (!m_drift_model.empty() && label != m_drift_model)
      for (const char* signal : {"surrogate_error", "ood"}) m_drift->rereference(signal);
    m_drift_model = label;
  }
  const SurrogateLayout& layout = m_models->layout();
  std::optional<std::vector<double>> predicted;
  if (surrogate && p.features.size() == layout.inputs.size()) {
    if (m_drift->watches("ood")) values["ood"] = m_models->ood().score(p.features.data());
    const std::vector<double> x = emitted_features(p, d);
    std::vector<double> mean, std;
    try {
      surrogate->predict_moments(x.data(), 1, mean, std);
      predicted = std::vector<double>(mean.size());
      for (std::size_t l = 0; l < layout.lead_cycles.size(); ++l)
        for (int s = 0; s < layout.sensors; ++s) {
          const int o = layout.output(static_cast<int>(l), s);
          (*predicted)[o] = in.analysis[s] + mean[o];
        }
    } catch (const std::exception&) {
      predicted.reset();  // the gates report a failing model; the monitor just has no prediction
    }
  }
  const double scale = surrogate ? surrogate->package().metrics.count("validation_rmse")
                                       ? surrogate->package().metrics.at("validation_rmse") : 0.0
                                 : 0.0;
  if (const auto e = m_drift->realised_error(in.cycle, layout.lead_cycles, in.analysis, predicted, scale))
    values["surrogate_error"] = *e;
  m_last_drift = m_drift->observe(values);
  for (DriftDetection& det : m_drift->observe_parameters(in.theta, in.theta_std)) m_last_drift.push_back(std::move(det));
  for (const DriftDetection& det : m_last_drift) {
    const bool advisor_signal = det.signal == "surrogate_error" || det.signal == "ood";
    if (advisor_signal && surrogate) {
      m_tightened_until = in.cycle + m_config.drift->tighten_cycles;
      m_tightened_for = advisor::label(surrogate->package());
    }
    spdlog::warn("cycle {}: drift of {} ({}): statistic {:.3g} above its threshold {:.3g} (signal {:.3g}, reference {:.3g}){}",
                 in.cycle + 1, det.signal, det.detector, det.statistic, det.threshold, det.value, det.reference,
                 advisor_signal && surrogate ? fmt::format("; the advisor's gates are tightened for {} cycles",
                                                           m_config.drift->tighten_cycles)
                                             : std::string());
  }
  return m_last_drift;
}

}  // namespace twin::detail
