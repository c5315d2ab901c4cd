#pragma once
// The advisor's feature layout, shared by `twin train` (which generates the data) and the
// runtime (which asks the models): one definition, so the two cannot drift apart.
//
// Surrogate inputs:  y:<sensor> (analysis now), dy:<sensor> (change over the last cycle),
//                    u_prev:<control> (in force during the last cycle), u:<control> (candidate,
//                    held over the horizon), theta:<parameter> (estimated physical parameters).
// Surrogate outputs: <sensor>@+<lead>s, the change of each sensor after each lead time.
//
// Anomaly inputs:    summaries of the innovations (each reading against the forecast, in units
//                    of its expected spread, rejected readings included) over the last
//                    anomaly_window cycles that do not depend on which sensor shows what: the
//                    mean against its usual level over the cycles before,
//                    extremes, how isolated the extremes are from their nearest neighbours, the
//                    evidence at the sensors of the controls that are on, QC rejections and
//                    missing readings, the change of the parameter estimates, and the innovation
//                    along each parameter's signature and what no signature explains. With a few
//                    dozen faults to learn from, a model over these generalises across sensors
//                    where one over raw per-sensor inputs would have to see each sensor fail.
// Anomaly outputs:   one softmax group class:<c> over anomaly_classes().

#include <array>
#include <cmath>
#include <deque>
#include <string>
#include <vector>

#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin::io {
class StateArchive;
}

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

/// The fault classes the anomaly model tells apart, in output order.
inline const std::vector<std::string>& anomaly_classes() {
  static const std::vector<std::string> c{"none", "sensor_fault", "heat_source", "cooling_degradation", "heater_failure"};
  return c;
}
/// The class a plant event belongs to (the sensor_* kinds are all sensor_fault).
std::string anomaly_class(EventKind kind);
/// Class probabilities from an anomaly model's outputs (members x rows x classes logits, as
/// advisor::Model::predict returns them): the ensemble mean of each member's softmax, rows x
/// classes.
std::vector<double> class_probabilities(const std::vector<double>& members, int members_count, int rows, int classes);

inline constexpr int anomaly_window = 3;  ///< cycles of innovations per sensor
inline constexpr int anomaly_recent = 5;     ///< cycles whose mean innovation is compared with the usual
inline constexpr int anomaly_baseline = 12;  ///< cycles before those that set the usual mean innovation
inline constexpr double anomaly_clip = 10.0;  ///< innovations beyond this many sigma count as this many

struct AnomalyLayout {
  std::vector<std::string> inputs, outputs;
};

AnomalyLayout anomaly_layout(const Config& config);

/// Turns each cycle's estimates into one row of anomaly inputs, keeping the window it needs.
/// The runtime and `twin train` both feed it CycleOutcome-like data, so the features are the
/// same at training and at run time.
class AnomalyFeatures {
 public:
  explicit AnomalyFeatures(const Config& config);
  const AnomalyLayout& layout() const { return m_layout; }
  /// Adds one cycle (sensors as the runtime reports them, estimated parameter means, controls in
  /// force during the cycle, the parameter moves the filter's gate withheld: empty or zeros
  /// without the gate) and returns its input row. The parameters' change it reads is that of
  /// theta plus everything withheld so far: the readings' pull on the parameters, whether or
  /// not the gate let them move. `split` is the filter's split of the innovation
  /// (CycleOutcome::innovation_split): empty and NaN read as a consistent cycle's 0 and 1.
  std::vector<double> push(const std::vector<SensorEstimate>& sensors, const std::vector<double>& theta,
                           const std::vector<double>& controls, const std::vector<double>& withheld = {},
                           const InnovationSplit& split = {});
  /// Each sensor's share of the squared innovations over the window (the last push): where an
  /// anomaly shows. Sums to 1 unless every innovation is zero.
  const std::vector<double>& evidence() const { return m_evidence; }
  /// The windows kept between cycles, for restart snapshots.
  void save(io::StateArchive& archive) const;
  void restore(const io::StateArchive& archive);

 private:
  AnomalyLayout m_layout;
  int m_sensors = 0;
  std::vector<double> m_noise, m_prior_std, m_max;
  std::vector<std::array<int, 2>> m_nearest;  // the two nearest other sensors of each sensor
  std::vector<int> m_control_sensor;          // sensor each control drives, or -1
  std::deque<std::vector<double>> m_z;        // newest first
  std::deque<std::vector<double>> m_theta;    // newest first, anomaly_window + 1 deep (theta + m_withheld)
  std::deque<std::vector<double>> m_along;    // newest first, anomaly_window deep
  std::deque<std::vector<double>> m_along_controls;  // newest first, anomaly_window deep
  std::vector<double> m_withheld;             // the gate's withheld parameter moves, summed since the start
  std::deque<double> m_means;                 // mean innovation per cycle, newest first
  std::vector<double> m_evidence;
};

}  // namespace twin::detail
