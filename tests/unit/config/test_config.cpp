// Configuration: accepted files, defaults, every class of error with its location, the effective
// config round trip, and loading from disk.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "twin/config.hpp"
#include "twin/error.hpp"

namespace {

const std::string minimal = "grid:\n  cells: [16, 8]\n  extent_m: [2.0, 1.0]\n";

// Parses `text` expecting a ConfigError; returns it for inspection.
twin::ConfigError expect_error(const std::string& text) {
  try {
    twin::parse_config(text, "test.yaml");
  } catch (const twin::ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return twin::ConfigError({}, "none");
}

void expect_error_at(const std::string& text, int line, int column, const std::string& key, const std::string& needle) {
  const twin::ConfigError e = expect_error(text);
  EXPECT_EQ(e.where().file, "test.yaml");
  EXPECT_EQ(e.where().line, line) << e.what();
  if (column > 0) {
    EXPECT_EQ(e.where().column, column) << e.what();
  }
  EXPECT_EQ(e.where().key, key) << e.what();
  EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message '" << e.what() << "' lacks '" << needle << "'";
}

}  // namespace

TEST(Config, MinimalConfigGetsDefaults) {
  const twin::Config c = twin::parse_config(minimal, "m.yaml");
  EXPECT_EQ(c.dims(), 2);
  EXPECT_EQ(c.grid.cells, (std::vector<int>{16, 8}));
  EXPECT_EQ(c.twin.name, "twin");
  EXPECT_EQ(c.twin.cycles, 100);
  EXPECT_EQ(c.time.integrator, "ssprk3");
  EXPECT_DOUBLE_EQ(c.time.cfl, 0.8);
  EXPECT_FALSE(c.time.max_dt_s.has_value());
  EXPECT_EQ(c.physics.boundaries.face(0).type, twin::BoundaryType::neumann);
  EXPECT_EQ(c.source_name, "m.yaml");
}

// Issue 16: a length the user does not give derives from the asset, so a twin written at another
// scale is not localized at a scale its sensors cannot fill (tests/data/module_x10.yaml).
TEST(Config, TheLocalizationAndInitialLengthDeriveFromTheSensorsUnlessGiven) {
  twin::Config c = twin::parse_config(R"(
grid: {cells: [10, 10], extent_m: [4, 2]}
sensors:
  - {name: A, position_m: [0.5, 0.5]}
  - {name: B, position_m: [1.0, 0.5]}
  - {name: C, position_m: [3.0, 1.5]}
)");
  const double gap = std::hypot(2.0, 1.0);  // C's nearest is B, the widest nearest-neighbour gap
  EXPECT_DOUBLE_EQ(twin::widest_sensor_gap(c.sensors), gap);
  EXPECT_DOUBLE_EQ(twin::localization_length(c), gap);
  EXPECT_DOUBLE_EQ(twin::initial_length(c), 0.5 * gap);
  c.assimilation.localization_m = 0.3;
  EXPECT_DOUBLE_EQ(twin::localization_length(c), 0.3);
  EXPECT_DOUBLE_EQ(twin::initial_length(c), 0.15);
  c.ensemble.initial_length_m = 0.05;
  EXPECT_DOUBLE_EQ(twin::initial_length(c), 0.05);
  c.assimilation.localization_m.reset();
  c.sensors.resize(1);  // no gap to measure: the grid's largest extent
  EXPECT_DOUBLE_EQ(twin::localization_length(c), 4.0);
}

TEST(Config, ReadsEveryKindOfValue) {
  const twin::Config c = twin::parse_config(R"(
twin: {name: slab, cycles: 7, control_period_s: 0.5, deadline_ms: 20, run_dir: out/slab}
grid: {cells: [8, 6, 4], extent_m: [1, 0.5, 0.25], ranks: [1, 1, 1]}
physics:
  velocity_m_s: [0.1, 0, -0.2]
  boundaries:
    default: {type: robin, transfer_m_s: 0.01, value: 20}
    z_high: {type: dirichlet, value: 100}
    x_low: {type: neumann, flux: 2.5}
time: {integrator: ssprk2, max_dt_s: 0.01}
logging: {level: debug, all_ranks: true}
)", "t.yaml");
  EXPECT_EQ(c.dims(), 3);
  EXPECT_EQ(c.twin.cycles, 7);
  EXPECT_EQ(*c.twin.run_dir, "out/slab");
  EXPECT_DOUBLE_EQ(c.physics.velocity_m_s[2], -0.2);
  EXPECT_EQ(c.physics.boundaries.face(5).type, twin::BoundaryType::dirichlet);
  EXPECT_DOUBLE_EQ(c.physics.boundaries.face(5).value, 100.0);
  EXPECT_EQ(c.physics.boundaries.face(0).type, twin::BoundaryType::neumann);
  EXPECT_DOUBLE_EQ(c.physics.boundaries.face(0).flux, 2.5);
  EXPECT_EQ(c.physics.boundaries.face(3).type, twin::BoundaryType::robin);  // default
  EXPECT_EQ(c.time.integrator, "ssprk2");
  EXPECT_DOUBLE_EQ(*c.time.max_dt_s, 0.01);
  EXPECT_EQ(c.logging.level, twin::LogLevel::debug);
  EXPECT_TRUE(c.logging.all_ranks);
}

TEST(ConfigErrors, AStringMustBeOneLineOfUtf8TextOfASaneLength) {
  // Each was accepted, and the first crashed the run at its end (summary.json could not be
  // written), the second split log lines, the third broke series.h5's name table.
  expect_error_at(minimal + "twin:\n  name: \"b\xff\xfe" "ar\"\n", 5, 9, "twin.name", "not valid UTF-8");
  expect_error_at(minimal + "twin:\n  name: |\n    two\n    lines\n", 5, 9, "twin.name", "control character");
  expect_error_at(minimal + "twin:\n  name: " + std::string(2000, 'a') + "\n", 5, 9, "twin.name",
                  "a string of 2000 bytes; at most 1024");
  // Valid UTF-8 beyond ASCII is text like any other.
  EXPECT_EQ(twin::parse_config(minimal + "twin:\n  name: \"Wärmetauscher-3\"\n", "test.yaml").twin.name,
            "Wärmetauscher-3");
}

TEST(ConfigErrors, HeaterFailureAndCoolingDegradationNeedANonNegativeMagnitude) {
  for (const std::string type : {"cooling_degradation", "heater_failure"}) {
    const std::string text = minimal + "controls:\n  - {name: H, shape: box, center_m: [1, 0.5], size_m: [0.2, 0.2], gain: 1}\n"
                                       "source:\n  type: plant\n  plant:\n    events:\n      - {type: " + type +
                             ", target: H, start_s: 10, end_s: 100, magnitude: -5}\n";
    expect_error_at(text, 10, 0, "source.plant.events[0].magnitude", "must be >= 0");
  }
  // A drift of the truth's diffusivity by a million made the plant need 1e9 steps a period.
  expect_error_at(minimal + "source:\n  type: plant\n  plant:\n    events:\n      - {type: parameter_drift, target: "
                            "diffusivity_factor, start_s: 0, end_s: 100, magnitude: 1.0e6}\n",
                  8, 0, "source.plant.events[0].magnitude", "at most 100");
}

TEST(ConfigErrors, ARegionFarOutsideTheGridAndTwoTargetsOnOneSensorAreRefused) {
  // Both were accepted: a heater centred 5 m away from a 2 x 1 m grid heated nothing, and the
  // second target on a sensor silently competed with the first.
  const std::string heater = "controls:\n  - {name: H, shape: gaussian, center_m: [5.0, 5.0], size_m: [0.1, 0.1], gain: 1}\n";
  expect_error_at(minimal + heater, 5, 0, "controls[0].center_m", "it would act on nothing");
  // At the edge, or just beyond it (a heater on the wall), a region is fine.
  EXPECT_NO_THROW(twin::parse_config(
      minimal + "controls:\n  - {name: H, shape: gaussian, center_m: [2.1, 0.5], size_m: [0.1, 0.1], gain: 1}\n",
      "test.yaml"));
  expect_error_at(minimal + "sensors:\n  - {name: S, position_m: [1, 0.5]}\nobjectives:\n  targets:\n"
                            "    - {sensor: S, value: 310}\n    - {sensor: S, value: 100}\n",
                  9, 0, "objectives.targets[1].sensor", "sensor 'S' already has a target (objectives.targets[0])");
}

TEST(ConfigErrors, ASourceKeyThatAnotherTypeReadsIsRefused) {
  // A replay_file without type: replay ran the plant emulator (the default type) in silence.
  expect_error_at(minimal + "source:\n  replay_file: data.csv\n", 5, 0, "source.replay_file",
                  "read only by source type replay, and this source is 'plant'");
  expect_error_at(minimal + "source:\n  type: replay\n  replay_file: data.csv\n  stream_input: in.jsonl\n", 7, 0,
                  "source.stream_input", "read only by source type stream, and this source is 'replay'");
  expect_error_at(minimal + "source:\n  advice_output: out.jsonl\n", 5, 0, "source.advice_output", "add type: stream");
  expect_error_at(minimal + "source:\n  silence_s: 5\n", 5, 0, "source.silence_s", "add type: stream");
  EXPECT_NO_THROW(twin::parse_config(minimal + "source:\n  type: stream\n  stream_input: in.jsonl\n  silence_s: 5\n",
                                     "test.yaml"));
}

TEST(ConfigErrors, AParameterWithMinAboveMaxIsToldSo) {
  // It was told that prior_mean must lie within [min, max].
  expect_error_at(minimal + "ensemble:\n  parameters:\n    - {name: cooling_factor, min: 4, max: 0.1}\n", 6, 0,
                  "ensemble.parameters[0].max", "must be greater than min");
}

TEST(ConfigErrors, UnknownKeySuggestsTheKnownOne) {
  expect_error_at("grid:\n  cels: [16, 8]\n  extent_m: [2.0, 1.0]\n", 2, 3, "grid.cels", "did you mean 'cells'?");
  expect_error_at("gird:\n  cells: [16, 8]\n", 1, 1, "gird", "did you mean 'grid'?");
  expect_error_at(minimal + "time:\n  integrater: ssprk2\n", 5, 3, "time.integrater", "did you mean 'integrator'?");
  expect_error_at(minimal + "colour: blue\n", 4, 1, "colour", "unknown key 'colour'");
}

TEST(ConfigErrors, WrongTypes) {
  expect_error_at(minimal + "twin:\n  cycles: ten\n", 5, 11, "twin.cycles", "expected a whole number, got 'ten'");
  expect_error_at(minimal + "twin:\n  cycles: 2.5\n", 5, 11, "twin.cycles", "expected a whole number");
  expect_error_at(minimal + "twin:\n  cycles: \"10\"\n", 5, 11, "twin.cycles", "got the string \"10\"");
  expect_error_at("grid:\n  cells: 16\n  extent_m: [1, 1]\n", 2, 10, "grid.cells", "expected a list");
  expect_error_at("grid:\n  cells: [16, x]\n  extent_m: [1, 1]\n", 2, 15, "grid.cells[1]", "expected a whole number");
  expect_error_at(minimal + "physics:\n  source: {a: 1}\n", 5, 11, "physics.source", "expected a number, got a map");
  expect_error_at(minimal + "logging:\n  all_ranks: yes\n", 5, 14, "logging.all_ranks", "expected true or false");
  expect_error_at(minimal + "time: [1, 2]\n", 4, 7, "time", "expected a map of keys, got a list");
  expect_error_at(minimal + "twin:\n  cycles:\n", 5, 3, "twin.cycles", "needs a value");
}

TEST(ConfigErrors, MissingRequired) {
  expect_error_at("grid:\n  extent_m: [1, 1]\n", 2, 3, "grid", "missing required key 'cells'");
  expect_error_at("twin:\n  name: x\n", 1, 1, "", "missing required section 'grid'");
  expect_error_at(minimal + "physics:\n  boundaries:\n    x_low: {value: 3}\n", 6, 12, "physics.boundaries.x_low",
                  "missing required key 'type'");
}

TEST(ConfigErrors, OutOfRange) {
  expect_error_at(minimal + "time:\n  cfl: 1.5\n", 5, 8, "time.cfl", "must be <= 1 and > 0, got 1.5");
  expect_error_at(minimal + "time:\n  cfl: 0\n", 5, 8, "time.cfl", "must be > 0");
  expect_error_at("grid:\n  cells: [2, 8]\n  extent_m: [1, 1]\n", 2, 11, "grid.cells[0]", "must be >= 3, got 2");
  expect_error_at(minimal + "physics:\n  diffusivity_m2_s: -1e-3\n", 5, 21, "physics.diffusivity_m2_s", "must be >= 0");
  expect_error_at("grid:\n  cells: [16]\n  extent_m: [1]\n", 2, 10, "grid.cells", "expected a list of 2 to 3 entries, got 1");
  expect_error_at(minimal + "twin:\n  cycles: 99999999999\n", 5, 11, "twin.cycles", "too large");
  // mg_levels counts levels (>= 2); leaving it out means "as many as the grid allows".
  expect_error_at(minimal + "time:\n  implicit:\n    mg_levels: -1\n", 6, 16, "time.implicit.mg_levels", "must be >= 2");
  expect_error_at(minimal + "time:\n  implicit:\n    mg_levels: 1\n", 6, 16, "time.implicit.mg_levels", "must be >= 2");
  expect_error_at(minimal + "time:\n  implicit:\n    mg_levels: 0\n", 6, 16, "time.implicit.mg_levels", "must be >= 2");
  // An empty model name is not "off" (that is ~): it would ask the registry for a model named "".
  expect_error_at(minimal + "advisor:\n  anomaly: \"\"\n", 5, 3, "advisor.anomaly", "write ~ to turn the diagnosis off");
}

TEST(ConfigErrors, UnknownEnumValue) {
  expect_error_at(minimal + "time:\n  integrator: rk4\n", 5, 15, "time.integrator", "expected one of backward_euler, crank_nicolson, ssprk2, ssprk3");
  expect_error_at(minimal + "physics:\n  boundaries:\n    default: {type: robbin}\n", 6, 21, "physics.boundaries.default.type",
                  "did you mean 'robin'?");
}

TEST(ConfigErrors, InconsistentAcrossKeys) {
  expect_error_at("grid:\n  cells: [16, 8]\n  extent_m: [2.0, 1.0, 3.0]\n", 3, 3, "grid.extent_m", "one entry per axis");
  expect_error_at(minimal + "physics:\n  velocity_m_s: [1, 0, 0]\n", 5, 3, "physics.velocity_m_s", "one entry per axis");
  expect_error_at(minimal + "physics:\n  boundaries:\n    z_low: {type: neumann}\n", 6, 5, "physics.boundaries.z_low",
                  "a 2D grid has no z faces");
  expect_error_at(minimal + "physics:\n  boundaries:\n    x_low: {type: dirichlet, transfer_m_s: 1}\n", 6, 30,
                  "physics.boundaries.x_low.transfer_m_s", "applies to type robin only");
  expect_error_at(minimal + "twin:\n  name: my twin\n", 5, 3, "twin.name", "without slashes or spaces");
}

TEST(ConfigErrors, AnEstimatedParameterWhoseNominalWouldBeIgnoredIsRefused) {
  const std::string nominal = minimal + "physics:\n  parameters: {diffusivity_factor: 1.5}\n";
  expect_error_at(nominal + "ensemble:\n  parameters:\n    - {name: diffusivity_factor}\n", 8, 0,
                  "ensemble.parameters[0].prior_mean", "is 1 but physics.parameters.diffusivity_factor is 1.5");
  EXPECT_NO_THROW(twin::parse_config(nominal + "ensemble:\n  parameters:\n    - {name: diffusivity_factor, prior_mean: 1.5}\n",
                                     "test.yaml"));
  EXPECT_NO_THROW(twin::parse_config(nominal + "ensemble:\n  parameters:\n    - {name: cooling_factor}\n", "test.yaml"));
}

// One member has no spread: the filter would keep a single prior draw, frozen, and claim a spread
// of 0. Without assimilation one member is a plain forecast.
TEST(ConfigErrors, AFilterOfOneMemberIsRefused) {
  expect_error_at(minimal + "ensemble:\n  members: 1\n", 5, 3, "ensemble.members", "needs at least 2 members");
  // twin run --no-assimilation cannot lift it: the message says where the switch must go.
  expect_error_at(minimal + "ensemble:\n  members: 1\n", 5, 3, "ensemble.members", "set assimilation.enabled: false (in the file");
  EXPECT_NO_THROW(twin::parse_config(minimal + "ensemble:\n  members: 1\nassimilation:\n  enabled: false\n", "test.yaml"));
  EXPECT_NO_THROW(twin::parse_config(minimal + "ensemble:\n  members: 2\n", "test.yaml"));
}

// The model error's persistence test averages over about L analyses: L = 1 would be one
// analysis, which the consistency test already judges.
TEST(ConfigErrors, APersistenceTestOverOneAnalysisIsRefused) {
  expect_error_at(minimal + "assimilation:\n  innovation_persistence_cycles: 1\n", 5, 3,
                  "assimilation.innovation_persistence_cycles", "must be 0 (off) or at least 2");
  EXPECT_NO_THROW(twin::parse_config(minimal + "assimilation:\n  innovation_persistence_cycles: 0\n", "test.yaml"));
  EXPECT_NO_THROW(twin::parse_config(minimal + "assimilation:\n  innovation_persistence_cycles: 2\n", "test.yaml"));
}

TEST(ConfigErrors, FaultScenariosTooFewOrTooShortToHoldAFaultAreRefused) {
  expect_error_at(minimal + "training:\n  anomaly_scenarios: 1\n", 5, 0, "training.anomaly_scenarios", "at least 2");
  expect_error_at(minimal + "training:\n  anomaly_cycles: 20\n", 5, 0, "training.anomaly_cycles",
                  "must be at least advisor.anomaly_warmup_cycles + 14 (");
  expect_error_at(minimal + "advisor:\n  anomaly_warmup_cycles: 30\ntraining:\n  anomaly_cycles: 43\n", 7, 0,
                  "training.anomaly_cycles", "(44)");
  EXPECT_NO_THROW(twin::parse_config(minimal + "training:\n  anomaly_scenarios: 0\n  anomaly_cycles: 5\n", "test.yaml"));
}

TEST(ConfigErrors, ARepeatedSensorNameIsNamedWithBothEntries) {
  const std::string sensor = "  - {name: A, position_m: [0.5, 0.5], noise_std: 0.1}\n";
  expect_error_at(minimal + "sensors:\n" + sensor + sensor, 4, 1, "sensors",
                  "sensor names must be unique and not empty: sensors[1] repeats the name 'A' of sensors[0]");
}

TEST(ConfigErrors, MessageNamesFileLineAndKey) {
  const twin::ConfigError e = expect_error("grid:\n  cels: [16, 8]\n  extent_m: [2.0, 1.0]\n");
  EXPECT_EQ(std::string(e.what()).rfind("test.yaml:2:3: grid.cels: unknown key 'cels'", 0), 0u) << e.what();
}

TEST(Config, EffectiveConfigRoundTrips) {
  const std::string text = minimal +
                           "physics:\n  boundaries:\n    default: {type: robin, transfer_m_s: 1e-6, value: 293.15}\n"
                           "    y_high: {type: dirichlet, value: 0.1}\ntime: {max_dt_s: 0.125}\n"
                           "logging: {json_file: log.jsonl}\n";
  const twin::Config first = twin::parse_config(text, "a.yaml");
  const std::string yaml = twin::to_yaml(first);
  const twin::Config second = twin::parse_config(yaml, "effective.yaml");
  const auto body = [](const std::string& s) { return s.substr(s.find('\n')); };  // past the comment line
  EXPECT_EQ(body(twin::to_yaml(second)), body(yaml));
  EXPECT_DOUBLE_EQ(second.physics.boundaries.face(3).value, 0.1);
  EXPECT_DOUBLE_EQ(second.physics.boundaries.default_face.transfer_m_s, 1e-6);
  EXPECT_DOUBLE_EQ(*second.time.max_dt_s, 0.125);
  EXPECT_EQ(*second.logging.json_file, "log.jsonl");
  EXPECT_NE(yaml.find("cfl: 0.8"), std::string::npos) << "defaults must be written out:\n" << yaml;
}

TEST(Config, LoadConfigReportsUnreadableFiles) {
  try {
    twin::load_config("/nonexistent/plate.yaml");
    FAIL() << "no error";
  } catch (const twin::ConfigError& e) {
    EXPECT_EQ(e.where().file, "/nonexistent/plate.yaml");
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos) << e.what();
  }
  const auto dir = std::filesystem::temp_directory_path();
  try {
    twin::load_config(dir.string());
    FAIL() << "no error";
  } catch (const twin::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
}

TEST(Config, LoadConfigReadsAFile) {
  const auto path = std::filesystem::temp_directory_path() / "twin_test_config.yaml";
  std::ofstream(path) << minimal << "twin: {cycles: 3}\n";
  const twin::Config c = twin::load_config(path.string());
  EXPECT_EQ(c.twin.cycles, 3);
  EXPECT_EQ(c.source_name, path.string());
  std::filesystem::remove(path);
}

TEST(Config, ListsOfRegionsSourcesAndControls) {
  const std::string text = minimal + R"(physics:
  diffusivity_regions:
    - {shape: gaussian, center_m: [0.5, 0.5], size_m: [0.1, 0.2], diffusivity_m2_s: 2e-4}
  vortex: {center_m: [1, 0.5], angular_velocity_rad_s: 0.01}
  sources:
    - {name: leak, center_m: [1.5, 0.2], size_m: [0.2, 0.2], rate: 0.5, start_s: 60, end_s: 120}
  parameters: {diffusivity_factor: 1.2, cooling_factor: 0.8}
controls:
  - {name: H1, center_m: [0.4, 0.5], size_m: [0.2, 0.2], gain: 0.05, unit: kW, initial: 0.5, max: 2}
  - {name: H2, center_m: [1.4, 0.5], size_m: [0.2, 0.2], gain: 0.05}
)";
  const twin::Config c = twin::parse_config(text, "lists.yaml");
  ASSERT_EQ(c.physics.diffusivity_regions.size(), 1u);
  EXPECT_EQ(c.physics.diffusivity_regions[0].region.shape, twin::ShapeKind::gaussian);
  EXPECT_DOUBLE_EQ(c.physics.diffusivity_regions[0].region.size_m[1], 0.2);
  ASSERT_TRUE(c.physics.vortex.has_value());
  ASSERT_EQ(c.physics.sources.size(), 1u);
  EXPECT_DOUBLE_EQ(*c.physics.sources[0].end_s, 120.0);
  EXPECT_DOUBLE_EQ(c.physics.parameters.cooling_factor, 0.8);
  ASSERT_EQ(c.controls.size(), 2u);
  EXPECT_EQ(c.controls[0].unit, "kW");
  EXPECT_EQ(c.controls[1].region.shape, twin::ShapeKind::box);
  EXPECT_DOUBLE_EQ(c.controls[1].max, 1.0);
  // The effective config writes the lists and reads back the same.
  const std::string yaml = twin::to_yaml(c);
  const twin::Config again = twin::parse_config(yaml, "effective.yaml");
  const auto body = [](const std::string& s) { return s.substr(s.find('\n')); };
  EXPECT_EQ(body(twin::to_yaml(again)), body(yaml));
  EXPECT_EQ(again.controls[0].name, "H1");
}

