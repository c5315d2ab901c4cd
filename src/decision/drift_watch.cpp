#include "decision/drift_watch.hpp"

#include <algorithm>
#include <cmath>

#include "advisor/advisor_schema.hpp"
#include "io/state_archive.hpp"
#include "twin/error.hpp"

namespace twin::detail {

DriftWatch::DriftWatch(const DriftConfig& config, const std::vector<std::string>& parameters) : m_config(config) {
  std::vector<DriftMonitorConfig> monitors = config.monitors;
  if (monitors.empty())
    for (const std::string& s : drift_signals()) monitors.push_back({s, "cusum", 1.0});
  for (const auto& c : monitors) {
    if (c.signal == "parameters") {
      if (!m_levels.empty()) continue;  // one monitor per parameter, however often the signal is listed
      m_level_config = c;
      for (const std::string& name : parameters) {
        LevelMonitor m;
        m.signal = parameter_signal(name);
        m.up = detector(c);
        m.down = detector(c);
        m_levels.push_back(std::move(m));
      }
      continue;
    }
    Monitor m;
    m.config = c;
    m.detector = detector(c);
    m_monitors.push_back(std::move(m));
  }
}

bool DriftWatch::watches(const std::string& signal) const {
  if (signal == "parameters") return !m_levels.empty();
  return std::any_of(m_monitors.begin(), m_monitors.end(), [&](const Monitor& m) { return m.config.signal == signal; });
}

void DriftWatch::rereference(const std::string& signal) {
  for (Monitor& m : m_monitors) {
    if (m.config.signal != signal) continue;
    m.armed = false;
    m.reference.clear();
    m.warmup = m_config.warmup_cycles;
    m.detector = detector(m.config);
  }
  if (signal == "surrogate_error") m_predictions.clear();
}

namespace {

// A reference window's level: its median (a 0/1 signal: its mean), robust deviation (MAD x
// 1.4826, so that a few outliers do not widen it; a 0/1 signal: its standard deviation) and the
// factor sqrt((1 + rho) / (1 - rho)) for its lag-1 autocorrelation rho (an AR(1) signal's sums
// vary that much more than independent values').
struct WindowLevel {
  double centre = 0.0, mean = 0.0, deviation = 0.0, autocorrelation_factor = 1.0;
};

WindowLevel window_level(const std::vector<double>& x, bool binary) {
  const double n = static_cast<double>(x.size());
  const auto median_of = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  WindowLevel w;
  for (double v : x) w.mean += v;
  w.mean /= n;
  w.centre = binary ? w.mean : median_of(x);
  std::vector<double> deviations;
  for (double v : x) deviations.push_back(std::abs(v - w.centre));
  double var = 0.0, cov = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    var += (x[i] - w.mean) * (x[i] - w.mean);
    if (i > 0) cov += (x[i] - w.mean) * (x[i - 1] - w.mean);
  }
  const double rho = var > 0.0 ? std::clamp(cov / var, 0.0, 0.95) : 0.0;
  w.deviation = binary ? std::sqrt(var / std::max(1.0, n - 1.0)) : 1.4826 * median_of(deviations);
  w.autocorrelation_factor = std::sqrt((1.0 + rho) / (1.0 - rho));
  return w;
}

}  // namespace

// The reference: the window's level (window_level). A 0/1 signal (anomaly_rate) gets at least
// the deviation of a 2 % flag rate, so a reference window without a flag does not make one flag
// a drift.
void DriftWatch::set_reference(Monitor& m) const {
  const bool binary = m.config.signal == "anomaly_rate";
  const WindowLevel w = window_level(m.reference, binary);
  double sd = w.deviation;
  if (binary) {
    const double p = std::max(w.mean, 0.02);
    sd = std::max(sd, std::sqrt(p * (1.0 - p)));
  }
  sd = std::max(sd, 1e-6 * std::max(1.0, std::abs(w.mean)));
  m.mean = w.centre;
  m.scale = sd * w.autocorrelation_factor;
  m.armed = true;
  m.reference.clear();
}

