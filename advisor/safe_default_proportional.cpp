// advisor.safe_default.type proportional: p_j = safe_j + gain * (target - analysis) at the
// control's sensor (one with an objectives.targets entry), clipped to [min, max]; a control
// without such a sensor, or with no finite estimate there, holds its safe value.
#include <algorithm>
#include <cmath>
#include <limits>

#include "advisor/safe_default.hpp"

namespace twin::advisor {
namespace {

class ProportionalSafeDefault final : public SafeDefault {
 public:
  explicit ProportionalSafeDefault(const Config& config)
      : m_safe(safe_values(config)), m_gain(config.advisor ? config.advisor->safe_default.gain : 0.0) {
    for (const auto& c : config.controls) {
      m_min.push_back(c.min);
      m_max.push_back(c.max);
      const auto found = c.sensor.empty() ? std::nullopt : sensor_index(config, c.sensor);
      int sensor = found ? static_cast<int>(*found) : -1;
      double target = std::numeric_limits<double>::quiet_NaN();
      for (const auto& t : config.objectives.targets)
        if (sensor >= 0 && t.sensor == c.sensor) target = t.value;
      if (!std::isfinite(target)) sensor = -1;
      m_sensor.push_back(sensor);
      m_target.push_back(target);
    }
  }

  std::vector<double> target(const std::vector<double>& analysis) const override {
    std::vector<double> out = m_safe;
    for (std::size_t j = 0; j < out.size(); ++j) {
      const int s = m_sensor[j];
      if (s < 0 || s >= static_cast<int>(analysis.size()) || !std::isfinite(analysis[s])) continue;
      out[j] = std::min(m_max[j], std::max(m_min[j], m_safe[j] + m_gain * (m_target[j] - analysis[s])));
    }
    return out;
  }

  const char* rule() const override { return "proportional"; }

 private:
  std::vector<double> m_safe, m_min, m_max, m_target;
  std::vector<int> m_sensor;  // sensor index per control, -1 when none
  double m_gain;
};

TWIN_REGISTER_TYPE(SafeDefault, "proportional",
                   [](const Config& c) { return std::make_unique<ProportionalSafeDefault>(c); });

}  // namespace
}  // namespace twin::advisor
