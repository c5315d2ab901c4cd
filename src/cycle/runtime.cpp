// twin::Runtime: one twin cycle per control period (DESIGN.md, "One twin cycle").
#include "twin/runtime.hpp"

#include "cycle/runtime_impl.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cycle/initial_ensemble.hpp"
#include "cycle/observation_operator.hpp"
#include "decision/broadcast.hpp"
#include "decision/decider.hpp"
#include "assimilation/assimilator.hpp"
#include "ground/mpi.hpp"
#include "io/audit.hpp"
#include "io/series.hpp"
#include "qc/qc.hpp"
#include "solvers/ensemble.hpp"
#include "solvers/solver.hpp"
#include "twin/error.hpp"

namespace twin {

using detail::DecisionInputs;
using detail::Clock;
using detail::ms_since;

const char* to_string(Mode mode) {
  switch (mode) {
    case Mode::nominal: return "nominal";
    case Mode::fallback: return "fallback";
    case Mode::advisor_off: return "advisor_off";
    case Mode::safe_hold: return "safe_hold";
  }
  return "?";
}

Runtime::Impl::Impl(const Config& c, MPI_Comm world, const RuntimeOptions& options)
    : config(c),
      comm(world),
      layout(world, c.ensemble.members, c.ensemble.member_groups, c.grid),
      decomposition(c.grid, layout.domain_comm()),
      N(c.ensemble.members),
      S(static_cast<int>(c.sensors.size())),
      P(static_cast<int>(c.ensemble.parameters.size())),
      qc(c) {
  TWIN_MPI_CHECK(MPI_Comm_rank(world, &rank));
  solver = solvers::make_solver(solvers::SolverConfig::from(config), decomposition, layout.local_members());
  solvers::require_step_budget(*solver, config.time, config.twin.control_period_s, "the twin");
  x = solver->make_field("twin::ensemble");
  x_good = solver->make_field("twin::last_good");
  if (layout.group() == 0) {
    free_solver = solvers::make_solver(solvers::SolverConfig::from(config), decomposition, 1);
    free_x = free_solver->make_field("twin::free_run");
  }
  for (const auto& p : config.ensemble.parameters) estimated.push_back(solvers::parameter_index(p.name));
  run_start_up_checks();
  if (free_solver) {  // the free run keeps the prior means
    solvers::ParameterSet prior = solvers::configured_parameters(config.physics);
    for (std::size_t q = 0; q < estimated.size(); ++q) prior[estimated[q]] = config.ensemble.parameters[q].prior_mean;
    free_solver->set_parameters({prior});
  }

  const solvers::LocalGrid& g = decomposition.local();
  observation = std::make_unique<detail::ObservationOperator>(config, layout, g, comm);
  filter = detail::Assimilator::create({config, layout, g, observation->positions()});
  if (config.assimilation.model_error_gain > 0.0)
    model_error_noise = std::make_unique<detail::ModelErrorNoise>(config, layout, g);
  theta = detail::initialise_ensemble(config, layout, decomposition.local(), x);
  Kokkos::deep_copy(x_good, x);
  hx_good = observation->apply(x);
  estimates.resize(static_cast<std::size_t>(S));
  for (int s = 0; s < S; ++s) estimates[s].sensor = config.sensors[s].name;
  summarise_parameters();
  parameter_movement.assign(static_cast<std::size_t>(P), 0.0);

  recording = options.run_dir.has_value();
  if (recording) run_dir = *options.run_dir;
  if (recording && rank == 0) std::filesystem::create_directories(run_dir);
  if (recording && rank == 0) audit_key = io::audit_key(config.outputs.audit_key_file);
  decider = std::make_unique<detail::Decider>(config, rank == 0, recording ? (run_dir / "data").string() : std::string());
  // series.h5 and audit.jsonl are created by the first step, or continued by restore().
}

void Runtime::Impl::stop_recording(const std::string& why) {
  spdlog::error("cycle {}: series.h5: {}; recording stops here, the twin goes on, and later snapshots cannot "
                "continue this run's series",
                cycle, why);
  series_failed_at = cycle;
  try {
    series->flush();
  } catch (const std::exception&) {
    series->abandon();
  }
  series.reset();
}

void Runtime::Impl::open_new_outputs() {
  outputs_open = true;
  if (!recording || rank != 0) return;
  audit = std::make_unique<io::AuditLog>(audit_path().string(), audit_key);
  if (!audit_anchor.is_null()) audit->anchor(audit_anchor);
  series = std::make_unique<io::SeriesWriter>(series_path().string(), config);
}

std::vector<solvers::ParameterSet> Runtime::Impl::member_parameters() const {
  std::vector<solvers::ParameterSet> out;
  for (int lm = 0; lm < layout.local_members(); ++lm) {
    solvers::ParameterSet p = solvers::configured_parameters(config.physics);
    for (int q = 0; q < P; ++q) p[estimated[q]] = theta[(layout.first_member() + lm) * P + q];
    out.push_back(p);
  }
  return out;
}

std::pair<std::vector<double>, std::vector<double>> Runtime::Impl::gathered_moments(bool with_spread) const {
  const solvers::EnsembleMoments mo = solvers::ensemble_moments(layout, x, with_spread);
  if (layout.group() != 0) return {};
  const long n = static_cast<long>(x.extent(1));
  solvers::Field m("twin::moments", with_spread ? 2 : 1, n);
  auto hm = Kokkos::create_mirror_view(m);
  for (long c = 0; c < n; ++c) {
    hm(0, c) = mo.mean[c];
    if (with_spread) hm(1, c) = mo.spread[c];
  }
  Kokkos::deep_copy(m, hm);
  std::pair<std::vector<double>, std::vector<double>> out;
  out.first = solvers::gather_interior(decomposition, m, 0);
  if (with_spread) out.second = solvers::gather_interior(decomposition, m, 1);
  return out;
}

void Runtime::Impl::record(const CycleOutcome& out) {
  const bool fields = recording && config.outputs.field_every > 0 && cycle % config.outputs.field_every == 0;
  std::pair<std::vector<double>, std::vector<double>> moments_now;
  if (fields) moments_now = gathered_moments(true);
  const bool flush = cycle % config.outputs.flush_every == 0;
  // The room left is looked at when the file is about to grow on disk (a flush, a field row).
  if (series && (flush || fields) && series->room() < series->reserve())
    stop_recording("it has " + std::to_string(series->room()) + " bytes left to grow (full disk or file-size limit)");
  if (series) {
    try {
      series->append(out);
      if (fields) series->append_fields(t, moments_now.first, moments_now.second);
      if (flush) series->flush();
    } catch (const std::exception& e) {
      stop_recording(std::string("it could not be written (") + e.what() + ")");
    }
  }
}

void Runtime::Impl::warn_blind(const std::string& when) const {
  if (rank != 0) return;
  spdlog::warn("{}: every reading has failed the innovation test for {} cycles (qc.blind_cycles): the twin has drifted "
               "from the plant (a wrong parameter or prior, a plant fault no other sensor confirms) or every sensor "
               "went wrong at once; the facility gets the safe default until a reading passes again (widen "
               "qc.innovation_sigma or the parameters' prior_std, or add sensors)",
               when, config.qc.blind_cycles);
}

CycleOutcome Runtime::Impl::step(std::chrono::milliseconds deadline) {
  if (!outputs_open) open_new_outputs();
  const auto start = Clock::now();
  CycleOutcome out;
  const double period = config.twin.control_period_s;
  const double t_end = t + period;

  // qc, first pass: everything that does not need the forecast.
  auto stage = Clock::now();
  std::vector<detail::QualityControl::Verdict> verdicts = qc.screen(queue, t_end);
  out.timings.qc_ms = ms_since(stage);

  // forecast: the ensemble (and the free run) to the end of the period.
  stage = Clock::now();
  Kokkos::deep_copy(x_good, x);
  theta_good = theta;
  // The parameters' spread (random walk, inflation, floors) is set before the members run, so
  // that the forecast at the sensors carries it and the update weighs the spread it sees. Set
  // after the forecast, a spread raised k-fold scaled the update k-fold though the forecast had
  // not seen it, and members drawn anew had not made the forecasts they were regressed on.
  if (config.assimilation.enabled) {
    filter->spread_parameters(theta, cycle, movement_floor(), parameter_walk.step(config.assimilation.parameter_walk_cycles));
  }
  solver->set_controls(decider->controls());
  solver->set_parameters(member_parameters());
  const solvers::StepReport report = solver->advance(x, t, period);
  int bad = report.status == solvers::SolveStatus::ok ? 0 : static_cast<int>(report.status);
  if (free_solver) {
    free_solver->set_controls(decider->controls());
    free_solver->advance(free_x, t, period);
  }
  int worst = 0;
  TWIN_MPI_CHECK(MPI_Allreduce(&bad, &worst, 1, MPI_INT, MPI_MAX, comm));
  out.solver_status = solvers::to_string(static_cast<solvers::SolveStatus>(worst));
  out.timings.forecast_ms = ms_since(stage);

  std::vector<double> hx;
  std::vector<double> fmean(S, 0.0), fstd(S, 0.0);
  if (worst == 0) {
    // The model error the readings have shown, added to the forecast (assimilation/model_error.hpp).
    if (model_error_noise) model_error_noise->perturb(x, cycle, model_error.variance);
    out.model_error_std = std::sqrt(model_error.variance);
    hx = observation->apply(x);
    for (int s = 0; s < S; ++s) detail::member_moments(hx, N, S, s, fmean[s], fstd[s]);
    stage = Clock::now();
    const bool was_blind = qc.blind();
    qc.innovation(verdicts, fmean, fstd);
    // A twin whose every reading fails the innovation test, cycle after cycle, has nothing to
    // correct it (qc.blind_cycles): the operator must learn it, and the facility gets the safe
    // default until a reading passes again (below).
    if (qc.blind() && !was_blind) warn_blind("cycle " + std::to_string(cycle));
    if (!qc.blind() && was_blind && rank == 0)
      spdlog::info("cycle {}: a reading passes the innovation test again; the twin is no longer blind", cycle);
    out.timings.qc_ms += ms_since(stage);
  }

  // assimilate, when there is something to assimilate and time for it (rank 0 decides, so
  // that every rank takes the same branch).
  stage = Clock::now();
  detail::ObservationSet obs;
  for (int s = 0; s < S; ++s) {
    if (!verdicts[s].present || verdicts[s].reason != QcReason::accepted) continue;
    obs.sensor.push_back(s);
    obs.value.push_back(verdicts[s].value);
    const double noise = config.sensors[s].noise_std, repr = config.assimilation.representation_std;
    obs.error_std.push_back(std::sqrt(noise * noise + repr * repr));
  }
  const bool wanted = worst == 0 && config.assimilation.enabled && !obs.sensor.empty();
  const double used_ms = ms_since(start);
  int assimilate = wanted && used_ms + last_assimilate_ms < static_cast<double>(deadline.count());
  TWIN_MPI_CHECK(MPI_Bcast(&assimilate, 1, MPI_INT, 0, comm));
  // Skipping the analysis to keep the deadline is by design, but an operator must learn that the
  // twin runs without its readings: logged when it starts and when it ends.
  if (wanted && !assimilate && !logged_deadline_skip && rank == 0)
    spdlog::warn("cycle {}: assimilation skipped to keep the deadline: {:.1f} ms of the cycle's {} ms were used and "
                 "the last analysis took {:.1f} ms (twin.deadline_ms); the twin goes on without its readings until a "
                 "cycle has the time",
                 cycle, used_ms, deadline.count(), last_assimilate_ms);
  else if (assimilate && logged_deadline_skip && rank == 0)
    spdlog::info("cycle {}: assimilation resumed", cycle);
  if (wanted) logged_deadline_skip = !assimilate;
  if (assimilate) {
    obs.parameter_weight_cap = gate_hold.cap();
    obs.control_signatures = &control_signature;
    if (model_error_noise) {
      const double cap = model_error.parameter_weight_cap(obs, solvers::mean_spread(layout, decomposition, x));
      out.model_error_hold = cap == 0.0;
      out.model_error_settling = cap > 0.0 && cap < 1.0;
      obs.parameter_weight_cap = std::min(obs.parameter_weight_cap, cap);
    }
    const std::vector<double> theta_before = theta;
    const detail::AnalysisReport analysis = filter->analyse(x, hx, theta, obs, cycle);
    // The walk learns from the analyses the readings agreed with: a fault's pull on the
    // parameters is the gate's and the disagreement's business, not a wandering plant's.
    if (analysis.consistent && analysis.parameter_weight > 0.0)
      parameter_walk.record(theta_before, theta, N, config.assimilation.parameter_walk_cycles);
    out.innovation_statistic = analysis.innovation_statistic;
    out.parameter_update_weight = analysis.parameter_weight;
    out.parameter_withheld = analysis.parameter_withheld;
    out.innovation_split = analysis.innovation_split;
    gate_hold.record(analysis.test_weight, config.assimilation.parameter_gate_hold_cycles);
    if (model_error_noise) out.model_error_persistent = estimate_model_error(obs, fmean, fstd, analysis);
    track_disagreement(analysis.consistent, out.model_error_persistent);
    hx = observation->apply(x);
    last_assimilate_ms = ms_since(stage);
  } else {
    // No analysis (no readings, no time, a failed solver): the next cycle's innovations have no
    // last cycle's to persist from; paired with older ones, readings that flip sign each cycle
    // would look persistent at lag two.
    model_error.last_innovation.clear();
    last_persistent = false;
  }
  out.assimilated = assimilate != 0;
  out.timings.assimilate_ms = ms_since(stage);

  // advise, gate, emit
  stage = Clock::now();
  t = t_end;
  ++cycle;
  DecisionInputs advice_in;
  // An operator learns of a solver that fails (or recovers) from the log, once per change, not
  // only from the modes in summary.json and the audit log.
  if (out.solver_status != logged_solver_status && rank == 0) {
    if (worst != 0)
      spdlog::warn("cycle {}: the twin's solver reported {}; the last good state is kept and the facility gets safe "
                   "defaults until it recovers{}",
                   cycle - 1, out.solver_status,
                   out.solver_status == "not_converged" ? " (time.implicit: ksp_type, pc_type, rtol, max_iterations)" : "");
    else
      spdlog::info("cycle {}: the twin's solver is healthy again", cycle - 1);
  }
  logged_solver_status = out.solver_status;
  if (worst != 0) {
    Kokkos::deep_copy(x, x_good);  // back to the last healthy state; the facility gets safe defaults
    hx = hx_good;
    theta = theta_good;  // and its parameters, as the last cycle left them
    advice_in.twin_healthy = false;
    advice_in.unhealthy_reason = std::string("twin unhealthy: solver state ") + out.solver_status +
                                 "; restored the last good state";
  } else if (qc.blind()) {
    advice_in.twin_healthy = false;
    advice_in.unhealthy_reason = "twin unverified: every reading has failed the innovation test for " +
                                 std::to_string(config.qc.blind_cycles) + " cycles or more (qc.blind_cycles)";
  }
  for (int s = 0; s < S; ++s) {
    SensorEstimate& e = estimates[s];
    e.observed = verdicts[s].present ? verdicts[s].value : std::nan("");
    e.qc = verdicts[s].reason;
    e.forecast = fmean[s];
    e.forecast_spread = fstd[s];
    detail::member_moments(hx, N, S, s, e.analysis, e.spread);
    e.std = stated_sensor_std(s, e.spread);
    if (verdicts[s].present && verdicts[s].reason == QcReason::accepted) ++out.accepted;
    else if (verdicts[s].present) ++out.rejected;
    advice_in.analysis.push_back(e.analysis);
  }
  hx_good = std::move(hx);  // H of the state the next cycle starts from
  update_parameter_estimates();
  // The drift watch scales a level's change by the members' spread (the mean's own jitter), not
  // by the unconfirmed shift, which is the kind of change it is there to find.
  for (const auto& p : parameter_estimates) advice_in.theta.push_back(p.mean), advice_in.theta_std.push_back(p.ensemble_std);
  advice_in.parameter_withheld = out.parameter_withheld;
  advice_in.innovation_split = out.innovation_split;
  advice_in.cycle = cycle;
  advice_in.t_s = t;
  advice_in.source_down = std::move(source_down);
  source_down.clear();
  advice_in.deadline = start + deadline;
  const double estimates_ms = ms_since(stage);
  stage = Clock::now();
  advise(advice_in, out);
  out.timings.advise_ms = ms_since(stage);
  // A retraining that just started takes the twin's current state for its solver runs (the
  // one collective the lifecycle adds, on the cycles that start one).
  if (config.lifecycle) {
    int want = rank == 0 && decider->wants_field() ? 1 : 0;
    TWIN_MPI_CHECK(MPI_Bcast(&want, 1, MPI_INT, 0, comm));
    if (want) {
      std::vector<double> field = gathered_moments(false).first;
      if (rank == 0) decider->give_field(std::move(field));
    }
  }
  stage = Clock::now();
  out.sensors = estimates;
  out.parameters = parameter_estimates;
  out.timings.emit_ms = estimates_ms + ms_since(stage);

  // record (the row holds the cycle's time up to here; recording cannot time itself)
  stage = Clock::now();
  out.timings.total_ms = ms_since(start);
  record(out);
  out.timings.record_ms = ms_since(stage);
  // The model lifecycle's retraining works in the cycle's slack, on the rank that decides; the
  // others go on to the next cycle and wait for it there.
  if (rank == 0 && config.lifecycle) {
    const auto until = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double, std::milli>(config.lifecycle->slice * deadline.count()));
    out.timings.lifecycle_ms = decider->lifecycle_work(until);
  }
  out.timings.total_ms = ms_since(start);
  out.deadline_missed = out.timings.total_ms > static_cast<double>(deadline.count());
  return out;
}

