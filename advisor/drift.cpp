#include "advisor/drift.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

#include "twin/error.hpp"

namespace twin::advisor {
namespace {

void check_size(const std::vector<double>& state, std::size_t size, const char* type) {
  if (state.size() != size) throw DataError(std::string("drift detector ") + type + ": a saved state of another shape");
}

class Cusum final : public DriftDetector {
 public:
  explicit Cusum(const DriftSettings& s) : m_k(s.shift / 2.0), m_h(cusum_threshold(m_k, s.false_alarm_cycles)) {}
  bool update(double z) override {
    if (!std::isfinite(z)) return false;
    m_s = std::max(0.0, m_s + z - m_k);
    if (m_s <= m_h) return false;
    m_last = m_s;
    m_s = 0.0;
    return true;
  }
  double statistic() const override { return m_s > 0.0 ? m_s : m_last; }
  double threshold() const override { return m_h; }
  std::vector<double> state() const override { return {m_s, m_last}; }
  void restore(const std::vector<double>& s) override {
    check_size(s, 2, "cusum");
    m_s = s[0];
    m_last = s[1];
  }

 private:
  double m_k, m_h, m_s = 0.0, m_last = 0.0;  // m_last: the statistic at the last alarm (reported after the reset)
};

class PageHinkley final : public DriftDetector {
 public:
  explicit PageHinkley(const DriftSettings& s)
      : m_delta(s.shift / 2.0), m_lambda(cusum_threshold(m_delta, s.false_alarm_cycles)) {}
  bool update(double z) override {
    if (!std::isfinite(z)) return false;
    ++m_n;
    m_mean += (z - m_mean) / m_n;
    m_m += z - m_mean - m_delta;
    m_min = std::min(m_min, m_m);
    if (m_m - m_min <= m_lambda) return false;
    m_last = m_m - m_min;
    m_n = 0;
    m_mean = m_m = m_min = 0.0;
    return true;
  }
  double statistic() const override { return m_n > 0 ? m_m - m_min : m_last; }
  double threshold() const override { return m_lambda; }
  std::vector<double> state() const override { return {static_cast<double>(m_n), m_mean, m_m, m_min, m_last}; }
  void restore(const std::vector<double>& s) override {
    check_size(s, 5, "page_hinkley");
    m_n = static_cast<long>(s[0]);
    m_mean = s[1];
    m_m = s[2];
    m_min = s[3];
    m_last = s[4];
  }

 private:
  double m_delta, m_lambda;
  long m_n = 0;
  double m_mean = 0.0, m_m = 0.0, m_min = 0.0, m_last = 0.0;
};

// The window is kept whole (at most max_window values; the twin updates once a cycle), and
// every cut point is tested each update: O(window) a cycle, without the exponential histogram
// of the paper's ADWIN2, which only saves memory and time at stream rates the twin never has.
class Adwin final : public DriftDetector {
 public:
  explicit Adwin(const DriftSettings& s) : m_delta(1.0 / s.false_alarm_cycles) {}
  bool update(double z) override {
    if (!std::isfinite(z)) return false;
    m_window.push_back(z);
    if (m_window.size() > max_window) m_window.pop_front();
    m_statistic = 0.0;
    m_threshold = std::numeric_limits<double>::infinity();
    const std::size_t n = m_window.size();
    if (n < 2 * min_part) return false;
    double total = 0.0, total_sq = 0.0;
    for (double x : m_window) {
      total += x;
      total_sq += x * x;
    }
    const double mean = total / n, var = std::max(total_sq / n - mean * mean, 1e-12);
    const double d = m_delta / std::log(static_cast<double>(n));
    double older = 0.0;  // sum of the older part
    std::size_t cut = 0;
    double best_margin = -std::numeric_limits<double>::infinity();
    for (std::size_t n0 = 1; n0 < n; ++n0) {
      older += m_window[n0 - 1];
      const std::size_t n1 = n - n0;
      if (n0 < min_part || n1 < min_part) continue;
      const double m = 1.0 / (1.0 / n0 + 1.0 / n1);
      const double log_term = std::log(2.0 / d);
      const double eps = std::sqrt(2.0 * var * log_term / m) + 2.0 * log_term / (3.0 * m);
      const double gap = (total - older) / n1 - older / n0;  // newer minus older
      if (gap - eps > best_margin) {
        best_margin = gap - eps;
        m_statistic = gap;
        m_threshold = eps;
        cut = n0;
      }
    }
    if (best_margin <= 0.0) return false;
    m_window.erase(m_window.begin(), m_window.begin() + static_cast<long>(cut));  // keep the newer part
    return true;
  }
  double statistic() const override { return m_statistic; }
  double threshold() const override { return m_threshold; }
  std::vector<double> state() const override {
    std::vector<double> s{m_statistic, m_threshold};
    s.insert(s.end(), m_window.begin(), m_window.end());
    return s;
  }
  void restore(const std::vector<double>& s) override {
    if (s.size() < 2 || s.size() > 2 + max_window) throw DataError("drift detector adwin: a saved state of another shape");
    m_statistic = s[0];
    m_threshold = s[1];
    m_window.assign(s.begin() + 2, s.end());
  }

 private:
  static constexpr std::size_t max_window = 2000;
  static constexpr std::size_t min_part = 5;
  double m_delta;
  std::deque<double> m_window;
  double m_statistic = 0.0, m_threshold = std::numeric_limits<double>::infinity();
};

TWIN_REGISTER_TYPE(DriftDetector, "cusum", [](const DriftSettings& s) { return std::make_unique<Cusum>(s); });
TWIN_REGISTER_TYPE(DriftDetector, "page_hinkley", [](const DriftSettings& s) { return std::make_unique<PageHinkley>(s); });
TWIN_REGISTER_TYPE(DriftDetector, "adwin", [](const DriftSettings& s) { return std::make_unique<Adwin>(s); });

}  // namespace

Registry<DriftDetector, const DriftSettings&>& DriftDetector::registry() {
  static Registry<DriftDetector, const DriftSettings&> r;
  return r;
}

std::unique_ptr<DriftDetector> DriftDetector::create(const std::string& type, const DriftSettings& settings) {
  return registry().create("drift.monitors[].type", type, settings);
}

double cusum_threshold(double k, double arl0) {
  const auto arl = [k](double h) {
    const double b = h + 1.166, a = 2.0 * k * b;
    return (std::exp(a) - a - 1.0) / (2.0 * k * k);
  };
  double lo = 0.0, hi = 1.0;
  while (arl(hi) < arl0 && hi < 1e6) hi *= 2.0;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (lo + hi);
    (arl(mid) < arl0 ? lo : hi) = mid;
  }
  return hi;
}

}  // namespace twin::advisor
