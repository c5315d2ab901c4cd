#include "decision/features.hpp"

#include <algorithm>
#include <cmath>

#include "io/state_archive.hpp"
#include "twin/error.hpp"

namespace twin::detail {

SurrogateLayout surrogate_layout(const Config& c) {
  SurrogateLayout l;
  l.sensors = static_cast<int>(c.sensors.size());
  l.controls = static_cast<int>(c.controls.size());
  l.parameters = static_cast<int>(c.ensemble.parameters.size());
  l.lead_cycles = c.training.lead_cycles;
  for (const auto& s : c.sensors) l.inputs.push_back("y:" + s.name);
  for (const auto& s : c.sensors) l.inputs.push_back("dy:" + s.name);
  for (const auto& u : c.controls) l.inputs.push_back("u_prev:" + u.name);
  for (const auto& u : c.controls) l.inputs.push_back("u:" + u.name);
  for (const auto& p : c.ensemble.parameters) l.inputs.push_back("theta:" + p.name);
  for (int lead : l.lead_cycles) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", lead * c.twin.control_period_s);
    for (const auto& s : c.sensors) l.outputs.push_back(s.name + "@+" + seconds + "s");
  }
  return l;
}

void surrogate_inputs(const SurrogateLayout& l, const double* y, const double* y_prev, const double* u_prev,
                      const double* u, const double* theta, double* x) {
  for (int s = 0; s < l.sensors; ++s) {
    x[l.y0() + s] = y[s];
    x[l.dy0() + s] = y[s] - y_prev[s];
  }
  for (int j = 0; j < l.controls; ++j) {
    x[l.u_prev0() + j] = u_prev[j];
    x[l.u0() + j] = u[j];
  }
  for (int p = 0; p < l.parameters; ++p) x[l.theta0() + p] = theta[p];
}

std::string anomaly_class(EventKind kind) {
  if (is_sensor_event(kind)) return "sensor_fault";
  switch (kind) {
    case EventKind::heat_source: return "heat_source";
    case EventKind::cooling_degradation: return "cooling_degradation";
    case EventKind::heater_failure: return "heater_failure";
    default: return "none";
  }
}

namespace {
const char* const anomaly_input_names[] = {
    // The mean innovation over the sensors, against its usual level (its mean over the 12 cycles
    // before the last 5): a twin that runs a little warm all the time is not an anomaly.
    "mean_z0_shift", "mean_z1_shift", "mean_z2_shift",  // now, 1 and 2 cycles ago
    "mean_z_shift5",                                    // over the last 5 cycles
    "max_z0", "max2_z0", "min_z0", "min2_z0",  // the two largest and two smallest now
    "max_zsum", "min_zsum",                    // extremes of the innovation summed over the window
    "frac_above_2", "frac_below_2",            // share of sensors beyond +-2 now
    "max_isolation", "min_isolation",          // extremes of (z - mean z of the two nearest sensors)
    "buddies_of_max", "buddies_of_min",        // mean z of the two nearest sensors of the extremes
    "rejected", "missing",                     // share of readings QC rejected, share missing
    "rejected_max_abs_z",                      // largest |z| among the rejected readings
    "min_driven_zsum", "max_driven_zsum",      // window sums at the sensors of controls, times their level
    "min_driven_z0", "rejected_driven",        // the same now, and QC rejections there (times the level)
    "controls_mean"};                          // mean control level (fraction of max)
}  // namespace

AnomalyLayout anomaly_layout(const Config& c) {
  AnomalyLayout l;
  for (const char* name : anomaly_input_names) l.inputs.push_back(name);
  for (const auto& p : c.ensemble.parameters) l.inputs.push_back("dtheta:" + p.name);
  // The innovation along each parameter's signature now and summed over the window (a degrading
  // cooling keeps departing along the cooling factor's), and what no signature explains.
  for (const auto& p : c.ensemble.parameters) l.inputs.push_back("along:" + p.name);
  for (const auto& p : c.ensemble.parameters) l.inputs.push_back("along_window:" + p.name);
  l.inputs.push_back("unexplained");
  // The innovation along the controls' signatures (a failing heater departs along its own,
  // negatively), their extremes over the controls now and summed over the window: named by no
  // control, so a few failures teach every heater.
  for (const char* name : {"min_along_control", "max_along_control", "min_along_control_window", "max_along_control_window"})
    l.inputs.push_back(name);
  for (const auto& k : anomaly_classes()) l.outputs.push_back("class:" + k);
  return l;
}

