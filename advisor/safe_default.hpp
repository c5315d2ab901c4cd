#pragma once
// The safe default controller (advisor.safe_default): what the facility gets whenever advice
// cannot be trusted. Its output is the target the emitted controls ramp to inside the envelope
// (gates.hpp). One type per file, registered by name: fixed (safe_default_fixed.cpp),
// proportional (safe_default_proportional.cpp). Plain C++, no LibTorch.

#include <memory>
#include <vector>

#include "ground/registry.hpp"
#include "twin/config.hpp"

namespace twin::advisor {

class SafeDefault {
 public:
  using Registry = twin::Registry<SafeDefault, const Config&>;
  static Registry& registry();
  /// The rule of config.advisor->safe_default.type; "fixed" when there is no advisor section.
  /// @throws ConfigError for a type nobody registered.
  static std::unique_ptr<SafeDefault> create(const Config& config);

  virtual ~SafeDefault() = default;
  /// The controls to hold, config.controls order. `analysis`: the twin's estimate at every
  /// config.sensors entry (NaN where unknown; a rule then falls back to the safe value).
  virtual std::vector<double> target(const std::vector<double>& analysis) const = 0;
  /// The rule's name, as written in the config.
  virtual const char* rule() const = 0;

 protected:
  /// The safe value of each control: controls[j].safe, or its initial value.
  static std::vector<double> safe_values(const Config& config);
};

}  // namespace twin::advisor
