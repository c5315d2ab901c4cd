#include "advisor/safe_default.hpp"

namespace twin::advisor {

SafeDefault::Registry& SafeDefault::registry() {
  static Registry rules;
  return rules;
}

std::unique_ptr<SafeDefault> SafeDefault::create(const Config& config) {
  const std::string type = config.advisor ? config.advisor->safe_default.type : "fixed";
  return registry().create("advisor.safe_default.type", type, config);
}

std::vector<double> SafeDefault::safe_values(const Config& config) {
  std::vector<double> out;
  for (const auto& c : config.controls) out.push_back(c.safe ? *c.safe : c.initial);
  return out;
}

}  // namespace twin::advisor