// A parameter's reference: its level over the window, and a deviation of at least sqrt(2) times
// its mean ensemble spread there (the filter's uncertainty of the difference of two estimates),
// inflated for the estimates' autocorrelation like every signal's.
void DriftWatch::set_level(LevelMonitor& m) const {
  const WindowLevel w = window_level(m.reference, false);
  double spread = 0.0;
  for (double s : m.spread) spread += std::isfinite(s) ? s / static_cast<double>(m.spread.size()) : 0.0;
  m.level = w.centre;
  m.scale = std::max({w.deviation, std::sqrt(2.0) * spread, 1e-9 * std::max(1.0, std::abs(w.centre))}) * w.autocorrelation_factor;
  m.armed = true;
  m.reference.clear();
  m.spread.clear();
}

std::unique_ptr<advisor::DriftDetector> DriftWatch::detector(const DriftMonitorConfig& c) const {
  return advisor::DriftDetector::create(c.type, {m_config.false_alarm_cycles, c.shift});
}

// A monitor without a reference: the signal's first warmup_cycles values (the twin settling from
// its initial state, the filter spinning up) are left out, the next go to the reference window.
// True when `x` went to the window.
bool DriftWatch::into_reference(int& warmup, std::vector<double>& reference, double x) const {
  if (warmup < m_config.warmup_cycles) {
    ++warmup;
    return false;
  }
  reference.push_back(x);
  return true;
}

std::vector<DriftDetection> DriftWatch::observe(const std::map<std::string, double>& values) {
  m_last = values;
  std::vector<DriftDetection> out;
  for (Monitor& m : m_monitors) {
    const auto it = values.find(m.config.signal);
    if (it == values.end() || !std::isfinite(it->second)) continue;
    // Errors, scores and innovation ratios are positive and skewed (a sum of squares has a long
    // right tail): they are watched on a log scale, where a doubling is a shift of 0.69 and one
    // wild cycle weighs little. The flag rate is watched as it is.
    const bool binary = m.config.signal == "anomaly_rate";
    const double x = binary ? it->second : std::log(std::max(it->second, 1e-12));
    if (!m.armed) {
      if (into_reference(m.warmup, m.reference, x) && static_cast<int>(m.reference.size()) >= m_config.reference_cycles)
        set_reference(m);
      continue;
    }
    if (!m.detector->update((x - m.mean) / m.scale)) continue;
    out.push_back({m.config.signal, m.config.type, it->second, binary ? m.mean : std::exp(m.mean), m.detector->statistic(),
                   m.detector->threshold()});
    m.armed = false;  // a new reference from the next values: one report per level
    m.detector = detector(m.config);
  }
  return out;
}

std::vector<DriftDetection> DriftWatch::observe_parameters(const std::vector<double>& theta, const std::vector<double>& spread) {
  std::vector<DriftDetection> out;
  for (std::size_t p = 0; p < m_levels.size() && p < theta.size(); ++p) {
    LevelMonitor& m = m_levels[p];
    const double x = theta[p];
    if (!std::isfinite(x)) continue;
    m_last[m.signal] = x;
    if (!m.armed) {
      if (into_reference(m.warmup, m.reference, x)) {
        m.spread.push_back(p < spread.size() ? spread[p] : 0.0);
        if (static_cast<int>(m.reference.size()) >= m_config.reference_cycles) set_level(m);
      }
      continue;
    }
    const double z = (x - m.level) / m.scale;
    const bool up = m.up->update(z), down = m.down->update(-z);  // both see every value
    if (!up && !down) continue;
    const advisor::DriftDetector& d = up ? *m.up : *m.down;
    out.push_back({m.signal, m_level_config.type, x, m.level, d.statistic(), d.threshold()});
    m.armed = false;  // a new reference from the next values: one report per level
    m.up = detector(m_level_config);
    m.down = detector(m_level_config);
  }
  return out;
}

std::optional<double> DriftWatch::realised_error(int cycle, const std::vector<int>& leads, const std::vector<double>& analysis,
                                                 std::optional<std::vector<double>> predicted, double scale) {
  const auto rms = m_predictions.score(cycle, leads, analysis, std::move(predicted));
  if (!rms) return std::nullopt;
  return *rms / (scale > 0.0 ? scale : 1.0);
}

