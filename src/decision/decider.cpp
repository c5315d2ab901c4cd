#include "decision/decider.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "decision/advisor_models.hpp"
#include "decision/drift_watch.hpp"
#include "decision/lifecycle.hpp"
#include "ground/sha256.hpp"
#include "io/state_archive.hpp"
#include "twin/error.hpp"

namespace twin::detail {
namespace {

using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

}  // namespace

Decider::Decider(const Config& config, bool load_models, const std::string& data_dir)
    : m_config(config),
      m_envelope(advisor::Envelope::from(config.controls)),
      m_safe(advisor::SafeDefault::create(config)),
      m_breaker(config.advisor ? config.advisor->breaker : BreakerConfig{}),
      m_models(std::make_unique<AdvisorModels>(m_config, load_models)),
      m_holds_models(load_models) {
  for (const auto& c : config.controls) m_controls.push_back(c.initial);
  if (config.drift && load_models) {
    std::vector<std::string> parameters;
    for (const auto& p : config.ensemble.parameters) parameters.push_back(p.name);
    m_drift = std::make_unique<DriftWatch>(*config.drift, parameters);
  }
  if (config.lifecycle && config.advisor && load_models)
    m_lifecycle = std::make_unique<Lifecycle>(m_config, *m_models, data_dir);
  m_previous_analysis.assign(config.sensors.size(), std::numeric_limits<double>::quiet_NaN());
  const SurrogateLayout& layout = m_models->layout();
  const int S = layout.sensors, L = static_cast<int>(layout.lead_cycles.size());
  m_base_target.assign(static_cast<std::size_t>(S) * L, 0.0);
  m_target_weight.assign(m_base_target.size(), 0.0);
  m_limit.assign(m_base_target.size(), std::numeric_limits<double>::infinity());
  const auto sensor_of = [&](const std::string& name) { return static_cast<int>(sensor_index(config, name).value_or(-1)); };
  for (const auto& t : config.objectives.targets)
    for (int l = 0; l < L; ++l) {
      const int o = layout.output(l, sensor_of(t.sensor));
      m_base_target[o] = t.value;
      m_target_weight[o] = t.weight / L;
    }
  for (const auto& m : config.objectives.limits)
    for (int l = 0; l < L; ++l) {
      const int o = layout.output(l, sensor_of(m.sensor));
      m_limit[o] = std::min(m_limit[o], m.max);
    }
}

Decider::~Decider() = default;

Proposal Decider::propose(const DecisionInputs& in) {
  const auto start = Clock::now();
  if (m_lifecycle) {
    LifecycleCycle now;
    now.cycle = in.cycle;
    now.healthy = in.twin_healthy;
    now.analysis = in.analysis;
    now.theta = in.theta;
    m_lifecycle->apply_commands(now);
  }
  Proposal p;
  p.fallback = m_envelope.ramp_towards(m_safe->target(in.analysis), m_controls, m_config.twin.control_period_s);
  const SurrogateLayout& layout = m_models->layout();
  p.features.assign(layout.inputs.size(), 0.0);
  {
    std::vector<double> prev(in.analysis.size());
    for (std::size_t s = 0; s < prev.size(); ++s)
      prev[s] = std::isfinite(m_previous_analysis[s]) ? m_previous_analysis[s] : in.analysis[s];
    surrogate_inputs(layout, in.analysis.data(), prev.data(), m_controls.data(), m_controls.data(), in.theta.data(),
                     p.features.data());
  }
  m_previous_analysis = in.analysis;
  // The mode machine's order: an unhealthy twin, no advisor, no model and an open breaker each
  // leave the model unasked (decide says which).
  if (in.twin_healthy && in.source_down.empty() && m_config.advisor && !paused() && m_models->surrogate(in.cycle) &&
      m_breaker.consult()) {
    p.consulted = true;
    p.apply = m_breaker.apply();
    p.outcome = consult(in, p, start);
    if (m_lifecycle && m_lifecycle->shadow()) p.shadow_gates_pass = shadow_gates_pass(in, p, *m_lifecycle->shadow());
    // A probe of the half-open breaker is checked too: the breaker closes only on proposals
    // that would have been applied.
    p.check = p.outcome.accepted && m_config.advisor->gates.physics_check &&
              Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double, std::milli>(1.5 * m_last_check_ms)) < in.deadline;
  }
  p.report.latency_ms = ms_between(start, Clock::now());
  return p;
}

