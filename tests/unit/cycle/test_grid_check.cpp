// The grid check (cycle/grid_check.hpp): the error the twin's grid makes, measured against a grid
// twice as fine, is nothing where the field has no curvature for the grid to miss, falls as a
// second-order discretisation's should when the twin's grid is refined, and counts in the stated
// uncertainty of the estimates without touching the ensemble.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "cycle/grid_check.hpp"
#include "cycle/runtime_state.hpp"
#include "solvers/grid.hpp"
#include "sources/plant.hpp"
#include "twin/config.hpp"
#include "twin/runtime.hpp"

namespace {

const std::string small_plate = std::string(TWIN_SOURCE_DIR) + "/tests/data/small_plate.yaml";

double largest(const std::vector<double>& v) {
  double m = 0.0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

// The readings at the sensors as H reads the twin (c S + s), cycle by cycle from the initial state
// with the controls at 0.6, on the twin's grid (refine 1) or one finer, with `parameters`.
std::vector<double> sensor_readings(const twin::Config& config, int refine, const twin::ParametersConfig& parameters,
                                    int cycles) {
  twin::Config c = config;
  c.source.plant.refine = refine;
  c.source.plant.events.clear();
  c.source.plant.initial_offset = 0.0;
  c.source.plant.parameters = parameters;
  twin::detail::PlantEmulator run(c, MPI_COMM_SELF);
  std::vector<double> out;
  for (int k = 0; k < cycles; ++k) {
    run.advance(k * c.twin.control_period_s, c.twin.control_period_s, {0.6, 0.6}, k);
    const std::vector<double> field = run.truth_on_twin_grid();
    for (const auto& s : c.sensors) {
      double v = 0.0;
      for (const auto& [cell, w] : twin::solvers::global_interpolation(c.grid, s.position_m))
        v += w * field[static_cast<std::size_t>(cell)];
      out.push_back(v);
    }
  }
  return out;
}

}  // namespace

// A plate at its surroundings' temperature everywhere, heaters off: every grid holds the same
// uniform field, and there is no error to state.
TEST(GridCheck, AUniformFieldHasNoGridError) {
  twin::Config config = twin::load_config(small_plate);
  for (auto& c : config.controls) c.initial = 0.0;
  config.physics.source = 0.0;
  const twin::detail::GridCheck g = twin::detail::check_grid(config, MPI_COMM_SELF, 20);
  ASSERT_TRUE(g.skipped.empty()) << g.skipped;
  ASSERT_EQ(g.shift.size(), config.ensemble.parameters.size());
  ASSERT_EQ(g.sensor_uncertainty.size(), config.sensors.size());
  EXPECT_LT(largest(g.shift), 1e-9);
  EXPECT_LT(largest(g.sensor_uncertainty), 1e-9);
}

// The heated small plate on its grid and on grids twice and four times as fine: a second-order
// scheme's error falls about fourfold with each halving of the spacing, and so must what the
// check states. The bounds are the theory's (4) with room for the heaters' Gaussian footprints
// sampled on coarse cells, not fitted to a run.
TEST(GridCheck, TheGridsErrorFallsAsTheGridIsRefined) {
  std::vector<double> sensors, parameters;
  for (int k : {1, 2}) {
    twin::Config config = twin::load_config(small_plate);
    for (auto& n : config.grid.cells) n *= k;
    const twin::detail::GridCheck g = twin::detail::check_grid(config, MPI_COMM_SELF, 30);
    ASSERT_TRUE(g.skipped.empty()) << g.skipped;
    sensors.push_back(largest(g.sensor_uncertainty));
    parameters.push_back(largest(g.parameter_uncertainty));
    std::printf("cells x%d: the grid's error at the sensors up to %.4g, in the parameters up to %.4g\n", k, sensors.back(),
                parameters.back());
  }
  EXPECT_GT(sensors[0], 0.0);
  EXPECT_GT(parameters[0], 0.0);
  EXPECT_GT(sensors[0] / sensors[1], 2.5);
  EXPECT_LT(sensors[0] / sensors[1], 6.5);
  EXPECT_GT(parameters[0] / parameters[1], 2.5);
  EXPECT_LT(parameters[0] / parameters[1], 6.5);
}

// The shift's sign: the twin's grid with a parameter moved by its shift reads the finer grid's
// values better than with it moved the other way (the twin's best fit sits at +shift).
TEST(GridCheck, TheTwinsGridMovedByTheShiftReadsTheFinerGridsValues) {
  const twin::Config config = twin::load_config(small_plate);
  const int cycles = 30;
  const twin::detail::GridCheck g = twin::detail::check_grid(config, MPI_COMM_SELF, cycles);
  ASSERT_TRUE(g.skipped.empty()) << g.skipped;
  const auto readings = [&](int refine, const twin::ParametersConfig& parameters) {
    return sensor_readings(config, refine, parameters, cycles);
  };
  const twin::ParametersConfig prior;  // the small plate's priors: 1 and 1
  const std::vector<double> fine = readings(2, prior);
  for (std::size_t q = 0; q < g.shift.size(); ++q) {
    const auto moved = [&](double by) {
      twin::ParametersConfig p = prior;
      (config.ensemble.parameters[q].name == "diffusivity_factor" ? p.diffusivity_factor : p.cooling_factor) += by;
      const std::vector<double> r = readings(1, p);
      double sum = 0.0;
      for (std::size_t i = 0; i < r.size(); ++i) sum += (r[i] - fine[i]) * (r[i] - fine[i]);
      return sum;
    };
    std::printf("%s: shift %+.4f; squared misfit %.4g at +shift, %.4g at -shift\n", config.ensemble.parameters[q].name.c_str(),
                g.shift[q], moved(g.shift[q]), moved(-g.shift[q]));
    EXPECT_LT(moved(g.shift[q]), moved(-g.shift[q])) << config.ensemble.parameters[q].name;
  }
}

// With no parameter estimated there is no fit to take anything up: each sensor's figure is 4/3 of
// the root mean square of the finer grid's departure from the twin's there.
TEST(GridCheck, WithNothingEstimatedASensorsErrorIsTheFinerGridsDeparture) {
  twin::Config config = twin::load_config(small_plate);
  config.ensemble.parameters.clear();
  const int cycles = 30;
  const twin::detail::GridCheck g = twin::detail::check_grid(config, MPI_COMM_SELF, cycles);
  ASSERT_TRUE(g.skipped.empty()) << g.skipped;
  ASSERT_EQ(g.sensor_uncertainty.size(), config.sensors.size());
  const twin::ParametersConfig prior;
  const std::vector<double> fine = sensor_readings(config, 2, prior, cycles), coarse = sensor_readings(config, 1, prior, cycles);
  const std::size_t S = config.sensors.size();
  for (std::size_t s = 0; s < S; ++s) {
    double sum = 0.0;
    for (int c = 0; c < cycles; ++c) sum += std::pow(fine[c * S + s] - coarse[c * S + s], 2);
    const double expected = 4.0 / 3.0 * std::sqrt(sum / cycles);
    EXPECT_GT(expected, 0.0) << config.sensors[s].name;
    EXPECT_NEAR(g.sensor_uncertainty[s], expected, 1e-9 + 1e-9 * expected) << config.sensors[s].name;
  }
}

// With the check on, the ensemble, its means and spreads are those of the run without it; the
// stated uncertainty of every estimate combines the members' spread with the check's figure.
TEST(GridCheck, ItCountsInTheStatedUncertaintyAndLeavesTheEnsembleAlone) {
  const auto run = [](int check_cycles) {
    twin::Config config = twin::load_config(small_plate);
    config.source.plant.events.clear();
    config.assimilation.grid_check_cycles = check_cycles;
    twin::detail::PlantEmulator plant(config, MPI_COMM_SELF);
    twin::Runtime runtime(config, MPI_COMM_SELF);
    twin::CycleOutcome out;
    for (int c = 0; c < 10; ++c) {
      runtime.ingest(plant.advance(c * 10.0, 10.0, {0.6, 0.6}, c));
      out = runtime.step(std::chrono::milliseconds(5000));
    }
    return out;
  };
  const twin::CycleOutcome off = run(0), on = run(30);
  twin::Config config = twin::load_config(small_plate);
  const twin::detail::GridCheck g = twin::detail::check_grid(config, MPI_COMM_SELF, 30);
  ASSERT_EQ(on.sensors.size(), off.sensors.size());
  for (std::size_t s = 0; s < on.sensors.size(); ++s) {
    EXPECT_EQ(on.sensors[s].analysis, off.sensors[s].analysis) << on.sensors[s].sensor;
    EXPECT_EQ(on.sensors[s].spread, off.sensors[s].spread) << on.sensors[s].sensor;
    EXPECT_EQ(off.sensors[s].std, off.sensors[s].spread) << on.sensors[s].sensor;
    EXPECT_NEAR(on.sensors[s].std, std::hypot(on.sensors[s].spread, g.sensor_uncertainty[s]), 1e-12) << on.sensors[s].sensor;
  }
  ASSERT_EQ(on.parameters.size(), off.parameters.size());
  for (std::size_t p = 0; p < on.parameters.size(); ++p) {
    EXPECT_EQ(on.parameters[p].mean, off.parameters[p].mean) << on.parameters[p].name;
    EXPECT_EQ(on.parameters[p].ensemble_std, off.parameters[p].ensemble_std) << on.parameters[p].name;
    // The run's first cycles fail the consistency test on the plant's initial offset: the
    // unconfirmed shift is in both stated uncertainties, the check's figure in one.
    EXPECT_NEAR(on.parameters[p].std, std::hypot(off.parameters[p].std, g.parameter_uncertainty[p]), 1e-12)
        << on.parameters[p].name;
    EXPECT_GT(on.parameters[p].std, on.parameters[p].ensemble_std) << on.parameters[p].name;
  }
}

// summary.json's confidence.grid_check says why the check did not run: not asked for, or no
// assimilation to state an uncertainty for.
TEST(GridCheck, TheSummarySaysWhyItDidNotRun) {
  const auto why = [](int check_cycles, bool assimilate) {
    twin::Config config = twin::load_config(small_plate);
    config.assimilation.grid_check_cycles = check_cycles;
    config.assimilation.enabled = assimilate;
    const twin::Runtime runtime(config, MPI_COMM_SELF);
    return twin::detail::RuntimeState::grid_check(runtime);
  };
  EXPECT_EQ(why(0, true), nlohmann::json({{"ran", false}, {"why", "off"}}));
  EXPECT_EQ(why(30, false), nlohmann::json({{"ran", false}, {"why", "off (no assimilation)"}}));
  const nlohmann::json ran = why(30, true);
  EXPECT_EQ(ran.value("ran", false), true) << ran.dump();
  EXPECT_EQ(ran.value("cycles", 0), 30) << ran.dump();
}

// A finer grid the solver's step budget cannot afford (a control period that needs more than
// max_steps_per_advance steps on it, while the twin's own grid stays within) leaves the check
// out with the reason, not the twin.
TEST(GridCheck, AFinerGridTheStepBudgetCannotAffordSkipsTheCheck) {
  twin::Config config = twin::load_config(small_plate);
  config.twin.control_period_s = 2.0e6;  // about 5e5 explicit steps on the twin's grid, 2e6 on the finer
  const twin::detail::GridCheck g = twin::detail::check_grid(config, MPI_COMM_SELF, 30);
  EXPECT_NE(g.skipped.find("plant emulator"), std::string::npos) << g.skipped;
  EXPECT_TRUE(g.shift.empty());
  EXPECT_TRUE(g.sensor_uncertainty.empty());
}

// The controls' signatures (control_signatures), which the filter splits the innovation along for
// the anomaly diagnosis: each heater warms the sensors (a positive source never cools a diffusing
// plate), most at the sensor on it, and, the physics being linear, the same from another level.
TEST(ControlSignatures, EachHeaterWarmsMostTheSensorOnItAtAnyLevel) {
  const twin::Config config = twin::load_config(small_plate);
  std::string why;
  const auto signature = twin::detail::control_signatures(config, MPI_COMM_SELF, why);
  EXPECT_TRUE(why.empty()) << why;
  ASSERT_EQ(signature.size(), config.controls.size());
  const std::vector<std::size_t> own = {1, 3};  // H1 sits on S2, H2 on S4
  for (std::size_t j = 0; j < signature.size(); ++j) {
    ASSERT_EQ(signature[j].size(), config.sensors.size());
    for (std::size_t s = 0; s < signature[j].size(); ++s) {
      EXPECT_GE(signature[j][s], -1e-12) << config.controls[j].name << " at " << config.sensors[s].name;
      if (s != own[j]) {
        EXPECT_LT(signature[j][s], signature[j][own[j]]) << config.controls[j].name;
      }
    }
    EXPECT_GT(signature[j][own[j]], 0.0);
  }
  twin::Config low = config;
  for (auto& c : low.controls) c.initial = 0.1;
  const auto again = twin::detail::control_signatures(low, MPI_COMM_SELF, why);
  ASSERT_EQ(again.size(), signature.size());
  for (std::size_t j = 0; j < signature.size(); ++j)
    for (std::size_t s = 0; s < signature[j].size(); ++s)
      EXPECT_NEAR(again[j][s], signature[j][s], 1e-9 + 1e-6 * std::abs(signature[j][s]));
}
