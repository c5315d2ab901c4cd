#pragma once
// The `control` KPIs of one controller against the truth: tracking error at the targets, time
// over the limits (the truth interpolated at each target's or limit's sensor, as the twin's H
// reads it), energy spent (p in W, kW or MW counts as power; other units as unit-seconds).

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "twin/config.hpp"

namespace twin::detail {

class ControlScore {
 public:
  explicit ControlScore(const Config& config);
  /// One cycle: the truth on the twin's grid at its end and the controls applied during it.
  /// An empty truth (off rank 0) adds nothing.
  void add(const std::vector<double>& truth, const std::vector<double>& controls);
  /// {"tracking_rmse", "limit_violation_s", "energy_j"}.
  nlohmann::json json() const;
  /// The sums so far {squared error, weight, violation s, energy}, for restart snapshots.
  std::vector<double> sums() const { return {m_sq, m_w, m_violation_s, m_energy}; }
  void restore_sums(const std::vector<double>& s) {
    if (s.size() != 4) return;
    m_sq = s[0];
    m_w = s[1];
    m_violation_s = s[2];
    m_energy = s[3];
  }

 private:
  using Stencil = std::vector<std::pair<long, double>>;  // (flat cell of the whole grid, weight)
  struct Point {
    Stencil stencil;
    double value, weight;
  };
  double m_period;
  std::vector<Point> m_targets, m_limits;
  std::vector<double> m_power;
  double m_sq = 0.0, m_w = 0.0, m_violation_s = 0.0, m_energy = 0.0;
};

}  // namespace twin::detail
