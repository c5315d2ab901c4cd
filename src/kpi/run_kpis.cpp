#include "kpi/run_kpis.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "advisor/advisor_schema.hpp"
#include "advisor/safe_default.hpp"
#include "assimilation/enkf.hpp"
#include "decision/features.hpp"
#include "ground/mpi.hpp"
#include "io/state_archive.hpp"
#include "twin/error.hpp"
#include "qc/qc.hpp"
#include "solvers/grid.hpp"
#include "twin/version.hpp"

namespace twin::detail {
namespace {

double rms_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return a.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(a.size()));
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * (v.size() - 1) + 0.5))];
}

double mean_of(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

nlohmann::json percentiles(const std::vector<double>& v) {
  return {{"p50", percentile(v, 0.5)}, {"p99", percentile(v, 0.99)}, {"max", percentile(v, 1.0)}};
}

}  // namespace

RunKpis::RunKpis(const Config& config, MPI_Comm comm)
    : m_config(config),
      m_meter(comm, config.outputs.watts_per_core),
      m_sensors(config.sensors.size()),
      m_score(config),
      m_baseline_score(config) {
  m_setup_cpu_s = m_meter.setup_cpu_core_s();
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &m_rank));
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &m_size));
  m_fault_onset.assign(m_sensors, -1);
  m_fault_detected.assign(m_sensors, -1);
  m_was_faulty.assign(m_sensors, false);
  for (const auto& e : config.source.plant.events)
    m_scheduled.push_back({event_cycles(e, config.twin.control_period_s), anomaly_class(e.type), -1, -1, "", {}});
  m_quiet = QuietCycles(config.source.plant.events, config.twin.control_period_s);
  for (const auto& s : config.sensors) m_sensor_stencils.push_back(solvers::global_interpolation(config.grid, s.position_m));
  m_sensor_confidence.assign(4 * config.sensors.size(), 0.0);
}

void RunKpis::record(int c, const CycleOutcome& out, const std::vector<double>& applied, const Runtime& runtime,
                     const GroundTruth* truth) {
  ++m_modes[to_string(out.advice.mode)];
  ++m_gates[out.advisor.gate];
  for (const DriftDetection& d : out.drift)
    if (m_drift.size() < 1000)
      m_drift.push_back({{"cycle", c + 1}, {"signal", d.signal}, {"detector", d.detector}, {"value", d.value},
                         {"reference", d.reference}, {"statistic", d.statistic}, {"threshold", d.threshold}});
  for (const LifecycleEvent& e : out.lifecycle)
    if (m_lifecycle.size() < 1000)
      m_lifecycle.push_back({{"cycle", e.cycle}, {"event", e.event}, {"model", e.model}, {"reason", e.reason}});
  if (out.timings.lifecycle_ms > 0.0) m_lifecycle_ms.push_back(out.timings.lifecycle_ms);
  if (m_config.lifecycle && m_surrogate_error.size() < 10000000) {
    m_surrogate_error.resize(static_cast<std::size_t>(c) + 1, std::nan(""));
    m_surrogate_error[static_cast<std::size_t>(c)] = out.surrogate_error;
  }
  if (out.advisor.consulted) m_advise_ms.push_back(out.advisor.latency_ms);
  ++m_completed;
  m_last_cycle = c;
  if (out.advice.mode == Mode::safe_hold) ++m_safe_holds;
  m_last_mode = to_string(out.advice.mode);

  // Against the truth: fields (collective, gathered on rank 0).
  std::vector<double> field, mean, free;
  if (truth) {
    field = truth->field();
    mean = runtime.mean_field();
    free = runtime.free_run_field();
  }
  const ResourceMeter::Sample cost = m_meter.sample();  // collective
  if (m_rank != 0) return;
  m_cpu_cycle_s.push_back(cost.cpu_core_s);
  m_energy_cycle_j.push_back(cost.energy_j);
  score_anomaly(c, out, truth != nullptr);
  m_cycle_ms.push_back(out.timings.total_ms);
  m_stage_sum[0] += out.timings.qc_ms;
  m_stage_sum[1] += out.timings.forecast_ms;
  m_stage_sum[2] += out.timings.assimilate_ms;
  m_stage_sum[3] += out.timings.emit_ms;
  m_stage_sum[4] += out.timings.record_ms;
  if (out.deadline_missed) ++m_misses;
  score_innovations(c, out);
  if (!truth) return;
  m_score.add(field, applied);
  if (truth->has_baseline()) m_baseline_score.add(truth->baseline_field(), truth->baseline_controls());
  m_rmse_analysis.push_back(rms_difference(mean, field));
  m_rmse_free.push_back(rms_difference(free, field));
  score_qc(c, out, *truth);
  score_confidence(c, out, *truth, field);
}