advisor::GateOutcome Decider::consult(const DecisionInputs& in, Proposal& p, Clock::time_point start) {
  const AdvisorConfig& ac = *m_config.advisor;
  advisor::Model& surrogate = *m_models->surrogate();
  AdvisorReport& report = p.report;
  report.consulted = true;
  report.model = advisor::label(surrogate.package());
  const auto budget =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ac.gates.latency_budget_ms));
  const Clock::time_point until = std::min(start + budget, in.deadline);
  const advisor::ProposalProblem pb = problem(in, p, start + (until - start) * 8 / 10);  // room for the final evaluation and the gates
  advisor::Proposal proposal;
  try {
    const advisor::ProposalResult r = advisor::propose(surrogate, pb);
    proposal.controls = r.controls;
    p.predicted.assign(r.mean.size(), 0.0);
    for (std::size_t o = 0; o < r.mean.size(); ++o) p.predicted[o] = pb.base[o] + r.mean[o];
    for (double s : r.std) proposal.spread = std::max(proposal.spread, std::isfinite(s) ? s : HUGE_VAL);
    report.cost = r.cost;
  } catch (const std::exception& e) {
    report.proposal.assign(m_controls.size(), std::numeric_limits<double>::quiet_NaN());
    report.gate = advisor::to_string(advisor::FallbackReason::inference_error);
    return {false, advisor::FallbackReason::inference_error, e.what()};
  }
  proposal.ood = m_models->ood().score(p.features.data());
  proposal.latency_ms = ms_between(start, Clock::now());
  report.proposal = proposal.controls;
  report.spread = proposal.spread;
  report.ood = proposal.ood;
  const advisor::GateOutcome outcome = advisor::gate(proposal, m_envelope, m_controls, m_config.twin.control_period_s, gates(in.cycle));
  report.accepted = outcome.accepted;
  report.gate = advisor::to_string(outcome.reason);
  return outcome;
}

advisor::ProposalProblem Decider::problem(const DecisionInputs& in, const Proposal& p, Clock::time_point deadline) const {
  const AdvisorConfig& ac = *m_config.advisor;
  const SurrogateLayout& layout = m_models->layout();
  advisor::ProposalProblem pb;
  pb.features = p.features;
  for (int j = 0; j < layout.controls; ++j) pb.control_inputs.push_back(layout.u0() + j);
  m_envelope.box(m_controls, m_config.twin.control_period_s, pb.lower, pb.upper);
  pb.start = p.fallback;  // one candidate starts at the safe default
  pb.base.resize(layout.outputs.size());
  for (std::size_t l = 0; l < layout.lead_cycles.size(); ++l)
    for (int s = 0; s < layout.sensors; ++s) pb.base[layout.output(static_cast<int>(l), s)] = in.analysis[s];
  pb.target = m_base_target;
  pb.target_weight = m_target_weight;
  pb.limit = m_limit;
  pb.energy_weight = m_config.objectives.energy_weight;
  pb.limit_weight = m_config.objectives.limit_weight;
  pb.candidates = ac.candidates;
  pb.iterations = ac.iterations;
  pb.seed = static_cast<unsigned>(in.cycle) + 1u;
  pb.deadline = deadline;
  return pb;
}

