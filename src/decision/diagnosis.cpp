// Decider::diagnose: the anomaly model over the cycle's innovation features (decision/features).
// Advisory only: a flag is reported, audited and scored, and never changes the controls.
#include <algorithm>
#include <cmath>

#include "decision/advisor_models.hpp"
#include "decision/decider.hpp"

namespace twin::detail {

AnomalyReport Decider::diagnose(const DecisionInputs& in, const std::vector<SensorEstimate>& sensors) {
  AnomalyReport r;
  // The window advances every cycle, consulted or not, so the features are whole when it is.
  const std::vector<double> x =
      m_models->anomaly_features().push(sensors, in.theta, m_controls, in.parameter_withheld, in.innovation_split);
  if (!m_config.advisor) {
    r.reason = "no advisor configured";
    return r;
  }
  const AdvisorConfig& ac = *m_config.advisor;
  if (!ac.anomaly) {
    r.reason = "anomaly diagnosis disabled (advisor.anomaly is not set)";
    return r;
  }
  advisor::Model* anomaly = m_models->anomaly(in.cycle);
  if (!anomaly) {
    r.reason = "model unavailable: " + m_models->anomaly_problem();
    return r;
  }
  r.model = advisor::label(anomaly->package());
  if (!in.twin_healthy) {
    r.reason = "twin unhealthy";
    return r;
  }
  if (in.cycle <= ac.anomaly_warmup_cycles) {
    r.reason = "filter spin-up: diagnosis starts after cycle " + std::to_string(ac.anomaly_warmup_cycles);
    return r;
  }
  std::vector<double> members;
  try {
    anomaly->predict(x.data(), 1, members);
  } catch (const std::exception& e) {
    r.reason = std::string("inference error: ") + e.what();
    return r;
  }
  const int C = anomaly->outputs();
  const std::vector<double> prob = class_probabilities(members, anomaly->members(), 1, C);
  for (double v : prob)
    if (!std::isfinite(v)) {
      r.reason = "inference error: non-finite class probabilities";
      return r;
    }
  int best = 0;
  for (int c = 1; c < C; ++c)
    if (prob[c] > prob[best]) best = c;
  r.consulted = true;
  r.fault_class = anomaly_classes()[best];
  r.confidence = prob[best];
  r.flagged = best != 0 && prob[best] >= anomaly_threshold(ac, anomaly->package(), r.fault_class);
  if (best == 0) return r;
  // Attribution: the sensors whose readings depart most from the forecast over the window.
  const std::vector<double>& share = m_models->anomaly_features().evidence();
  std::vector<int> order(share.size());
  for (std::size_t s = 0; s < order.size(); ++s) order[s] = static_cast<int>(s);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return share[a] > share[b]; });
  for (std::size_t i = 0; i < std::min<std::size_t>(3, order.size()) && share[order[i]] > 0; ++i) {
    r.sensors.push_back(m_config.sensors[order[i]].name);
    r.attribution.push_back(share[order[i]]);
  }
  return r;
}

}  // namespace twin::detail