void RunKpis::score_anomaly(int c, const CycleOutcome& out, bool with_schedule) {
  if (out.anomaly.consulted) ++m_anomaly_consulted;
  if (out.anomaly.flagged) {
    ++m_anomaly_flagged;
    ++m_flagged_classes[out.anomaly.fault_class];
  }
  if (!with_schedule) return;
  // No event in effect or settling: none ended within its settling cycles, and the filter
  // consistent with the readings again since the last one (QuietCycles, as twin train's).
  const bool quiet = m_quiet.next(c, settling_consistency(out));
  for (Scheduled& e : m_scheduled) {
    if (!e.cycles.contains(c) || !out.anomaly.flagged) continue;
    if (e.first_flag < 0) {
      e.first_flag = c;
      e.first_class = out.anomaly.fault_class;
    }
    if (e.first_right < 0 && out.anomaly.fault_class == e.expected) {
      e.first_right = c;
      e.sensors = out.anomaly.sensors;
    }
  }
  if (quiet && out.anomaly.consulted) {
    ++m_quiet_cycles;
    if (out.anomaly.flagged) ++m_quiet_flagged;
  }
}

void RunKpis::score_qc(int c, const CycleOutcome& out, const GroundTruth& truth) {
  const double period = m_config.twin.control_period_s, t1 = (c + 1) * period;
  // A plant fault (heater, cooling, heat source) in effect or settling: the plant departs from
  // the twin's physics, and readings showing it may be rejected.
  bool plant_fault = false;
  for (std::size_t i = 0; i < m_scheduled.size(); ++i) {
    const EventCycles& ec = m_scheduled[i].cycles;
    plant_fault = plant_fault || (!is_sensor_event(m_config.source.plant.events[i].type) &&
                                  (ec.contains(c) || ec.settling(c, plant_fault_settle_cycles)));
  }
  for (std::size_t s = 0; s < m_sensors; ++s) {
    const bool faulty = truth.sensor_faulty(static_cast<int>(s), t1, period);
    const bool rejected = out.sensors[s].qc != QcReason::accepted;
    if (faulty && !m_was_faulty[s]) {
      m_fault_onset[s] = c;
      m_fault_detected[s] = -1;
    }
    if (faulty && rejected && m_fault_detected[s] < 0) m_fault_detected[s] = c;
    if (!faulty && m_was_faulty[s]) m_faults.push_back(fault_record(s));
    m_was_faulty[s] = faulty;
    if (!faulty && out.sensors[s].qc != QcReason::missing) {
      ++m_healthy;
      if (rejected) ++m_healthy_rejected;
      if (!plant_fault) {
        ++m_healthy_nominal;
        if (rejected) ++m_healthy_nominal_rejected;
      }
    }
  }
}

nlohmann::json RunKpis::fault_record(std::size_t s) const {
  return {{"sensor", m_config.sensors[s].name},
          {"onset_cycle", m_fault_onset[s]},
          {"first_rejected_cycle", m_fault_detected[s]},
          {"cycles_to_reject", m_fault_detected[s] < 0 ? -1 : m_fault_detected[s] - m_fault_onset[s]}};
}

std::string RunKpis::progress(int cycles) const {
  const double t1 = (m_last_cycle + 1) * m_config.twin.control_period_s;
  char line[256], rmse[32] = "";  // RMSE against the truth: only a plant emulator has one
  if (!m_rmse_analysis.empty()) std::snprintf(rmse, sizeof rmse, "RMSE %.3f  ", m_rmse_analysis.back());
  std::snprintf(line, sizeof line, "cycle %d/%d  t = %.0f s  %.0fx real time  %smode %s   ", m_last_cycle + 1, cycles, t1,
                t1 / std::max(1e-9, m_twin_wall_s), rmse, m_last_mode.c_str());
  return line;
}

