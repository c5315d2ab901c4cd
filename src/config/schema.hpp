#pragma once
// The whole configuration: each section's keys are described once, next to their owner
// (solvers/solver_schema.hpp, advisor/advisor_schema.hpp, src/*/*_schema.hpp); this file adds
// the top level and the rules that cross sections. `describe(v, section)` is walked by the
// reader (parse and validate) and by the writer (effective config), so the two never disagree;
// the visitor protocol is in ground/config_rule.hpp. Keep docs/config.md in step.

#include <sstream>

#include "advisor/advisor_schema.hpp"
#include "assimilation/assimilation_schema.hpp"
#include "driver/run_schema.hpp"
#include "ground/config_rule.hpp"
#include "ground/logging_schema.hpp"
#include "qc/qc_schema.hpp"
#include "solvers/solver_schema.hpp"
#include "sources/source_schema.hpp"
#include "twin/config.hpp"

namespace twin::detail {

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
  v.section("drift", c.drift);
  v.section("lifecycle", c.lifecycle);
  v.section("training", c.training);
  v.section("outputs", c.outputs);
  v.section("snapshots", c.snapshots);
  v.section("logging", c.logging);
  // Rules across sections.
  v.check(!c.lifecycle || c.advisor, "lifecycle", "manages the advisor's models: it needs an advisor: section");
  const std::size_t dims = c.grid.cells.size();
  const auto region_dims = [&](const ShapeConfig& r, const std::string& key) {
    v.check(r.center_m.size() == dims, key + ".center_m", "needs one entry per axis of grid.cells");
    // A region whose centre lies more than two of its sizes beyond the grid acts on nothing.
    const bool sized = r.center_m.size() == dims && c.grid.extent_m.size() == dims && r.size_m.size() == dims;
    bool reaches = true;
    for (std::size_t d = 0; sized && reaches && d < dims; ++d)
      reaches = r.center_m[d] >= -2.0 * r.size_m[d] && r.center_m[d] <= c.grid.extent_m[d] + 2.0 * r.size_m[d];
    v.check(reaches, key + ".center_m",
            "lies outside the grid (0 to grid.extent_m) by more than two sizes (size_m): it would act on nothing");
  };
  for (std::size_t i = 0; i < c.physics.diffusivity_regions.size(); ++i)
    region_dims(c.physics.diffusivity_regions[i].region, "physics.diffusivity_regions[" + std::to_string(i) + "]");
  for (std::size_t i = 0; i < c.physics.sources.size(); ++i)
    region_dims(c.physics.sources[i].region, "physics.sources[" + std::to_string(i) + "]");
  for (std::size_t i = 0; i < c.controls.size(); ++i) region_dims(c.controls[i].region, "controls[" + std::to_string(i) + "]");
  const auto names_unique = [&](const auto& items, const std::string& key, const std::string& what) {
    const std::string problem = name_problem(items, key);
    v.check(problem.empty(), key, what + " names must be unique and not empty: " + problem);
  };
  names_unique(c.physics.sources, "physics.sources", "source");
  names_unique(c.controls, "controls", "control");
  names_unique(c.sensors, "sensors", "sensor");
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
    } else if (e.type == EventKind::heater_failure || e.type == EventKind::heater_decay) {
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
  for (std::size_t i = 0; i < c.objectives.targets.size(); ++i) {
    const std::string key = "objectives.targets[" + std::to_string(i) + "].sensor";
    v.check(has_sensor(c.objectives.targets[i].sensor), key, "names no sensor '" + c.objectives.targets[i].sensor + "'");
    for (std::size_t j = 0; j < i; ++j)
      v.check(c.objectives.targets[j].sensor != c.objectives.targets[i].sensor, key,
              "sensor '" + c.objectives.targets[i].sensor + "' already has a target (objectives.targets[" +
                  std::to_string(j) + "]); one value per sensor");
  }
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
  // An estimated parameter starts from its prior: a different nominal value would be ignored.
  for (std::size_t i = 0; i < c.ensemble.parameters.size(); ++i) {
    const EstimatedParameterConfig& p = c.ensemble.parameters[i];
    const bool diffusivity = p.name == "diffusivity_factor";
    if (!diffusivity && p.name != "cooling_factor") continue;
    const double nominal = diffusivity ? c.physics.parameters.diffusivity_factor : c.physics.parameters.cooling_factor;
    std::ostringstream says;
    says << "is " << p.prior_mean << " but physics.parameters." << p.name << " is " << nominal
         << ": an estimated parameter starts from its prior_mean and the nominal value is not used; make them agree";
    v.check(nominal == p.prior_mean, "ensemble.parameters[" + std::to_string(i) + "].prior_mean", says.str());
  }
  // The ensemble filter learns from the members' spread, and one member has none: its estimate
  // would be a single draw from the prior, frozen, with a claimed spread of 0 (found running a
  // twin written from docs/config.md with members: 1, which was accepted).
  v.check(!c.assimilation.enabled || c.ensemble.members >= 2, "ensemble.members",
          "is 1, but the ensemble filter needs at least 2 members to have a spread to learn from (16 or more to "
          "learn well); for one forecast without readings set assimilation.enabled: false (in the file: the "
          "command line's --no-assimilation comes after this check)");
  // twin train's fault scenarios: split into training and held-out sets, each long enough for a
  // fault after the filter's spin-up (train/anomaly_data.cpp schedules the first 2 to 7 cycles
  // after it and none in the last 6).
  const int warmup = filter_spin_up_cycles(c);
  v.check(c.training.anomaly_scenarios == 0 || c.training.anomaly_scenarios >= 2, "training.anomaly_scenarios",
          "0 (no anomaly model) or at least 2: the scenarios are split into training and held-out sets");
  v.check(c.training.anomaly_scenarios == 0 || c.training.anomaly_cycles >= warmup + 14, "training.anomaly_cycles",
          "must be at least advisor.anomaly_warmup_cycles + 14 (" + std::to_string(warmup + 14) +
              ") for a fault to fit after the filter's spin-up; or set training.anomaly_scenarios: 0");
}

}  // namespace twin::detail
