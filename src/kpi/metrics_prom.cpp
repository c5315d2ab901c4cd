// metrics.prom: the run's summary in the Prometheus text format, for node_exporter's textfile
// collector (docs/operations.md, Metrics): base units (seconds, joules), counters named _total,
// latencies as histograms. Rewritten between cycles and at the end of a run.
#include <cmath>
#include <sstream>

#include "advisor/advisor_schema.hpp"
#include "kpi/run_kpis.hpp"

namespace twin::detail {

namespace {

// Label values are the twin's, sensor and fault names: quote what the format needs quoted.
std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

class Writer {
 public:
  explicit Writer(const std::string& twin) : m_twin("twin=\"" + label_value(twin) + "\"") {}

  void family(const char* name, const char* type, const char* help) {
    m_out << "# HELP twin_" << name << " " << help << "\n# TYPE twin_" << name << " " << type << "\n";
  }
  // One sample; `labels` are more pairs after the twin's name, already quoted as name="value".
  void sample(const std::string& name, double v, const std::string& labels = "") {
    m_out << "twin_" << name << "{" << m_twin << (labels.empty() ? "" : "," + labels) << "} ";
    if (std::isnan(v)) m_out << "NaN";
    else if (std::isinf(v)) m_out << (v > 0 ? "+Inf" : "-Inf");
    else m_out << v;
    m_out << "\n";
  }
  void single(const char* name, const char* type, const char* help, double v) {
    family(name, type, help);
    sample(name, v);
  }
  void histogram(const char* name, const char* help, const nlohmann::json& h) {
    if (!h.is_object() || h.value("count", 0L) == 0) return;
    family(name, "histogram", help);
    const auto& le = h["le_s"];
    const auto& counts = h["cumulative_counts"];
    for (std::size_t b = 0; b < le.size(); ++b) {
      std::ostringstream bound;
      bound << le[b].get<double>();
      sample(std::string(name) + "_bucket", counts[b].get<double>(), "le=\"" + bound.str() + "\"");
    }
    sample(std::string(name) + "_bucket", h["count"].get<double>(), "le=\"+Inf\"");
    sample(std::string(name) + "_sum", h["sum_s"].get<double>());
    sample(std::string(name) + "_count", h["count"].get<double>());
  }
  std::string str() const { return m_out.str(); }