nlohmann::json RunKpis::partial(const Runtime& runtime) const {
  const double period = m_config.twin.control_period_s;
  nlohmann::json partial = {{"cycles", m_completed},
                            {"facility_time_s", m_completed * period},
                            {"realtime_factor", m_completed * period / std::max(1e-9, m_twin_wall_s)},
                            {"deadline_misses", m_misses + m_silent_misses},
                            {"cycle_ms", {{"p99", percentile(m_cycle_ms, 0.99)}}},
                            {"resources", resources_summary()},
                            {"histograms", {{"cycle_seconds", histogram(m_cycle_ms)},
                                            {"reading_to_advice_seconds", histogram(m_reading_to_advice_ms)}}}};
  // An operator watching a months-long run needs QC and the mode while it runs, not at its end.
  partial["qc"] = qc_summary(runtime);
  partial["advisor"] = {{"modes", m_modes}};
  partial["last_mode"] = m_last_mode;
  if (m_config.drift) partial["drift"] = drift_summary();
  if (m_config.lifecycle) partial["lifecycle"] = lifecycle_summary();
  return partial;
}

nlohmann::json RunKpis::qc_summary(const Runtime& runtime) const {
  nlohmann::json faults = m_faults;
  for (std::size_t s = 0; s < m_sensors; ++s)  // faults still active at the end
    if (m_was_faulty[s]) faults.push_back(fault_record(s));
  nlohmann::json qc = {{"healthy_readings", m_healthy},
                       {"healthy_rejected", m_healthy_rejected},
                       {"healthy_rejected_fraction", m_healthy ? double(m_healthy_rejected) / m_healthy : 0.0},
                       {"healthy_rejected_fraction_nominal",
                        m_healthy_nominal ? double(m_healthy_nominal_rejected) / m_healthy_nominal : 0.0},
                       {"faults", faults},
                       {"blind_cycles", runtime.qc_blind_cycles()}};
  const auto& counts = runtime.qc_counts();
  qc["rejected"] = nlohmann::json::object();
  for (std::size_t s = 0; s < counts.size(); ++s)
    for (int r = 1; r < qc_reason_count; ++r)
      if (counts[s][r] > 0)
        qc["rejected"][s < m_sensors ? m_config.sensors[s].name : std::string("(unknown)")]
          [to_string(static_cast<QcReason>(r))] = counts[s][r];
  bool all_detected = true;
  for (const auto& f : faults)
    all_detected = all_detected && f["cycles_to_reject"].get<int>() >= 0 && f["cycles_to_reject"].get<int>() <= 3;
  qc["all_faults_rejected_within_3_cycles"] = all_detected;
  return qc;
}

nlohmann::json RunKpis::anomaly_summary() const {
  nlohmann::json events = nlohmann::json::array();
  bool all_flagged = !m_scheduled.empty();
  for (std::size_t i = 0; i < m_scheduled.size(); ++i) {
    const Scheduled& e = m_scheduled[i];
    const PlantEventConfig& pe = m_config.source.plant.events[i];
    const long to_flag = e.first_right < 0 ? -1 : e.first_right - e.cycles.first;
    // named by the fifth cycle after onset; a drift is not a fault the anomaly model names
    if (!is_drift_event(pe.type)) all_flagged = all_flagged && to_flag >= 0 && to_flag <= 5;
    events.push_back({{"type", to_string(pe.type)}, {"target", pe.target}, {"expected_class", e.expected},
                      {"onset_cycle", e.cycles.first}, {"first_flag_cycle", e.first_flag},
                      {"first_flag_class", e.first_class}, {"first_right_cycle", e.first_right},
                      {"cycles_to_flag", to_flag}, {"sensors", e.sensors}});
  }
  return {{"consulted_cycles", m_anomaly_consulted},
          {"flagged_cycles", m_anomaly_flagged},
          {"flagged_fraction", m_completed ? double(m_anomaly_flagged) / m_completed : 0.0},
          {"flagged_classes", m_flagged_classes},
          {"quiet_cycles", m_quiet_cycles},
          {"quiet_flagged", m_quiet_flagged},
          {"quiet_flagged_fraction", m_quiet_cycles ? double(m_quiet_flagged) / m_quiet_cycles : 0.0},
          {"events", events},
          {"all_faults_flagged_within_5_cycles", all_flagged}};
}