AnomalyFeatures::AnomalyFeatures(const Config& c) : m_layout(anomaly_layout(c)), m_sensors(static_cast<int>(c.sensors.size())) {
  for (const auto& s : c.sensors) m_noise.push_back(s.noise_std);
  for (const auto& p : c.ensemble.parameters) m_prior_std.push_back(p.prior_std > 0 ? p.prior_std : 1.0);
  for (const auto& u : c.controls) m_max.push_back(u.max != 0 ? std::abs(u.max) : 1.0);
  const int S = m_sensors;
  for (int s = 0; s < S; ++s) {
    std::vector<std::pair<double, int>> d;
    for (int t = 0; t < S; ++t) {
      if (t == s) continue;
      double d2 = 0.0;
      for (std::size_t k = 0; k < c.sensors[s].position_m.size(); ++k) {
        const double e = c.sensors[s].position_m[k] - c.sensors[t].position_m[k];
        d2 += e * e;
      }
      d.push_back({d2, t});
    }
    std::sort(d.begin(), d.end());
    m_nearest.push_back({d.size() > 0 ? d[0].second : s, d.size() > 1 ? d[1].second : (d.empty() ? s : d[0].second)});
  }
  for (const auto& u : c.controls) {
    const auto found = sensor_index(c, u.sensor);
    m_control_sensor.push_back(found ? static_cast<int>(*found) : -1);
  }
  m_evidence.assign(static_cast<std::size_t>(S), 0.0);
}

namespace {

struct Windowed {
  std::vector<double> now, sum;
};

// This cycle's values, clipped (a missing or non-finite one read as 0), pushed onto their window
// (newest first, anomaly_window deep), and their sums over it.
Windowed push_window(std::deque<std::vector<double>>& window, const std::vector<double>& values, std::size_t count) {
  Windowed out{std::vector<double>(count, 0.0), std::vector<double>(count, 0.0)};
  for (std::size_t j = 0; j < count && j < values.size(); ++j)
    if (std::isfinite(values[j])) out.now[j] = std::clamp(values[j], -anomaly_clip, anomaly_clip);
  window.push_front(out.now);
  if (window.size() > static_cast<std::size_t>(anomaly_window)) window.pop_back();
  for (std::size_t j = 0; j < count; ++j)
    for (const auto& w : window) out.sum[j] += j < w.size() ? w[j] : 0.0;
  return out;
}

}  // namespace

