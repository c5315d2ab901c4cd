#include "decision/advice_stage.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "decision/features.hpp"
#include "advisor/gates.hpp"
#include "advisor/model.hpp"
#include "advisor/ood.hpp"
#include "ground/mpi.hpp"
#include "ground/sha256.hpp"
#include "io/audit.hpp"
#include "io/model_file.hpp"
#include "twin/error.hpp"

namespace twin::detail {

namespace {
using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

}  // namespace

struct AdviceStage::Impl {
  Config config;
  MPI_Comm comm;
  int rank = 0;
  advisor::Envelope envelope;
  advisor::SafeDefault safe;
  advisor::Breaker breaker;
  SurrogateLayout layout;
  std::unique_ptr<advisor::Model> surrogate;  // rank 0
  advisor::OodScorer ood;
  std::string model_problem;                   // why there is no model (rank 0)
  int last_load_cycle = 0;
  std::vector<double> controls, previous_analysis;
  std::vector<double> base_target, target_weight, limit;  // per surrogate output
  std::unique_ptr<io::AuditLog> audit;
  double last_check_ms = 0.0;
  // A proposal that passed the gates, waiting for the physics check (rank 0).
  bool check_pending = false;
  std::vector<double> predicted;      // surrogate ensemble mean of every output (absolute)
  std::vector<double> last_features;  // the inputs of the pending decision, for its audit record
  std::vector<double> pending_fallback;
  // Anomaly diagnosis (rank 0 holds the model; every rank the last report).
  AnomalyFeatures anomaly_features;
  std::unique_ptr<advisor::Model> anomaly;
  std::string anomaly_problem;
  int last_anomaly_load_cycle = 0;
  AnomalyReport last_anomaly;

  Impl(const Config& c, MPI_Comm world, const std::optional<std::string>& run_dir)
      : config(c),
        comm(world),
        envelope(advisor::Envelope::from(c.controls)),
        safe(c),
        breaker(c.advisor ? c.advisor->breaker : BreakerConfig{}),
        layout(surrogate_layout(c)),
        anomaly_features(c) {
    TWIN_MPI_CHECK(MPI_Comm_rank(world, &rank));
    for (const auto& ctl : c.controls) controls.push_back(ctl.initial);
    previous_analysis.assign(c.sensors.size(), std::numeric_limits<double>::quiet_NaN());
    const int S = layout.sensors, L = static_cast<int>(layout.lead_cycles.size());
    base_target.assign(static_cast<std::size_t>(S) * L, 0.0);
    target_weight.assign(base_target.size(), 0.0);
    limit.assign(base_target.size(), std::numeric_limits<double>::infinity());
    const auto sensor_of = [&](const std::string& name) { return static_cast<int>(sensor_index(c, name).value_or(-1)); };
    for (const auto& t : c.objectives.targets)
      for (int l = 0; l < L; ++l) {
        const int o = layout.output(l, sensor_of(t.sensor));
        base_target[o] = t.value;
        target_weight[o] = t.weight / L;
      }
    for (const auto& m : c.objectives.limits)
      for (int l = 0; l < L; ++l) {
        const int o = layout.output(l, sensor_of(m.sensor));
        limit[o] = std::min(limit[o], m.max);
      }
    if (rank != 0) return;
    if (run_dir) audit = std::make_unique<io::AuditLog>((std::filesystem::path(*run_dir) / "audit.jsonl").string());
    if (config.advisor) load(0);
    if (config.advisor && !config.advisor->anomaly.empty()) load_anomaly(0);
  }

  // The active version of a model from the registry, checked against the layout it must have.
  std::unique_ptr<advisor::Model> open_model(const std::string& name, const std::vector<std::string>& inputs,
                                             const std::vector<std::string>& outputs, std::string& path) const {
    const std::string dir = io::registry_directory(config);
    io::ModelRegistry registry(dir);
    const auto version = registry.active(name);
    if (!version)
      throw AdvisorError("no active version of model '" + name + "' in registry " + dir +
                         " (train one with: twin train " + config.source_name + ")");
    path = registry.path(name, *version);
    advisor::ModelPackage package = io::read_model(path);
    if (package.inputs != inputs || package.outputs != outputs)
      throw AdvisorError("model " + advisor::label(package) +
                         ": its inputs and outputs do not match this twin's sensors, controls, parameters and lead "
                         "times (trained for another config?); train it again");
    return std::make_unique<advisor::Model>(std::move(package));
  }