// Drift detections of the run, by signal; `false_alarm_cycles` is what each monitor was
// calibrated to (docs/advisor.md).
nlohmann::json RunKpis::drift_summary() const {
  nlohmann::json by_signal = nlohmann::json::object();
  for (const auto& d : m_drift) {
    const std::string& signal = d["signal"].get_ref<const std::string&>();
    by_signal[signal] = by_signal.value(signal, 0) + 1;
  }
  nlohmann::json monitors = nlohmann::json::array();
  for (const auto& m : m_config.drift->monitors) monitors.push_back({{"signal", m.signal}, {"type", m.type}, {"shift", m.shift}});
  if (monitors.empty())
    for (const std::string& s : drift_signals())
      monitors.push_back({{"signal", s}, {"type", "cusum"}, {"shift", 1.0}});
  return {{"false_alarm_cycles", m_config.drift->false_alarm_cycles},
          {"monitors", monitors},
          {"cycles", m_completed},
          {"detections_by_signal", by_signal},
          {"detections", m_drift}};
}

nlohmann::json RunKpis::lifecycle_summary() const {
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& e : m_lifecycle) {
    const std::string& what = e["event"].get_ref<const std::string&>();
    counts[what] = counts.value(what, 0) + 1;
  }
  double sum = 0.0;
  for (double ms : m_lifecycle_ms) sum += ms;
  // The active surrogate's realised error [u]: before the first drift that started a
  // retraining, and over the watch window after each promotion (docs/lifecycle.md).
  const auto mean_error = [&](long from, long to) {
    double s = 0.0;
    long n = 0;
    for (long c = std::max(0L, from); c < to && c < static_cast<long>(m_surrogate_error.size()); ++c)
      if (std::isfinite(m_surrogate_error[c])) s += m_surrogate_error[c], ++n;
    return n > 0 ? nlohmann::json(s / n) : nlohmann::json(nullptr);
  };
  long first_drift = static_cast<long>(m_surrogate_error.size());
  nlohmann::json after = nlohmann::json::array();
  for (const auto& e : m_lifecycle) {
    const long cycle = e["cycle"].get<long>();  // 1-based: the cycle's outcome index is cycle - 1
    if (e["event"] == "retrain_started" && e["reason"].get<std::string>().rfind("drift", 0) == 0)
      first_drift = std::min(first_drift, cycle - 1);
    if (e["event"] == "promoted")
      after.push_back({{"model", e["model"]}, {"cycle", cycle},
                       {"mean", mean_error(cycle, cycle + m_config.lifecycle->watch_cycles)}});
  }
  const long n = static_cast<long>(m_surrogate_error.size());
  return {{"events_by_kind", counts},
          {"events", m_lifecycle},
          {"retrain_cycles", m_lifecycle_ms.size()},
          {"retrain_ms", percentiles(m_lifecycle_ms)},
          {"retrain_slack_s", sum / 1000.0},
          {"realised_error", {{"before_first_drift", mean_error(m_config.drift ? m_config.drift->warmup_cycles : 0, first_drift)},
                              {"after_promotion", after},
                              {"last_60_cycles", mean_error(n - 60, n)}}}};
}

