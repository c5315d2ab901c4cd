// RunKpis's accumulators in restart snapshots: a resumed run's summary.json equals the
// uninterrupted run's.
#include <algorithm>
#include <iterator>
#include <string>

#include "io/state_archive.hpp"
#include "kpi/run_kpis.hpp"
#include "twin/error.hpp"

namespace twin::detail {

namespace {

template <class Map>
void put_map(io::StateArchive& a, const std::string& name, const Map& m) {
  std::vector<std::string> keys;
  std::vector<long long> values;
  for (const auto& [k, v] : m) {
    keys.push_back(k);
    values.push_back(v);
  }
  a.put(name + ".keys", std::move(keys));
  a.put(name + ".values", std::move(values));
}

template <class Map>
Map get_map(const io::StateArchive& a, const std::string& name) {
  const auto& keys = a.strings(name + ".keys");
  const auto& values = a.ints(name + ".values");
  if (keys.size() != values.size()) throw DataError(a.origin() + ": '" + name + "' is malformed");
  Map m;
  for (std::size_t i = 0; i < keys.size(); ++i) m[keys[i]] = static_cast<typename Map::mapped_type>(values[i]);
  return m;
}

}  // namespace

void RunKpis::save(io::StateArchive& a) const {
  a.put("kpi.score", m_score.sums());
  a.put("kpi.baseline_score", m_baseline_score.sums());
  put_map(a, "kpi.modes", m_modes);
  put_map(a, "kpi.gates", m_gates);
  put_map(a, "kpi.flagged_classes", m_flagged_classes);
  a.put("kpi.advise_ms", m_advise_ms);
  std::vector<std::string> drift;
  for (const auto& d : m_drift) drift.push_back(d.dump());
  a.put("kpi.drift", drift);
  std::vector<std::string> lifecycle;
  for (const auto& e : m_lifecycle) lifecycle.push_back(e.dump());
  a.put("kpi.lifecycle", lifecycle);
  a.put("kpi.lifecycle_ms", m_lifecycle_ms);
  a.put("kpi.surrogate_error", m_surrogate_error);
  a.put("kpi.cycle_ms", m_cycle_ms);
  a.put("kpi.cpu_cycle_s", m_cpu_cycle_s);
  a.put("kpi.energy_cycle_j", m_energy_cycle_j);
  a.put("kpi.setup_cpu_s", m_setup_cpu_s);
  a.put("kpi.confidence", std::vector<double>(&m_confidence[0][0], &m_confidence[0][0] + 8));
  a.put("kpi.sensor_confidence", m_sensor_confidence);
  a.put("kpi.innovation", std::vector<double>(m_innovation, m_innovation + 3));
  a.put("kpi.parameter_gate", std::vector<double>(m_gate, m_gate + 3));
  a.put("kpi.model_error", std::vector<double>(std::begin(m_model_error), std::end(m_model_error)));
  a.put("kpi.rmse_analysis", m_rmse_analysis);
  a.put("kpi.rmse_free", m_rmse_free);
  a.put("kpi.source_wait_ms", m_source_wait_ms);
  a.put("kpi.reading_to_advice_ms", m_reading_to_advice_ms);
  a.put("kpi.silent_misses", m_silent_misses);
  a.put("kpi.stage_sum", std::vector<double>(std::begin(m_stage_sum), std::end(m_stage_sum)));
  a.put("kpi.twin_wall_s", m_twin_wall_s);
  a.put("kpi.counts", std::vector<long long>{m_misses, m_completed, m_safe_holds, m_last_cycle, m_healthy,
                                             m_healthy_rejected, m_healthy_nominal, m_healthy_nominal_rejected,
                                             m_anomaly_consulted, m_anomaly_flagged, m_quiet_cycles, m_quiet_flagged});
  a.put("kpi.quiet", m_quiet.state());
  a.put("kpi.last_mode", m_last_mode);
  a.put_ints("kpi.fault_onset", m_fault_onset);
  a.put_ints("kpi.fault_detected", m_fault_detected);
  a.put_ints("kpi.was_faulty", std::vector<int>(m_was_faulty.begin(), m_was_faulty.end()));
  a.put("kpi.faults", m_faults.dump());
  std::vector<long long> flags;
  std::vector<std::string> classes, sensors;
  for (const Scheduled& e : m_scheduled) {
    flags.push_back(e.first_flag);
    flags.push_back(e.first_right);
    classes.push_back(e.first_class);
    sensors.push_back(nlohmann::json(e.sensors).dump());
  }
  a.put("kpi.scheduled.flags", std::move(flags));
  a.put("kpi.scheduled.first_class", std::move(classes));
  a.put("kpi.scheduled.sensors", std::move(sensors));
}

void RunKpis::restore(const io::StateArchive& a) {
  m_score.restore_sums(a.doubles("kpi.score", 4));
  m_baseline_score.restore_sums(a.doubles("kpi.baseline_score", 4));
  m_modes = get_map<std::map<std::string, int>>(a, "kpi.modes");
  m_gates = get_map<std::map<std::string, int>>(a, "kpi.gates");
  m_flagged_classes = get_map<std::map<std::string, long>>(a, "kpi.flagged_classes");
  m_advise_ms = a.doubles("kpi.advise_ms");
  m_drift = nlohmann::json::array();
  if (a.has("kpi.drift"))
    for (const std::string& d : a.strings("kpi.drift")) {
      nlohmann::json j = nlohmann::json::parse(d, nullptr, false);
      if (!j.is_object() || !j.contains("signal") || !j["signal"].is_string())
        throw DataError(a.origin() + ": 'kpi.drift' is malformed");
      m_drift.push_back(std::move(j));
    }
  if (a.has("kpi.lifecycle")) {
    for (const std::string& e : a.strings("kpi.lifecycle")) {
      nlohmann::json j = nlohmann::json::parse(e, nullptr, false);
      if (!j.is_object() || !j.contains("event") || !j["event"].is_string())
        throw DataError(a.origin() + ": 'kpi.lifecycle' is malformed");
      m_lifecycle.push_back(std::move(j));
    }
    m_lifecycle_ms = a.doubles("kpi.lifecycle_ms");
    m_surrogate_error = a.doubles("kpi.surrogate_error");
  }
  m_cycle_ms = a.doubles("kpi.cycle_ms");
  m_cpu_cycle_s = a.doubles("kpi.cpu_cycle_s");
  m_energy_cycle_j = a.doubles("kpi.energy_cycle_j");
  m_setup_cpu_s = a.get_double("kpi.setup_cpu_s") + m_meter.setup_cpu_core_s();  // the runs before and this one
  const auto& confidence = a.doubles("kpi.confidence");
  if (confidence.size() != 8) throw DataError(a.origin() + ": 'kpi.confidence' is malformed");
  std::copy(confidence.begin(), confidence.end(), &m_confidence[0][0]);
  if (a.has("kpi.sensor_confidence"))  // snapshots from before the per-sensor figures start them afresh
    m_sensor_confidence = a.doubles("kpi.sensor_confidence", m_sensor_confidence.size());
  if (a.has("kpi.parameter_gate")) {  // snapshots from before the gate start its count afresh
    const auto& gate = a.doubles("kpi.parameter_gate", 3);
    std::copy(gate.begin(), gate.end(), m_gate);
  }
  // Snapshots from before the model error start its figures afresh; those from before the
  // settling count (5 figures) or the persistence count (6) start those counts at 0.
  std::fill(std::begin(m_model_error), std::end(m_model_error), 0.0);
  if (a.has("kpi.model_error")) {
    const auto& model_error = a.doubles("kpi.model_error");
    if (model_error.size() < 5 || model_error.size() > 7)
      throw DataError(a.origin() + ": 'kpi.model_error' holds " + std::to_string(model_error.size()) +
                      " figures, not 5 to 7");
    std::copy(model_error.begin(), model_error.end(), m_model_error);
  }
  if (a.has("kpi.innovation")) {  // snapshots from before the count start it afresh
    const auto& innovation = a.doubles("kpi.innovation", 3);
    std::copy(innovation.begin(), innovation.end(), m_innovation);
  }
  m_rmse_analysis = a.doubles("kpi.rmse_analysis");
  m_rmse_free = a.doubles("kpi.rmse_free");
  m_source_wait_ms = a.doubles("kpi.source_wait_ms");
  m_reading_to_advice_ms = a.has("kpi.reading_to_advice_ms") ? a.doubles("kpi.reading_to_advice_ms") : std::vector<double>{};
  m_silent_misses = a.get_int("kpi.silent_misses");
  const auto& stage = a.doubles("kpi.stage_sum", 5);
  std::copy(stage.begin(), stage.end(), m_stage_sum);
  m_twin_wall_s = a.get_double("kpi.twin_wall_s");
  const auto& n = a.ints("kpi.counts");
  if (n.size() != 12) throw DataError(a.origin() + ": 'kpi.counts' is malformed");
  m_misses = static_cast<int>(n[0]);
  m_completed = static_cast<int>(n[1]);
  m_safe_holds = static_cast<int>(n[2]);
  m_last_cycle = static_cast<int>(n[3]);
  m_healthy = n[4];
  m_healthy_rejected = n[5];
  m_healthy_nominal = n[6];
  m_healthy_nominal_rejected = n[7];
  m_anomaly_consulted = n[8];
  m_anomaly_flagged = n[9];
  m_quiet_cycles = n[10];
  m_quiet_flagged = n[11];
  // Snapshots from before the settling test: the run counts as settled (resumed past its spin-up).
  if (!m_quiet.set_state(a.has("kpi.quiet") ? a.ints("kpi.quiet") : std::vector<long long>{0, 0}))
    throw DataError(a.origin() + ": 'kpi.quiet' is malformed");
  m_last_mode = a.get_string("kpi.last_mode");
  const auto onset = a.ints_as<int>("kpi.fault_onset"), detected = a.ints_as<int>("kpi.fault_detected"),
             faulty = a.ints_as<int>("kpi.was_faulty");
  if (onset.size() != m_sensors || detected.size() != m_sensors || faulty.size() != m_sensors)
    throw DataError(a.origin() + ": the fault bookkeeping was written for another set of sensors");
  m_fault_onset = onset;
  m_fault_detected = detected;
  m_was_faulty.assign(faulty.begin(), faulty.end());
  m_faults = nlohmann::json::parse(a.get_string("kpi.faults"), nullptr, false);
  if (m_faults.is_discarded()) throw DataError(a.origin() + ": 'kpi.faults' is not JSON");
  const auto& flags = a.ints("kpi.scheduled.flags");
  const auto& classes = a.strings("kpi.scheduled.first_class");
  const auto& sensors = a.strings("kpi.scheduled.sensors");
  if (flags.size() != 2 * m_scheduled.size() || classes.size() != m_scheduled.size() || sensors.size() != m_scheduled.size())
    throw DataError(a.origin() + ": the scheduled events do not match this config's");
  for (std::size_t i = 0; i < m_scheduled.size(); ++i) {
    m_scheduled[i].first_flag = flags[2 * i];
    m_scheduled[i].first_right = flags[2 * i + 1];
    m_scheduled[i].first_class = classes[i];
    const auto s = nlohmann::json::parse(sensors[i], nullptr, false);
    if (!s.is_array()) throw DataError(a.origin() + ": 'kpi.scheduled.sensors' is malformed");
    m_scheduled[i].sensors = s.get<std::vector<std::string>>();
  }
}

}  // namespace twin::detail