void Runtime::Impl::ingest(const std::vector<Observation>& observations) {
  // Rank 0's readings go to every rank, so all run the same QC. Bounded work per cycle: at most
  // max_queued_per_sensor readings of each sensor wait for QC, and as many of all unknown names
  // together; a flood beyond that (a broken or hostile feed) is dropped and counted
  // (readings_dropped) without crowding out the other sensors. A name longer than any sensor's
  // is cut (it names no sensor).
  std::vector<double> numbers;
  std::vector<std::string> names;
  if (rank == 0) {
    if (sensor_slots.empty())
      for (std::size_t s = 0; s < config.sensors.size(); ++s) sensor_slots.emplace(config.sensors[s].name, s);
    const std::size_t unknown = config.sensors.size();
    const auto slot = [&](const std::string& name) {
      const auto it = sensor_slots.find(name);
      return it == sensor_slots.end() ? unknown : it->second;
    };
    std::vector<std::size_t> waiting(unknown + 1, 0);
    for (const Observation& o : queue) ++waiting[slot(o.sensor)];
    long dropped = 0;
    for (const Observation& o : observations) {
      std::size_t& n = waiting[slot(o.sensor)];
      if (n >= max_queued_per_sensor) {
        ++dropped;
        continue;
      }
      ++n;
      numbers.push_back(o.t_s);
      numbers.push_back(o.value);
      names.push_back(o.sensor.size() <= max_sensor_name ? o.sensor : o.sensor.substr(0, max_sensor_name));
    }
    if (dropped > 0) {
      if (readings_dropped == 0 || cycle % 100 == 0)
        spdlog::warn("cycle {}: {} readings dropped: more than {} of one sensor (or of unknown names) were waiting "
                     "for QC; counted in readings_dropped",
                     cycle + 1, dropped, max_queued_per_sensor);
      readings_dropped += dropped;
    }
  }
  broadcast(numbers, comm);
  if (numbers.empty()) return;
  broadcast(names, comm);
  for (std::size_t i = 0; i < names.size(); ++i) queue.push_back({numbers[2 * i], names[i], numbers[2 * i + 1]});
}