nlohmann::json RunKpis::summary(const Runtime& runtime, const ObservationSource& source, const RunTimes& times) const {
  const Config& config = m_config;
  const double period = config.twin.control_period_s;
  const double facility = m_completed * period;
  const int n = std::max(1, m_completed);
  const GroundTruth* truth = source.truth();
  nlohmann::json j = {{"twinrt_version", version()},
                      {"config", config.source_name},
                      {"ranks", m_size},
                      {"members", config.ensemble.members},
                      {"source", config.source.type},
                      {"assimilation", config.assimilation.enabled},
                      {"cycles", m_completed},
                      {"facility_time_s", facility},
                      {"setup_s", times.setup_s},
                      {"wall_s", times.wall_s},
                      {"twin_wall_s", m_twin_wall_s},
                      {"source_wall_s", times.source_wall_s},
                      {"realtime_factor", facility / std::max(1e-9, m_twin_wall_s)},
                      {"realtime_factor_with_source", facility / std::max(1e-9, times.wall_s)},
                      {"deadline_ms", config.twin.deadline_ms},
                      {"deadline_misses", m_misses + m_silent_misses},
                      {"deadline_misses_by", {{"cycle_over_deadline", m_misses}, {"source_silent", m_silent_misses}}},
                      {"source_wait_ms", percentiles(m_source_wait_ms)},
                      {"reading_to_advice_ms", percentiles(m_reading_to_advice_ms)},
                      {"pace", times.pace > 0.0 ? nlohmann::json(times.pace) : nlohmann::json("unpaced")},
                      {"safe_hold_cycles", m_safe_holds},
                      {"cycle_ms", percentiles(m_cycle_ms)},
                      {"stage_mean_ms", {{"qc", m_stage_sum[0] / n},
                                         {"forecast", m_stage_sum[1] / n},
                                         {"assimilate", m_stage_sum[2] / n},
                                         {"emit", m_stage_sum[3] / n},
                                         {"record", m_stage_sum[4] / n}}}};
  if (truth) {
    j["rmse_analysis"] = mean_of(m_rmse_analysis);
    j["rmse_free_run"] = mean_of(m_rmse_free);
    // A free run that matches the truth (a plant emulator identical to the twin) leaves nothing
    // to compare the analysis with: no ratio rather than a division by ~0. "~0" is against the
    // readings' noise, so that a twin in small units (noise 1e-12) still gets its ratio.
    const double free = mean_of(m_rmse_free);
    double noise = 0.0;
    for (const auto& s : m_config.sensors) noise += s.noise_std / static_cast<double>(m_config.sensors.size());
    const double negligible = m_config.sensors.empty() ? 1e-9 : 1e-6 * noise;
    j["rmse_ratio"] = free > negligible ? nlohmann::json(mean_of(m_rmse_analysis) / free) : nlohmann::json(nullptr);
    j["rmse_analysis_final"] = m_rmse_analysis.empty() ? 0.0 : m_rmse_analysis.back();
    const solvers::ParameterSet hidden = truth->parameters_at(facility - period);
    for (const auto& p : runtime.parameter_estimates()) {
      const double h = hidden[solvers::parameter_index(p.name)];
      j["parameter_error"][p.name] = {{"estimate", p.mean}, {"std", p.std}, {"truth", h},
                                      {"relative_error", std::abs(p.mean - h) / std::abs(h)}};
    }
  }
  j["qc"] = qc_summary(runtime);
  if (config.source.type == "stream") {
    j["stream_malformed_lines"] = source.malformed();
    j["advice_write_errors"] = source.failed_writes();
    j["source_silent_cycles"] = source.silent_cycles();
  }
  j["advisor"] = {{"configured", config.advisor.has_value()}, {"modes", m_modes}, {"gates", m_gates},
                  {"advise_ms", percentiles(m_advise_ms)}};
  j["last_mode"] = m_last_mode;
  j["anomaly"] = anomaly_summary();
  j["insight"] = insight_summary();
  j["confidence"] = confidence_summary(truth != nullptr);
  j["resources"] = resources_summary();
  j["histograms"] = {{"cycle_seconds", histogram(m_cycle_ms)},
                     {"reading_to_advice_seconds", histogram(m_reading_to_advice_ms)}};
  if (config.drift) j["drift"] = drift_summary();
  if (config.lifecycle) j["lifecycle"] = lifecycle_summary();
  if (truth) {
    j["control"] = {{"controller", config.advisor ? "advisor"
                                                  : std::string("safe_default (") + advisor::SafeDefault::create(config)->rule() + ")"},
                    {"twin", m_score.json()}};
    if (truth->has_baseline()) {
      j["control"]["safe_default"] = m_baseline_score.json();
      const auto a = m_score.json(), b = m_baseline_score.json();
      j["control"]["advisor_better"] = a["tracking_rmse"].get<double>() < b["tracking_rmse"].get<double>() &&
                                       a["limit_violation_s"].get<double>() <= b["limit_violation_s"].get<double>() &&
                                       a["energy_j"].get<double>() <= b["energy_j"].get<double>();
    }
  }
  return j;
}

}  // namespace twin::detail