Decision Decider::decide(const DecisionInputs& in, const Proposal& p, const std::optional<std::vector<double>>& solver) {
  Decision d;
  Advice& a = d.advice;
  AdvisorReport& report = d.report;
  a.cycle = in.cycle;
  a.t_s = in.t_s;
  report = p.report;
  std::vector<double> emitted = p.fallback;
  const std::string safe_text = std::string("safe default (") + m_safe->rule() + ")";
  if (!in.twin_healthy) {
    a.mode = Mode::safe_hold;
    a.reason = in.unhealthy_reason + "; " + safe_text;
    report.gate = advisor::to_string(advisor::FallbackReason::twin_unhealthy);
  } else if (!in.source_down.empty()) {
    a.mode = Mode::fallback;
    a.reason = "source down: " + in.source_down + "; " + safe_text;
    report.gate = advisor::to_string(advisor::FallbackReason::source_down);
  } else if (!m_config.advisor) {
    a.mode = Mode::advisor_off;
    a.reason = "no advisor configured: " + safe_text;
    report.gate = advisor::to_string(advisor::FallbackReason::no_advisor);
  } else if (paused()) {
    a.mode = Mode::advisor_off;
    a.reason = "advisor paused (" + (m_lifecycle ? m_lifecycle->pause_reason() : m_pause_reason) + "): " + safe_text;
    report.gate = advisor::to_string(advisor::FallbackReason::paused);
  } else if (!m_models->surrogate()) {
    a.mode = Mode::advisor_off;
    a.reason = "model unavailable: " + m_models->surrogate_problem() + "; " + safe_text + ", retrying every " +
               std::to_string(m_config.advisor->reprobe_cycles) + " cycles";
    report.gate = advisor::to_string(advisor::FallbackReason::model_unavailable);
  } else if (!p.consulted) {
    m_breaker.skip();
    a.mode = Mode::advisor_off;
    a.reason = "circuit breaker " + m_breaker.describe() + ": " + safe_text;
    report.gate = advisor::to_string(advisor::FallbackReason::breaker_open);
  } else if (solver) {  // the physics check of an accepted proposal settles it
    double worst = 0.0;
    for (std::size_t o = 0; o < p.predicted.size() && o < solver->size(); ++o)
      worst = std::max(worst, std::isfinite((*solver)[o]) ? std::abs((*solver)[o] - p.predicted[o]) : HUGE_VAL);
    report.physics_error = worst;
    const double tolerance = m_config.advisor->gates.physics_tolerance;
    const bool ok = worst <= tolerance;
    m_breaker.record(ok);
    if (ok && !p.apply) {  // a probe: this cycle still gets the safe default
      a.mode = Mode::advisor_off;
      a.reason = "circuit breaker probing, proposal clean (physics check: surrogate within " + std::to_string(worst) +
                 " of the solver)" + (m_breaker.apply() ? "; the advisor applies from the next cycle" : "") + "; " +
                 safe_text;
      report.gate = advisor::to_string(advisor::FallbackReason::breaker_open);
    } else if (ok) {
      emitted = report.proposal;
      a.mode = Mode::nominal;
      a.reason = "advisor proposal accepted (physics check: surrogate within " + std::to_string(worst) + " of the solver)";
    } else {
      report.accepted = false;
      report.gate = advisor::to_string(advisor::FallbackReason::physics_check);
      a.mode = m_breaker.state() == advisor::Breaker::State::open ? Mode::advisor_off : Mode::fallback;
      a.reason = "physics_check: the solver departs from the surrogate by " + std::to_string(worst) + " > " +
                 std::to_string(tolerance) + "; " + safe_text;
    }
  } else {
    const advisor::GateOutcome& outcome = p.outcome;
    m_breaker.record(outcome.accepted);
    if (p.apply && outcome.accepted) {
      emitted = report.proposal;
      a.mode = Mode::nominal;
      a.reason = "advisor proposal accepted";
    } else if (p.apply) {
      a.mode = m_breaker.state() == advisor::Breaker::State::open ? Mode::advisor_off : Mode::fallback;
      a.reason = std::string(advisor::to_string(outcome.reason)) + ": " + outcome.detail + "; " + safe_text;
      if (a.mode == Mode::advisor_off)
        a.reason += "; circuit breaker opened after " + std::to_string(m_config.advisor->breaker.failures) +
                    " consecutive failures";
    } else {  // a probe of the half-open breaker: this cycle still gets the safe default
      a.mode = Mode::advisor_off;
      a.reason = std::string("circuit breaker probing, proposal ") +
                 (outcome.accepted ? "clean" : advisor::to_string(outcome.reason)) +
                 (m_breaker.apply() ? "; the advisor applies from the next cycle" : "") + "; " + safe_text;
      if (outcome.accepted) report.gate = advisor::to_string(advisor::FallbackReason::breaker_open);
    }
  }
  emitted.resize(m_controls.size());
  for (std::size_t j = 0; j < emitted.size(); ++j)
    a.controls.push_back({m_config.controls[j].name, emitted[j], m_config.controls[j].unit});
  adopt(d);
  return d;
}