Runtime::Runtime(const Config& config, MPI_Comm comm, RuntimeOptions options)
    : m_impl(std::make_unique<Impl>(config, comm, options)) {}
Runtime::~Runtime() = default;

void Runtime::ingest(const std::vector<Observation>& observations) { m_impl->ingest(observations); }
void Runtime::apply_controls(const std::vector<double>& controls) { m_impl->apply_controls(controls); }
void Runtime::command(const OperatorCommand& command) { m_impl->decider->command(command); }
void Runtime::report_source_down(const std::string& reason) {
  std::string why = reason.empty() ? std::string("no readings") : reason;
  broadcast(why, m_impl->comm);  // rank 0's reason, on every rank
  m_impl->source_down = why;
}
CycleOutcome Runtime::step(std::chrono::milliseconds deadline) { return m_impl->step(deadline); }
double Runtime::time_s() const { return m_impl->t; }
int Runtime::cycle() const { return m_impl->cycle; }
long Runtime::readings_dropped() const { return m_impl->readings_dropped; }
const std::vector<SensorEstimate>& Runtime::sensor_estimates() const { return m_impl->estimates; }
const std::vector<ParameterEstimate>& Runtime::parameter_estimates() const { return m_impl->parameter_estimates; }
const std::vector<std::vector<long>>& Runtime::qc_counts() const { return m_impl->qc.counts(); }
long Runtime::qc_blind_cycles() const { return m_impl->qc.blind_cycles(); }
const Config& Runtime::config() const { return m_impl->config; }

std::vector<double> Runtime::mean_field() const { return m_impl->gathered_moments(false).first; }

std::vector<double> Runtime::free_run_field() const {
  if (!m_impl->free_solver) return {};
  return solvers::gather_interior(m_impl->decomposition, m_impl->free_x, 0, 0);
}

}  // namespace twin
