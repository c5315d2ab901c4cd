#include "advice/features.hpp"

#include <cmath>

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

}  // namespace twin::detail
