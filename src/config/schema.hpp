#pragma once
// Every key of the configuration, once. `describe(v, section)` is walked by the reader (parse and
// validate) and by the writer (effective config), so the two can never disagree.
//
// A visitor V provides:
//   v.required(key, value, rule)      value must be present
//   v.optional(key, value, rule)      keeps the default when absent (std::optional stays empty)
//   v.section(key, sub)               a nested map described by describe(v, sub); optional
//   v.list(key, items)                a list of maps, each described by describe(v, item)
//   v.check(ok, key, message)         a cross-field rule (reader only)
// Keep docs/config.md in step with this file.

#include "config/rule.hpp"
#include "advisor/safe_default.hpp"
#include "assimilation/assimilator.hpp"
#include "solvers/solver.hpp"
#include "sources/observation_source.hpp"
#include "twin/config.hpp"

namespace twin::detail {

inline constexpr const char* face_names[6] = {"x_low", "x_high", "y_low", "y_high", "z_low", "z_high"};

template <class T>
bool unique_names(const std::vector<T>& items) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].name.empty()) return false;
    for (std::size_t j = 0; j < i; ++j)
      if (items[j].name == items[i].name) return false;
  }
  return true;
}

template <class V>
void describe(V& v, RunConfig& c) {
  v.optional("name", c.name);
  v.optional("cycles", c.cycles, Rule::at_least(1));
  v.optional("control_period_s", c.control_period_s, Rule::positive());
  v.optional("deadline_ms", c.deadline_ms, Rule::positive());
  v.optional("run_dir", c.run_dir);
  v.check(!c.name.empty() && c.name.find_first_of("/\\ \t") == std::string::npos, "name",
          "must be a non-empty name without slashes or spaces");
}

template <class V>
void describe(V& v, GridConfig& c) {
  v.required("cells", c.cells, Rule::at_least(3).size(2, 3));
  v.required("extent_m", c.extent_m, Rule::positive().size(2, 3));
  v.optional("ranks", c.ranks, Rule::at_least(1).size(2, 3));
  v.check(c.extent_m.size() == c.cells.size(), "extent_m", "needs one entry per axis of grid.cells");
  v.check(c.ranks.empty() || c.ranks.size() == c.cells.size(), "ranks", "needs one entry per axis of grid.cells");
  double total = 1.0;
  for (int n : c.cells) total *= n;
  v.check(total <= 2.0e9, "cells", "more than 2e9 cells in total");
}

template <class V>
void describe(V& v, BoundaryConfig& c) {
  v.required("type", c.type);
  v.optional("value", c.value);
  v.optional("flux", c.flux);
  v.optional("transfer_m_s", c.transfer_m_s, Rule::non_negative());
  v.check(c.type == BoundaryType::robin || c.transfer_m_s == 0.0, "transfer_m_s", "applies to type robin only");
  v.check(c.type == BoundaryType::neumann || c.flux == 0.0, "flux", "applies to type neumann only");
}

template <class V>
void describe(V& v, BoundariesConfig& c) {
  v.section("default", c.default_face);
  for (int f = 0; f < 6; ++f) v.section(face_names[f], c.faces[f]);
}

// A region's keys sit in the map of the item that owns it (shape, center_m, size_m).
template <class V>
void describe(V& v, ShapeConfig& c) {
  v.optional("shape", c.shape);
  v.required("center_m", c.center_m, Rule().size(2, 3));
  v.required("size_m", c.size_m, Rule::positive().size(2, 3));
  v.check(c.size_m.size() == c.center_m.size(), "size_m", "needs as many entries as center_m");
}

template <class V>
void describe(V& v, DiffusivityRegionConfig& c) {
  describe(v, c.region);
  v.required("diffusivity_m2_s", c.diffusivity_m2_s, Rule::non_negative());
}

template <class V>
void describe(V& v, SourceConfig& c) {
  v.required("name", c.name);
  describe(v, c.region);
  v.required("rate", c.rate);
  v.optional("start_s", c.start_s, Rule::non_negative());
  v.optional("end_s", c.end_s, Rule::non_negative());
  v.check(!c.end_s || *c.end_s > c.start_s, "end_s", "must be later than start_s");
}

template <class V>
void describe(V& v, VortexConfig& c) {
  v.required("center_m", c.center_m, Rule().size(2, 2));
  v.required("angular_velocity_rad_s", c.angular_velocity_rad_s);
}

template <class V>
void describe(V& v, ParametersConfig& c) {
  v.optional("diffusivity_factor", c.diffusivity_factor, Rule::above_up_to(0.0, 100.0));
  v.optional("cooling_factor", c.cooling_factor, Rule::range(0.0, 100.0));
}

