#include "cli/models_command.hpp"

#include <iostream>

#include "io/model_registry.hpp"
#include "twin/error.hpp"

namespace twin::cli {
namespace {

constexpr int exit_ok = 0;
constexpr int exit_bad_input = 2;

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
        if (k.rfind("validation", 0) == 0) std::cout << ", " << k << " " << v;
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
