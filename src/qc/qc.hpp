#pragma once
// Quality control of sensor readings (DESIGN.md, qc). Two passes per cycle: `screen` before the
// forecast (finite, range, timestamps, duplicates, stuck-at), `innovation` after it (a spike
// against the forecast). Rejected readings are counted by sensor and reason, never assimilated.

#include <vector>

#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin::io {
class StateArchive;
}

namespace twin::detail {

inline constexpr int qc_reason_count = 12;

/// qc.buddy_radius_m when not given: 1.25 times the largest distance from a sensor to its nearest
/// other sensor [m] (0 with fewer than two sensors).
double default_buddy_radius(const std::vector<SensorConfig>& sensors);

/// qc.stuck_tolerance for `sensor` [u]: the configured one, or a millionth of its noise_std.
double stuck_tolerance(const QcConfig& qc, const SensorConfig& sensor);

class QualityControl {
 public:
  explicit QualityControl(const Config& config);

  /// One sensor's reading for the cycle ending at t_end: the latest in the window, or none.
  struct Verdict {
    bool present = false;
    double t_s = 0.0;
    double value = 0.0;
    QcReason reason = QcReason::missing;
  };

  /// Takes the readings at or before t_end from `queue` (later ones stay queued) and checks
  /// them; returns one verdict per configured sensor. Unknown sensor names are counted.
  std::vector<Verdict> screen(std::vector<Observation>& queue, double t_end);

  /// Rejects accepted readings farther from the forecast mean than innovation_sigma times the
  /// combined forecast spread and noise (plus innovation_floor).
  void innovation(std::vector<Verdict>& verdicts, const std::vector<double>& forecast_mean,
                  const std::vector<double>& forecast_std);

  /// True once every candidate reading has failed the innovation test for qc.blind_cycles
  /// consecutive cycles, until one passes (cycles without readings change nothing).
  bool blind() const { return m_config.blind_cycles > 0 && m_rejected_run >= m_config.blind_cycles; }
  /// Cycles spent blind so far.
  long blind_cycles() const { return m_blind_cycles; }

  /// counts()[sensor][reason]: readings rejected (and missing) so far. The last row counts
  /// readings for unknown sensors.
  const std::vector<std::vector<long>>& counts() const { return m_counts; }

  /// The memory QC carries between cycles (last readings, stuck-at runs, counts), for snapshots.
  void save(io::StateArchive& archive) const;
  void restore(const io::StateArchive& archive);

 private:
  void count(std::size_t sensor, QcReason reason) { ++m_counts[sensor][static_cast<int>(reason)]; }

  QcConfig m_config;
  std::vector<SensorConfig> m_sensors;
  std::vector<double> m_last_t, m_last_value;
  std::vector<int> m_unchanged;  // consecutive readings equal to the one before
  std::vector<std::vector<long>> m_counts;
  std::vector<std::vector<std::size_t>> m_buddies;  // per sensor: the others within qc.buddy_radius_m (or the derived one)
  std::vector<double> m_lean;  // per sensor: the weighted mean of its departures z (qc.buddy_memory), unscaled
  int m_rejected_run = 0;      // consecutive cycles in which the innovation test rejected every candidate
  long m_blind_cycles = 0;
};

}  // namespace twin::detail