template <class V>
void describe(V& v, PhysicsConfig& c) {
  v.optional("diffusivity_m2_s", c.diffusivity_m2_s, Rule::non_negative());
  v.list("diffusivity_regions", c.diffusivity_regions);
  v.optional("velocity_m_s", c.velocity_m_s, Rule().size(2, 3));
  v.section("vortex", c.vortex);
  v.optional("reaction_per_s", c.reaction_per_s, Rule::non_negative());
  v.optional("reaction_reference", c.reaction_reference);
  v.optional("source", c.source);
  v.list("sources", c.sources);
  v.optional("initial_value", c.initial_value);
  v.section("parameters", c.parameters);
  v.section("boundaries", c.boundaries);
}

template <class V>
void describe(V& v, ControlConfig& c) {
  v.required("name", c.name);
  describe(v, c.region);
  v.required("gain", c.gain);
  v.optional("unit", c.unit);
  v.optional("initial", c.initial);
  v.optional("min", c.min);
  v.optional("max", c.max);
  v.optional("rate_limit_per_s", c.rate_limit_per_s, Rule::positive());
  v.optional("safe", c.safe);
  v.optional("sensor", c.sensor);
  v.check(c.min <= c.max, "max", "must be at least min");
  v.check(c.initial >= c.min && c.initial <= c.max, "initial", "must lie within [min, max]");
  v.check(!c.safe || (*c.safe >= c.min && *c.safe <= c.max), "safe", "must lie within [min, max]");
}

template <class V>
void describe(V& v, ImplicitConfig& c) {
  v.optional("ksp_type", c.ksp_type);
  v.optional("pc_type", c.pc_type);
  v.optional("mg_levels", c.mg_levels, Rule::at_least(2));
  v.optional("rtol", c.rtol, Rule::above_up_to(0.0, 0.5));
  v.optional("max_iterations", c.max_iterations, Rule::at_least(1));
  v.optional("petsc_options", c.petsc_options);
  v.check(!c.ksp_type.empty() && !c.pc_type.empty(), "ksp_type", "ksp_type and pc_type must not be empty");
}

template <class V>
void describe(V& v, TimeConfig& c) {
  v.optional("integrator", c.integrator, Rule::one_of(solvers::Solver::registry().types()));
  v.optional("cfl", c.cfl, Rule::above_up_to(0.0, 1.0));
  v.optional("max_dt_s", c.max_dt_s, Rule::positive());
  v.section("implicit", c.implicit);
}

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
void describe(V& v, EstimatedParameterConfig& c) {
  v.required("name", c.name);
  v.optional("prior_mean", c.prior_mean, Rule::positive());
  v.optional("prior_std", c.prior_std, Rule::non_negative());
  v.optional("min", c.min, Rule::non_negative());
  v.optional("max", c.max, Rule::positive());
  v.optional("min_spread", c.min_spread, Rule::non_negative());
  v.check(c.name == "diffusivity_factor" || c.name == "cooling_factor", "name",
          "unknown parameter '" + c.name + "'; estimable parameters: diffusivity_factor, cooling_factor");
  v.check(c.min < c.max && c.prior_mean >= c.min && c.prior_mean <= c.max, "prior_mean", "must lie within [min, max]");
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
  v.optional("representation_std", c.representation_std, Rule::non_negative());
}

template <class V>
void describe(V& v, QcConfig& c) {
  v.optional("max_age_s", c.max_age_s, Rule::positive());
  v.optional("stuck_cycles", c.stuck_cycles, Rule::at_least(2));
  v.optional("stuck_tolerance", c.stuck_tolerance, Rule::non_negative());
  v.optional("innovation_sigma", c.innovation_sigma, Rule::positive());
  v.optional("innovation_floor", c.innovation_floor, Rule::non_negative());
  v.optional("buddy_radius_m", c.buddy_radius_m, Rule::non_negative());
  v.optional("buddy_sigma", c.buddy_sigma, Rule::non_negative());
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
  v.check(c.type != "replay" || !c.replay_file.empty(), "replay_file", "type replay needs replay_file");
}

template <class V>
void describe(V& v, OutputConfig& c) {
  v.optional("field_every", c.field_every, Rule::non_negative());
  v.optional("flush_every", c.flush_every, Rule::at_least(1));
  v.optional("progress", c.progress);
}

template <class V>
void describe(V& v, TargetConfig& c) {
  v.required("sensor", c.sensor);
  v.required("value", c.value);
  v.optional("weight", c.weight, Rule::non_negative());
}

template <class V>
void describe(V& v, LimitConfig& c) {
  v.required("sensor", c.sensor);
  v.required("max", c.max);
}