 private:
  std::string m_twin;
  std::ostringstream m_out;
};

std::string pair(const char* name, const std::string& value) { return std::string(name) + "=\"" + label_value(value) + "\""; }

}  // namespace

std::string prometheus(const Config& config, const nlohmann::json& s) {
  Writer w(config.twin.name);
  w.single("cycles_total", "counter", "Control periods completed.", s.value("cycles", 0));
  w.single("facility_time_seconds", "gauge", "Facility time simulated.", s.value("facility_time_s", 0.0));
  w.single("realtime_factor_ratio", "gauge", "Facility time over the wall time of the twin cycles.",
           s.value("realtime_factor", 0.0));
  w.single("deadline_misses_total", "counter", "Cycles over their deadline or left without readings.",
           s.value("deadline_misses", 0));
  // The advice's mode as a state set (1 for the latest advice's, 0 for the others), so an alert
  // can fire on safe_hold (a blind twin, a breaker open) while the run goes on, and the advice
  // issued in each mode so far.
  constexpr Mode modes[] = {Mode::nominal, Mode::fallback, Mode::advisor_off, Mode::safe_hold};
  if (s.contains("last_mode") && s["last_mode"].is_string()) {
    w.family("mode", "gauge", "1 for the mode of the latest advice, 0 for the others.");
    for (Mode m : modes) w.sample("mode", s["last_mode"].get<std::string>() == to_string(m) ? 1.0 : 0.0, pair("mode", to_string(m)));
  }
  if (s.contains("advisor") && s["advisor"].contains("modes") && s["advisor"]["modes"].is_object()) {
    w.family("advice_total", "counter", "Advice emitted to the facility, by mode.");
    for (Mode m : modes) w.sample("advice_total", s["advisor"]["modes"].value(to_string(m), 0L), pair("mode", to_string(m)));
  }
  if (s.contains("histograms")) {
    w.histogram("cycle_duration_seconds", "Wall time of each twin cycle.", s["histograms"]["cycle_seconds"]);
    w.histogram("reading_to_advice_seconds", "From a cycle's readings in hand to its advice emitted.",
                s["histograms"]["reading_to_advice_seconds"]);
  }
  if (s.contains("rmse_analysis"))
    w.single("rmse_analysis", "gauge", "Time-mean analysis RMSE against the truth, in the field's unit.",
             s["rmse_analysis"].get<double>());
  if (s.contains("resources")) {
    const auto& r = s["resources"];
    w.single("cpu_seconds_total", "counter", "CPU core-seconds of all ranks (user and system), set-up included.",
             r.value("cpu_core_s", 0.0));
    w.family("energy_joules_total", "counter",
             "Energy of the run; source=rapl is measured, source=estimate is outputs.watts_per_core times CPU time; "
             "+nvml: the GPUs' measured energy is added.");
    w.sample("energy_joules_total", r.value("energy_j", 0.0), pair("source", r.value("energy_source", "estimate")));
  }
  if (s.contains("insight") && s["insight"]["faults"].is_array() && !s["insight"]["faults"].empty()) {
    w.family("fault_time_to_insight_seconds", "gauge",
             "Facility time from a scheduled fault's onset to the advice that named it (NaN: not named).");
    for (const auto& f : s["insight"]["faults"])
      w.sample("fault_time_to_insight_seconds", f["time_to_insight_s"].is_number() ? f["time_to_insight_s"].get<double>() : NAN,
               pair("fault", f.value("type", "")) + "," + pair("target", f.value("target", "")) + "," +
                   pair("onset_seconds", std::to_string(static_cast<long>(f.value("onset_s", 0.0)))));
  }
  if (s.contains("confidence") && s["confidence"].is_object()) {
    // s is const: operator[] must not meet a missing key (a replay or stream run has no
    // "parameters" or "sensors", a run without the model error no "model_error").
    const auto& c = s["confidence"];
    const auto object = [&c](const char* key) { return c.contains(key) && c[key].is_object(); };
    w.family("coverage_ratio", "gauge",
             "Share of checks with the truth inside the ensemble's mean +-2 sd (0.95 when calibrated).");
    for (const char* what : {"parameters", "sensors"})
      if (object(what)) w.sample("coverage_ratio", c[what].value("coverage_2sigma", NAN), pair("of", what));
    if (object("innovations"))
      w.sample("coverage_ratio", c["innovations"].value("coverage_2sigma", NAN), pair("of", "innovations"));
    w.family("spread_skill_ratio", "gauge", "RMS stated spread (the members' with the grid check's and any unconfirmed shift) over RMS error against the truth (1 when calibrated).");
    for (const char* what : {"parameters", "sensors"})
      if (object(what) && c[what].contains("spread_skill_ratio") && c[what]["spread_skill_ratio"].is_number())
        w.sample("spread_skill_ratio", c[what]["spread_skill_ratio"].get<double>(), pair("of", what));
    if (object("innovations")) {
      w.family("innovation_mean_squared_ratio", "gauge",
               "Mean squared innovation over the filter's predicted variance, assimilated readings after spin-up (1 when calibrated).");
      w.sample("innovation_mean_squared_ratio", c["innovations"].value("mean_squared_normalised", NAN));
    }
    if (object("parameter_gate")) {
      w.single("parameter_gate_down_weighted_cycles_total", "counter",
               "Assimilated cycles whose readings failed the filter's consistency test, so that the parameters moved by "
               "less than their full update (the plant departing from the twin's physics).",
               c["parameter_gate"].value("down_weighted_cycles", 0L));
    }
    if (object("model_error")) {  // with assimilation.model_error_gain
      const auto& m = c["model_error"];
      w.single("model_error", "gauge",
               "The model error the filter added to the last forecast, the std of its random fields in the readings' "
               "units: how far the plant departs from the twin's physics by the readings (0 when it agrees).",
               m.value("final_std", 0.0));
      w.single("model_error_hold_cycles_total", "counter",
               "Cycles in which the parameters waited for the model error to fade.", m.value("hold_cycles", 0L));
      w.single("model_error_settling_cycles_total", "counter",
               "Cycles after such a wait in which the parameters learnt at a capped weight while the state settled.",
               m.value("settling_cycles", 0L));
      w.single("model_error_persistent_cycles_total", "counter",
               "Cycles in which a sensor's innovations persisted beyond chance (the model error's persistence test).",
               m.value("persistent_cycles", 0L));
    }
  }
  if (s.contains("drift")) {
    w.family("drift_detections_total", "counter", "Drifts detected by the drift monitors.");
    const auto& by_signal = s["drift"]["detections_by_signal"];
    for (const std::string& signal : drift_signals()) {
      // The parameters' monitors report `parameter:<name>`: counted together.
      long n = by_signal.value(signal, 0L);
      if (signal == "parameters")
        for (const auto& [name, count] : by_signal.items())
          if (is_parameter_signal(name)) n += count.get<long>();
      w.sample("drift_detections_total", n, pair("signal", signal));
    }
  }
  if (s.contains("lifecycle")) {
    w.family("lifecycle_events_total", "counter", "Model lifecycle transitions (docs/lifecycle.md).");
    for (const char* what : {"retrain_started", "shadow", "promoted", "rejected", "rolled_back", "watch_passed", "retrain_failed"})
      w.sample("lifecycle_events_total", s["lifecycle"]["events_by_kind"].value(what, 0), pair("event", what));
  }
  if (s.contains("qc") && s["qc"].contains("blind_cycles"))
    w.single("qc_blind_cycles_total", "counter",
             "Cycles the twin spent blind: every reading had failed the innovation test for qc.blind_cycles cycles, "
             "and the facility got the safe default.",
             s["qc"]["blind_cycles"].get<double>());
  w.family("qc_rejected_total", "counter", "Readings rejected by QC.");
  for (const auto& [sensor, reasons] : s["qc"]["rejected"].items())
    for (const auto& [reason, n] : reasons.items())
      w.sample("qc_rejected_total", n.get<double>(), pair("sensor", sensor) + "," + pair("reason", reason));
  return w.str();
}

}  // namespace twin::detail
