// twin::Runtime: one twin cycle per control period (DESIGN.md, "One twin cycle").
#include "twin/runtime.hpp"

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
#include "io/state_archive.hpp"
#include "io/state_fields.hpp"
#include "cycle/runtime_state.hpp"
#include "cycle/snapshots.hpp"
#include "qc/qc.hpp"
#include "solvers/ensemble.hpp"
#include "solvers/solver.hpp"
#include "twin/error.hpp"

namespace twin {

using detail::DecisionInputs;

const char* to_string(Mode mode) {
  switch (mode) {
    case Mode::nominal: return "nominal";
    case Mode::fallback: return "fallback";
    case Mode::advisor_off: return "advisor_off";
    case Mode::safe_hold: return "safe_hold";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

}  // namespace

struct Runtime::Impl {
  Config config;
  MPI_Comm comm;
  int rank = 0;
  solvers::EnsembleLayout layout;
  solvers::Decomposition decomposition;
  std::unique_ptr<solvers::Solver> solver;
  solvers::Field x, x_good;
  std::vector<double> hx_good;  // H x_good: the last cycle's final state at the sensors, so a restore need not observe again
  std::unique_ptr<solvers::Solver> free_solver;  // group 0 only
  solvers::Field free_x;
  int N, S, P;
  std::vector<int> estimated;   // solvers::Parameter index of each estimated parameter
  std::vector<double> theta;    // [member][estimated parameter], identical on every rank
  detail::QualityControl qc;
  std::unique_ptr<detail::Assimilator> filter;
  std::vector<Observation> queue;
  std::unique_ptr<detail::ObservationOperator> observation;  // H
  std::vector<SensorEstimate> estimates;
  std::vector<ParameterEstimate> parameter_estimates;
  double t = 0.0;
  int cycle = 0;
  double last_assimilate_ms = 0.0;
  bool recording = false;                    // a run directory was given (same on every rank)
  std::filesystem::path run_dir;
  bool outputs_open = false;                 // series.h5 and audit.jsonl created or continued
  std::string source_down;                   // the next step's source problem (report_source_down)
  int series_failed_at = -1;                 // the cycle series.h5 could not be written, or -1
  std::optional<std::string> audit_key;      // the facility's key for audit.jsonl (rank 0)
  std::unique_ptr<io::SeriesWriter> series;  // rank 0 writes it
  std::unique_ptr<detail::Decider> decider;  // every rank holds the controls; rank 0 decides
  std::unique_ptr<io::AuditLog> audit;       // rank 0, with a run directory
  std::unique_ptr<solvers::Solver> check_solver;  // group 0: the physics check of proposals
  solvers::Field check_x;

  Impl(const Config& c, MPI_Comm world, const RuntimeOptions& options)
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
    x = solver->make_field("twin::ensemble");
    x_good = solver->make_field("twin::last_good");
    if (layout.group() == 0) {
      free_solver = solvers::make_solver(solvers::SolverConfig::from(config), decomposition, 1);
      free_x = free_solver->make_field("twin::free_run");
    }
    for (const auto& p : config.ensemble.parameters) estimated.push_back(solvers::parameter_index(p.name));
    if (free_solver) {  // the free run keeps the prior means
      solvers::ParameterSet prior = solvers::configured_parameters(config.physics);
      for (std::size_t q = 0; q < estimated.size(); ++q) prior[estimated[q]] = config.ensemble.parameters[q].prior_mean;
      free_solver->set_parameters({prior});
    }

    const solvers::LocalGrid& g = decomposition.local();
    observation = std::make_unique<detail::ObservationOperator>(config, layout, g, comm);
    filter = detail::Assimilator::create({config, layout, g, observation->positions()});
    theta = detail::initialise_ensemble(config, layout, decomposition.local(), x);
    Kokkos::deep_copy(x_good, x);
    hx_good = observation->apply(x);
    estimates.resize(static_cast<std::size_t>(S));
    for (int s = 0; s < S; ++s) estimates[s].sensor = config.sensors[s].name;
    summarise_parameters();

    recording = options.run_dir.has_value();
    if (recording) run_dir = *options.run_dir;
    if (recording && rank == 0) std::filesystem::create_directories(run_dir);
    if (recording && rank == 0) audit_key = io::audit_key(config.outputs.audit_key_file);
    decider = std::make_unique<detail::Decider>(config, rank == 0);
    // series.h5 and audit.jsonl are created by the first step, or continued by restore().
  }

  std::filesystem::path series_path() const { return run_dir / "series.h5"; }
  std::filesystem::path audit_path() const { return run_dir / "audit.jsonl"; }

  void open_new_outputs() {
    outputs_open = true;
    if (!recording || rank != 0) return;
    audit = std::make_unique<io::AuditLog>(audit_path().string(), audit_key);
    series = std::make_unique<io::SeriesWriter>(series_path().string(), config);
  }

  void save(io::StateArchive& a) const {
    a.put("runtime.t", t);
    a.put("runtime.cycle", cycle);
    a.put("runtime.last_assimilate_ms", last_assimilate_ms);
    a.put("runtime.theta", theta);
    a.put("runtime.hx_good", hx_good);
    io::save_observations(a, "runtime.queue", queue);
    std::vector<double> observed, forecast, forecast_spread, analysis, spread;
    std::vector<long long> reasons;
    for (const SensorEstimate& e : estimates) {
      observed.push_back(e.observed);
      reasons.push_back(static_cast<long long>(e.qc));
      forecast.push_back(e.forecast);
      forecast_spread.push_back(e.forecast_spread);
      analysis.push_back(e.analysis);
      spread.push_back(e.spread);
    }
    a.put("runtime.estimates.observed", std::move(observed));
    a.put("runtime.estimates.qc", std::move(reasons));
    a.put("runtime.estimates.forecast", std::move(forecast));
    a.put("runtime.estimates.forecast_spread", std::move(forecast_spread));
    a.put("runtime.estimates.analysis", std::move(analysis));
    a.put("runtime.estimates.spread", std::move(spread));
    io::save_field(a, "runtime.x", x, decomposition.local(), layout.first_member());
    if (free_solver) io::save_field(a, "runtime.free_x", free_x, decomposition.local(), 0);
    qc.save(a);
    decider->save(a);
    a.put("runtime.recording", recording);
    if (rank == 0) a.put("runtime.config_yaml", detail::snapshot_config_yaml(config));
    if (audit) {
      a.put("runtime.audit.records", audit->records());
      a.put("runtime.audit.head", audit->head());
    }
    if (series) {
      a.put("runtime.series.rows", series->rows());
      a.put("runtime.series.field_rows", series->field_rows());
    }
    if (series_failed_at >= 0) a.put("runtime.series.failed_at", series_failed_at);
  }

  void restore(detail::SnapshotParts& parts) {
    if (cycle != 0 || outputs_open) throw Error("Runtime::restore: call it before the first step");
    const io::StateArchive& a = parts.shared();
    t = a.get_double("runtime.t");
    cycle = static_cast<int>(a.get_int("runtime.cycle"));
    last_assimilate_ms = a.get_double("runtime.last_assimilate_ms");
    theta = a.doubles("runtime.theta", static_cast<std::size_t>(N) * P);
    hx_good = a.doubles("runtime.hx_good", static_cast<std::size_t>(N) * S);
    queue = io::restore_observations(a, "runtime.queue");
    const std::size_t s_count = static_cast<std::size_t>(S);
    const auto& observed = a.doubles("runtime.estimates.observed", s_count);
    const auto& reasons = a.ints("runtime.estimates.qc");
    const auto& forecast = a.doubles("runtime.estimates.forecast", s_count);
    const auto& forecast_spread = a.doubles("runtime.estimates.forecast_spread", s_count);
    const auto& analysis = a.doubles("runtime.estimates.analysis", s_count);
    const auto& spread = a.doubles("runtime.estimates.spread", s_count);
    if (reasons.size() != s_count) throw DataError(a.origin() + ": the sensor estimates are malformed");
    for (std::size_t s = 0; s < s_count; ++s) {
      SensorEstimate& e = estimates[s];
      e.observed = observed[s];
      if (reasons[s] < 0 || reasons[s] >= detail::qc_reason_count) throw DataError(a.origin() + ": a QC reason is out of range");
      e.qc = static_cast<QcReason>(reasons[s]);
      e.forecast = forecast[s];
      e.forecast_spread = forecast_spread[s];
      e.analysis = analysis[s];
      e.spread = spread[s];
    }
    const io::StateParts view = parts.view();
    io::restore_field(view, "runtime.x", x, decomposition.local(), layout.first_member());
    if (free_solver) io::restore_field(view, "runtime.free_x", free_x, decomposition.local(), 0);
    Kokkos::deep_copy(x_good, x);
    qc.restore(a);
    decider->restore(a);
    summarise_parameters();
    outputs_open = true;
    if (!recording || rank != 0) return;
    if (!a.get_bool("runtime.recording"))
      throw DataError(a.origin() + ": the snapshot's run wrote no run directory; it cannot continue one");
    if (a.has("runtime.series.failed_at"))
      throw DataError(a.origin() + ": the snapshot's run could not write series.h5 after cycle " +
                      std::to_string(a.get_int("runtime.series.failed_at")) +
                      " (full disk?), so it cannot be continued bit for bit; start a new run");
    const std::filesystem::path kept = run_dir / "state" / "before-resume";
    std::filesystem::create_directories(kept);
    audit = std::make_unique<io::AuditLog>(io::AuditLog::resume(audit_path().string(), a.get_int("runtime.audit.records"),
                                                                a.get_string("runtime.audit.head"),
                                                                (kept / "audit-tail.jsonl").string(), audit_key));
    series = io::SeriesWriter::resume(series_path().string(), config, a.get_int("runtime.series.rows"),
                                      a.get_int("runtime.series.field_rows"), (kept / "series.h5").string());
  }

  std::vector<solvers::ParameterSet> member_parameters() const {
    std::vector<solvers::ParameterSet> out;
    for (int lm = 0; lm < layout.local_members(); ++lm) {
      solvers::ParameterSet p = solvers::configured_parameters(config.physics);
      for (int q = 0; q < P; ++q) p[estimated[q]] = theta[(layout.first_member() + lm) * P + q];
      out.push_back(p);
    }
    return out;
  }

  static void moments(const std::vector<double>& hx, int n, int s_count, int s, double& mean, double& sd) {
    mean = 0.0;
    for (int m = 0; m < n; ++m) mean += hx[m * s_count + s];
    mean /= n;
    double var = 0.0;
    for (int m = 0; m < n; ++m) var += (hx[m * s_count + s] - mean) * (hx[m * s_count + s] - mean);
    sd = n > 1 ? std::sqrt(var / (n - 1)) : 0.0;
  }

  void summarise_parameters() {
    parameter_estimates.clear();
    for (int p = 0; p < P; ++p) {
      double mean = 0.0, var = 0.0;
      for (int m = 0; m < N; ++m) mean += theta[m * P + p];
      mean /= N;
      for (int m = 0; m < N; ++m) var += (theta[m * P + p] - mean) * (theta[m * P + p] - mean);
      parameter_estimates.push_back({config.ensemble.parameters[p].name, mean, N > 1 ? std::sqrt(var / (N - 1)) : 0.0});
    }
  }

  // Ensemble mean (and std) over the whole grid on world rank 0, which is group 0's root;
  // empty elsewhere. Collective.
  std::pair<std::vector<double>, std::vector<double>> gathered_moments(bool with_spread) const {
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

  // The sensors after each of training.lead_cycles with controls u held, run by the real solver
  // from the ensemble mean at the mean parameters (group 0 runs it; every rank gets the values).
  std::vector<double> physics_check(const std::vector<double>& u) {
    const std::vector<int>& leads = config.training.lead_cycles;
    const solvers::EnsembleMoments mo = solvers::ensemble_moments(layout, x, false);
    std::vector<double> local(leads.size() * static_cast<std::size_t>(S), 0.0), all(local.size(), 0.0);
    if (layout.group() == 0) {
      if (!check_solver) {
        check_solver = solvers::make_solver(solvers::SolverConfig::from(config), decomposition, 1);
        check_x = check_solver->make_field("twin::physics_check");
      }
      solvers::ParameterSet p = solvers::configured_parameters(config.physics);
      for (int q = 0; q < P; ++q) p[estimated[q]] = parameter_estimates[q].mean;
      check_solver->set_parameters({p});
      check_solver->set_controls(u);
      auto h = Kokkos::create_mirror_view(check_x);
      for (std::size_t c = 0; c < mo.mean.size(); ++c) h(0, c) = mo.mean[c];
      Kokkos::deep_copy(check_x, h);
      const auto& cells = observation->local_cells();
      double t0 = t;
      int done = 0;
      for (std::size_t l = 0; l < leads.size(); ++l) {
        const solvers::StepReport r = check_solver->advance(check_x, t0, (leads[l] - done) * config.twin.control_period_s);
        t0 += (leads[l] - done) * config.twin.control_period_s;
        done = leads[l];
        Kokkos::deep_copy(h, check_x);
        for (int s = 0; s < S; ++s)
          if (cells(s) >= 0)
            local[l * S + s] = r.status == solvers::SolveStatus::ok ? h(0, cells(s)) : std::nan("");
      }
    }
    TWIN_MPI_CHECK(MPI_Allreduce(local.data(), all.data(), static_cast<int>(local.size()), MPI_DOUBLE, MPI_SUM, comm));
    return all;
  }

  CycleOutcome step(std::chrono::milliseconds deadline) {
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
      hx = observation->apply(x);
      for (int s = 0; s < S; ++s) moments(hx, N, S, s, fmean[s], fstd[s]);
      stage = Clock::now();
      qc.innovation(verdicts, fmean, fstd);
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
    int assimilate = worst == 0 && config.assimilation.enabled && !obs.sensor.empty() &&
                     ms_since(start) + last_assimilate_ms < static_cast<double>(deadline.count());
    TWIN_MPI_CHECK(MPI_Bcast(&assimilate, 1, MPI_INT, 0, comm));
    if (assimilate) {
      filter->analyse(x, hx, theta, obs, cycle);
      hx = observation->apply(x);
      last_assimilate_ms = ms_since(stage);
    }
    out.assimilated = assimilate != 0;
    out.timings.assimilate_ms = ms_since(stage);

    // advise, gate, emit
    stage = Clock::now();
    t = t_end;
    ++cycle;
    DecisionInputs advice_in;
    if (worst != 0) {
      Kokkos::deep_copy(x, x_good);  // back to the last healthy state; the facility gets safe defaults
      hx = hx_good;
      advice_in.twin_healthy = false;
      advice_in.unhealthy_reason = std::string("twin unhealthy: solver state ") + out.solver_status +
                                   "; restored the last good state";
    }
    for (int s = 0; s < S; ++s) {
      SensorEstimate& e = estimates[s];
      e.observed = verdicts[s].present ? verdicts[s].value : std::nan("");
      e.qc = verdicts[s].reason;
      e.forecast = fmean[s];
      e.forecast_spread = fstd[s];
      moments(hx, N, S, s, e.analysis, e.spread);
      if (verdicts[s].present && verdicts[s].reason == QcReason::accepted) ++out.accepted;
      else if (verdicts[s].present) ++out.rejected;
      advice_in.analysis.push_back(e.analysis);
    }
    hx_good = std::move(hx);  // H of the state the next cycle starts from
    summarise_parameters();
    for (const auto& p : parameter_estimates) advice_in.theta.push_back(p.mean);
    advice_in.cycle = cycle;
    advice_in.t_s = t;
    advice_in.source_down = std::move(source_down);
    source_down.clear();
    advice_in.deadline = start + deadline;
    const double estimates_ms = ms_since(stage);
    stage = Clock::now();
    advise(advice_in, out);
    out.timings.advise_ms = ms_since(stage);
    stage = Clock::now();
    out.sensors = estimates;
    out.parameters = parameter_estimates;
    out.timings.emit_ms = estimates_ms + ms_since(stage);

    // record (the row holds the cycle's time up to here; recording cannot time itself)
    stage = Clock::now();
    out.timings.total_ms = ms_since(start);
    const bool fields = recording && config.outputs.field_every > 0 && cycle % config.outputs.field_every == 0;
    std::pair<std::vector<double>, std::vector<double>> moments_now;
    if (fields) moments_now = gathered_moments(true);
    if (series && series->room() < series->reserve()) {
      // Closed while it still can be (HDF5 cannot close a file whose writes failed): the file
      // holds every cycle so far, intact.
      spdlog::error("cycle {}: series.h5 has {} bytes left to grow (full disk or file-size limit): recording stops "
                    "here with the file closed intact; the twin goes on, and later snapshots cannot continue this "
                    "run's series",
                    cycle, series->room());
      series_failed_at = cycle;
      try {
        series->flush();
        series.reset();
      } catch (const std::exception&) {
        series->abandon();
        series.reset();
      }
    }
    if (series) {
      // A recording that fails anyway (the disk filled faster) must not stop the advice: it is
      // given up, once, loudly, and the cycles go on.
      try {
        series->append(out);
        if (fields) series->append_fields(t, moments_now.first, moments_now.second);
        if (cycle % config.outputs.flush_every == 0) series->flush();
      } catch (const std::exception& e) {
        spdlog::error("cycle {}: series.h5 could not be written ({}); the twin goes on without recording to it "
                      "(full disk?); later snapshots cannot continue this run's series",
                      cycle, e.what());
        series_failed_at = cycle;
        series->abandon();
        series.reset();
      }
    }
    out.timings.record_ms = ms_since(stage);
    out.timings.total_ms = ms_since(start);
    out.deadline_missed = out.timings.total_ms > static_cast<double>(deadline.count());
    return out;
  }

  // diagnose -> propose -> check -> decide (DESIGN.md, "advise" and "gate"): rank 0 decides
  // with the MPI-free Decider; the physics check is the one collective solver run in between;
  // one broadcast carries the decision, and its audit record is written once.
  void advise(const DecisionInputs& in, CycleOutcome& out) {
    if (rank == 0) out.anomaly = decider->diagnose(in, estimates);
    detail::broadcast(out.anomaly, comm);
    detail::Proposal proposal;
    if (rank == 0) proposal = decider->propose(in);
    int check = proposal.check ? 1 : 0;
    TWIN_MPI_CHECK(MPI_Bcast(&check, 1, MPI_INT, 0, comm));
    std::optional<std::vector<double>> checked;  // the real solver's sensors for the proposal
    if (check) {
      std::vector<double> controls = proposal.report.proposal;
      controls.resize(decider->controls().size());
      TWIN_MPI_CHECK(MPI_Bcast(controls.data(), static_cast<int>(controls.size()), MPI_DOUBLE, 0, comm));
      const auto start = Clock::now();
      checked = physics_check(controls);
      decider->record_check_cost(ms_since(start));
    }
    detail::Decision decision;
    if (rank == 0) {
      decision = decider->decide(in, proposal, checked);
      if (audit) {
        try {
          audit->append(decider->audit_record(in, proposal, decision, out.anomaly));
        } catch (const std::exception& e) {
          spdlog::error("audit record of cycle {} not written: {}", in.cycle, e.what());
        }
      }
    }
    detail::broadcast(decision, decider->controls().size(), comm);
    decider->adopt(decision);
    out.advice = std::move(decision.advice);
    out.advisor = std::move(decision.report);
  }

  void apply_controls(const std::vector<double>& values) {
    std::string problem = rank == 0 ? decider->controls_problem(values) : std::string();
    broadcast(problem, comm);
    if (!problem.empty()) throw DataError(problem);
    std::vector<double> u = values;
    u.resize(decider->controls().size());  // only rank 0's values count, whatever the others passed
    TWIN_MPI_CHECK(MPI_Bcast(u.data(), static_cast<int>(u.size()), MPI_DOUBLE, 0, comm));
    decider->override_controls(u);
  }

  void ingest(const std::vector<Observation>& observations) {
    // Rank 0's readings go to every rank, so all run the same QC.
    std::vector<double> numbers;
    std::vector<std::string> names;
    if (rank == 0) {
      for (const Observation& o : observations) {
        numbers.push_back(o.t_s);
        numbers.push_back(o.value);
        names.push_back(o.sensor);
      }
    }
    broadcast(numbers, comm);
    if (numbers.empty()) return;
    broadcast(names, comm);
    for (std::size_t i = 0; i < names.size(); ++i) queue.push_back({numbers[2 * i], names[i], numbers[2 * i + 1]});
  }
};

Runtime::Runtime(const Config& config, MPI_Comm comm, RuntimeOptions options)
    : m_impl(std::make_unique<Impl>(config, comm, options)) {}
Runtime::~Runtime() = default;

void Runtime::ingest(const std::vector<Observation>& observations) { m_impl->ingest(observations); }
void Runtime::apply_controls(const std::vector<double>& controls) { m_impl->apply_controls(controls); }
void Runtime::report_source_down(const std::string& reason) {
  std::string why = reason.empty() ? std::string("no readings") : reason;
  broadcast(why, m_impl->comm);  // rank 0's reason, on every rank
  m_impl->source_down = why;
}
CycleOutcome Runtime::step(std::chrono::milliseconds deadline) { return m_impl->step(deadline); }
double Runtime::time_s() const { return m_impl->t; }
int Runtime::cycle() const { return m_impl->cycle; }
const std::vector<SensorEstimate>& Runtime::sensor_estimates() const { return m_impl->estimates; }
const std::vector<ParameterEstimate>& Runtime::parameter_estimates() const { return m_impl->parameter_estimates; }
const std::vector<std::vector<long>>& Runtime::qc_counts() const { return m_impl->qc.counts(); }
const Config& Runtime::config() const { return m_impl->config; }

std::vector<double> Runtime::mean_field() const { return m_impl->gathered_moments(false).first; }

std::vector<double> Runtime::free_run_field() const {
  if (!m_impl->free_solver) return {};
  return solvers::gather_interior(m_impl->decomposition, m_impl->free_x, 0, 0);
}

void Runtime::save_snapshot(const std::string& state_dir) {
  io::StateArchive part;
  m_impl->save(part);
  detail::SnapshotSession session(state_dir, m_impl->comm, m_impl->config.snapshots.keep,
                                  detail::snapshot_identity(m_impl->config));
  session.start(m_impl->cycle, m_impl->t, part, detail::RuntimeState::files_to_sync(*this), "Runtime::save_snapshot");
  session.poll(true);
  if (session.stats().committed == 0 && m_impl->rank == 0)
    throw Error("the snapshot of cycle " + std::to_string(m_impl->cycle) + " in " + state_dir + " was not committed");
}

void Runtime::restore(const std::string& state_dir) {
  detail::SnapshotParts parts = detail::open_snapshot(state_dir, m_impl->config, m_impl->comm);
  detail::all_or_none(m_impl->comm, [&] { m_impl->restore(parts); });
}

namespace detail {

void RuntimeState::save(const Runtime& runtime, io::StateArchive& archive) { runtime.m_impl->save(archive); }

void RuntimeState::restore(Runtime& runtime, SnapshotParts& parts) { runtime.m_impl->restore(parts); }

std::optional<std::pair<long, std::string>> RuntimeState::audit_head(const Runtime& runtime) {
  const Runtime::Impl& m = *runtime.m_impl;
  if (!m.audit) return std::nullopt;
  return std::make_pair(m.audit->records(), m.audit->head());
}

std::vector<std::filesystem::path> RuntimeState::files_to_sync(const Runtime& runtime) {
  Runtime::Impl& m = *runtime.m_impl;
  std::vector<std::filesystem::path> files;
  if (m.series) {
    try {
      m.series->flush();
    } catch (const std::exception& e) {
      spdlog::error("series.h5 could not be flushed ({}); the twin goes on without recording to it (full disk?)", e.what());
      m.series_failed_at = m.cycle;
      m.series->abandon();
      m.series.reset();
    }
  }
  if (m.series) {
    files.push_back(m.series_path());
  }
  if (m.audit) files.push_back(m.audit_path());  // every record is flushed as it is written
  return files;
}

}  // namespace detail

}  // namespace twin
