#pragma once
// The configuration keys of logging (`logging:`), described once, next to the code that owns
// them. `describe(v, section)` is walked by the config reader (parse and validate) and by the
// writer (effective config) in src/config, through the visitor protocol of
// ground/config_rule.hpp. Keep docs/config.md in step.

#include "ground/config_rule.hpp"
#include "twin/logging_config.hpp"

namespace twin::detail {

template <class V>
void describe(V& v, LoggingConfig& c) {
  v.optional("level", c.level);
  v.optional("all_ranks", c.all_ranks);
  v.optional("json_file", c.json_file);
}

}  // namespace twin::detail