std::vector<double> AnomalyFeatures::push(const std::vector<SensorEstimate>& sensors, const std::vector<double>& theta,
                                          const std::vector<double>& controls, const std::vector<double>& withheld,
                                          const InnovationSplit& split) {
  const int S = m_sensors;
  std::vector<double> z(static_cast<std::size_t>(S), 0.0);
  int rejected = 0, missing = 0;
  double rejected_z = 0.0;
  for (int s = 0; s < S && s < static_cast<int>(sensors.size()); ++s) {
    const SensorEstimate& e = sensors[s];
    // Rejected readings keep their innovation: how far off they were is the evidence.
    const double sigma = std::sqrt(e.forecast_spread * e.forecast_spread + m_noise[s] * m_noise[s]);
    if (std::isfinite(e.observed) && std::isfinite(e.forecast) && sigma > 0)
      z[s] = std::clamp((e.observed - e.forecast) / sigma, -anomaly_clip, anomaly_clip);
    if (e.qc == QcReason::missing) ++missing;
    else if (e.qc != QcReason::accepted) {
      ++rejected;
      rejected_z = std::max(rejected_z, std::abs(z[s]));
    }
  }
  m_z.push_front(z);
  if (m_z.size() > static_cast<std::size_t>(anomaly_window)) m_z.pop_back();
  double mean_now = 0.0;
  for (double v : z) mean_now += S ? v / S : 0.0;
  m_means.push_front(mean_now);
  if (m_means.size() > static_cast<std::size_t>(anomaly_recent + anomaly_baseline)) m_means.pop_back();
  double recent = 0.0, baseline = 0.0;
  int n_recent = 0, n_baseline = 0;
  for (std::size_t k = 0; k < m_means.size(); ++k) {
    if (k < static_cast<std::size_t>(anomaly_recent)) recent += m_means[k], ++n_recent;
    else baseline += m_means[k], ++n_baseline;
  }
  const double usual = n_baseline ? baseline / n_baseline : 0.0;
  const auto shifted = [&](std::size_t k) { return k < m_means.size() ? m_means[k] - usual : 0.0; };
  // The parameters' path as the readings pull them: theta plus every move the gate withheld.
  if (m_withheld.size() < theta.size()) m_withheld.resize(theta.size(), 0.0);
  std::vector<double> pulled = theta;
  for (std::size_t p = 0; p < theta.size(); ++p) {
    if (p < withheld.size() && std::isfinite(withheld[p])) m_withheld[p] += withheld[p];
    pulled[p] += m_withheld[p];
  }
  m_theta.push_front(pulled);
  if (m_theta.size() > static_cast<std::size_t>(anomaly_window + 1)) m_theta.pop_back();

  std::vector<double> sum(static_cast<std::size_t>(S), 0.0), iso(static_cast<std::size_t>(S), 0.0);
  for (int s = 0; s < S; ++s) {
    for (const auto& w : m_z) sum[s] += w[s];
    iso[s] = z[s] - 0.5 * (z[m_nearest[s][0]] + z[m_nearest[s][1]]);
  }
  std::vector<int> order(static_cast<std::size_t>(S));
  for (int s = 0; s < S; ++s) order[s] = s;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return z[a] > z[b]; });
  const auto pick = [&](int i) { return S ? z[order[std::min(std::max(i, 0), S - 1)]] : 0.0; };
  const auto buddies = [&](int s) { return S ? 0.5 * (z[m_nearest[s][0]] + z[m_nearest[s][1]]) : 0.0; };
  int above = 0, below = 0;
  for (double v : z) above += v > 2.0, below += v < -2.0;
  double min_driven = 0.0, max_driven = 0.0, min_driven_now = 0.0, rejected_driven = 0.0, level = 0.0;
  for (std::size_t j = 0; j < m_control_sensor.size(); ++j) {
    const double f = j < controls.size() && std::isfinite(controls[j]) ? controls[j] / m_max[j] : 0.0;
    level += f / static_cast<double>(m_control_sensor.size());
    if (m_control_sensor[j] < 0) continue;
    const int s = m_control_sensor[j];
    min_driven = std::min(min_driven, f * sum[s]);
    max_driven = std::max(max_driven, f * sum[s]);
    min_driven_now = std::min(min_driven_now, f * z[s]);
    if (s < static_cast<int>(sensors.size()) && sensors[s].qc != QcReason::accepted && sensors[s].qc != QcReason::missing)
      rejected_driven = std::max(rejected_driven, f);
  }
  std::vector<double> x = {shifted(0), shifted(1), shifted(2), n_recent ? recent / n_recent - usual : 0.0,
                           pick(0), pick(1), pick(S - 1), pick(S - 2),
                           S ? *std::max_element(sum.begin(), sum.end()) : 0.0, S ? *std::min_element(sum.begin(), sum.end()) : 0.0,
                           S ? double(above) / S : 0.0, S ? double(below) / S : 0.0,
                           S ? *std::max_element(iso.begin(), iso.end()) : 0.0, S ? *std::min_element(iso.begin(), iso.end()) : 0.0,
                           S ? buddies(order[0]) : 0.0, S ? buddies(order[S - 1]) : 0.0,
                           S ? double(rejected) / S : 0.0, S ? double(missing) / S : 0.0, rejected_z,
                           min_driven, max_driven, min_driven_now, rejected_driven, level};
  for (std::size_t p = 0; p < m_prior_std.size(); ++p) {
    const double d = p < theta.size() ? (m_theta.front()[p] - m_theta.back()[p]) / m_prior_std[p] : 0.0;
    x.push_back(std::isfinite(d) ? std::clamp(d, -anomaly_clip, anomaly_clip) : 0.0);
  }
  const Windowed along_parameters = push_window(m_along, split.along_parameters, m_prior_std.size());
  x.insert(x.end(), along_parameters.now.begin(), along_parameters.now.end());
  x.insert(x.end(), along_parameters.sum.begin(), along_parameters.sum.end());
  x.push_back(std::isfinite(split.unexplained) ? std::clamp(split.unexplained, 0.0, anomaly_clip) : 1.0);
  // The controls' extremes, now and over the window (0 without controls).
  const Windowed along_controls = push_window(m_along_controls, split.along_controls, m_max.size());
  for (const std::vector<double>* v : {&along_controls.now, &along_controls.sum}) {
    x.push_back(v->empty() ? 0.0 : *std::min_element(v->begin(), v->end()));
    x.push_back(v->empty() ? 0.0 : *std::max_element(v->begin(), v->end()));
  }

  // Evidence per sensor: squared innovations over the window; a missing or rejected reading
  // counts as a clipped one (its absence, or QC's verdict, is the evidence).
  double total = 0.0;
  for (int s = 0; s < S; ++s) {
    double e = 0.0;
    for (const auto& w : m_z) e += w[s] * w[s];
    if (s < static_cast<int>(sensors.size()) && sensors[s].qc != QcReason::accepted) e += anomaly_clip * anomaly_clip;
    m_evidence[s] = e;
    total += e;
  }
  for (double& e : m_evidence) e = total > 0 ? e / total : 0.0;
  return x;
}

