#include "qc/qc.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "io/state_archive.hpp"
#include "twin/error.hpp"

namespace twin {

const char* to_string(QcReason reason) {
  switch (reason) {
    case QcReason::accepted: return "accepted";
    case QcReason::non_finite: return "non_finite";
    case QcReason::out_of_range: return "out_of_range";
    case QcReason::not_monotone: return "not_monotone";
    case QcReason::stale: return "stale";
    case QcReason::duplicate: return "duplicate";
    case QcReason::stuck: return "stuck";
    case QcReason::innovation: return "innovation";
    case QcReason::unknown_sensor: return "unknown_sensor";
    case QcReason::missing: return "missing";
    case QcReason::superseded: return "superseded";
    case QcReason::future: return "future";
  }
  return "?";
}

namespace detail {

QualityControl::QualityControl(const Config& config)
    : m_config(config.qc),
      m_sensors(config.sensors),
      m_last_t(config.sensors.size(), -std::numeric_limits<double>::infinity()),
      m_last_value(config.sensors.size(), std::numeric_limits<double>::quiet_NaN()),
      m_unchanged(config.sensors.size(), 0),
      m_counts(config.sensors.size() + 1, std::vector<long>(qc_reason_count, 0)),
      m_buddies(config.sensors.size()),
      m_lean(config.sensors.size(), 0.0) {
  const double radius = m_config.buddy_radius_m ? *m_config.buddy_radius_m : default_buddy_radius(config.sensors);
  for (std::size_t s = 0; s < m_sensors.size(); ++s)
    for (std::size_t t = 0; t < m_sensors.size(); ++t)
      if (t != s && sensor_distance(m_sensors[s], m_sensors[t]) <= radius) m_buddies[s].push_back(t);
  // A twin that assimilates nothing is never corrected by its readings: that its forecast departs
  // from them is what it is run to show (a free run, --no-assimilation), not a twin gone blind.
  if (!config.assimilation.enabled) m_config.blind_cycles = 0;
}

double default_buddy_radius(const std::vector<SensorConfig>& sensors) { return 1.25 * widest_sensor_gap(sensors); }

double stuck_tolerance(const QcConfig& qc, const SensorConfig& sensor) {
  return qc.stuck_tolerance ? *qc.stuck_tolerance : 1.0e-6 * sensor.noise_std;
}

std::vector<QualityControl::Verdict> QualityControl::screen(std::vector<Observation>& queue, double t_end) {
  const std::size_t n = m_sensors.size();
  std::vector<Verdict> out(n);
  std::vector<std::vector<Observation>> mine(n);
  std::vector<Observation> later;
  const double slack = 1e-9 * std::max(1.0, std::abs(t_end));
  for (auto& o : queue) {
    std::size_t s = 0;
    while (s < n && m_sensors[s].name != o.sensor) ++s;
    // A reading for a later cycle waits for it, unless it is stamped too far ahead (a clock gone
    // wrong): then it is counted and dropped, so it can neither pile up nor block anything.
    if (std::isfinite(o.t_s) && o.t_s > t_end + slack) {
      if (o.t_s <= t_end + m_config.max_future_s) later.push_back(std::move(o));
      else count(s, QcReason::future);
      continue;
    }
    if (s == n) {
      count(n, QcReason::unknown_sensor);
      continue;
    }
    mine[s].push_back(std::move(o));
  }
  queue = std::move(later);

  for (std::size_t s = 0; s < n; ++s) {
    Verdict& v = out[s];
    if (mine[s].empty()) {
      count(s, QcReason::missing);
      continue;
    }
    // The latest reading is this cycle's; an earlier one with the same time is a duplicate, and
    // readings without a usable time sort first and are judged as they are.
    auto& r = mine[s];
    std::stable_sort(r.begin(), r.end(), [](const Observation& a, const Observation& b) {
      const double ta = std::isfinite(a.t_s) ? a.t_s : -std::numeric_limits<double>::infinity();
      const double tb = std::isfinite(b.t_s) ? b.t_s : -std::numeric_limits<double>::infinity();
      return ta < tb;
    });
    for (std::size_t i = 0; i + 1 < r.size(); ++i)
      count(s, r[i].t_s == r.back().t_s ? QcReason::duplicate : QcReason::superseded);
    const Observation& o = r.back();
    v.present = true;
    v.t_s = o.t_s;
    v.value = o.value;
    v.reason = QcReason::accepted;
    if (!std::isfinite(o.value) || !std::isfinite(o.t_s)) v.reason = QcReason::non_finite;
    else if ((m_sensors[s].min && o.value < *m_sensors[s].min) || (m_sensors[s].max && o.value > *m_sensors[s].max))
      v.reason = QcReason::out_of_range;
    else if (o.t_s <= m_last_t[s]) v.reason = QcReason::not_monotone;
    else if (o.t_s < t_end - m_config.max_age_s) v.reason = QcReason::stale;
    if (v.reason == QcReason::accepted || v.reason == QcReason::out_of_range) {
      // Stuck-at: the same value again, reading after reading.
      m_unchanged[s] = std::abs(o.value - m_last_value[s]) <= stuck_tolerance(m_config, m_sensors[s]) ? m_unchanged[s] + 1 : 0;
      m_last_value[s] = o.value;
      if (v.reason == QcReason::accepted && m_unchanged[s] >= m_config.stuck_cycles - 1) v.reason = QcReason::stuck;
    }
    if (std::isfinite(o.t_s) && o.t_s > m_last_t[s]) m_last_t[s] = o.t_s;
    if (v.reason != QcReason::accepted) count(s, v.reason);
  }
  return out;
}

void QualityControl::innovation(std::vector<Verdict>& verdicts, const std::vector<double>& forecast_mean,
                                const std::vector<double>& forecast_std) {
  const std::size_t n = verdicts.size();
  std::vector<double> z(n, 0.0);  // innovation in units of its expected spread
  std::vector<char> candidate(n, 0);
  for (std::size_t s = 0; s < n; ++s) {
    const Verdict& v = verdicts[s];
    if (!v.present || v.reason != QcReason::accepted) continue;
    const double noise = m_sensors[s].noise_std;
    z[s] = (v.value - forecast_mean[s]) / std::sqrt(forecast_std[s] * forecast_std[s] + noise * noise);
    candidate[s] = 1;
  }
  // Each sensor's lean: z_bar <- m z_bar + (1 - m) z, over its readings (a sensor without one
  // this cycle fades towards 0: a lean from readings long gone supports nothing), in units of
  // its stationary spread sqrt((1 - m) / (1 + m)) for white departures.
  const double keep = m_config.buddy_memory, lean_scale = std::sqrt((1.0 - keep) / (1.0 + keep));
  for (std::size_t s = 0; s < n; ++s)
    m_lean[s] = keep * m_lean[s] + (candidate[s] && std::isfinite(z[s]) ? (1.0 - keep) * z[s] : 0.0);
  std::vector<char> reject(n, 0);
  for (std::size_t s = 0; s < n; ++s) {
    if (!candidate[s]) continue;
    const double noise = m_sensors[s].noise_std;
    const double sigma = std::sqrt(forecast_std[s] * forecast_std[s] + noise * noise);
    const double bound = m_config.innovation_sigma * sigma + m_config.innovation_floor;
    if (std::abs(verdicts[s].value - forecast_mean[s]) <= bound) continue;
    // Buddy check: a neighbour departing the same way means the plant changed, not the sensor;
    // as far as the neighbour makes it plausible: the suspect may depart by no more than
    // innovation_sigma times the neighbour's departure (both in their own spreads). A drifting
    // sensor 16 K off would otherwise be taken beside a neighbour 0.5 K off the same way.
    // The neighbour counts by its departure now or by its lean, whichever is the larger the
    // suspect's way (qc.buddy_memory): around a local plant change the filter soon pulls the
    // neighbours' forecasts along, and the sensor at its centre would look alone.
    bool buddy = false;
    for (std::size_t i = 0; i < m_buddies[s].size() && m_config.buddy_sigma > 0.0 && !buddy; ++i) {
      const std::size_t t = m_buddies[s][i];
      const double lean = m_lean[t] / lean_scale;
      const double b = lean * z[s] > 0.0 && std::abs(lean) > std::abs(z[t]) ? lean : z[t];
      buddy = candidate[t] && b * z[s] > 0.0 && std::abs(b) >= m_config.buddy_sigma &&
              std::abs(z[s]) <= m_config.innovation_sigma * std::abs(b);
    }
    reject[s] = !buddy;
  }
  // Blind (qc.blind_cycles): every candidate rejected, cycle after cycle.
  int candidates = 0, rejected = 0;
  for (std::size_t s = 0; s < n; ++s) candidates += candidate[s], rejected += reject[s];
  if (candidates > 0) m_rejected_run = rejected == candidates ? std::min(m_rejected_run + 1, QcConfig::max_blind_cycles) : 0;
  if (blind()) ++m_blind_cycles;  // a cycle without readings stays as blind as the one before
  for (std::size_t s = 0; s < n; ++s) {
    if (!reject[s]) continue;
    verdicts[s].reason = QcReason::innovation;
    count(s, QcReason::innovation);
  }
}

void QualityControl::save(io::StateArchive& a) const {
  a.put("qc.last_t", m_last_t);
  a.put("qc.last_value", m_last_value);
  a.put_ints("qc.unchanged", m_unchanged);
  std::vector<long long> counts;
  for (const auto& row : m_counts) counts.insert(counts.end(), row.begin(), row.end());
  a.put("qc.counts", std::move(counts));
  a.put("qc.lean", m_lean);
  a.put("qc.rejected_run", m_rejected_run);
  a.put("qc.blind_cycles", m_blind_cycles);
}

void QualityControl::restore(const io::StateArchive& a) {
  const std::size_t n = m_sensors.size();
  m_last_t = a.doubles("qc.last_t", n);
  m_last_value = a.doubles("qc.last_value", n);
  const auto unchanged = a.ints_as<int>("qc.unchanged");
  const auto& counts = a.ints("qc.counts");
  if (unchanged.size() != n || counts.size() != (n + 1) * qc_reason_count)
    throw DataError(a.origin() + ": the QC memory was written for another set of sensors");
  m_unchanged = unchanged;
  for (std::size_t s = 0; s <= n; ++s)
    for (int r = 0; r < qc_reason_count; ++r) m_counts[s][r] = counts[s * qc_reason_count + r];
  // A snapshot from before the leans was written with another config and is refused before this.
  const auto& lean = a.doubles("qc.lean", n);
  for (double l : lean)
    if (!std::isfinite(l)) throw DataError(a.origin() + ": qc.lean holds a value that is not finite");
  m_lean = lean;
  const long long run = a.get_int("qc.rejected_run"), cycles = a.get_int("qc.blind_cycles");
  if (run < 0 || run > QcConfig::max_blind_cycles || cycles < 0)
    throw DataError(a.origin() + ": qc.rejected_run or qc.blind_cycles is not a count");
  m_rejected_run = static_cast<int>(run);
  m_blind_cycles = static_cast<long>(cycles);
}

}  // namespace detail
}  // namespace twin
