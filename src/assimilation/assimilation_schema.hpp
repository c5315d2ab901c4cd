#pragma once
// The configuration keys of the filter (`ensemble:`, `assimilation:`), described once, next to the code that owns
// them. `describe(v, section)` is walked by the config reader (parse and validate) and by the
// writer (effective config) in src/config, through the visitor protocol of
// ground/config_rule.hpp. Keep docs/config.md in step.

#include "ground/config_rule.hpp"
#include "assimilation/assimilator.hpp"
#include "twin/config.hpp"

namespace twin::detail {

template <class V>
void describe(V& v, EstimatedParameterConfig& c) {
  v.required("name", c.name);
  v.optional("prior_mean", c.prior_mean, Rule::positive());
  v.optional("prior_std", c.prior_std, Rule::non_negative());
  v.optional("min", c.min, Rule::non_negative());
  v.optional("max", c.max, Rule::positive());
  v.optional("min_spread", c.min_spread, Rule::non_negative());
  v.optional("wander_s", c.wander_s, Rule::non_negative());
  v.check(c.name == "diffusivity_factor" || c.name == "cooling_factor", "name",
          "unknown parameter '" + c.name + "'; estimable parameters: diffusivity_factor, cooling_factor");
  v.check(c.min < c.max, "max", "must be greater than min");
  v.check(c.min >= c.max || (c.prior_mean >= c.min && c.prior_mean <= c.max), "prior_mean", "must lie within [min, max]");
  v.check(c.name != "diffusivity_factor" || c.min > 0.0, "min", "diffusivity_factor needs min > 0");
}

template <class V>
void describe(V& v, EnsembleConfig& c) {
  v.optional("members", c.members, Rule::range(1, 4096));
  v.optional("member_groups", c.member_groups, Rule::at_least(1));
  v.optional("seed", c.seed);
  v.optional("initial_spread", c.initial_spread, Rule::non_negative());
  v.optional("initial_length_m", c.initial_length_m, Rule::positive());
  v.list("parameters", c.parameters);
  v.check(unique_names(c.parameters), "parameters", "parameter names must be unique");
}

template <class V>
void describe(V& v, AssimilationConfig& c) {
  v.optional("enabled", c.enabled);
  v.optional("type", c.type, Rule::one_of(Assimilator::registry().types()));
  v.optional("localization_m", c.localization_m, Rule::positive());
  v.optional("inflation", c.inflation, Rule::range(1.0, 2.0));
  v.optional("parameter_inflation", c.parameter_inflation, Rule::range(1.0, 2.0));
  v.optional("relaxation", c.relaxation, Rule::range(0.0, 1.0));
  v.optional("representation_std", c.representation_std, Rule::non_negative());
  v.optional("parameter_gate", c.parameter_gate, Rule::range(0.0, 0.5));
  v.optional("parameter_gate_hold_cycles", c.parameter_gate_hold_cycles, Rule::range(1, 1000));
  v.optional("parameter_sampling_correction", c.parameter_sampling_correction);
  v.optional("model_error_gain", c.model_error_gain, Rule::range(0.0, 1.0));
  v.optional("parameter_movement_cycles", c.parameter_movement_cycles, Rule::range(0, 10000));
  v.optional("parameter_walk_cycles", c.parameter_walk_cycles, Rule::range(0, 10000));
  v.optional("parameter_damping", c.parameter_damping, Rule::range(0.01, 1.0));
  v.optional("parameter_spin_up_cycles", c.parameter_spin_up_cycles, Rule::range(0, 1000000));
  v.optional("innovation_persistence_cycles", c.innovation_persistence_cycles, Rule::range(0, 10000));
  v.check(c.innovation_persistence_cycles != 1, "innovation_persistence_cycles",
          "must be 0 (off) or at least 2: a mean over one analysis is that analysis alone, which the consistency "
          "test already judges");
  v.optional("grid_check_cycles", c.grid_check_cycles, Rule::range(0, 100000));
}

}  // namespace twin::detail