namespace {

void put_rows(io::StateArchive& a, const std::string& name, const std::deque<std::vector<double>>& rows) {
  std::vector<double> flat;
  std::vector<long long> sizes;
  for (const auto& r : rows) {
    flat.insert(flat.end(), r.begin(), r.end());
    sizes.push_back(static_cast<long long>(r.size()));
  }
  a.put(name, std::move(flat));
  a.put(name + ".sizes", std::move(sizes));
}

std::deque<std::vector<double>> get_rows(const io::StateArchive& a, const std::string& name) {
  const auto& flat = a.doubles(name);
  std::deque<std::vector<double>> rows;
  std::size_t at = 0;
  for (long long n : a.ints(name + ".sizes")) {
    if (n < 0 || at + static_cast<std::size_t>(n) > flat.size()) throw DataError(a.origin() + ": '" + name + "' is malformed");
    rows.emplace_back(flat.begin() + static_cast<long>(at), flat.begin() + static_cast<long>(at + static_cast<std::size_t>(n)));
    at += static_cast<std::size_t>(n);
  }
  return rows;
}

}  // namespace

void AnomalyFeatures::save(io::StateArchive& a) const {
  put_rows(a, "anomaly.z", m_z);
  put_rows(a, "anomaly.theta", m_theta);
  put_rows(a, "anomaly.along", m_along);
  put_rows(a, "anomaly.along_controls", m_along_controls);
  a.put("anomaly.means", std::vector<double>(m_means.begin(), m_means.end()));
  a.put("anomaly.evidence", m_evidence);
  a.put("anomaly.withheld", m_withheld);
}

void AnomalyFeatures::restore(const io::StateArchive& a) {
  m_z = get_rows(a, "anomaly.z");
  m_theta = get_rows(a, "anomaly.theta");
  m_along.clear();  // snapshots from before the signatures start that window afresh
  if (a.has("anomaly.along")) m_along = get_rows(a, "anomaly.along");
  m_along_controls.clear();
  if (a.has("anomaly.along_controls")) m_along_controls = get_rows(a, "anomaly.along_controls");
  const auto& means = a.doubles("anomaly.means");
  m_means.assign(means.begin(), means.end());
  m_evidence = a.doubles("anomaly.evidence");
  m_withheld.clear();  // snapshots from before the parameter gate: nothing withheld
  if (a.has("anomaly.withheld")) m_withheld = a.doubles("anomaly.withheld");
}

std::vector<double> class_probabilities(const std::vector<double>& members, int K, int rows, int C) {
  std::vector<double> prob(static_cast<std::size_t>(rows) * C, 0.0);
  for (int k = 0; k < K; ++k)
    for (int r = 0; r < rows; ++r) {
      const double* y = members.data() + (static_cast<std::size_t>(k) * rows + r) * C;
      double* p = prob.data() + static_cast<std::size_t>(r) * C;
      double top = -HUGE_VAL, sum = 0.0;
      for (int c = 0; c < C; ++c) top = std::max(top, y[c]);
      for (int c = 0; c < C; ++c) sum += std::exp(y[c] - top);
      for (int c = 0; c < C; ++c) p[c] += std::exp(y[c] - top) / sum / K;
    }
  return prob;
}

}  // namespace twin::detail
