// Restart snapshots of a twin::Runtime (docs/operations.md, "Snapshots and resume"): what its
// state is, saved into this rank's StateArchive and restored from a snapshot's parts, and the
// Runtime's and the driver's entry points to it.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cycle/runtime_impl.hpp"
#include "cycle/runtime_state.hpp"
#include "io/state_fields.hpp"
#include "twin/error.hpp"

namespace twin {
namespace {

// A snapshot's per-sensor values under `key`: none (an older snapshot, or none yet), or one per
// configured sensor, none infinite, and none NaN unless `nan_is_none`.
std::vector<double> per_sensor(const io::StateArchive& a, const std::string& key, int sensors, bool nan_is_none) {
  if (!a.has(key)) return {};
  std::vector<double> v = a.doubles(key);
  if (!v.empty() && v.size() != static_cast<std::size_t>(sensors))
    throw DataError(a.origin() + ": " + key + " holds " + std::to_string(v.size()) + " values for " +
                    std::to_string(sensors) + " sensors");
  for (double x : v)
    if (std::isinf(x) || (!nan_is_none && std::isnan(x)))
      throw DataError(a.origin() + ": " + key + " holds a value that is not finite");
  return v;
}

}  // namespace

void Runtime::Impl::save(io::StateArchive& a) const {
  a.put("runtime.t", t);
  a.put("runtime.cycle", cycle);
  a.put("runtime.last_assimilate_ms", last_assimilate_ms);
  a.put("runtime.theta", theta);
  a.put("runtime.hx_good", hx_good);
  a.put("runtime.gate_memory", gate_hold.weights);
  a.put("runtime.model_error_variance", model_error.variance);
  a.put("runtime.model_error_last_innovation", model_error.last_innovation);
  a.put("runtime.model_error_mean_innovation", model_error.mean_innovation);
  a.put("runtime.model_error_settling", std::vector<double>{model_error.spread_last, model_error.spread_before,
                                                            static_cast<double>(model_error.held_cycles),
                                                            static_cast<double>(model_error.settling_cycles)});
  a.put("runtime.parameter_movement", parameter_movement);
  a.put("runtime.disagreement_anchor", disagreement_anchor);
  a.put("runtime.disagreement_shift", disagreement_shift);
  a.put("runtime.disagreement_confirming", disagreement_confirming);
  std::vector<double> recent;
  for (const std::vector<double>& means : recent_means) recent.insert(recent.end(), means.begin(), means.end());
  a.put("runtime.disagreement_recent_means", std::move(recent));
  a.put("runtime.walk_displacement", parameter_walk.displacement);
  a.put("runtime.walk_expected", parameter_walk.expected);
  io::save_observations(a, "runtime.queue", queue);
  a.put("runtime.readings_dropped", readings_dropped);
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

void Runtime::Impl::restore(detail::SnapshotParts& parts) {
  if (cycle != 0 || outputs_open) throw Error("Runtime::restore: call it before the first step");
  const io::StateArchive& a = parts.shared();
  t = a.get_double("runtime.t");
  cycle = static_cast<int>(a.get_int("runtime.cycle"));
  last_assimilate_ms = a.get_double("runtime.last_assimilate_ms");
  theta = a.doubles("runtime.theta", static_cast<std::size_t>(N) * P);
  hx_good = a.doubles("runtime.hx_good", static_cast<std::size_t>(N) * S);
  gate_hold.weights.clear();  // snapshots from before the gate's memory: it starts open
  if (a.has("runtime.gate_memory")) gate_hold.weights = a.doubles("runtime.gate_memory");
  for (double w : gate_hold.weights)
    if (!(w >= 0.0 && w <= 1.0)) throw DataError(a.origin() + ": runtime.gate_memory holds a weight outside [0, 1]");
  // Snapshots from before the model error: it starts at 0 and is estimated again.
  model_error.variance = a.has("runtime.model_error_variance") ? a.get_double("runtime.model_error_variance") : 0.0;
  if (!(model_error.variance >= 0.0) || !std::isfinite(model_error.variance))
    throw DataError(a.origin() + ": runtime.model_error_variance is not a finite variance >= 0");
  // The last innovations (NaN: a sensor not assimilated); none in older snapshots, so the first
  // cycle after restoring one cannot grow the model error.
  model_error.last_innovation = per_sensor(a, "runtime.model_error_last_innovation", S, true);
  // The persistence test's running means (one per sensor, empty before the first analysis);
  // snapshots from before it start them at 0.
  model_error.mean_innovation = per_sensor(a, "runtime.model_error_mean_innovation", S, false);
  // The state's settling after a departure (ModelErrorVariance::parameter_weight_cap): snapshots
  // from before it start with no departure in progress.
  model_error.spread_last = model_error.spread_before = 0.0;
  model_error.held_cycles = model_error.settling_cycles = 0;
  if (a.has("runtime.model_error_settling")) {
    const std::vector<double>& v = a.doubles("runtime.model_error_settling", 4);
    for (double value : v)
      if (!(value >= 0.0 && value < 1e9))
        throw DataError(a.origin() + ": runtime.model_error_settling holds a value that is not a spread or a count >= 0");
    if (v[2] != std::floor(v[2]) || v[3] != std::floor(v[3]) || v[3] > v[2])
      throw DataError(a.origin() + ": runtime.model_error_settling holds counts that are not whole, or more cycles "
                                   "settling than held");
    model_error.spread_last = v[0];
    model_error.spread_before = v[1];
    model_error.held_cycles = static_cast<int>(v[2]);
    model_error.settling_cycles = static_cast<int>(v[3]);
  }
  // Snapshots from before it: the parameters' recent movement starts at 0.
  parameter_movement.assign(static_cast<std::size_t>(P), 0.0);
  if (a.has("runtime.parameter_movement")) {
    parameter_movement = a.doubles("runtime.parameter_movement", static_cast<std::size_t>(P));
    for (double m : parameter_movement)
      if (!std::isfinite(m)) throw DataError(a.origin() + ": runtime.parameter_movement holds a non-finite value");
  }
  // Snapshots from before it: no disagreement open.
  disagreement_anchor.clear();
  disagreement_shift.clear();
  disagreement_confirming = 0;
  if (a.has("runtime.disagreement_anchor")) {
    disagreement_anchor = a.doubles("runtime.disagreement_anchor");
    disagreement_shift = a.doubles("runtime.disagreement_shift");
    disagreement_confirming = static_cast<int>(a.get_int("runtime.disagreement_confirming"));
    const auto sized = [this](const std::vector<double>& v) {
      return (v.empty() || v.size() == static_cast<std::size_t>(P)) &&
             std::all_of(v.begin(), v.end(), [](double d) { return std::isfinite(d); });
    };
    if (!sized(disagreement_anchor) || !sized(disagreement_shift) || disagreement_confirming < 0 ||
        (disagreement_anchor.empty() && (!disagreement_shift.empty() || disagreement_confirming != 0)) ||
        (disagreement_confirming > 0 && disagreement_shift.empty()))
      throw DataError(a.origin() + ": runtime.disagreement_* do not describe the readings' last disagreement for " +
                      std::to_string(P) + " parameters");
  }
  // The parameters' means before the last analyses, oldest first (P each); snapshots from
  // before them start with none, so a persistent departure found in the first analyses after
  // the resume is anchored at the oldest means kept since.
  recent_means.clear();
  if (a.has("runtime.disagreement_recent_means")) {
    const std::vector<double>& recent = a.doubles("runtime.disagreement_recent_means");
    const auto window = static_cast<std::size_t>(std::max(0, config.assimilation.innovation_persistence_cycles));
    if (P == 0 ? !recent.empty()
               : recent.size() % static_cast<std::size_t>(P) != 0 || recent.size() / static_cast<std::size_t>(P) > window ||
                     !std::all_of(recent.begin(), recent.end(), [](double d) { return std::isfinite(d); }))
      throw DataError(a.origin() + ": runtime.disagreement_recent_means does not hold finite means of " +
                      std::to_string(P) + " parameters for at most " + std::to_string(window) + " analyses");
    for (std::size_t i = 0; P > 0 && i < recent.size(); i += static_cast<std::size_t>(P))
      recent_means.emplace_back(recent.begin() + static_cast<std::ptrdiff_t>(i),
                                recent.begin() + static_cast<std::ptrdiff_t>(i) + P);
  }
  // A snapshot without the walk's memory starts it afresh (one written before the walk is
  // refused earlier anyway: its config, parameter_walk_cycles included, differs).
  parameter_walk = {};
  if (a.has("runtime.walk_displacement")) {
    parameter_walk.displacement = a.doubles("runtime.walk_displacement");
    parameter_walk.expected = a.doubles("runtime.walk_expected");
    const auto& d = parameter_walk.displacement;
    const auto& v = parameter_walk.expected;
    if ((!d.empty() && d.size() != static_cast<std::size_t>(P)) || v.size() != d.size() ||
        !std::all_of(d.begin(), d.end(), [](double e) { return std::isfinite(e); }) ||
        !std::all_of(v.begin(), v.end(), [](double e) { return std::isfinite(e) && e >= 0.0; }))
      throw DataError(a.origin() + ": runtime.walk_* do not hold a finite displacement and a variance >= 0 for each of " +
                      std::to_string(P) + " parameters");
  }
  queue = io::restore_observations(a, "runtime.queue");
  readings_dropped = a.has("runtime.readings_dropped") ? static_cast<long>(a.get_int("runtime.readings_dropped")) : 0;
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
    e.std = stated_sensor_std(static_cast<int>(s), e.spread);
  }
  const io::StateParts view = parts.view();
  io::restore_field(view, "runtime.x", x, decomposition.local(), layout.first_member());
  if (free_solver) io::restore_field(view, "runtime.free_x", free_x, decomposition.local(), 0);
  Kokkos::deep_copy(x_good, x);
  qc.restore(a);
  // The warning was logged when the twin went blind, in the run that wrote the snapshot.
  if (qc.blind()) warn_blind("resumed at cycle " + std::to_string(cycle));
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

nlohmann::json RuntimeState::grid_check(const Runtime& runtime) {
  const Runtime::Impl& m = *runtime.m_impl;
  const detail::GridCheck& g = m.grid;
  if (!g.skipped.empty()) return {{"ran", false}, {"why", g.skipped}};
  nlohmann::json j = {{"ran", true}, {"cycles", g.cycles}, {"parameters", nlohmann::json::object()},
                      {"sensors", nlohmann::json::object()}};
  for (std::size_t p = 0; p < g.shift.size() && p < m.config.ensemble.parameters.size(); ++p)
    j["parameters"][m.config.ensemble.parameters[p].name] = {{"shift", g.shift[p]}, {"uncertainty", g.parameter_uncertainty[p]}};
  for (std::size_t s = 0; s < g.sensor_uncertainty.size() && s < m.config.sensors.size(); ++s)
    j["sensors"][m.config.sensors[s].name] = g.sensor_uncertainty[s];
  return j;
}

void RuntimeState::anchor_audit(Runtime& runtime, nlohmann::json previous_run) {
  Runtime::Impl& m = *runtime.m_impl;
  m.audit_anchor = std::move(previous_run);
  if (m.audit && m.audit->records() == 0) m.audit->anchor(m.audit_anchor);
}

std::vector<std::filesystem::path> RuntimeState::files_to_sync(const Runtime& runtime) {
  Runtime::Impl& m = *runtime.m_impl;
  std::vector<std::filesystem::path> files;
  if (m.series) {
    try {
      m.series->flush();
    } catch (const std::exception& e) {
      m.stop_recording(std::string("it could not be flushed (") + e.what() + ")");
    }
  }
  if (m.series) files.push_back(m.series_path());
  if (m.audit) files.push_back(m.audit_path());  // every record is flushed as it is written
  return files;
}

}  // namespace detail

}  // namespace twin

