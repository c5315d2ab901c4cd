// RunKpis's figures of trust and cost (kpi/run_kpis.hpp): the filter's confidence against the
// truth, time and energy to insight, CPU and energy, and the latency histograms of metrics.prom.
#include <algorithm>
#include <cmath>

#include "kpi/run_kpis.hpp"
#include "solvers/physics.hpp"

namespace twin::detail {

// The filter's confidence against the truth (issue 16's measure): the share of checks where the
// truth lies within the ensemble mean ±2 standard deviations (0.95 for a calibrated Gaussian
// ensemble), and the spread-skill ratio, RMS spread over RMS error (1 when calibrated), for the
// estimated parameters and for the state at the sensors. Left out: the filter's spin-up (the
// anomaly diagnosis's warm-up cycles) and the cycles a plant fault is in effect or settling in,
// when the plant departs from the twin's physics on purpose.
void RunKpis::score_confidence(int c, const CycleOutcome& out, const GroundTruth& truth, const std::vector<double>& field) {
  const int spin_up = filter_spin_up_cycles(m_config);
  if (c < spin_up) return;
  for (std::size_t i = 0; i < m_scheduled.size(); ++i)
    if (!is_sensor_event(m_config.source.plant.events[i].type) && !is_drift_event(m_config.source.plant.events[i].type) &&
        (m_scheduled[i].cycles.contains(c) || m_scheduled[i].cycles.settling(c, plant_fault_settle_cycles)))
      return;
  const auto check = [](double* k, double estimate, double sigma, double truth_value) {
    if (!std::isfinite(estimate) || !std::isfinite(sigma) || !std::isfinite(truth_value)) return;
    const double e = estimate - truth_value;
    k[0] += 1.0;
    k[1] += std::abs(e) <= 2.0 * sigma ? 1.0 : 0.0;
    k[2] += e * e;
    k[3] += sigma * sigma;
  };
  const solvers::ParameterSet hidden = truth.parameters_at((c + 1) * m_config.twin.control_period_s);
  for (const auto& p : out.parameters) check(m_confidence[0], p.mean, p.std, hidden[solvers::parameter_index(p.name)]);
  // The truth at a sensor as H reads the twin: the same interpolation of the truth on the twin's grid.
  for (std::size_t s = 0; s < out.sensors.size() && s < m_sensor_stencils.size(); ++s) {
    double value = 0.0;
    for (const auto& [cell, weight] : m_sensor_stencils[s])
      value += cell >= 0 && cell < static_cast<long>(field.size()) ? weight * field[static_cast<std::size_t>(cell)] : std::nan("");
    check(m_confidence[1], out.sensors[s].analysis, out.sensors[s].std, value);
    check(&m_sensor_confidence[4 * s], out.sensors[s].analysis, out.sensors[s].std, value);
  }
}

// Without a truth (replay, stream) the filter's confidence shows in observation space: each
// assimilated reading's innovation over the spread the filter predicted for it,
// z = (reading - forecast mean) / sqrt(forecast spread^2 + noise^2). A calibrated filter has
// mean z^2 of 1 and 95 % of |z| within 2; larger means it is overconfident. After spin-up; QC's
// rejections are not assimilated and not counted.
void RunKpis::score_innovations(int c, const CycleOutcome& out) {
  if (out.assimilated) {  // the parameter gate, from the first cycle
    m_gate[0] += 1.0;
    // cycles the model error held, or capped after a hold, are counted with it, not as failed tests
    m_gate[1] += out.parameter_update_weight < 1.0 && !out.model_error_hold && !out.model_error_settling ? 1.0 : 0.0;
    m_gate[2] += out.parameter_update_weight;
  }
  if (m_config.assimilation.model_error_gain > 0.0) {
    m_model_error[0] += 1.0;
    m_model_error[1] += out.model_error_std;
    m_model_error[2] = std::max(m_model_error[2], out.model_error_std);
    m_model_error[3] = out.model_error_std;
    m_model_error[4] += out.model_error_hold ? 1.0 : 0.0;
    m_model_error[5] += out.model_error_settling ? 1.0 : 0.0;
    m_model_error[6] += out.model_error_persistent ? 1.0 : 0.0;
  }
  const int spin_up = filter_spin_up_cycles(m_config);
  if (c < spin_up || !out.assimilated) return;
  for (std::size_t s = 0; s < out.sensors.size() && s < m_config.sensors.size(); ++s) {
    const SensorEstimate& e = out.sensors[s];
    if (e.qc != QcReason::accepted) continue;
    const double noise = m_config.sensors[s].noise_std;
    const double sd = std::sqrt(e.forecast_spread * e.forecast_spread + noise * noise);
    const double z = (e.observed - e.forecast) / sd;
    if (!std::isfinite(z)) continue;
    m_innovation[0] += 1.0;
    m_innovation[1] += z * z;
    m_innovation[2] += std::abs(z) <= 2.0 ? 1.0 : 0.0;
  }
}

nlohmann::json RunKpis::confidence_summary(bool with_truth) const {
  nlohmann::json j = {{"spin_up_cycles", filter_spin_up_cycles(m_config)},
                      {"calibrated_coverage", 0.9545}};
  const double n = m_innovation[0];
  j["innovations"] = n == 0.0 ? nlohmann::json(nullptr)
                              : nlohmann::json{{"readings", static_cast<long>(n)},
                                               {"mean_squared_normalised", m_innovation[1] / n},
                                               {"coverage_2sigma", m_innovation[2] / n}};
  // How often the readings failed the filter's consistency test and the parameters moved by
  // less than the full update (assimilation.parameter_gate).
  j["parameter_gate"] = {{"alpha", m_config.assimilation.parameter_gate},
                         {"assimilated_cycles", static_cast<long>(m_gate[0])},
                         {"down_weighted_cycles", static_cast<long>(m_gate[1])},
                         {"mean_weight", m_gate[0] > 0.0 ? m_gate[2] / m_gate[0] : 1.0}};
  // The model error the filter estimated and added (assimilation.model_error_gain), in the
  // readings' units: how far, by the readings, the plant departed from the twin's physics.
  if (m_config.assimilation.model_error_gain > 0.0)
    j["model_error"] = {{"gain", m_config.assimilation.model_error_gain},
                        {"mean_std", m_model_error[0] > 0.0 ? m_model_error[1] / m_model_error[0] : 0.0},
                        {"max_std", m_model_error[2]},
                        {"final_std", m_model_error[3]},
                        {"hold_cycles", static_cast<long>(m_model_error[4])},
                        {"settling_cycles", static_cast<long>(m_model_error[5])},
                        {"persistent_cycles", static_cast<long>(m_model_error[6])}};
  if (!with_truth) return j;
  const auto figures = [](const double* k) -> nlohmann::json {
    if (k[0] == 0.0) return nullptr;
    return {{"checks", static_cast<long>(k[0])},
            {"coverage_2sigma", k[1] / k[0]},
            {"spread_skill_ratio", k[2] > 0.0 ? std::sqrt(k[3] / k[2]) : NAN},
            {"rms_error", std::sqrt(k[2] / k[0])},
            {"rms_spread", std::sqrt(k[3] / k[0])}};
  };
  j["parameters"] = figures(m_confidence[0]);
  j["sensors"] = figures(m_confidence[1]);
  // Each sensor's own figures: where the stated band is too narrow or too wide.
  if (!j["sensors"].is_null()) {
    nlohmann::json by_sensor = nlohmann::json::object();
    for (std::size_t s = 0; s < m_config.sensors.size(); ++s)
      by_sensor[m_config.sensors[s].name] = figures(&m_sensor_confidence[4 * s]);
    j["sensors"]["by_sensor"] = std::move(by_sensor);
  }
  return j;
}

nlohmann::json RunKpis::histogram(const std::vector<double>& values_ms) {
  // Seconds, Prometheus's base unit; from 1 ms to 10 s, which holds any deadline worth having.
  static const std::vector<double> le = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};
  std::vector<long> counts(le.size(), 0);
  double sum = 0.0;
  for (double ms : values_ms) {
    sum += ms / 1000.0;
    for (std::size_t b = 0; b < le.size(); ++b)
      if (ms / 1000.0 <= le[b]) ++counts[b];
  }
  return {{"le_s", le}, {"cumulative_counts", counts}, {"count", values_ms.size()}, {"sum_s", sum}};
}