template <class V>
void describe(V& v, ObjectivesConfig& c) {
  v.list("targets", c.targets);
  v.list("limits", c.limits);
  v.optional("energy_weight", c.energy_weight, Rule::non_negative());
  v.optional("limit_weight", c.limit_weight, Rule::non_negative());
}

template <class V>
void describe(V& v, SafeDefaultConfig& c) {
  v.optional("type", c.type, Rule::one_of(advisor::SafeDefault::registry().types()));
  v.optional("gain", c.gain, Rule::non_negative());
}

template <class V>
void describe(V& v, GatesConfig& c) {
  v.optional("latency_budget_ms", c.latency_budget_ms, Rule::positive());
  v.optional("max_spread", c.max_spread, Rule::positive());
  v.optional("max_ood", c.max_ood, Rule::positive());
  v.optional("physics_check", c.physics_check);
  v.optional("physics_tolerance", c.physics_tolerance, Rule::positive());
}

template <class V>
void describe(V& v, BreakerConfig& c) {
  v.optional("failures", c.failures, Rule::at_least(1));
  v.optional("cooldown_cycles", c.cooldown_cycles, Rule::at_least(1));
  v.optional("clean_cycles", c.clean_cycles, Rule::at_least(1));
}

template <class V>
void describe(V& v, AdvisorConfig& c) {
  v.optional("registry", c.registry);
  v.optional("surrogate", c.surrogate);
  v.optional("anomaly", c.anomaly);
  v.optional("candidates", c.candidates, Rule::range(1, 256));
  v.optional("iterations", c.iterations, Rule::range(0, 1000));
  v.optional("anomaly_threshold", c.anomaly_threshold, Rule::above_up_to(0.0, 1.0));
  v.optional("anomaly_warmup_cycles", c.anomaly_warmup_cycles, Rule::non_negative());
  v.optional("threads", c.threads, Rule::range(1, 256));
  v.optional("reprobe_cycles", c.reprobe_cycles, Rule::at_least(1));
  v.section("safe_default", c.safe_default);
  v.section("gates", c.gates);
  v.section("breaker", c.breaker);
  v.check(!c.surrogate.empty(), "surrogate", "needs a model name");
}

template <class V>
void describe(V& v, TrainingConfig& c) {
  v.optional("seed", c.seed);
  v.optional("ensemble", c.ensemble, Rule::range(1, 64));
  v.optional("hidden", c.hidden, Rule::range(1, 4096).size(1, 8));
  v.optional("epochs", c.epochs, Rule::range(1, 1000000));
  v.optional("learning_rate", c.learning_rate, Rule::above_up_to(0.0, 1.0));
  v.optional("validation_fraction", c.validation_fraction, Rule::range(0.05, 0.5));
  v.optional("lead_cycles", c.lead_cycles, Rule::range(1, 10000).size(1, 16));
  v.optional("control_sequences", c.control_sequences, Rule::range(1, 100000));
  v.optional("members_per_solver", c.members_per_solver, Rule::range(1, 1024));
  v.optional("segments", c.segments, Rule::range(1, 100000));
  v.optional("warmup_cycles", c.warmup_cycles, Rule::non_negative());
  v.optional("parameter_spread", c.parameter_spread, Rule::non_negative());
  v.optional("anomaly_scenarios", c.anomaly_scenarios, Rule::non_negative());
  v.optional("anomaly_cycles", c.anomaly_cycles, Rule::range(1, 1000000));
  v.optional("anomaly_hidden", c.anomaly_hidden, Rule::range(1, 4096).size(1, 8));
  v.optional("anomaly_epochs", c.anomaly_epochs, Rule::range(1, 1000000));
  v.optional("anomaly_ensemble", c.anomaly_ensemble, Rule::range(1, 64));
  bool increasing = !c.lead_cycles.empty();
  for (std::size_t i = 1; i < c.lead_cycles.size(); ++i) increasing = increasing && c.lead_cycles[i] > c.lead_cycles[i - 1];
  v.check(increasing, "lead_cycles", "must be increasing");
}

template <class V>
void describe(V& v, LoggingConfig& c) {
  v.optional("level", c.level);
  v.optional("all_ranks", c.all_ranks);
  v.optional("json_file", c.json_file);
}

