#include "decision/advisor_models.hpp"

#include <spdlog/spdlog.h>

#include "io/model_registry.hpp"
#include "twin/error.hpp"

namespace twin::detail {

AdvisorModels::AdvisorModels(const Config& config, bool load)
    : m_config(config), m_layout(surrogate_layout(config)), m_anomaly_features(config) {
  if (!load || !config.advisor) return;
  load_surrogate(0);
  if (config.advisor->anomaly) load_anomaly(0);
}

advisor::Model* AdvisorModels::surrogate(int cycle) {
  if (!m_surrogate && cycle - m_surrogate_loaded_at >= m_config.advisor->reprobe_cycles) load_surrogate(cycle);
  return m_surrogate.get();
}

advisor::Model* AdvisorModels::anomaly(int cycle) {
  if (!m_anomaly && cycle - m_anomaly_loaded_at >= m_config.advisor->reprobe_cycles) load_anomaly(cycle);
  return m_anomaly.get();
}

// The active version of a model from the registry, checked against the layout it must have.
std::unique_ptr<advisor::Model> AdvisorModels::open(const std::string& name, const std::vector<std::string>& inputs,
                                                    const std::vector<std::string>& outputs, std::string& path,
                                                    int wanted) const {
  const std::string dir = io::registry_directory(m_config);
  io::ModelRegistry registry(dir);
  const auto version = wanted > 0 ? std::optional<int>(wanted) : registry.active(name);
  if (!version) {
    // twin train makes no anomaly model with training.anomaly_scenarios: 0: say so, not "train one".
    const bool untrainable = m_config.advisor->anomaly && name == *m_config.advisor->anomaly &&
                             m_config.training.anomaly_scenarios == 0;
    throw AdvisorError("no active version of model '" + name + "' in registry " + dir +
                       (untrainable ? " (twin train makes none with training.anomaly_scenarios: 0; set it above 0, "
                                      "or advisor.anomaly: ~ to turn the diagnosis off)"
                                    : " (train one with: twin train " + m_config.source_name + ")"));
  }
  path = registry.checked_path(name, *version);
  advisor::ModelPackage package = io::read_model(path);
  // Authenticity: with the facility's key, a signature must verify; it may be required.
  const AdvisorConfig& ac = *m_config.advisor;
  const std::optional<std::string> key = io::model_key(ac.model_key_file);
  if (ac.require_signed_models && !key)
    throw AdvisorError("advisor.require_signed_models is set but no model key is given (advisor.model_key_file or "
                       "TWIN_MODEL_KEY_FILE)");
  if (key && !package.signature.empty() && package.signature != advisor::package_signature(*key, package))
    throw AdvisorError(path + ": its signature does not verify with the facility's model key (signed with another key, "
                       "or the package was resealed)");
  if (ac.require_signed_models && package.signature.empty())
    throw AdvisorError(path + ": not signed, and advisor.require_signed_models is set (train or import it with the "
                       "model key)");
  // The audit log names the registry's version: a file copied over another is refused.
  if (package.name != name || package.version != *version)
    throw AdvisorError(path + ": holds " + advisor::label(package) + " but the registry" +
                       (wanted > 0 ? " names it " : "'s pointer says ") + name + " v" + std::to_string(*version) +
                       " (a file copied over another?)");
  if (package.inputs != inputs || package.outputs != outputs)
    throw AdvisorError("model " + advisor::label(package) +
                       ": its inputs and outputs do not match this twin's sensors, controls, parameters and lead "
                       "times (trained for another config?); train it again");
  return std::make_unique<advisor::Model>(std::move(package));
}

void AdvisorModels::load_surrogate(int cycle) {
  m_surrogate_loaded_at = cycle;
  m_surrogate.reset();
  try {
    std::string path;
    auto model = open(m_config.advisor->surrogate, m_layout.inputs, m_layout.outputs, path);
    set_ood(*model);
    model->warm_up();
    m_surrogate = std::move(model);
    m_surrogate_problem.clear();
    const auto& metrics = m_surrogate->package().metrics;
    spdlog::info("advisor: {} loaded from {} (validation relative error {:.4f})", advisor::label(m_surrogate->package()),
                 path, metrics.count("validation_relative_error") ? metrics.at("validation_relative_error") : -1.0);
  } catch (const std::exception& e) {  // DataError, AdvisorError, filesystem errors: all mean "no model"
    m_surrogate_problem = e.what();
    spdlog::warn("advisor off: {}", m_surrogate_problem);
  }
}

advisor::OodScorer AdvisorModels::ood_for(const advisor::Model& surrogate) const {
  std::vector<int> features;  // the controls are the proposal's, not the plant's state
  for (int i = 0; i < static_cast<int>(m_layout.inputs.size()); ++i)
    if (i < m_layout.u0() || i >= m_layout.u0() + m_layout.controls) features.push_back(i);
  return advisor::OodScorer(surrogate.package().training, features);
}

void AdvisorModels::set_ood(const advisor::Model& surrogate) { m_ood = ood_for(surrogate); }

std::unique_ptr<advisor::Model> AdvisorModels::load_version(int version) const {
  std::string path;
  auto model = open(m_config.advisor->surrogate, m_layout.inputs, m_layout.outputs, path, version);
  model->warm_up();
  return model;
}

std::unique_ptr<advisor::Model> AdvisorModels::install_surrogate(std::unique_ptr<advisor::Model> model) {
  set_ood(*model);
  std::swap(model, m_surrogate);
  m_surrogate_problem.clear();
  return model;
}

void AdvisorModels::load_anomaly(int cycle) {
  m_anomaly_loaded_at = cycle;
  m_anomaly.reset();
  try {
    std::string path;
    const AnomalyLayout& al = m_anomaly_features.layout();
    auto model = open(*m_config.advisor->anomaly, al.inputs, al.outputs, path);
    model->warm_up();
    m_anomaly = std::move(model);
    m_anomaly_problem.clear();
    const auto& metrics = m_anomaly->package().metrics;
    spdlog::info("advisor: {} loaded from {} (validation accuracy {:.3f})", advisor::label(m_anomaly->package()), path,
                 metrics.count("validation_accuracy") ? metrics.at("validation_accuracy") : -1.0);
  } catch (const std::exception& e) {
    m_anomaly_problem = e.what();
    spdlog::warn("anomaly diagnosis off: {}", m_anomaly_problem);
  }
}

double anomaly_threshold(const AdvisorConfig& advisor, const advisor::ModelPackage& model, const std::string& fault_class) {
  if (advisor.anomaly_threshold) return *advisor.anomaly_threshold;
  const auto usable = [&](const std::string& key) {
    const auto it = model.metrics.find(key);
    return it != model.metrics.end() && it->second > 0.0 && it->second <= 1.0 ? &it->second : nullptr;
  };
  if (const double* t = usable("anomaly_threshold:" + fault_class)) return *t;
  if (const double* t = usable("anomaly_threshold")) return *t;
  return default_anomaly_threshold;
}

}  // namespace twin::detail
