#pragma once
/// @file
/// What the solver core needs of a twin's configuration: the physics, the time integration and
/// the controls it applies (the grid arrives with the Decomposition). The solvers never see the
/// sensors, the filter's, the advisor's or the trainer's settings.

#include <vector>

#include "twin/config.hpp"

namespace twin::solvers {

struct SolverConfig {
  PhysicsConfig physics;
  TimeConfig time;
  std::vector<ControlConfig> controls;

  /// The solver's part of a whole twin config.
  static SolverConfig from(const Config& config) { return {config.physics, config.time, config.controls}; }
};

}  // namespace twin::solvers