template <class V>
void describe(V& v, Config& c) {
  v.section("twin", c.twin);
  v.required_section("grid", c.grid);
  v.section("physics", c.physics);
  v.section("time", c.time);
  v.list("controls", c.controls);
  v.list("sensors", c.sensors);
  v.section("ensemble", c.ensemble);
  v.section("assimilation", c.assimilation);
  v.section("qc", c.qc);
  v.section("source", c.source);
  v.section("objectives", c.objectives);
  v.section("advisor", c.advisor);
  v.section("training", c.training);
  v.section("outputs", c.outputs);
  v.section("logging", c.logging);
  // Rules across sections.
  const std::size_t dims = c.grid.cells.size();
  const auto region_dims = [&](const ShapeConfig& r, const std::string& key) {
    v.check(r.center_m.size() == dims, key + ".center_m", "needs one entry per axis of grid.cells");
  };
  for (std::size_t i = 0; i < c.physics.diffusivity_regions.size(); ++i)
    region_dims(c.physics.diffusivity_regions[i].region, "physics.diffusivity_regions[" + std::to_string(i) + "]");
  for (std::size_t i = 0; i < c.physics.sources.size(); ++i)
    region_dims(c.physics.sources[i].region, "physics.sources[" + std::to_string(i) + "]");
  for (std::size_t i = 0; i < c.controls.size(); ++i) region_dims(c.controls[i].region, "controls[" + std::to_string(i) + "]");
  v.check(unique_names(c.physics.sources), "physics.sources", "source names must be unique and not empty");
  v.check(unique_names(c.controls), "controls", "control names must be unique and not empty");
  v.check(unique_names(c.sensors), "sensors", "sensor names must be unique and not empty");
  for (std::size_t i = 0; i < c.sensors.size(); ++i) {
    const std::string key = "sensors[" + std::to_string(i) + "].position_m";
    v.check(c.sensors[i].position_m.size() == dims, key, "needs one entry per axis of grid.cells");
    bool inside = c.sensors[i].position_m.size() == dims && c.grid.extent_m.size() == dims;
    for (std::size_t d = 0; inside && d < dims; ++d)
      inside = c.sensors[i].position_m[d] >= 0.0 && c.sensors[i].position_m[d] <= c.grid.extent_m[d];
    v.check(inside, key, "lies outside the grid (0 to grid.extent_m)");
  }
  for (std::size_t i = 0; i < c.source.plant.events.size(); ++i) {
    const PlantEventConfig& e = c.source.plant.events[i];
    const std::string key = "source.plant.events[" + std::to_string(i) + "]";
    const bool sensor_event = is_sensor_event(e.type);
    bool known = true;
    if (sensor_event) {
      known = false;
      for (const auto& s : c.sensors) known = known || s.name == e.target;
    } else if (e.type == EventKind::heater_failure) {
      known = false;
      for (const auto& s : c.controls) known = known || s.name == e.target;
    }
    v.check(known, key + ".target", "names no " + std::string(sensor_event ? "sensor" : "control") + " '" + e.target + "'");
    v.check(e.type != EventKind::heat_source || e.center_m.size() == dims, key + ".center_m",
            "needs one entry per axis of grid.cells");
  }
  const auto has_sensor = [&](const std::string& name) {
    for (const auto& s : c.sensors)
      if (s.name == name) return true;
    return false;
  };
  const auto has_target = [&](const std::string& name) {
    for (const auto& t : c.objectives.targets)
      if (t.sensor == name) return true;
    return false;
  };
  for (std::size_t i = 0; i < c.objectives.targets.size(); ++i)
    v.check(has_sensor(c.objectives.targets[i].sensor), "objectives.targets[" + std::to_string(i) + "].sensor",
            "names no sensor '" + c.objectives.targets[i].sensor + "'");
  for (std::size_t i = 0; i < c.objectives.limits.size(); ++i)
    v.check(has_sensor(c.objectives.limits[i].sensor), "objectives.limits[" + std::to_string(i) + "].sensor",
            "names no sensor '" + c.objectives.limits[i].sensor + "'");
  for (std::size_t i = 0; i < c.controls.size(); ++i) {
    const std::string key = "controls[" + std::to_string(i) + "].sensor";
    v.check(c.controls[i].sensor.empty() || has_sensor(c.controls[i].sensor), key,
            "names no sensor '" + c.controls[i].sensor + "'");
    if (c.advisor && c.advisor->safe_default.type == "proportional")
      v.check(has_target(c.controls[i].sensor), key,
              "advisor.safe_default.type proportional needs each control's sensor to have an objectives.targets entry");
  }
  v.check(c.physics.velocity_m_s.empty() || c.physics.velocity_m_s.size() == dims, "physics.velocity_m_s",
          "needs one entry per axis of grid.cells");
  for (int f = 4; f < 6; ++f)
    v.check(dims == 3 || !c.physics.boundaries.faces[f], std::string("physics.boundaries.") + face_names[f],
            "a 2D grid has no z faces");
}

}  // namespace twin::detail
