// The anomaly diagnosis' parts that need no model: its features, the cycles a plant event
// shows in, the training labels and the fault scenarios `twin train` generates.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/plant_event.hpp"
#include "decision/features.hpp"
#include "io/state_archive.hpp"
#include "advisor/gates.hpp"
#include "sources/plant.hpp"
#include "train/train.hpp"
#include "twin/config.hpp"

namespace {

using twin::detail::AnomalyFeatures;

twin::Config small_plate() { return twin::load_config(std::string(TWIN_SOURCE_DIR) + "/tests/data/small_plate.yaml"); }

// Readings equal to the forecast everywhere, with a forecast spread of 0.
std::vector<twin::SensorEstimate> calm(const twin::Config& c) {
  std::vector<twin::SensorEstimate> e(c.sensors.size());
  for (std::size_t s = 0; s < e.size(); ++s) {
    e[s].sensor = c.sensors[s].name;
    e[s].observed = e[s].forecast = 300.0;
    e[s].qc = twin::QcReason::accepted;
  }
  return e;
}

double input(const AnomalyFeatures& f, const std::vector<double>& x, const std::string& name) {
  const auto& in = f.layout().inputs;
  const auto it = std::find(in.begin(), in.end(), name);
  EXPECT_NE(it, in.end()) << name;
  return it == in.end() ? NAN : x[static_cast<std::size_t>(it - in.begin())];
}

TEST(AnomalyFeatures, OneSensorOffIsIsolatedAndCarriesTheEvidence) {
  const twin::Config c = small_plate();
  AnomalyFeatures f(c);
  EXPECT_EQ(f.layout().outputs.size(), twin::detail::anomaly_classes().size());
  auto e = calm(c);
  e[2].observed = 300.0 + 6.0;  // 30 sigma with 0.2 noise: clipped
  e[2].qc = twin::QcReason::innovation;
  const std::vector<double> x = f.push(e, {1.0, 1.0}, {0.6, 0.6});
  ASSERT_EQ(x.size(), f.layout().inputs.size());
  EXPECT_DOUBLE_EQ(input(f, x, "max_z0"), twin::detail::anomaly_clip);
  EXPECT_DOUBLE_EQ(input(f, x, "max2_z0"), 0.0);
  EXPECT_DOUBLE_EQ(input(f, x, "max_isolation"), twin::detail::anomaly_clip);
  EXPECT_DOUBLE_EQ(input(f, x, "buddies_of_max"), 0.0);
  EXPECT_NEAR(input(f, x, "rejected"), 1.0 / 6.0, 1e-12);
  EXPECT_DOUBLE_EQ(input(f, x, "rejected_max_abs_z"), twin::detail::anomaly_clip);
  EXPECT_NEAR(input(f, x, "mean_z0_shift"), twin::detail::anomaly_clip / 6.0, 1e-12);  // no history yet: against 0
  EXPECT_NEAR(f.evidence()[2], 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(f.evidence()[0], 0.0);
}

TEST(AnomalyFeatures, AWarmerPlantIsNotIsolatedAndTheWindowRemembers) {
  const twin::Config c = small_plate();
  AnomalyFeatures f(c);
  auto e = calm(c);
  for (auto& s : e) s.observed += 0.4;  // 2 sigma everywhere
  std::vector<double> x = f.push(e, {1.0, 1.0}, {0.6, 0.6});
  EXPECT_NEAR(input(f, x, "mean_z0_shift"), 2.0, 1e-9);
  EXPECT_NEAR(input(f, x, "max_isolation"), 0.0, 1e-9);
  EXPECT_NEAR(input(f, x, "buddies_of_max"), 2.0, 1e-9);
  x = f.push(calm(c), {1.0, 1.2}, {0.6, 0.6});  // a calm cycle: the last one moves back in the window
  EXPECT_NEAR(input(f, x, "mean_z0_shift"), 0.0, 1e-9);
  EXPECT_NEAR(input(f, x, "mean_z1_shift"), 2.0, 1e-9);
  EXPECT_NEAR(input(f, x, "mean_z_shift5"), 1.0, 1e-9);
  EXPECT_NEAR(input(f, x, "max_zsum"), 2.0, 1e-9);
  EXPECT_NEAR(input(f, x, "dtheta:cooling_factor"), 0.2 / 0.2, 1e-9);  // in prior standard deviations
  EXPECT_NEAR(input(f, x, "dtheta:diffusivity_factor"), 0.0, 1e-12);
}

// With the filter's parameter gate holding the parameters during a fault, the features read the
// pull of the readings: the estimates plus the moves the gate withheld, summed over the window.
TEST(AnomalyFeatures, TheParametersChangeIncludesWhatTheGateWithheld) {
  const twin::Config c = small_plate();
  AnomalyFeatures f(c);
  std::vector<double> x = f.push(calm(c), {1.0, 1.0}, {0.6, 0.6});
  x = f.push(calm(c), {1.0, 1.01}, {0.6, 0.6}, {0.0, 0.09});  // moved 0.01, 0.09 withheld
  EXPECT_NEAR(input(f, x, "dtheta:cooling_factor"), 0.1 / 0.2, 1e-9);
  x = f.push(calm(c), {1.0, 1.01}, {0.6, 0.6}, {0.02, 0.0});  // nothing withheld of the cooling since
  EXPECT_NEAR(input(f, x, "dtheta:cooling_factor"), 0.1 / 0.2, 1e-9);
  EXPECT_NEAR(input(f, x, "dtheta:diffusivity_factor"), 0.02 / 0.2, 1e-9);
  // Without withheld moves (no gate, or nothing assimilated) the estimates' own change.
  AnomalyFeatures plain(c);
  plain.push(calm(c), {1.0, 1.0}, {0.6, 0.6});
  x = plain.push(calm(c), {1.0, 0.9}, {0.6, 0.6}, {});
  EXPECT_NEAR(input(plain, x, "dtheta:cooling_factor"), -0.1 / 0.2, 1e-9);
}

// The filter's split of the innovation (CycleOutcome::innovation_split): now, summed over the
// window, clipped; a cycle without an analysis reads as a consistent one (0 along, 1
// unexplained), and a restart snapshot keeps the window.
TEST(AnomalyFeatures, TheInnovationAlongTheParametersIsReadNowAndOverTheWindow) {
  const twin::Config c = small_plate();
  AnomalyFeatures f(c);
  std::vector<double> x = f.push(calm(c), {1.0, 1.0}, {0.6, 0.6}, {}, {{0.5, -3.0}, {}, 1.2});
  EXPECT_DOUBLE_EQ(input(f, x, "along:cooling_factor"), -3.0);
  EXPECT_DOUBLE_EQ(input(f, x, "along:diffusivity_factor"), 0.5);
  EXPECT_DOUBLE_EQ(input(f, x, "unexplained"), 1.2);
  x = f.push(calm(c), {1.0, 1.0}, {0.6, 0.6}, {}, {{0.0, -40.0}, {}, 25.0});
  EXPECT_DOUBLE_EQ(input(f, x, "along:cooling_factor"), -twin::detail::anomaly_clip);
  EXPECT_DOUBLE_EQ(input(f, x, "along_window:cooling_factor"), -3.0 - twin::detail::anomaly_clip);
  EXPECT_DOUBLE_EQ(input(f, x, "unexplained"), twin::detail::anomaly_clip);
  twin::io::StateArchive archive;
  f.save(archive);
  AnomalyFeatures resumed(c);
  resumed.restore(archive);
  x = resumed.push(calm(c), {1.0, 1.0}, {0.6, 0.6});  // nothing assimilated this cycle
  EXPECT_DOUBLE_EQ(input(resumed, x, "along:cooling_factor"), 0.0);
  EXPECT_DOUBLE_EQ(input(resumed, x, "unexplained"), 1.0);
  EXPECT_DOUBLE_EQ(input(resumed, x, "along_window:cooling_factor"), -3.0 - twin::detail::anomaly_clip);
  x = resumed.push(calm(c), {1.0, 1.0}, {0.6, 0.6});  // the first cycle leaves the window of 3
  EXPECT_DOUBLE_EQ(input(resumed, x, "along_window:cooling_factor"), -twin::detail::anomaly_clip);
  EXPECT_DOUBLE_EQ(input(resumed, x, "along_window:diffusivity_factor"), 0.0);
  // A snapshot from before the signatures (no 'anomaly.along') starts that window afresh.
  twin::io::StateArchive older;
  for (const char* name : {"anomaly.z", "anomaly.theta", "anomaly.means", "anomaly.evidence", "anomaly.withheld"})
    older.put(name, archive.doubles(name));
  for (const char* name : {"anomaly.z.sizes", "anomaly.theta.sizes"}) older.put(name, archive.ints(name));
  AnomalyFeatures from_older(c);
  from_older.restore(older);
  x = from_older.push(calm(c), {1.0, 1.0}, {0.6, 0.6}, {}, {{0.0, -2.0}, {}, 1.0});
  EXPECT_DOUBLE_EQ(input(from_older, x, "along_window:cooling_factor"), -2.0);
}

// Along the controls' signatures (InnovationSplit::along_controls): the extremes over the
// controls, now and of the window sums, so that no feature names a control.
TEST(AnomalyFeatures, TheInnovationAlongTheControlsIsReadAsItsExtremes) {
  const twin::Config c = small_plate();
  AnomalyFeatures f(c);
  std::vector<double> x = f.push(calm(c), {1.0, 1.0}, {0.6, 0.6}, {}, {{}, {-1.0, 0.5}, NAN});
  x = f.push(calm(c), {1.0, 1.0}, {0.6, 0.6}, {}, {{}, {-3.0, 2.0}, NAN});
  EXPECT_DOUBLE_EQ(input(f, x, "min_along_control"), -3.0);
  EXPECT_DOUBLE_EQ(input(f, x, "max_along_control"), 2.0);
  EXPECT_DOUBLE_EQ(input(f, x, "min_along_control_window"), -4.0);
  EXPECT_DOUBLE_EQ(input(f, x, "max_along_control_window"), 2.5);
  x = f.push(calm(c), {1.0, 1.0}, {0.6, 0.6}, {}, {{}, {40.0, NAN}, NAN});  // clipped; NaN reads as 0
  EXPECT_DOUBLE_EQ(input(f, x, "max_along_control"), twin::detail::anomaly_clip);
  EXPECT_DOUBLE_EQ(input(f, x, "min_along_control"), 0.0);
  EXPECT_DOUBLE_EQ(input(f, x, "max_along_control_window"), twin::detail::anomaly_clip - 4.0);  // H1: -1 - 3 + 10
  EXPECT_DOUBLE_EQ(input(f, x, "min_along_control_window"), 2.5);                             // H2: 0.5 + 2 + 0
}

TEST(AnomalyFeatures, ALastingOffsetBecomesTheUsualLevel) {
  const twin::Config c = small_plate();
  AnomalyFeatures f(c);
  auto warm = calm(c);
  for (auto& s : warm) s.observed += 0.2;  // 1 sigma everywhere, for good
  std::vector<double> x;
  for (int k = 0; k < twin::detail::anomaly_recent + twin::detail::anomaly_baseline; ++k) x = f.push(warm, {1.0, 1.0}, {0.6, 0.6});
  EXPECT_NEAR(input(f, x, "mean_z0_shift"), 0.0, 1e-9);
  EXPECT_NEAR(input(f, x, "mean_z_shift5"), 0.0, 1e-9);
  for (auto& s : warm) s.observed += 0.2;  // and now one sigma more
  x = f.push(warm, {1.0, 1.0}, {0.6, 0.6});
  EXPECT_NEAR(input(f, x, "mean_z0_shift"), 1.0, 1e-9);
}

TEST(AnomalyFeatures, MissingAndNonFiniteReadingsAreCountedNotPropagated) {
  const twin::Config c = small_plate();
  AnomalyFeatures f(c);
  auto e = calm(c);
  e[0].observed = NAN;
  e[0].qc = twin::QcReason::missing;
  e[1].observed = INFINITY;
  e[1].qc = twin::QcReason::non_finite;
  e[3].forecast_spread = NAN;
  const std::vector<double> x = f.push(e, {NAN, 1.0}, {NAN, 0.6});
  for (double v : x) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(input(f, x, "missing"), 1.0 / 6.0, 1e-12);
  EXPECT_NEAR(input(f, x, "rejected"), 1.0 / 6.0, 1e-12);
  // Absence and QC's verdict are the evidence: the two share it.
  EXPECT_NEAR(f.evidence()[0], 0.5, 1e-12);
  EXPECT_NEAR(f.evidence()[1], 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(f.evidence()[2], 0.0);
}

TEST(EventCycles, EachKindShowsWhenTheEmulatorAppliesIt) {
  using twin::EventKind;
  const double T = 10.0;
  twin::PlantEventConfig e;
  e.start_s = 600;
  e.end_s = 900;
  e.type = EventKind::sensor_bias;  // read at the end of cycle 59 (t = 600) up to t = 890
  EXPECT_EQ(twin::detail::event_cycles(e, T).first, 59);
  EXPECT_EQ(twin::detail::event_cycles(e, T).last, 88);
  e.type = EventKind::heat_source;  // heats from cycle 60 ([600, 610)) through cycle 89
  EXPECT_EQ(twin::detail::event_cycles(e, T).first, 60);
  EXPECT_EQ(twin::detail::event_cycles(e, T).last, 89);
  e.type = EventKind::heater_failure;  // applied to cycles starting at or after 600
  EXPECT_EQ(twin::detail::event_cycles(e, T).first, 60);
  e.start_s = 605;
  EXPECT_EQ(twin::detail::event_cycles(e, T).first, 61);
  e.type = EventKind::sensor_spike;  // one reading: t = 610
  EXPECT_EQ(twin::detail::event_cycles(e, T).first, 60);
  EXPECT_EQ(twin::detail::event_cycles(e, T).last, 60);
  e.end_s.reset();
  e.type = EventKind::cooling_degradation;
  EXPECT_EQ(twin::detail::event_cycles(e, T).last, -1);
  EXPECT_TRUE(twin::detail::event_cycles(e, T).contains(100000));
}

// A cycle is quiet for the false-alarm figures once no event is in effect or within its fixed
// settling, and the filter's readings have passed its consistency test for 3 cycles in a row
// since the start and since the last event: a twin spinning up, or still far from the plant
// after a fault, is not quiet.
TEST(QuietCycles, AfterAnEventTheTwinMustBeConsistentAgainForThreeCycles) {
  using twin::detail::QuietCycles;
  // An event over cycles 10..14, settling fixed for 8 cycles after (15..22).
  QuietCycles q({twin::detail::EventCycles{10, 14}}, {8});
  EXPECT_FALSE(q.next(0, 1e-6));  // spinning up
  EXPECT_FALSE(q.next(1, 0.5));
  EXPECT_FALSE(q.next(2, 0.5));
  for (long c = 3; c < 10; ++c) EXPECT_TRUE(q.next(c, c == 5 ? 1e-6 : 0.5)) << c;  // settled: quiet
  for (long c = 10; c <= 22; ++c) EXPECT_FALSE(q.next(c, 0.5)) << c;               // in effect, then settling
  // Past the fixed settling the twin is still inconsistent: not quiet until 3 cycles pass the test.
  EXPECT_FALSE(q.next(23, 1e-9));
  EXPECT_FALSE(q.next(24, 0.2));
  EXPECT_FALSE(q.next(25, std::nan("")));  // nothing assimilated: neither counts nor breaks the run
  EXPECT_FALSE(q.next(26, 0.3));
  EXPECT_TRUE(q.next(27, 0.01));
  EXPECT_TRUE(q.next(28, 1e-6));  // settled: a later inconsistent cycle is a candidate false alarm
  // The state carries over (snapshots); a malformed one is refused.
  QuietCycles r({twin::detail::EventCycles{10, 14}}, {8});
  for (long c = 0; c <= 23; ++c) r.next(c, c == 23 ? 1e-9 : 0.5);
  QuietCycles s({twin::detail::EventCycles{10, 14}}, {8});
  ASSERT_TRUE(s.set_state(r.state()));
  EXPECT_FALSE(s.next(24, 0.5));
  EXPECT_FALSE(s.next(25, 0.5));
  EXPECT_TRUE(s.next(26, 0.5));
  EXPECT_FALSE(s.set_state({3}));
  EXPECT_FALSE(s.set_state({-1, 0}));
  EXPECT_FALSE(s.set_state({0, 2}));
}

// How plainly an event shows (FaultEvidence): the difference between the plant with the event
// and without, less what an earlier event left, over the noise, summed in squares since the
// onset; NaN with no event in effect; a reading one plant lacks counts as detectable at once.
TEST(FaultEvidence, AccumulatesTheFaultsOwnSignalOverTheNoiseSinceItsOnset) {
  const twin::Config c = small_plate();  // 6 sensors, noise_std 0.2, 10 s cycles
  twin::PlantEventConfig e;
  e.type = twin::EventKind::heater_failure;
  e.target = "H1";
  e.start_s = 100.0;
  e.end_s = 150.0;
  const twin::detail::EventCycles window = twin::detail::event_cycles(e, c.twin.control_period_s);
  twin::detail::FaultEvidence evidence(c, {e});
  const auto readings = [&](double s1, double s2, bool s3) {
    std::vector<twin::Observation> r;
    for (const auto& s : c.sensors)
      if (s3 || s.name != "S3") r.push_back({0.0, s.name, s.name == "S1" ? s1 : s.name == "S2" ? s2 : 300.0});
    return r;
  };
  const auto clean = readings(300.0, 300.0, true);
  for (long k = 0; k < window.first; ++k)  // an earlier event's heat still at S1: no event in effect
    EXPECT_TRUE(std::isnan(evidence.next(k, readings(300.5, 300.0, true), clean))) << k;
  // In effect: S1 keeps what was left (not this event's signal), S2 is 0.4 = 2 sd off.
  EXPECT_NEAR(evidence.next(window.first, readings(300.5, 300.4, true), clean), 2.0, 1e-9);
  EXPECT_NEAR(evidence.next(window.first + 1, readings(300.5, 300.4, true), clean), std::sqrt(8.0), 1e-9);
  const double third = evidence.next(window.first + 2, readings(300.5, 300.4, true), clean);
  EXPECT_NEAR(third, std::sqrt(12.0), 1e-9);
  EXPECT_GE(third, twin::detail::FaultEvidence::detectable_evidence);
  // A reading the plant with the event lacks: detectable at once (sqrt(12 + 9)).
  EXPECT_NEAR(evidence.next(window.first + 3, readings(300.5, 300.0, false), clean), std::sqrt(21.0), 1e-9);
  EXPECT_EQ(evidence.event(), 0);
  EXPECT_TRUE(std::isnan(evidence.next(window.last + 1, clean, clean)));
  EXPECT_EQ(evidence.event(), -1);
}

// Whether two events share a cycle of the run (twin faults's note): windows that meet only after
// the run's last cycle do not, an open-ended one overlaps whatever begins within the run.
TEST(FaultEvidence, EventsOverlapOnlyWithinTheRun) {
  using twin::detail::EventCycles;
  const EventCycles a{10, 29}, inside{15, 19}, after{30, 40}, open{50, -1}, late{60, 70}, beyond{120, 130};
  EXPECT_TRUE(a.overlaps(inside, 100));
  EXPECT_TRUE(inside.overlaps(a, 100));
  EXPECT_FALSE(a.overlaps(after, 100)) << "one ends as the other begins";
  EXPECT_TRUE(EventCycles({10, 30}).overlaps(after, 100)) << "a shared cycle";
  EXPECT_TRUE(open.overlaps(late, 100));
  EXPECT_FALSE(open.overlaps(beyond, 100)) << "they would meet only after the run's end";
  EXPECT_FALSE(late.overlaps(EventCycles{65, 80}, 62)) << "the run ends at cycle 61";
  EXPECT_TRUE(late.overlaps(EventCycles{55, 80}, 62));
}

// Events that overlap (found by twin faults on a config whose events overlap: an event begun
// with another was "never detectable"): each keeps the evidence of all the plant did since its
// own onset while a later one comes and goes, and two that begin together are both credited.
TEST(FaultEvidence, OverlappingEventsEachKeepTheirEvidence) {
  const twin::Config c = small_plate();  // noise_std 0.2, 10 s cycles
  const double T = c.twin.control_period_s;
  const auto event = [&](twin::EventKind kind, const char* target, long first, long last) {
    twin::PlantEventConfig e;
    e.type = kind;
    e.target = target;
    e.start_s = (first + 0.5) * T;
    e.end_s = (last + 0.5) * T;
    return e;
  };
  // A: cycles 10-29; B: 15-19, inside A; C: 10-29, begun with A.
  const std::vector<twin::PlantEventConfig> events = {event(twin::EventKind::sensor_bias, "S1", 10, 30),
                                                      event(twin::EventKind::sensor_bias, "S2", 15, 20),
                                                      event(twin::EventKind::sensor_bias, "S3", 10, 30)};
  twin::detail::FaultEvidence evidence(c, events);
  const auto readings = [&](double s1) {
    std::vector<twin::Observation> r;
    for (const auto& s : c.sensors) r.push_back({0.0, s.name, s.name == "S1" ? s1 : 300.0});
    return r;
  };
  const auto clean = readings(300.0);
  for (long k = 0; k < 10; ++k) evidence.next(k, clean, clean);
  for (long k = 10; k < 25; ++k) evidence.next(k, readings(300.2), clean);  // S1 1 sd off from cycle 10
  // A and C: 15 cycles of 1 sd each; B: nothing since its onset (S1 was already off).
  EXPECT_NEAR(evidence.evidence_of(0), std::sqrt(15.0), 1e-9);
  EXPECT_NEAR(evidence.evidence_of(2), std::sqrt(15.0), 1e-9);
  EXPECT_TRUE(std::isnan(evidence.evidence_of(1)));  // B ended at cycle 19
  EXPECT_EQ(evidence.event(), 0);                       // the latest begun in effect (A and C tie: the first)
  EXPECT_NEAR(evidence.next(25, readings(300.2), clean), std::sqrt(16.0), 1e-9);
}

// The same on the plant emulator itself: a heater failing to 10 % shows within its cycles, and
// not before its onset; a biased sensor shows at once.
TEST(FaultEvidence, ThePlantEmulatorsFaultsShowAgainstThePlantWithout) {
  twin::Config c = small_plate();
  c.source.plant.events.clear();
  const twin::PlantEventConfig heater = twin::test::plant_event(twin::EventKind::heater_failure, "H1", 100.0, 200.0, 0.1);
  const twin::PlantEventConfig bias = twin::test::plant_event(twin::EventKind::sensor_bias, "S5", 250.0, 280.0, 2.0);
  twin::Config faulty = c;
  faulty.source.plant.events = {heater, bias};
  twin::detail::PlantEmulator with(faulty, MPI_COMM_SELF), without(c, MPI_COMM_SELF);
  twin::detail::FaultEvidence evidence(faulty, faulty.source.plant.events);
  const double T = c.twin.control_period_s;
  const twin::detail::EventCycles hw = twin::detail::event_cycles(heater, T), bw = twin::detail::event_cycles(bias, T);
  const std::vector<double> u = {0.8, 0.8};
  long heater_shown = -1;
  for (long k = 0; k <= bw.first; ++k) {
    const double v = evidence.next(k, with.advance(k * T, T, u, k), without.advance(k * T, T, u, k));
    if (k < hw.first) {
      EXPECT_TRUE(std::isnan(v)) << k;
    }
    if (hw.contains(k)) {
      EXPECT_GE(v, 0.0) << k;
      if (heater_shown < 0 && v >= twin::detail::FaultEvidence::detectable_evidence) heater_shown = k;
    }
    // a 2 K bias on 0.2 K noise; the heat the heater did not give still changes a little
    if (k == bw.first) {
      EXPECT_NEAR(v, 2.0 / 0.2, 0.5);
    }
  }
  EXPECT_GE(heater_shown, hw.first) << "the failed heater never showed against the plant without it";
  EXPECT_LE(heater_shown, hw.last);
}

TEST(AnomalyLabels, SensorFaultsWholePlantFaultsAtFirstRecoveryLeftOut) {
  using twin::EventKind;
  const double T = 10.0;
  twin::PlantEventConfig bias, heater;
  bias.type = EventKind::sensor_bias;
  bias.start_s = 100;
  bias.end_s = 200;  // cycles 9 .. 18
  heater.type = EventKind::heater_failure;
  heater.start_s = 300;
  heater.end_s = 600;  // cycles 30 .. 59
  const std::vector<twin::PlantEventConfig> events{bias, heater};
  const auto label = [&](long c) { return twin::detail::anomaly_label(events, c, T); };
  EXPECT_EQ(label(5), 0);
  EXPECT_EQ(label(9), 1);
  EXPECT_EQ(label(18), 1);
  EXPECT_EQ(label(19), -1);  // recovering
  EXPECT_EQ(label(25), 0);
  EXPECT_EQ(label(30), -1);  // the first cycle of a plant fault shows too little to call
  EXPECT_EQ(label(31), 4);   // heater_failure
  EXPECT_EQ(label(41), 4);
  EXPECT_EQ(label(42), -1);  // twelve cycles on, the filter has absorbed what it can
  EXPECT_EQ(label(62), -1);
  EXPECT_EQ(label(70), 0);
}

TEST(FaultScenarios, AreReproducibleAndInsideTheEnvelope) {
  twin::Config c = small_plate();
  c.training.anomaly_cycles = 120;
  const auto a = twin::detail::fault_scenario(c, 3), b = twin::detail::fault_scenario(c, 3), d = twin::detail::fault_scenario(c, 4);
  ASSERT_EQ(a.controls.size(), 120u);
  EXPECT_EQ(a.controls, b.controls);
  EXPECT_EQ(twin::to_yaml(a.config), twin::to_yaml(b.config));
  EXPECT_NE(twin::to_yaml(a.config), twin::to_yaml(d.config));
  EXPECT_GE(a.config.source.plant.events.size(), 3u);
  EXPECT_FALSE(a.config.advisor.has_value());
  const auto env = twin::advisor::Envelope::from(c.controls);
  for (const auto& sc : {a, d}) {
    std::vector<double> prev;
    for (const auto& ctl : c.controls) prev.push_back(ctl.initial);
    for (const auto& u : sc.controls) {
      for (std::size_t j = 0; j < u.size(); ++j) {
        EXPECT_GE(u[j], c.controls[j].min);
        EXPECT_LE(u[j], c.controls[j].max);
      }
      EXPECT_EQ(env.ramp_towards(u, prev, c.twin.control_period_s), u);  // within the rate limits
      prev = u;
    }
    // Faults come one at a time, after the diagnosis' warm-up.
    long last = -1;
    for (const auto& e : sc.config.source.plant.events) {
      const auto ec = twin::detail::event_cycles(e, c.twin.control_period_s);
      EXPECT_GT(ec.first, last);
      EXPECT_GT(ec.first, twin::AdvisorConfig{}.anomaly_warmup_cycles);
      last = ec.last;
    }
  }
}

}  // namespace