  void load_anomaly(int cycle) {
    last_anomaly_load_cycle = cycle;
    anomaly.reset();
    try {
      std::string path;
      const AnomalyLayout& al = anomaly_features.layout();
      auto model = open_model(config.advisor->anomaly, al.inputs, al.outputs, path);
      model->warm_up();
      anomaly = std::move(model);
      anomaly_problem.clear();
      spdlog::info("advisor: {} loaded from {} (validation accuracy {:.3f})", advisor::label(anomaly->package()), path,
                   anomaly->package().metrics.count("validation_accuracy") ? anomaly->package().metrics.at("validation_accuracy") : -1.0);
    } catch (const std::exception& e) {
      anomaly_problem = e.what();
      spdlog::warn("anomaly diagnosis off: {}", anomaly_problem);
    }
  }

  AnomalyReport diagnose(const AdviceInputs& in, const std::vector<SensorEstimate>& sensors) {
    AnomalyReport r;
    if (rank == 0) r = diagnose_on_root(in, sensors);
    std::vector<double> numbers{r.consulted ? 1.0 : 0.0, r.flagged ? 1.0 : 0.0, r.confidence};
    numbers.insert(numbers.end(), r.attribution.begin(), r.attribution.end());
    broadcast(numbers, comm);
    std::vector<std::string> text{r.fault_class, r.model, r.reason};
    text.insert(text.end(), r.sensors.begin(), r.sensors.end());
    broadcast(text, comm);
    r.consulted = numbers[0] != 0.0;
    r.flagged = numbers[1] != 0.0;
    r.confidence = numbers[2];
    r.attribution.assign(numbers.begin() + 3, numbers.end());
    r.fault_class = text[0];
    r.model = text[1];
    r.reason = text[2];
    r.sensors.assign(text.begin() + 3, text.end());
    last_anomaly = r;
    return r;
  }

