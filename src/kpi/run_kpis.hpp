#pragma once
// The KPIs of a `twin run`, cycle by cycle: latencies and deadlines, modes and gates, the
// analysis against the truth (when the source knows it), QC against the plant's sensor faults,
// the anomaly diagnosis against the plant's schedule, the `control` KPIs against the safe-default
// baseline; then summary.json and metrics.prom. Bookkeeping is on rank 0; `record` is collective.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kpi/control_score.hpp"
#include "kpi/resources.hpp"
#include "sources/observation_source.hpp"
#include "sources/plant.hpp"
#include "twin/config.hpp"
#include "twin/observation.hpp"
#include "twin/runtime.hpp"

namespace twin::io {
class StateArchive;
}

namespace twin::detail {

/// Wall-clock times of a run outside the cycles themselves [s].
struct RunTimes {
  double setup_s = 0.0;        ///< building the source and the Runtime
  double wall_s = 0.0;         ///< the whole loop
  double source_wall_s = 0.0;  ///< waiting for / producing readings
  double pace = 0.0;           ///< facility seconds per wall second (--pace), 0: as fast as it goes
};

class RunKpis {
 public:
  RunKpis(const Config& config, MPI_Comm comm);

  /// One completed cycle: its outcome, the controls the facility applied during it, and (when
  /// `truth` is given) the analysis and free run against the truth. Collective over comm.
  void record(int cycle, const CycleOutcome& out, const std::vector<double>& applied, const Runtime& runtime,
              const GroundTruth* truth);

  int completed() const { return m_completed; }
  double twin_wall_s() const { return m_twin_wall_s; }
  void add_twin_wall_s(double s) { m_twin_wall_s += s; }
  /// The wait for the cycle's readings [ms]; `silent`: the source sent nothing within its
  /// silence limit, so the facility got its advice late: a deadline miss.
  void add_source_wait(double ms, bool silent) {
    m_source_wait_ms.push_back(ms);
    if (silent) ++m_silent_misses;
  }
  /// From the cycle's readings in hand (the source returned them) to its advice emitted [ms]:
  /// the latency the facility sees beyond its own transport.
  void add_reading_to_advice(double ms) { m_reading_to_advice_ms.push_back(ms); }
  /// "cycle 12/360  t = 120 s  64x real time  RMSE 0.131  mode nominal" (rank 0).
  std::string progress(int cycles) const;
  /// The figures so far that metrics.prom shows while the run goes on: time, latency, resources,
  /// QC's rejections and blind cycles, the advice's modes and the current one.
  nlohmann::json partial(const Runtime& runtime) const;
  /// summary.json (rank 0): every KPI, with the source's own counts.
  nlohmann::json summary(const Runtime& runtime, const ObservationSource& source, const RunTimes& times) const;
  /// Every accumulator, for restart snapshots: a resumed run's summary.json equals the
  /// uninterrupted run's (apart from timings). Rank 0's state; restore on every rank from it.
  void save(io::StateArchive& archive) const;
  void restore(const io::StateArchive& archive);

  /// Cumulative counts of `values` [ms] at the buckets of metrics.prom's histograms [s].
  static nlohmann::json histogram(const std::vector<double>& values_ms);

 private:
  struct Scheduled {  // a plant event against the anomaly diagnosis
    EventCycles cycles;
    std::string expected;
    long first_flag = -1, first_right = -1;
    std::string first_class;
    std::vector<std::string> sensors;  // attributed at the first right flag
  };
  void score_anomaly(int cycle, const CycleOutcome& out, bool with_schedule);
  void score_qc(int cycle, const CycleOutcome& out, const GroundTruth& truth);
  nlohmann::json qc_summary(const Runtime& runtime) const;
  nlohmann::json anomaly_summary() const;
  nlohmann::json drift_summary() const;
  /// summary.json `lifecycle`: every transition, counts, and the slack the retraining used.
  nlohmann::json lifecycle_summary() const;
  nlohmann::json fault_record(std::size_t sensor) const;
  /// summary.json `resources` (CPU, energy) and `insight` (each fault's onset to its flag).
  nlohmann::json resources_summary() const;
  nlohmann::json insight_summary() const;
  /// Calibration against the truth: is it inside the ensemble's ±2σ, and spread against error.
  void score_confidence(int cycle, const CycleOutcome& out, const GroundTruth& truth, const std::vector<double>& field);
  nlohmann::json confidence_summary(bool with_truth) const;
  void score_innovations(int cycle, const CycleOutcome& out);