nlohmann::json RunKpis::resources_summary() const {
  double cycles_cpu = 0.0, energy = 0.0;
  for (double s : m_cpu_cycle_s) cycles_cpu += s;
  for (double j : m_energy_cycle_j) energy += j;
  const double n = std::max<std::size_t>(1, m_cpu_cycle_s.size());
  // Set-up (reading the config, models, building the ensemble) is part of what a run costs;
  // its energy is measured only from the first cycle on, so it is estimated alike.
  const double setup_j = m_config.outputs.watts_per_core * m_setup_cpu_s;
  return {{"cpu_core_s", m_setup_cpu_s + cycles_cpu},
          {"cpu_core_s_setup", m_setup_cpu_s},
          {"cpu_core_s_per_cycle", cycles_cpu / n},
          {"energy_j", energy + setup_j},
          {"energy_j_per_cycle", energy / n},
          {"energy_source", m_meter.energy_source()},
          {"energy_note", m_meter.energy_note() + "; set-up estimated from outputs.watts_per_core"},
          {"watts_per_core", m_config.outputs.watts_per_core}};
}

// Time- and energy-to-insight: for each scheduled fault, facility time from its onset to the end
// of the cycle whose advice first named it (the anomaly model's right class, or for a sensor
// fault QC's rejection of that sensor), and the energy the twin spent over those cycles.
nlohmann::json RunKpis::insight_summary() const {
  const double period = m_config.twin.control_period_s;
  nlohmann::json faults = nlohmann::json::array();
  double sum_s = 0.0, max_s = 0.0, sum_j = 0.0;
  int named = 0, missed = 0;
  for (std::size_t i = 0; i < m_scheduled.size(); ++i) {
    const PlantEventConfig& pe = m_config.source.plant.events[i];
    const Scheduled& e = m_scheduled[i];
    if (is_drift_event(pe.type)) continue;  // slow by design: the drift monitors' business
    if (e.cycles.first >= m_completed) continue;  // after the run's end
    long at = e.first_right, by_qc = -1;
    if (is_sensor_event(pe.type))
      for (std::size_t s = 0; s < m_sensors; ++s)
        if (m_config.sensors[s].name == pe.target && m_fault_detected[s] >= e.cycles.first) by_qc = m_fault_detected[s];
    const char* by = at >= 0 ? "anomaly" : "none";
    if (by_qc >= 0 && (at < 0 || by_qc < at)) at = by_qc, by = "qc";
    nlohmann::json f = {{"type", to_string(pe.type)}, {"target", pe.target}, {"onset_s", pe.start_s}, {"named_by", by}};
    if (at < 0 || at >= static_cast<long>(m_energy_cycle_j.size())) {
      f["time_to_insight_s"] = nullptr;
      ++missed;
    } else {
      const double s = std::max(0.0, (at + 1) * period - pe.start_s);
      double j = 0.0;
      for (long c = std::max(0L, e.cycles.first); c <= at; ++c) j += m_energy_cycle_j[c];
      f["time_to_insight_s"] = s;
      f["cycles_to_insight"] = at - e.cycles.first;
      f["energy_to_insight_j"] = j;
      sum_s += s, sum_j += j, max_s = std::max(max_s, s), ++named;
    }
    faults.push_back(f);
  }
  nlohmann::json j = {{"faults", faults}, {"named", named}, {"not_named", missed}};
  j["time_to_insight_s"] = named ? nlohmann::json({{"mean", sum_s / named}, {"max", max_s}}) : nlohmann::json(nullptr);
  j["energy_to_insight_j"] = named ? nlohmann::json({{"mean", sum_j / named}}) : nlohmann::json(nullptr);
  return j;
}

}  // namespace twin::detail
