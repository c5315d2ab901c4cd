#pragma once
// The configuration keys of the facility's side (`sensors:`, `source:`), described once, next to the code that owns
// them. `describe(v, section)` is walked by the config reader (parse and validate) and by the
// writer (effective config) in src/config, through the visitor protocol of
// ground/config_rule.hpp. Keep docs/config.md in step.

#include "ground/config_rule.hpp"
#include "sources/observation_source.hpp"
#include "twin/config.hpp"

namespace twin::detail {

template <class V>
void describe(V& v, SensorConfig& c) {
  v.required("name", c.name);
  v.required("position_m", c.position_m, Rule().size(2, 3));
  v.optional("noise_std", c.noise_std, Rule::positive());
  v.optional("min", c.min);
  v.optional("max", c.max);
  v.check(!c.min || !c.max || *c.min < *c.max, "max", "must be greater than min");
}

template <class V>
void describe(V& v, PlantEventConfig& c) {
  v.required("type", c.type);
  v.required("start_s", c.start_s, Rule::non_negative());
  v.optional("end_s", c.end_s, Rule::non_negative());
  v.optional("target", c.target);
  v.optional("magnitude", c.magnitude);
  v.optional("center_m", c.center_m, Rule().size(2, 3));
  v.optional("size_m", c.size_m, Rule::positive().size(2, 3));
  v.check(!c.end_s || *c.end_s > c.start_s, "end_s", "must be later than start_s");
  const bool needs_target = c.type != EventKind::heat_source && c.type != EventKind::cooling_degradation;
  v.check(!needs_target || !c.target.empty(), "target", std::string("event ") + "needs a target (a sensor or control name)");
  v.check(c.type != EventKind::heat_source || (!c.center_m.empty() && c.size_m.size() == c.center_m.size()), "center_m",
          "a heat_source needs center_m and size_m");
  v.check(!is_drift_event(c.type) || c.end_s.has_value(), "end_s", "a drift needs end_s (when its factor is reached)");
  v.check(!is_drift_event(c.type) || c.magnitude > 0.0, "magnitude", "a drift's factor must be positive");
  v.check(c.type != EventKind::parameter_drift || c.magnitude <= 100.0, "magnitude",
          "a parameter_drift's factor is at most 100, as physics.parameters");
  v.check((c.type != EventKind::heater_failure && c.type != EventKind::cooling_degradation) || c.magnitude >= 0.0,
          "magnitude",
          std::string("a ") + (c.type == EventKind::heater_failure ? "heater_failure's" : "cooling_degradation's") +
              " magnitude multiplies what the plant delivers and must be >= 0");
  v.check(c.type != EventKind::parameter_drift || c.target == "diffusivity_factor" || c.target == "cooling_factor",
          "target", "a parameter_drift targets diffusivity_factor or cooling_factor");
}

template <class V>
void describe(V& v, PlantConfig& c) {
  v.optional("refine", c.refine, Rule::range(1, 8));
  v.optional("seed", c.seed);
  v.optional("initial_offset", c.initial_offset);
  v.section("parameters", c.parameters);
  v.list("events", c.events);
}

template <class V>
void describe(V& v, ObservationSourceConfig& c) {
  v.optional("type", c.type, Rule::one_of(ObservationSource::registry().types()));
  v.section("plant", c.plant);
  v.optional("replay_file", c.replay_file);
  v.optional("stream_input", c.stream_input);
  v.optional("advice_output", c.advice_output);
  v.optional("silence_s", c.silence_s, Rule::positive());
  v.check(c.type != "replay" || !c.replay_file.empty(), "replay_file", "type replay needs replay_file");
  // Keys only another type reads: a replay_file under the default type ran the plant emulator,
  // and the operator took its simulated readings for a replay of their data.
  v.check(c.type == "replay" || c.replay_file.empty(), "replay_file",
          "is read only by source type replay, and this source is '" + c.type + "' (add type: replay)");
  for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"stream_input", &c.stream_input},
                                   {"advice_output", &c.advice_output}})
    v.check(c.type == "stream" || *value == "-", key,
            "is read only by source type stream, and this source is '" + c.type + "' (add type: stream)");
  v.check(c.type == "stream" || !c.silence_s, "silence_s",
          "is read only by source type stream, and this source is '" + c.type + "' (add type: stream)");
}

}  // namespace twin::detail
