#include "cli/models_command.hpp"

#include <iomanip>
#include <iostream>
#include <sstream>

#include "decision/features.hpp"
#include "io/model_registry.hpp"
#include "twin/error.hpp"

namespace twin::cli {
namespace {

constexpr int exit_ok = 0;
constexpr int exit_bad_input = 2;

// The held-out figures twin train stored with a model (docs/advisor.md, "Held-out evaluation").
void held_out_figures(const advisor::ModelPackage& p) {
  const auto has = [&](const std::string& k) { return p.metrics.count(k) > 0; };
  const auto get = [&](const std::string& k) { return has(k) ? p.metrics.at(k) : 0.0; };
  std::cout << std::fixed;
  if (has("test_relative_error"))
    std::cout << "\n      test (" << static_cast<long>(get("test_rows")) << " rows of held-out control sequences): relative error "
              << std::setprecision(4) << get("test_relative_error") << ", within +-2 sd " << std::setprecision(2)
              << get("test_coverage_2sigma");
  if (has("anomaly_threshold")) {
    std::ostringstream per_class;  // one per fault class since they are chosen so; one for all before
    int classes = 0;
    for (const std::string& c : detail::anomaly_classes())
      if (has("anomaly_threshold:" + c)) {
        ++classes;  // 0.5: no quiet cycle called the class high enough to set it (the floor)
        per_class << (per_class.tellp() > 0 ? ", " : "") << c << " " << std::fixed << std::setprecision(3)
                  << get("anomaly_threshold:" + c) << (get("anomaly_threshold:" + c) == 0.5 ? " (floor)" : "");
      }
    if (per_class.tellp() > 0) std::cout << "\n      thresholds " << per_class.str() << "; chosen on ";
    else std::cout << "\n      threshold " << std::setprecision(3) << get("anomaly_threshold") << ", chosen on ";
    std::cout << (get("threshold_folds") > 0 ? "the training and validation scenarios, cross-fitted in " +
                                                   std::to_string(static_cast<int>(get("threshold_folds"))) + " folds: "
                                             : std::string("validation scenarios: "))
              << std::setprecision(4) << get("validation_false_alarm_rate") << " false alarms per quiet cycle (budget "
              << get("anomaly_false_alarm_budget")
              << (classes > 0 ? " shared by " + std::to_string(classes) + " classes" : std::string()) << ", "
              << static_cast<long>(get("validation_quiet_cycles")) << " cycles)";
  }
  if (has("test_quiet_cycles")) {
    const auto& classes = detail::anomaly_classes();
    std::cout << "\n      test scenarios: " << std::setprecision(4) << get("test_false_alarm_rate") << " false alarms per quiet cycle ("
              << static_cast<long>(get("test_quiet_cycles")) << " cycles)";
    std::cout << "\n        class                 events  named  in time  mean delay  precision  recall  detectable  after";
    for (const std::string& c : classes) {
      std::cout << "\n        " << std::left << std::setw(20) << c << std::right;
      if (has("test_events:" + c))
        std::cout << std::setw(8) << static_cast<long>(get("test_events:" + c)) << std::setw(7)
                  << static_cast<long>(get("test_named:" + c)) << std::setw(9) << static_cast<long>(get("test_named_in_time:" + c))
                  << std::setw(12) << [&] {  // "-": no event named, no delay to average
                       std::ostringstream s;
                       if (has("test_delay_mean:" + c)) s << std::fixed << std::setprecision(1) << get("test_delay_mean:" + c);
                       else s << "-";
                       return s.str();
                     }();
      else
        std::cout << std::setw(36) << "";
      const auto share = [&](const std::string& k, int width) {  // "-": no cycle to take it over
        std::ostringstream s;
        if (has(k)) s << std::fixed << std::setprecision(2) << get(k); else s << "-";
        std::cout << std::setw(width) << s.str();
      };
      share("test_precision:" + c, 11);
      share("test_recall:" + c, 8);
      if (has("test_detectable:" + c)) {  // how soon the readings could show it (FaultEvidence)
        std::cout << std::setw(12) << static_cast<long>(get("test_detectable:" + c));
        std::ostringstream s;
        if (has("test_detectable_delay_mean:" + c)) s << std::fixed << std::setprecision(1) << get("test_detectable_delay_mean:" + c); else s << "-";
        std::cout << std::setw(7) << s.str();
      }
    }
    std::cout << "\n        confusion (cycles; rows: truth, columns: called)";
    std::cout << "\n        " << std::setw(20) << "";
    for (const std::string& c : classes) std::cout << std::setw(10) << c.substr(0, 9);
    for (const std::string& t : classes) {
      std::cout << "\n        " << std::left << std::setw(20) << t << std::right;
      for (const std::string& c : classes) std::cout << std::setw(10) << static_cast<long>(get("test_confusion:" + t + ">" + c));
    }
  }
  std::cout.unsetf(std::ios::floatfield);
  std::cout << std::setprecision(6);
}

void list(const io::ModelRegistry& registry) {
  const auto entries = registry.list();
  if (entries.empty()) std::cout << registry.directory() << ": no models (train some with: twin train CONFIG)\n";
  for (const auto& e : entries) {
    std::cout << (e.active ? "* " : "  ") << e.name << " v" << e.version << "  [" << e.state << "]";
    try {
      const advisor::ModelPackage p = io::read_model(e.path);
      std::cout << "  " << p.kind << ", " << p.role << ", " << p.inputs.size() << " inputs, " << p.outputs.size()
                << " outputs, ensemble of " << p.ensemble << ", parent v" << p.lineage.parent_version << ", created "
                << p.lineage.created_utc;
      for (const auto& [k, v] : p.metrics)
        if (k.rfind("validation", 0) == 0 && k != "validation_quiet_cycles" && k != "validation_false_alarm_rate")
          std::cout << ", " << k << " " << v;
      held_out_figures(p);
    } catch (const std::exception& ex) {
      std::cout << "  unreadable: " << ex.what();
    }
    if (!e.reason.empty()) std::cout << "\n      " << e.reason;
    std::cout << "\n";
  }
}

void lineage(const io::ModelRegistry& registry, const std::string& name, int version) {
  if (version <= 0) {
    const auto active = registry.active(name);
    if (!active) throw DataError(registry.directory() + ": model '" + name + "' has no active version; name one");
    version = *active;
  }
  const auto chain = registry.lineage(name, version);
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const advisor::ModelPackage& p = chain[i];
    std::cout << (i ? "  <- " : "") << name << " v" << p.version;
    if (p.kind.empty()) {  // a parent that could not be read
      std::cout << "  unreadable: " << p.role << "\n";
      break;
    }
    const auto attr = [&](const char* key) {
      const auto it = p.attributes.find(key);
      return it == p.attributes.end() ? std::string() : it->second;
    };
    std::cout << "  [" << registry.state(name, p.version) << "]  created " << p.lineage.created_utc << " by twinrt "
              << p.lineage.twinrt_version << "\n";
    std::cout << "      origin: " << (attr("origin").empty() ? (attr("imported_from").empty() ? "twin train" : "imported from " + attr("imported_from")) : attr("origin")) << "\n";
    std::cout << "      data: sha256 " << (p.lineage.data_sha256.empty() ? "(none recorded)" : p.lineage.data_sha256);
    if (!attr("data_windows").empty()) std::cout << "; captured windows " << attr("data_windows");
    std::cout << "\n      config sha256 " << p.lineage.config_sha256 << ", seed " << p.lineage.seed << ", " << p.lineage.ranks
              << " rank(s), parent v" << p.lineage.parent_version;
    if (p.metrics.count("validation_rmse")) std::cout << ", validation rmse " << p.metrics.at("validation_rmse");
    std::cout << "\n";
  }
}

}  // namespace

int models_command(const ModelsRequest& r) {
  try {
    io::ModelRegistry registry(r.registry);
    switch (r.verb) {
      case ModelsRequest::Verb::list:
        list(registry);
        break;
      case ModelsRequest::Verb::lineage:
        lineage(registry, r.name, r.version);
        break;
      case ModelsRequest::Verb::promote:
        registry.promote(r.name, r.version, r.reason.empty() ? "twin models promote" : r.reason);
        std::cout << r.name << " v" << r.version << " is now active in " << r.registry << "\n";
        break;
      case ModelsRequest::Verb::rollback: {
        const int v = registry.rollback(r.name, r.reason.empty() ? "twin models rollback" : r.reason);
        std::cout << r.name << " rolled back to v" << v << " in " << r.registry << "\n";
        break;
      }
    }
    return exit_ok;
  } catch (const std::exception& e) {
    std::cerr << "twin: " << e.what() << std::endl;
    return exit_bad_input;
  }
}

}  // namespace twin::cli