  Config m_config;
  int m_rank = 0, m_size = 1;
  ResourceMeter m_meter;
  std::vector<double> m_cpu_cycle_s, m_energy_cycle_j;  // all ranks, per cycle
  double m_setup_cpu_s = 0.0;                           // every process of the run, resumed ones included
  std::vector<std::vector<std::pair<long, double>>> m_sensor_stencils;  // the twin-grid cells each sensor reads, weighted
  // [parameters, sensors] x [checked, inside ±2σ, Σ error², Σ variance], after spin-up and
  // outside plant faults (kpi/run_kpis.cpp, score_confidence)
  double m_confidence[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
  // The sensors' four, per sensor (4 S, config order): which sensor's band is wrong.
  std::vector<double> m_sensor_confidence;
  // The same without a truth, in observation space, after spin-up (kpi/run_kpis_insight.cpp,
  // score_innovations): assimilated readings, sum of squared normalised innovations, readings
  // within +-2 of the forecast's predicted spread.
  double m_innovation[3] = {0, 0, 0};
  // the filter's parameter gate: assimilated cycles, those down-weighted, the sum of weights
  double m_gate[3] = {0, 0, 0};
  // the added model error (assimilation.model_error_gain): forecasts, sum of its std, the
  // largest, the last, the cycles it held the parameters, the cycles it capped them while the
  // state settled, the cycles its persistence test found a departure
  double m_model_error[7] = {0, 0, 0, 0, 0, 0, 0};
  std::size_t m_sensors = 0;
  ControlScore m_score, m_baseline_score;
  std::map<std::string, int> m_modes, m_gates;
  nlohmann::json m_drift = nlohmann::json::array();  // each detection with its cycle, at most 1000
  nlohmann::json m_lifecycle = nlohmann::json::array();  // each lifecycle transition, at most 1000
  std::vector<double> m_lifecycle_ms;                    // retraining work per cycle, where there was some
  std::vector<double> m_surrogate_error;                 // the active surrogate's realised error per cycle (NaN: none)
  std::vector<double> m_advise_ms, m_cycle_ms, m_rmse_analysis, m_rmse_free, m_source_wait_ms;
  std::vector<double> m_reading_to_advice_ms;
  long m_silent_misses = 0;
  double m_stage_sum[5] = {0, 0, 0, 0, 0};
  double m_twin_wall_s = 0.0;
  int m_misses = 0, m_completed = 0, m_safe_holds = 0, m_last_cycle = 0;
  std::string m_last_mode = "nominal";
  long m_healthy = 0, m_healthy_rejected = 0, m_healthy_nominal = 0, m_healthy_nominal_rejected = 0;
  std::vector<int> m_fault_onset, m_fault_detected;
  std::vector<bool> m_was_faulty;
  nlohmann::json m_faults = nlohmann::json::array();
  std::vector<Scheduled> m_scheduled;
  QuietCycles m_quiet;  // which cycles count for the false-alarm rate (sources/plant.hpp)
  long m_anomaly_consulted = 0, m_anomaly_flagged = 0, m_quiet_cycles = 0, m_quiet_flagged = 0;
  std::map<std::string, long> m_flagged_classes;
};

/// metrics.prom from a summary (or a partial one): Prometheus text format.
std::string prometheus(const Config& config, const nlohmann::json& summary);

}  // namespace twin::detail
