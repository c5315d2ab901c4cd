#include "decision/drift_watch.hpp"

#include <algorithm>
#include <cmath>

#include "io/state_archive.hpp"
#include "twin/error.hpp"

namespace twin::detail {

DriftWatch::DriftWatch(const DriftConfig& config) : m_config(config) {
  std::vector<DriftMonitorConfig> monitors = config.monitors;
  if (monitors.empty())
    for (const char* s : {"surrogate_error", "ood", "innovation", "anomaly_rate"}) monitors.push_back({s, "cusum", 1.0});
  for (const auto& c : monitors) {
    Monitor m;
    m.config = c;
    m.detector = advisor::DriftDetector::create(c.type, {config.false_alarm_cycles, c.shift});
    m_monitors.push_back(std::move(m));
  }
}

bool DriftWatch::watches(const std::string& signal) const {
  return std::any_of(m_monitors.begin(), m_monitors.end(), [&](const Monitor& m) { return m.config.signal == signal; });
}

void DriftWatch::rereference(const std::string& signal) {
  for (Monitor& m : m_monitors) {
    if (m.config.signal != signal) continue;
    m.armed = false;
    m.reference.clear();
    m.warmup = m_config.warmup_cycles;
    m.detector = advisor::DriftDetector::create(m.config.type, {m_config.false_alarm_cycles, m.config.shift});
  }
  if (signal == "surrogate_error") m_predictions.clear();
}

// The reference: the median, and the long-run standard deviation: the robust deviation (MAD x
// 1.4826, so that a few outliers do not widen it) inflated for lag-1 autocorrelation rho by
// sqrt((1 + rho) / (1 - rho)) (an AR(1) signal's sums vary that much more than independent
// values'). A 0/1 signal (anomaly_rate) gets its mean and at least the deviation of a 2 % flag
// rate, so a reference window without a flag does not make one flag a drift.
void DriftWatch::set_reference(Monitor& m) const {
  const std::vector<double>& x = m.reference;
  const double n = static_cast<double>(x.size());
  const auto median_of = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  double mean = 0.0;
  for (double v : x) mean += v;
  mean /= n;
  const bool binary = m.config.signal == "anomaly_rate";
  const double centre = binary ? mean : median_of(x);
  std::vector<double> deviations;
  for (double v : x) deviations.push_back(std::abs(v - centre));
  double var = 0.0, cov = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    var += (x[i] - mean) * (x[i] - mean);
    if (i > 0) cov += (x[i] - mean) * (x[i - 1] - mean);
  }
  const double rho = var > 0.0 ? std::clamp(cov / var, 0.0, 0.95) : 0.0;
  double sd = binary ? std::sqrt(var / std::max(1.0, n - 1.0)) : 1.4826 * median_of(deviations);
  if (m.config.signal == "anomaly_rate") {
    const double p = std::max(mean, 0.02);
    sd = std::max(sd, std::sqrt(p * (1.0 - p)));
  }
  sd = std::max(sd, 1e-6 * std::max(1.0, std::abs(mean)));
  m.mean = centre;
  m.scale = sd * std::sqrt((1.0 + rho) / (1.0 - rho));
  m.armed = true;
  m.reference.clear();
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
      // The signal's first warmup_cycles values (the twin settling from its initial state, the
      // filter spinning up) are left out of the first reference.
      if (m.warmup < m_config.warmup_cycles) {
        ++m.warmup;
        continue;
      }
      m.reference.push_back(x);
      if (static_cast<int>(m.reference.size()) >= m_config.reference_cycles) set_reference(m);
      continue;
    }
    if (!m.detector->update((x - m.mean) / m.scale)) continue;
    out.push_back({m.config.signal, m.config.type, it->second, binary ? m.mean : std::exp(m.mean), m.detector->statistic(),
                   m.detector->threshold()});
    m.armed = false;  // a new reference from the next values: one report per level
    m.detector = advisor::DriftDetector::create(m.config.type, {m_config.false_alarm_cycles, m.config.shift});
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

void DriftWatch::restore(const io::StateArchive& a) {
  for (std::size_t i = 0; i < m_monitors.size(); ++i) {
    Monitor& m = m_monitors[i];
    const std::string key = "decider.drift." + std::to_string(i) + ".";
    m.reference = a.doubles(key + "reference");
    const auto& level = a.doubles(key + "level", 4);
    m.mean = level[0];
    m.scale = level[1];
    m.armed = level[2] != 0.0;
    m.warmup = static_cast<int>(level[3]);
    m.detector->restore(a.doubles(key + "detector"));
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