  AnomalyReport diagnose_on_root(const AdviceInputs& in, const std::vector<SensorEstimate>& sensors) {
    AnomalyReport r;
    // The window advances every cycle, consulted or not, so the features are whole when it is.
    const std::vector<double> x = anomaly_features.push(sensors, in.theta, controls);
    if (!config.advisor) {
      r.reason = "no advisor configured";
      return r;
    }
    const AdvisorConfig& ac = *config.advisor;
    if (ac.anomaly.empty()) {
      r.reason = "anomaly diagnosis disabled (advisor.anomaly is empty)";
      return r;
    }
    if (!anomaly && in.cycle - last_anomaly_load_cycle >= ac.reprobe_cycles) load_anomaly(in.cycle);
    if (!anomaly) {
      r.reason = "model unavailable: " + anomaly_problem;
      return r;
    }
    r.model = advisor::label(anomaly->package());
    if (!in.twin_healthy) {
      r.reason = "twin unhealthy";
      return r;
    }
    if (in.cycle <= ac.anomaly_warmup_cycles) {
      r.reason = "filter spin-up: diagnosis starts after cycle " + std::to_string(ac.anomaly_warmup_cycles);
      return r;
    }
    std::vector<double> members;
    try {
      anomaly->predict(x.data(), 1, members);
    } catch (const std::exception& e) {
      r.reason = std::string("inference error: ") + e.what();
      return r;
    }
    const int K = anomaly->members(), C = anomaly->outputs();
    std::vector<double> prob(C, 0.0);
    for (int k = 0; k < K; ++k) {  // the ensemble mean of each member's softmax
      const double* y = members.data() + static_cast<std::size_t>(k) * C;
      double top = -HUGE_VAL, sum = 0.0;
      for (int c = 0; c < C; ++c) top = std::max(top, y[c]);
      for (int c = 0; c < C; ++c) sum += std::exp(y[c] - top);
      for (int c = 0; c < C; ++c) prob[c] += std::exp(y[c] - top) / sum / K;
    }
    for (double v : prob)
      if (!std::isfinite(v)) {
        r.reason = "inference error: non-finite class probabilities";
        return r;
      }
    int best = 0;
    for (int c = 1; c < C; ++c)
      if (prob[c] > prob[best]) best = c;
    r.consulted = true;
    r.fault_class = anomaly_classes()[best];
    r.confidence = prob[best];
    r.flagged = best != 0 && prob[best] >= ac.anomaly_threshold;
    if (best == 0) return r;
    // Attribution: the sensors whose readings depart most from the forecast over the window.
    const std::vector<double>& share = anomaly_features.evidence();
    std::vector<int> order(share.size());
    for (std::size_t s = 0; s < order.size(); ++s) order[s] = static_cast<int>(s);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return share[a] > share[b]; });
    for (std::size_t i = 0; i < std::min<std::size_t>(3, order.size()) && share[order[i]] > 0; ++i) {
      r.sensors.push_back(config.sensors[order[i]].name);
      r.attribution.push_back(share[order[i]]);
    }
    return r;
  }

  void override_controls(const std::vector<double>& values) {
    std::vector<double> u = values;
    int ok = u.size() == controls.size() ? 1 : 0;
    for (double v : u) ok = ok && std::isfinite(v);
    TWIN_MPI_CHECK(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
    if (!ok) {
      std::string why = "apply_controls: expected " + std::to_string(controls.size()) + " finite values (";
      for (std::size_t j = 0; j < config.controls.size(); ++j) why += (j ? ", " : "") + config.controls[j].name;
      throw DataError(why + "), got " + std::to_string(values.size()) + (u.size() == controls.size() ? " with a non-finite one" : ""));
    }
    u.resize(controls.size());  // only rank 0's values count, whatever the others passed
    TWIN_MPI_CHECK(MPI_Bcast(u.data(), static_cast<int>(u.size()), MPI_DOUBLE, 0, comm));
    for (std::size_t j = 0; j < u.size(); ++j)
      if (u[j] < config.controls[j].min || u[j] > config.controls[j].max)
        spdlog::warn("apply_controls: {} = {} is outside its configured [{}, {}]; the twin follows what the facility applies",
                     config.controls[j].name, u[j], config.controls[j].min, config.controls[j].max);
    controls = u;
  }

  void load(int cycle) {
    last_load_cycle = cycle;
    surrogate.reset();
    try {
      std::string path;
      auto model = open_model(config.advisor->surrogate, layout.inputs, layout.outputs, path);
      std::vector<int> features;
      for (int i = 0; i < static_cast<int>(layout.inputs.size()); ++i)
        if (i < layout.u0() || i >= layout.u0() + layout.controls) features.push_back(i);
      ood = advisor::OodScorer(model->package().training, features);
      model->warm_up();
      surrogate = std::move(model);
      model_problem.clear();
      spdlog::info("advisor: {} loaded from {} (validation relative error {:.4f})", advisor::label(surrogate->package()),
                   path, surrogate->package().metrics.count("validation_relative_error")
                                                      ? surrogate->package().metrics.at("validation_relative_error")
                                                      : -1.0);
    } catch (const std::exception& e) {  // DataError, AdvisorError, filesystem errors: all mean "no model"
      model_problem = e.what();
      spdlog::warn("advisor off: {}", model_problem);
    }
  }

  Advice decide(const AdviceInputs& in, AdvisorReport& report, const PhysicsCheck& physics) {
    const double dt = config.twin.control_period_s;
    Advice a;
    a.cycle = in.cycle;
    a.t_s = in.t_s;
    report = AdvisorReport{};
    std::vector<double> emitted;
    check_pending = false;
    if (rank == 0) emitted = decide_on_root(in, a, report, dt, static_cast<bool>(physics));
    int check = check_pending ? 1 : 0;
    TWIN_MPI_CHECK(MPI_Bcast(&check, 1, MPI_INT, 0, comm));
    if (check) {
      std::vector<double> proposal = report.proposal;
      proposal.resize(controls.size());
      TWIN_MPI_CHECK(MPI_Bcast(proposal.data(), static_cast<int>(proposal.size()), MPI_DOUBLE, 0, comm));
      const auto start = Clock::now();
      const std::vector<double> solver = physics(proposal);
      last_check_ms = ms_between(start, Clock::now());
      if (rank == 0) emitted = finish_physics_check(in, a, report, solver);
    }
    // Every rank applies the same advice and reports the same.
    emitted.resize(controls.size());
    {
      std::vector<double> numbers{report.consulted ? 1.0 : 0.0, report.accepted ? 1.0 : 0.0, report.spread, report.ood,
                                  report.cost, report.latency_ms, report.physics_error};
      report.proposal.resize(controls.size(), std::nan(""));
      numbers.insert(numbers.end(), report.proposal.begin(), report.proposal.end());
      TWIN_MPI_CHECK(MPI_Bcast(numbers.data(), static_cast<int>(numbers.size()), MPI_DOUBLE, 0, comm));
      report.consulted = numbers[0] != 0.0;
      report.accepted = numbers[1] != 0.0;
      report.spread = numbers[2];
      report.ood = numbers[3];
      report.cost = numbers[4];
      report.latency_ms = numbers[5];
      report.physics_error = numbers[6];
      report.proposal.assign(numbers.begin() + 7, numbers.end());
      std::vector<std::string> text{report.gate, report.model, a.reason};
      broadcast(text, comm);
      report.gate = text[0];
      report.model = text[1];
      a.reason = text[2];
    }
    int mode = static_cast<int>(a.mode);
    TWIN_MPI_CHECK(MPI_Bcast(emitted.data(), static_cast<int>(emitted.size()), MPI_DOUBLE, 0, comm));
    TWIN_MPI_CHECK(MPI_Bcast(&mode, 1, MPI_INT, 0, comm));
    a.mode = static_cast<Mode>(mode);
    controls = emitted;
    for (std::size_t j = 0; j < controls.size(); ++j)
      a.controls.push_back({config.controls[j].name, controls[j], config.controls[j].unit});
    return a;
  }

  // Compares the solver's sensors with the surrogate's and settles the pending decision.
  std::vector<double> finish_physics_check(const AdviceInputs& in, Advice& a, AdvisorReport& report,
                                           const std::vector<double>& solver) {
    double worst = 0.0;
    for (std::size_t o = 0; o < predicted.size() && o < solver.size(); ++o)
      worst = std::max(worst, std::isfinite(solver[o]) ? std::abs(solver[o] - predicted[o]) : HUGE_VAL);
    report.physics_error = worst;
    std::vector<double> emitted = report.proposal;
    const bool ok = worst <= config.advisor->gates.physics_tolerance;
    breaker.record(ok);
    if (ok) {
      a.mode = Mode::nominal;
      a.reason = "advisor proposal accepted (physics check: surrogate within " + std::to_string(worst) + " of the solver)";
    } else {
      report.accepted = false;
      report.gate = advisor::to_string(advisor::FallbackReason::physics_check);
      emitted = pending_fallback;
      a.mode = breaker.state() == advisor::Breaker::State::open ? Mode::advisor_off : Mode::fallback;
      a.reason = "physics_check: the solver departs from the surrogate by " + std::to_string(worst) + " > " +
                 std::to_string(config.advisor->gates.physics_tolerance) + "; safe default (" + safe.rule() + ")";
    }
    if (audit) record(in, last_features, a, emitted, report);
    return emitted;
  }

  std::vector<double> decide_on_root(const AdviceInputs& in, Advice& a, AdvisorReport& report, double dt, bool can_check) {
    const auto start = Clock::now();
    const std::vector<double> fallback = envelope.ramp_towards(safe.target(in.analysis), controls, dt);
    const std::string safe_text = std::string("safe default (") + safe.rule() + ")";
    std::vector<double> emitted = fallback;
    std::vector<double> features(layout.inputs.size(), 0.0);
    {
      std::vector<double> prev(in.analysis.size());
      for (std::size_t s = 0; s < prev.size(); ++s)
        prev[s] = std::isfinite(previous_analysis[s]) ? previous_analysis[s] : in.analysis[s];
      surrogate_inputs(layout, in.analysis.data(), prev.data(), controls.data(), controls.data(), in.theta.data(),
                       features.data());
    }
    previous_analysis = in.analysis;

    if (!in.twin_healthy) {
      a.mode = Mode::safe_hold;
      a.reason = in.unhealthy_reason + "; " + safe_text;
      report.gate = advisor::to_string(advisor::FallbackReason::twin_unhealthy);
    } else if (!config.advisor) {
      a.mode = Mode::advisor_off;
      a.reason = "no advisor configured: " + safe_text;
      report.gate = advisor::to_string(advisor::FallbackReason::no_advisor);
    } else {
      if (!surrogate && in.cycle - last_load_cycle >= config.advisor->reprobe_cycles) load(in.cycle);
      if (!surrogate) {
        a.mode = Mode::advisor_off;
        a.reason = "model unavailable: " + model_problem + "; " + safe_text + ", retrying every " +
                   std::to_string(config.advisor->reprobe_cycles) + " cycles";
        report.gate = advisor::to_string(advisor::FallbackReason::model_unavailable);
      } else if (!breaker.consult()) {
        breaker.skip();
        a.mode = Mode::advisor_off;
        a.reason = "circuit breaker " + breaker.describe() + ": " + safe_text;
        report.gate = advisor::to_string(advisor::FallbackReason::breaker_open);
      } else {
        const bool apply = breaker.apply();
        const advisor::GateOutcome outcome = consult(in, features, fallback, start, report);
        const bool check = apply && outcome.accepted && can_check && config.advisor->gates.physics_check &&
                           Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double, std::milli>(1.5 * last_check_ms)) <
                               in.deadline;
        if (check) {  // settled after the collective solver run, in finish_physics_check
          check_pending = true;
          last_features = features;
          pending_fallback = fallback;
          report.latency_ms = ms_between(start, Clock::now());
          return report.proposal;
        }
        breaker.record(outcome.accepted);
        if (apply && outcome.accepted) {
          emitted = report.proposal;
          a.mode = Mode::nominal;
          a.reason = "advisor proposal accepted";
        } else if (apply) {
          a.mode = breaker.state() == advisor::Breaker::State::open ? Mode::advisor_off : Mode::fallback;
          a.reason = std::string(advisor::to_string(outcome.reason)) + ": " + outcome.detail + "; " + safe_text;
          if (a.mode == Mode::advisor_off)
            a.reason += "; circuit breaker opened after " + std::to_string(config.advisor->breaker.failures) +
                        " consecutive failures";
        } else {
          a.mode = breaker.state() == advisor::Breaker::State::closed ? Mode::nominal : Mode::advisor_off;
          a.reason = std::string("circuit breaker probing, proposal ") +
                     (outcome.accepted ? "clean" : advisor::to_string(outcome.reason)) + "; " + safe_text;
        }
      }
    }
    report.latency_ms = ms_between(start, Clock::now());
    if (audit) record(in, features, a, emitted, report);
    return emitted;
  }

  advisor::GateOutcome consult(const AdviceInputs& in, const std::vector<double>& features,
                               const std::vector<double>& fallback, Clock::time_point start, AdvisorReport& report) {
    const AdvisorConfig& ac = *config.advisor;
    report.consulted = true;
    report.model = advisor::label(surrogate->package());
    const auto budget = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(ac.gates.latency_budget_ms));
    const Clock::time_point until = std::min(start + budget, in.deadline);
    advisor::ProposalProblem pb;
    pb.features = features;
    for (int j = 0; j < layout.controls; ++j) pb.control_inputs.push_back(layout.u0() + j);
    envelope.box(controls, config.twin.control_period_s, pb.lower, pb.upper);
    pb.start = fallback;  // one candidate starts at the safe default
    pb.base.resize(layout.outputs.size());
    for (std::size_t l = 0; l < layout.lead_cycles.size(); ++l)
      for (int s = 0; s < layout.sensors; ++s) pb.base[layout.output(static_cast<int>(l), s)] = in.analysis[s];
    pb.target = base_target;
    pb.target_weight = target_weight;
    pb.limit = limit;
    pb.energy_weight = config.objectives.energy_weight;
    pb.limit_weight = config.objectives.limit_weight;
    pb.candidates = ac.candidates;
    pb.iterations = ac.iterations;
    pb.seed = static_cast<unsigned>(in.cycle) + 1u;
    pb.deadline = start + (until - start) * 8 / 10;  // leave room for the final evaluation and the gates
    advisor::Proposal proposal;
    try {
      const advisor::ProposalResult r = advisor::propose(*surrogate, pb);
      proposal.controls = r.controls;
      predicted.assign(r.mean.size(), 0.0);
      for (std::size_t o = 0; o < r.mean.size(); ++o) predicted[o] = pb.base[o] + r.mean[o];
      for (double s : r.std) proposal.spread = std::max(proposal.spread, std::isfinite(s) ? s : HUGE_VAL);
      report.cost = r.cost;
    } catch (const std::exception& e) {
      report.proposal.assign(controls.size(), std::numeric_limits<double>::quiet_NaN());
      report.gate = advisor::to_string(advisor::FallbackReason::inference_error);
      return {false, advisor::FallbackReason::inference_error, e.what()};
    }
    proposal.ood = ood.score(features.data());
    proposal.latency_ms = ms_between(start, Clock::now());
    report.proposal = proposal.controls;
    report.spread = proposal.spread;
    report.ood = proposal.ood;
    const advisor::GateOutcome outcome =
        advisor::gate(proposal, envelope, controls, config.twin.control_period_s, ac.gates);
    report.accepted = outcome.accepted;
    report.gate = advisor::to_string(outcome.reason);
    return outcome;
  }

  void record(const AdviceInputs& in, const std::vector<double>& features, const Advice& a,
              const std::vector<double>& emitted, const AdvisorReport& report) {
    const auto finite_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    nlohmann::json proposal = nlohmann::json::array(), out = nlohmann::json::array();
    for (double v : report.proposal) proposal.push_back(finite_or_null(v));
    for (double v : emitted) out.push_back(v);
    nlohmann::json r = {{"cycle", in.cycle},
                        {"t_s", in.t_s},
                        {"inputs_sha256", sha256_hex(features.data(), features.size() * sizeof(double))},
                        {"mode", to_string(a.mode)},
                        {"reason", a.reason},
                        {"gate", report.gate},
                        {"accepted", report.accepted},
                        {"consulted", report.consulted},
                        {"proposal", proposal},
                        {"emitted", out},
                        {"scores", {{"ood", finite_or_null(report.ood)}, {"spread", finite_or_null(report.spread)},
                                    {"cost", finite_or_null(report.cost)}}},
                        {"latency_ms", report.latency_ms},
                        {"physics_error", finite_or_null(report.physics_error)},
                        {"breaker", breaker.describe()}};
    if (last_anomaly.consulted) {
      nlohmann::json why = nlohmann::json::array();
      for (std::size_t i = 0; i < last_anomaly.sensors.size(); ++i)
        why.push_back({{"sensor", last_anomaly.sensors[i]}, {"share", last_anomaly.attribution[i]}});
      r["anomaly"] = {{"flagged", last_anomaly.flagged}, {"class", last_anomaly.fault_class},
                      {"confidence", finite_or_null(last_anomaly.confidence)}, {"sensors", why}};
      if (anomaly) r["models"]["anomaly"] = {{"version", advisor::label(anomaly->package())},
                                {"weights_sha256", anomaly->package().weights_sha256}};
    }
    if (surrogate) r["models"]["surrogate"] = {{"version", advisor::label(surrogate->package())},
                                               {"weights_sha256", surrogate->package().weights_sha256}};
    try {
      audit->append(std::move(r));
    } catch (const std::exception& e) {
      spdlog::error("audit record of cycle {} not written: {}", in.cycle, e.what());
    }
  }
};

AdviceStage::AdviceStage(const Config& config, MPI_Comm comm, const std::optional<std::string>& run_dir)
    : m_impl(std::make_unique<Impl>(config, comm, run_dir)) {}
AdviceStage::~AdviceStage() = default;
Advice AdviceStage::decide(const AdviceInputs& inputs, AdvisorReport& report, const PhysicsCheck& physics) {
  return m_impl->decide(inputs, report, physics);
}
const std::vector<double>& AdviceStage::controls() const { return m_impl->controls; }
AnomalyReport AdviceStage::diagnose(const AdviceInputs& inputs, const std::vector<SensorEstimate>& sensors) {
  return m_impl->diagnose(inputs, sensors);
}
void AdviceStage::override_controls(const std::vector<double>& controls) { m_impl->override_controls(controls); }

}  // namespace twin::detail