void Decider::adopt(const Decision& d) {
  m_controls.resize(d.advice.controls.size());
  for (std::size_t j = 0; j < m_controls.size(); ++j) m_controls[j] = d.advice.controls[j].value;
}

std::string Decider::controls_problem(const std::vector<double>& u) const {
  bool ok = u.size() == m_controls.size();
  for (double v : u) ok = ok && std::isfinite(v);
  if (ok) return {};
  std::string why = "apply_controls: expected " + std::to_string(m_controls.size()) + " finite values (";
  for (std::size_t j = 0; j < m_config.controls.size(); ++j) why += (j ? ", " : "") + m_config.controls[j].name;
  return why + "), got " + std::to_string(u.size()) + (u.size() == m_controls.size() ? " with a non-finite one" : "");
}

void Decider::override_controls(const std::vector<double>& u) {
  if (const std::string why = controls_problem(u); !why.empty()) throw DataError(why);
  for (std::size_t j = 0; j < u.size(); ++j)
    if (u[j] < m_config.controls[j].min || u[j] > m_config.controls[j].max)
      spdlog::warn("apply_controls: {} = {} is outside its configured [{}, {}]; the twin follows what the facility applies",
                   m_config.controls[j].name, u[j], m_config.controls[j].min, m_config.controls[j].max);
  m_controls = u;
}

nlohmann::json Decider::audit_record(const DecisionInputs& in, const Proposal& p, const Decision& d,
                                     const AnomalyReport& anomaly) const {
  const AdvisorReport& report = d.report;
  const auto finite_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json proposal = nlohmann::json::array(), out = nlohmann::json::array();
  for (double v : p.report.proposal) proposal.push_back(finite_or_null(v));  // as proposed (empty: not consulted)
  for (const auto& c : d.advice.controls) out.push_back(c.value);
  nlohmann::json r = {{"cycle", in.cycle},
                      {"t_s", in.t_s},
                      {"inputs_sha256", sha256_hex(p.features.data(), p.features.size() * sizeof(double))},
                      {"mode", to_string(d.advice.mode)},
                      {"reason", d.advice.reason},
                      {"gate", report.gate},
                      {"accepted", report.accepted},
                      {"consulted", report.consulted},
                      {"proposal", proposal},
                      {"emitted", out},
                      {"scores", {{"ood", finite_or_null(report.ood)}, {"spread", finite_or_null(report.spread)},
                                  {"cost", finite_or_null(report.cost)}}},
                      {"latency_ms", report.latency_ms},
                      {"physics_error", finite_or_null(report.physics_error)},
                      {"breaker", m_breaker.describe()}};
  if (anomaly.consulted) {
    nlohmann::json why = nlohmann::json::array();
    for (std::size_t i = 0; i < anomaly.sensors.size(); ++i)
      why.push_back({{"sensor", anomaly.sensors[i]}, {"share", anomaly.attribution[i]}});
    r["anomaly"] = {{"flagged", anomaly.flagged}, {"class", anomaly.fault_class},
                    {"confidence", finite_or_null(anomaly.confidence)}, {"sensors", why}};
    if (const advisor::Model* m = m_models->anomaly())
      r["models"]["anomaly"] = {{"version", advisor::label(m->package())}, {"weights_sha256", m->package().weights_sha256}};
  }
  if (const advisor::Model* m = m_models->surrogate())
    r["models"]["surrogate"] = {{"version", advisor::label(m->package())}, {"weights_sha256", m->package().weights_sha256}};
  if (m_drift) {
    r["drift_signals"] = nlohmann::json::object();
    for (const auto& [signal, value] : m_drift->last_values()) r["drift_signals"][signal] = finite_or_null(value);
  }
  for (const LifecycleEvent& e : m_last_lifecycle)
    r["lifecycle"].push_back({{"event", e.event}, {"model", e.model}, {"reason", e.reason}});
  for (const DriftDetection& det : m_last_drift)
    r["drift"].push_back({{"signal", det.signal}, {"detector", det.detector}, {"value", finite_or_null(det.value)},
                          {"reference", finite_or_null(det.reference)}, {"statistic", finite_or_null(det.statistic)},
                          {"threshold", finite_or_null(det.threshold)}});
  return r;
}

