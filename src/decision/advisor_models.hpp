#pragma once
// The advisor's models as the decider sees them: the active surrogate and anomaly model of the
// registry, checked against this twin's layout, and reloaded every advisor.reprobe_cycles while
// unusable. A missing, tampered, truncated or incompatible model is a reason, never an error.

#include <memory>
#include <string>

#include "advisor/model.hpp"
#include "advisor/ood.hpp"
#include "decision/features.hpp"
#include "twin/config.hpp"

namespace twin::detail {

class AdvisorModels {
 public:
  /// `load`: try both models now (otherwise they stay unloaded, as on ranks that do not decide).
  AdvisorModels(const Config& config, bool load);

  const SurrogateLayout& layout() const { return m_layout; }
  AnomalyFeatures& anomaly_features() { return m_anomaly_features; }

  /// The surrogate, reloaded first when it is unusable and a reprobe is due at `cycle`; null when
  /// unusable (surrogate_problem() says why).
  advisor::Model* surrogate(int cycle);
  advisor::Model* surrogate() const { return m_surrogate.get(); }
  const std::string& surrogate_problem() const { return m_surrogate_problem; }
  /// The OOD scorer of the loaded surrogate's training data.
  const advisor::OodScorer& ood() const { return m_ood; }
  /// The OOD scorer of another surrogate's training data (a shadow's).
  advisor::OodScorer ood_for(const advisor::Model& surrogate) const;

  /// A version of the surrogate from the registry, with every check the active one gets
  /// (signature, name and version, layout). @throws DataError or AdvisorError saying why not.
  std::unique_ptr<advisor::Model> load_version(int version) const;
  /// Makes `model` the surrogate in use (its OOD scorer too) and returns the one it replaces.
  std::unique_ptr<advisor::Model> install_surrogate(std::unique_ptr<advisor::Model> model);

  /// The anomaly model, as surrogate(cycle).
  advisor::Model* anomaly(int cycle);
  advisor::Model* anomaly() const { return m_anomaly.get(); }
  const std::string& anomaly_problem() const { return m_anomaly_problem; }
  /// The cycles of the last load attempts {surrogate, anomaly}, for restart snapshots.
  std::vector<int> schedule() const { return {m_surrogate_loaded_at, m_anomaly_loaded_at}; }
  void restore_schedule(const std::vector<int>& s) {
    if (s.size() != 2) return;
    m_surrogate_loaded_at = s[0];
    m_anomaly_loaded_at = s[1];
  }

 private:
  /// `version`: 0 for the active one.
  std::unique_ptr<advisor::Model> open(const std::string& name, const std::vector<std::string>& inputs,
                                       const std::vector<std::string>& outputs, std::string& path, int version = 0) const;
  void set_ood(const advisor::Model& surrogate);
  void load_surrogate(int cycle);
  void load_anomaly(int cycle);

  const Config& m_config;  // the Decider's, which owns this object
  SurrogateLayout m_layout;
  AnomalyFeatures m_anomaly_features;
  std::unique_ptr<advisor::Model> m_surrogate, m_anomaly;
  advisor::OodScorer m_ood;
  std::string m_surrogate_problem, m_anomaly_problem;
  int m_surrogate_loaded_at = 0, m_anomaly_loaded_at = 0;
};

/// Threshold of a model without one of its own (imported, or trained before twinrt chose them).
inline constexpr double default_anomaly_threshold = 0.8;
/// The anomaly threshold in force for `fault_class`: advisor.anomaly_threshold if set, else the
/// one `twin train` chose for that class on held-out scenarios (the model's metric
/// "anomaly_threshold:<class>"), else its one threshold for all (models trained before the
/// per-class ones: "anomaly_threshold"), else the default.
double anomaly_threshold(const AdvisorConfig& advisor, const advisor::ModelPackage& model, const std::string& fault_class);

}  // namespace twin::detail
