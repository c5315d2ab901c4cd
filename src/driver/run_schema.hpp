#pragma once
// The configuration keys of the run (`twin:`, `outputs:`, `snapshots:`), described once, next to the code that owns
// them. `describe(v, section)` is walked by the config reader (parse and validate) and by the
// writer (effective config) in src/config, through the visitor protocol of
// ground/config_rule.hpp. Keep docs/config.md in step.

#include "ground/config_rule.hpp"
#include "twin/config.hpp"

namespace twin::detail {

template <class V>
void describe(V& v, RunConfig& c) {
  v.optional("name", c.name);
  v.optional("cycles", c.cycles, Rule::at_least(1));
  v.optional("control_period_s", c.control_period_s, Rule::positive());
  v.optional("deadline_ms", c.deadline_ms, Rule::positive());
  v.optional("run_dir", c.run_dir);
  v.optional("watchdog_s", c.watchdog_s, Rule::positive());
  v.check(!c.name.empty() && c.name.find_first_of("/\\ \t") == std::string::npos, "name",
          "must be a non-empty name without slashes or spaces");
}

template <class V>
void describe(V& v, OutputConfig& c) {
  v.optional("field_every", c.field_every, Rule::non_negative());
  v.optional("flush_every", c.flush_every, Rule::at_least(1));
  v.optional("progress", c.progress);
  v.optional("watts_per_core", c.watts_per_core, Rule::positive());
  v.optional("audit_key_file", c.audit_key_file);
}

template <class V>
void describe(V& v, SnapshotConfig& c) {
  v.optional("every", c.every, Rule::non_negative());
  v.optional("keep", c.keep, Rule::at_least(1));
}

}  // namespace twin::detail
