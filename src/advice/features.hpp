#pragma once
// The advisor's feature layout, shared by `twin train` (which generates the data) and the
// runtime (which asks the models): one definition, so the two cannot drift apart.
//
// Surrogate inputs:  y:<sensor> (analysis now), dy:<sensor> (change over the last cycle),
//                    u_prev:<control> (in force during the last cycle), u:<control> (candidate,
//                    held over the horizon), theta:<parameter> (estimated physical parameters).
// Surrogate outputs: <sensor>@+<lead>s, the change of each sensor after each lead time.

#include <string>
#include <vector>

#include "twin/config.hpp"

namespace twin::detail {

struct SurrogateLayout {
  int sensors = 0, controls = 0, parameters = 0;
  std::vector<int> lead_cycles;
  std::vector<std::string> inputs, outputs;
  int y0() const { return 0; }
  int dy0() const { return sensors; }
  int u_prev0() const { return 2 * sensors; }
  int u0() const { return 2 * sensors + controls; }
  int theta0() const { return 2 * sensors + 2 * controls; }
  /// Output index of sensor s at lead l.
  int output(int lead, int s) const { return lead * sensors + s; }
};

SurrogateLayout surrogate_layout(const Config& config);

/// Writes one input row into x (layout.inputs.size() values).
void surrogate_inputs(const SurrogateLayout& layout, const double* y, const double* y_prev, const double* u_prev,
                      const double* u, const double* theta, double* x);

}  // namespace twin::detail
