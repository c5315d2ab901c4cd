#include "kpi/control_score.hpp"

#include <cmath>

#include "solvers/grid.hpp"

namespace twin::detail {

ControlScore::ControlScore(const Config& c) : m_period(c.twin.control_period_s) {
  const auto cell = [&](const std::string& sensor) {
    const auto s = sensor_index(c, sensor);
    return s ? solvers::global_cell_of(c.grid, c.sensors[*s].position_m) : 0L;
  };
  for (const auto& t : c.objectives.targets) m_targets.push_back({cell(t.sensor), t.value, t.weight});
  for (const auto& l : c.objectives.limits) m_limits.push_back({cell(l.sensor), l.max, 1.0});
  for (const auto& u : c.controls)
    m_power.push_back(u.unit == "W" ? 1.0 : u.unit == "kW" ? 1e3 : u.unit == "MW" ? 1e6 : 1.0);
}

void ControlScore::add(const std::vector<double>& truth, const std::vector<double>& controls) {
  if (truth.empty()) return;
  for (const auto& t : m_targets) {
    m_sq += t.weight * (truth[t.cell] - t.value) * (truth[t.cell] - t.value);
    m_w += t.weight;
  }
  bool over = false;
  for (const auto& l : m_limits) over = over || truth[l.cell] > l.value;
  if (over) m_violation_s += m_period;
  for (std::size_t j = 0; j < controls.size(); ++j) m_energy += controls[j] * m_power[j] * m_period;
}

nlohmann::json ControlScore::json() const {
  return {{"tracking_rmse", m_w > 0 ? std::sqrt(m_sq / m_w) : 0.0}, {"limit_violation_s", m_violation_s}, {"energy_j", m_energy}};
}

}  // namespace twin::detail
