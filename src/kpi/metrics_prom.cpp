// metrics.prom: the run's summary as Prometheus gauges and counters (node_exporter's textfile
// collector format), rewritten between cycles and at the end of a run.
#include <sstream>

#include "kpi/run_kpis.hpp"

namespace twin::detail {

std::string prometheus(const Config& config, const nlohmann::json& s) {
  std::ostringstream out;
  const std::string labels = "{twin=\"" + config.twin.name + "\"}";
  auto gauge = [&](const char* name, const char* help, double v) {
    out << "# HELP twin_" << name << " " << help << "\n# TYPE twin_" << name << " gauge\ntwin_" << name << labels << " "
        << v << "\n";
  };
  gauge("cycles", "control periods completed", s.value("cycles", 0));
  gauge("facility_time_seconds", "facility time simulated", s.value("facility_time_s", 0.0));
  gauge("realtime_factor", "facility time over wall time of the twin cycles", s.value("realtime_factor", 0.0));
  gauge("deadline_misses", "cycles over their deadline", s.value("deadline_misses", 0));
  gauge("cycle_p99_milliseconds", "99th percentile of cycle wall time", s["cycle_ms"].value("p99", 0.0));
  if (s.contains("rmse_analysis"))
    gauge("rmse_analysis", "time-mean analysis RMSE against the truth", s["rmse_analysis"].get<double>());
  if (s.contains("drift")) {
    out << "# HELP twin_drift_detections_total drifts detected by the drift monitors\n"
           "# TYPE twin_drift_detections_total counter\n";
    for (const char* signal : {"surrogate_error", "ood", "innovation", "anomaly_rate"})
      out << "twin_drift_detections_total{twin=\"" << config.twin.name << "\",signal=\"" << signal << "\"} "
          << s["drift"]["detections_by_signal"].value(signal, 0) << "\n";
  }
  if (s.contains("lifecycle")) {
    out << "# HELP twin_lifecycle_events_total model lifecycle transitions (docs/lifecycle.md)\n"
           "# TYPE twin_lifecycle_events_total counter\n";
    for (const char* what : {"retrain_started", "shadow", "promoted", "rejected", "rolled_back", "watch_passed", "retrain_failed"})
      out << "twin_lifecycle_events_total{twin=\"" << config.twin.name << "\",event=\"" << what << "\"} "
          << s["lifecycle"]["events_by_kind"].value(what, 0) << "\n";
  }
  out << "# HELP twin_qc_rejected_total readings rejected by QC\n# TYPE twin_qc_rejected_total counter\n";
  for (const auto& [sensor, reasons] : s["qc"]["rejected"].items())
    for (const auto& [reason, n] : reasons.items())
      out << "twin_qc_rejected_total{twin=\"" << config.twin.name << "\",sensor=\"" << sensor << "\",reason=\"" << reason
          << "\"} " << n.get<long>() << "\n";
  return out.str();
}

}  // namespace twin::detail