TEST(ConfigErrors, ListItemsAreCheckedWithTheirIndex) {
  expect_error_at(minimal + "controls:\n  - {name: H1, center_m: [1, 1], size_m: [1, 1]}\n", 5, 5, "controls[0]",
                  "missing required key 'gain'");
  expect_error_at(minimal + "controls:\n  - {name: H1, center_m: [1, 1], size_m: [1, 1], gian: 1}\n", 5, 50,
                  "controls[0].gian", "did you mean 'gain'?");
  expect_error_at(minimal + "controls:\n  - {name: H1, center_m: [1, 1, 1], size_m: [1, 1, 1], gain: 1}\n", 5, 16,
                  "controls[0].center_m", "one entry per axis");
  expect_error_at(minimal + "controls:\n  - {name: H, center_m: [1, 1], size_m: [1, 1], gain: 1}\n"
                            "  - {name: H, center_m: [1, 1], size_m: [1, 1], gain: 1}\n",
                  4, 1, "controls", "unique");
  expect_error_at(minimal + "controls: {name: H}\n", 4, 11, "controls", "expected a list of maps");
  expect_error_at(minimal + "controls: [3]\n", 4, 12, "controls[0]", "expected a map of keys");
  expect_error_at(minimal + "controls:\n  - {name: H, center_m: [1, 1], size_m: [1, 1], gain: 1, initial: 5}\n", 5, 58,
                  "controls[0].initial", "within [min, max]");
  expect_error_at(minimal + "physics:\n  sources:\n    - {name: s, center_m: [1, 1], size_m: [1, 0], rate: 1}\n", 6, 47,
                  "physics.sources[0].size_m[1]", "must be > 0");
  expect_error_at(minimal + "physics:\n  sources:\n    - {name: s, center_m: [1, 1], size_m: [1, 1], rate: 1, start_s: "
                            "5, end_s: 2}\n",
                  6, 72, "physics.sources[0].end_s", "later than start_s");
  expect_error_at(minimal + "physics:\n  parameters: {diffusivity_factor: 0}\n", 5, 36,
                  "physics.parameters.diffusivity_factor", "must be > 0");
}
