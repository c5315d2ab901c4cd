#pragma once
// The configuration keys of the solver core (`grid:`, `physics:`, `controls:`, `time:`), described once, next to the code that owns
// them. `describe(v, section)` is walked by the config reader (parse and validate) and by the
// writer (effective config) in src/config, through the visitor protocol of
// ground/config_rule.hpp. Keep docs/config.md in step.

#include "ground/config_rule.hpp"
#include "solvers/solver.hpp"
#include "twin/config.hpp"

namespace twin::detail {

inline constexpr const char* face_names[6] = {"x_low", "x_high", "y_low", "y_high", "z_low", "z_high"};

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

}  // namespace twin::detail