void Decider::save(io::StateArchive& a) const {
  a.put("decider.controls", m_controls);
  a.put("decider.previous_analysis", m_previous_analysis);
  a.put_ints("decider.breaker", m_breaker.memory());
  a.put("decider.last_check_ms", m_last_check_ms);
  a.put_ints("decider.model_schedule", m_models->schedule());
  a.put("decider.models", std::vector<std::string>{m_models->surrogate() ? advisor::label(m_models->surrogate()->package()) : "",
                                                   m_models->anomaly() ? advisor::label(m_models->anomaly()->package()) : ""});
  m_models->anomaly_features().save(a);
  if (m_drift) {
    m_drift->save(a);
    a.put("decider.drift.tightened", std::vector<std::string>{std::to_string(m_tightened_until), m_tightened_for});
  }
  if (m_lifecycle) m_lifecycle->save(a);
  a.put("decider.paused", std::vector<std::string>{m_paused ? "1" : "0", m_pause_reason});
}

void Decider::restore(const io::StateArchive& a) {
  m_controls = a.doubles("decider.controls", m_controls.size());
  m_previous_analysis = a.doubles("decider.previous_analysis", m_previous_analysis.size());
  if (!m_breaker.restore(a.ints_as<int>("decider.breaker")))
    throw DataError(a.origin() + ": the circuit breaker's state is malformed");
  m_last_check_ms = a.get_double("decider.last_check_ms");
  m_models->restore_schedule(a.ints_as<int>("decider.model_schedule"));
  m_models->anomaly_features().restore(a);
  if (m_drift) {
    m_drift->restore(a);
    const auto& t = a.strings("decider.drift.tightened");
    char* end = nullptr;
    const long until = t.size() == 2 ? std::strtol(t[0].c_str(), &end, 10) : 0;
    if (t.size() != 2 || end == t[0].c_str() || *end != '\0') throw DataError(a.origin() + ": the drift state is malformed");
    m_tightened_until = static_cast<int>(until);
    m_tightened_for = t[1];
  }
  if (m_lifecycle) m_lifecycle->restore(a);
  if (a.has("decider.paused")) {
    const auto& pause = a.strings("decider.paused");
    if (pause.size() != 2) throw DataError(a.origin() + ": the advisor's pause state is malformed");
    m_paused = pause[0] == "1";
    m_pause_reason = pause[1];
  }
  const auto& recorded = a.strings("decider.models");
  const std::string now[2] = {m_models->surrogate() ? advisor::label(m_models->surrogate()->package()) : "",
                              m_models->anomaly() ? advisor::label(m_models->anomaly()->package()) : ""};
  for (std::size_t k = 0; k < 2 && k < recorded.size(); ++k)
    if (m_holds_models && recorded[k] != now[k])
      spdlog::warn("resume: the {} model in use is {} but the snapshot's run used {}: decisions may differ from the "
                   "uninterrupted run",
                   k == 0 ? "surrogate" : "anomaly", now[k].empty() ? "none" : now[k], recorded[k].empty() ? "none" : recorded[k]);
}

}  // namespace twin::detail
