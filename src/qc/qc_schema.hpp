#pragma once
// The configuration keys of quality control (`qc:`), described once, next to the code that owns
// them. `describe(v, section)` is walked by the config reader (parse and validate) and by the
// writer (effective config) in src/config, through the visitor protocol of
// ground/config_rule.hpp. Keep docs/config.md in step.

#include "ground/config_rule.hpp"
#include "twin/config.hpp"

namespace twin::detail {

template <class V>
void describe(V& v, QcConfig& c) {
  v.optional("max_age_s", c.max_age_s, Rule::positive());
  v.optional("max_future_s", c.max_future_s, Rule::positive());
  v.optional("stuck_cycles", c.stuck_cycles, Rule::at_least(2));
  v.optional("stuck_tolerance", c.stuck_tolerance, Rule::non_negative());
  v.optional("innovation_sigma", c.innovation_sigma, Rule::positive());
  v.optional("innovation_floor", c.innovation_floor, Rule::non_negative());
  v.optional("buddy_radius_m", c.buddy_radius_m, Rule::non_negative());
  v.optional("buddy_sigma", c.buddy_sigma, Rule::non_negative());
  v.optional("buddy_memory", c.buddy_memory, Rule::range(0.0, 0.95));
  v.optional("blind_cycles", c.blind_cycles, Rule::range(0, QcConfig::max_blind_cycles));
}

}  // namespace twin::detail