std::optional<double> PredictionLedger::score(int cycle, const std::vector<int>& leads, const std::vector<double>& analysis,
                                              std::optional<std::vector<double>> predicted) {
  const std::size_t S = analysis.size();
  double sum = 0.0;
  long count = 0;
  for (const auto& [made, p] : m_made)
    for (std::size_t l = 0; l < leads.size(); ++l) {
      if (made + leads[l] != cycle || p.size() != leads.size() * S) continue;
      for (std::size_t s = 0; s < S; ++s) {
        const double e = p[l * S + s] - analysis[s];
        if (std::isfinite(e)) sum += e * e, ++count;
      }
    }
  const int longest = leads.empty() ? 0 : *std::max_element(leads.begin(), leads.end());
  while (!m_made.empty() && m_made.front().first + longest <= cycle) m_made.pop_front();
  if (predicted) m_made.emplace_back(cycle, std::move(*predicted));
  if (count == 0) return std::nullopt;
  return std::sqrt(sum / count);
}

void DriftWatch::save(io::StateArchive& a) const {
  for (std::size_t i = 0; i < m_monitors.size(); ++i) {
    const Monitor& m = m_monitors[i];
    const std::string key = "decider.drift." + std::to_string(i) + ".";
    a.put(key + "reference", m.reference);
    a.put(key + "level", std::vector<double>{m.mean, m.scale, m.armed ? 1.0 : 0.0, static_cast<double>(m.warmup)});
    a.put(key + "detector", m.detector->state());
  }
  for (std::size_t i = 0; i < m_levels.size(); ++i) {
    const LevelMonitor& m = m_levels[i];
    const std::string key = "decider.drift.parameter." + std::to_string(i) + ".";
    a.put(key + "reference", m.reference);
    a.put(key + "spread", m.spread);
    a.put(key + "level", std::vector<double>{m.level, m.scale, m.armed ? 1.0 : 0.0, static_cast<double>(m.warmup)});
    a.put(key + "up", m.up->state());
    a.put(key + "down", m.down->state());
  }
  std::vector<long long> made;
  std::vector<double> flat, sizes;
  for (const auto& [c, p] : m_predictions.entries()) {
    made.push_back(c);
    sizes.push_back(static_cast<double>(p.size()));
    flat.insert(flat.end(), p.begin(), p.end());
  }
  a.put("decider.drift.predictions.made", made);
  a.put("decider.drift.predictions.sizes", sizes);
  a.put("decider.drift.predictions.values", flat);
}

namespace {
// A monitor's reference in a snapshot: "<key>level" holds its level, scale, armed flag and warm-up count.
void read_level(const io::StateArchive& a, const std::string& key, double& level, double& scale, bool& armed, int& warmup) {
  const auto& v = a.doubles(key + "level", 4);
  level = v[0];
  scale = v[1];
  armed = v[2] != 0.0;
  warmup = static_cast<int>(v[3]);
}
}  // namespace

void DriftWatch::restore(const io::StateArchive& a) {
  for (std::size_t i = 0; i < m_monitors.size(); ++i) {
    Monitor& m = m_monitors[i];
    const std::string key = "decider.drift." + std::to_string(i) + ".";
    m.reference = a.doubles(key + "reference");
    read_level(a, key, m.mean, m.scale, m.armed, m.warmup);
    m.detector->restore(a.doubles(key + "detector"));
  }
  for (std::size_t i = 0; i < m_levels.size(); ++i) {
    LevelMonitor& m = m_levels[i];
    const std::string key = "decider.drift.parameter." + std::to_string(i) + ".";
    if (!a.has(key + "level")) continue;  // a snapshot from before the parameters' monitors: they start afresh
    m.reference = a.doubles(key + "reference");
    m.spread = a.doubles(key + "spread");
    read_level(a, key, m.level, m.scale, m.armed, m.warmup);
    m.up->restore(a.doubles(key + "up"));
    m.down->restore(a.doubles(key + "down"));
  }
  const auto& made = a.ints("decider.drift.predictions.made");
  const auto& sizes = a.doubles("decider.drift.predictions.sizes");
  const auto& values = a.doubles("decider.drift.predictions.values");
  if (sizes.size() != made.size()) throw DataError(a.origin() + ": the drift predictions are malformed");
  m_predictions.clear();
  std::size_t at = 0;
  for (std::size_t k = 0; k < made.size(); ++k) {
    const auto n = static_cast<std::size_t>(sizes[k]);
    if (n > values.size() - at) throw DataError(a.origin() + ": the drift predictions are malformed");
    m_predictions.add(static_cast<int>(made[k]), std::vector<double>(values.begin() + at, values.begin() + at + n));
    at += n;
  }
}

}  // namespace twin::detail
