#include "kpi/control_score.hpp"

#include <cmath>

#include "solvers/grid.hpp"

namespace twin::detail {

ControlScore::ControlScore(const Config& c) : m_period(c.twin.control_period_s) {
  // The truth where the sensor is, read as the twin's H reads the ensemble (interpolated between
  // the cell centres around it), so that the score and the twin's view of a target agree.
  const auto stencil = [&](const std::string& sensor) {
    const auto s = sensor_index(c, sensor);
    return s ? solvers::global_interpolation(c.grid, c.sensors[*s].position_m) : Stencil{{0L, 1.0}};
  };
  for (const auto& t : c.objectives.targets) m_targets.push_back({stencil(t.sensor), t.value, t.weight});
  for (const auto& l : c.objectives.limits) m_limits.push_back({stencil(l.sensor), l.max, 1.0});
  for (const auto& u : c.controls)
    m_power.push_back(u.unit == "W" ? 1.0 : u.unit == "kW" ? 1e3 : u.unit == "MW" ? 1e6 : 1.0);
}

void ControlScore::add(const std::vector<double>& truth, const std::vector<double>& controls) {
  if (truth.empty()) return;
  const auto at = [&](const Stencil& s) {
    double v = 0.0;
    for (const auto& [cell, weight] : s) v += weight * truth[static_cast<std::size_t>(cell)];
    return v;
  };
  for (const auto& t : m_targets) {
    const double e = at(t.stencil) - t.value;
    m_sq += t.weight * e * e;
    m_w += t.weight;
  }
  bool over = false;
  for (const auto& l : m_limits) over = over || at(l.stencil) > l.value;
  if (over) m_violation_s += m_period;
  for (std::size_t j = 0; j < controls.size(); ++j) m_energy += controls[j] * m_power[j] * m_period;
}

nlohmann::json ControlScore::json() const {
  return {{"tracking_rmse", m_w > 0 ? std::sqrt(m_sq / m_w) : 0.0}, {"limit_violation_s", m_violation_s}, {"energy_j", m_energy}};
}

}  // namespace twin::detail
