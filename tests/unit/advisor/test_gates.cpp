// The gates, the envelope, the safe default and the circuit breaker: whatever a model returns,
// the advice stays inside the envelope, and every fallback has its reason.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "advisor/gates.hpp"
#include "advisor/safe_default.hpp"
#include "twin/error.hpp"

namespace {

using twin::advisor::Breaker;
using twin::advisor::Envelope;
using twin::advisor::FallbackReason;
using twin::advisor::gate;
using twin::advisor::Proposal;

twin::ControlConfig control(const std::string& name, double min, double max, double rate, double initial) {
  twin::ControlConfig c;
  c.name = name;
  c.min = min;
  c.max = max;
  c.rate_limit_per_s = rate;
  c.initial = initial;
  return c;
}

const double inf = std::numeric_limits<double>::infinity();
const double nan = std::numeric_limits<double>::quiet_NaN();

TEST(Envelope, BoxIntersectsBoundsAndRateLimits) {
  const Envelope e = Envelope::from({control("H1", 0.0, 1.5, 0.02, 0.6), control("H2", 0.0, 1.5, 0.02, 0.6)});
  std::vector<double> lo, hi;
  e.box({0.6, 1.45}, 10.0, lo, hi);
  EXPECT_DOUBLE_EQ(lo[0], 0.4);
  EXPECT_DOUBLE_EQ(hi[0], 0.8);
  EXPECT_DOUBLE_EQ(lo[1], 1.25);
  EXPECT_DOUBLE_EQ(hi[1], 1.5);  // the bound wins over the rate limit
  EXPECT_TRUE(e.contains({0.8, 1.3}, {0.6, 1.45}, 10.0));
  EXPECT_FALSE(e.contains({0.81, 1.3}, {0.6, 1.45}, 10.0));
  EXPECT_FALSE(e.contains({nan, 1.3}, {0.6, 1.45}, 10.0));
  EXPECT_FALSE(e.contains({0.7}, {0.6, 1.45}, 10.0));
  const std::vector<double> r = e.ramp_towards({0.0, nan}, {0.6, 1.45}, 10.0);
  EXPECT_DOUBLE_EQ(r[0], 0.4);   // ramps at the rate limit
  EXPECT_DOUBLE_EQ(r[1], 1.45);  // a non-finite target holds the previous value
}

TEST(Gates, EachGateProducesItsReason) {
  const Envelope e = Envelope::from({control("H1", 0.0, 1.5, 0.02, 0.6)});
  twin::GatesConfig g;  // budget 50 ms, spread 1, ood 6
  const std::vector<double> prev{0.6};
  const auto reason = [&](Proposal p) { return gate(p, e, prev, 10.0, g).reason; };
  EXPECT_EQ(reason({{0.7}, 0.1, 1.0, 5.0}), FallbackReason::none);
  EXPECT_EQ(reason({{nan}, 0.1, 1.0, 5.0}), FallbackReason::non_finite);
  EXPECT_EQ(reason({{0.7}, inf, 1.0, 5.0}), FallbackReason::non_finite);
  EXPECT_EQ(reason({{0.7}, 0.1, nan, 5.0}), FallbackReason::non_finite);
  EXPECT_EQ(reason({{0.7, 0.7}, 0.1, 1.0, 5.0}), FallbackReason::non_finite);  // wrong size
  EXPECT_EQ(reason({{0.7}, 0.1, 1.0, 50.5}), FallbackReason::late);
  EXPECT_EQ(reason({{0.7}, 0.1, 1.0, nan}), FallbackReason::late);
  EXPECT_EQ(reason({{0.9}, 0.1, 1.0, 5.0}), FallbackReason::outside_envelope);  // rate limit
  EXPECT_EQ(reason({{-0.1}, 0.1, 1.0, 5.0}), FallbackReason::outside_envelope);
  EXPECT_EQ(reason({{0.7}, 1.5, 1.0, 5.0}), FallbackReason::uncertain);
  EXPECT_EQ(reason({{0.7}, 0.1, 7.0, 5.0}), FallbackReason::out_of_distribution);
  const auto outcome = gate({{0.9}, 0.1, 1.0, 5.0}, e, prev, 10.0, g);
  EXPECT_FALSE(outcome.accepted);
  EXPECT_NE(outcome.detail.find("rate limit"), std::string::npos) << outcome.detail;
}

// >= 100000 random and adversarial model outputs through gate + fallback: the emitted advice
// never leaves the envelope, and every rejection names a reason.
TEST(Gates, NoAdviceEverLeavesTheEnvelope) {
  std::vector<twin::ControlConfig> controls{control("H1", 0.0, 1.5, 0.02, 0.6), control("H2", -1.0, 1.0, 0.5, 0.0),
                                            control("H3", 2.0, 2.0, 0.01, 2.0)};
  controls.push_back(control("H4", 0.0, 10.0, 0.0, 1.0));
  controls.back().rate_limit_per_s.reset();  // no rate limit on this one
  const Envelope e = Envelope::from(controls);
  twin::GatesConfig g;
  std::mt19937_64 rng(2026);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double specials[] = {nan, inf, -inf, 1e308, -1e308, 1e-320, 0.0, -0.0, 1.5 + 1e-12, -1.0 - 1e-12};
  const auto adversarial = [&](double typical) {
    const double u = unit(rng);
    if (u < 0.3) return specials[static_cast<int>(unit(rng) * 10) % 10];
    if (u < 0.5) return typical + (unit(rng) - 0.5) * 1e6;
    return typical + (unit(rng) - 0.5) * 3.0;
  };
  std::vector<double> prev{0.6, 0.0, 2.0, 1.0};
  const std::vector<double> safe_target{0.6, 0.0, 2.0, 1.0};
  long accepted = 0, rejected = 0;
  for (int i = 0; i < 120000; ++i) {
    const double dt = unit(rng) < 0.1 ? adversarial(10.0) : 10.0 * unit(rng) + 0.01;
    if (!(std::isfinite(dt) && dt > 0.0)) continue;  // the period comes from a validated config
    Proposal p;
    if (unit(rng) < 0.5) {  // a healthy model: inside the box it was given
      std::vector<double> lo, hi;
      e.box(prev, dt, lo, hi);
      for (int j = 0; j < 4; ++j) p.controls.push_back(lo[j] + (hi[j] - lo[j]) * unit(rng));
    } else {
      const int n = unit(rng) < 0.05 ? static_cast<int>(unit(rng) * 6) : 4;
      for (int j = 0; j < n; ++j) p.controls.push_back(adversarial(j < 4 ? prev[j] : 0.0));
    }
    p.spread = unit(rng) < 0.2 ? adversarial(0.5) : unit(rng);
    p.ood = unit(rng) < 0.2 ? adversarial(1.0) : 3.0 * unit(rng);
    p.latency_ms = unit(rng) < 0.2 ? adversarial(40.0) : 60.0 * unit(rng);
    const twin::advisor::GateOutcome o = gate(p, e, prev, dt, g);
    const std::vector<double> emitted = o.accepted ? p.controls : e.ramp_towards(safe_target, prev, dt);
    ASSERT_TRUE(e.contains(emitted, prev, dt)) << "iteration " << i;
    for (std::size_t j = 0; j < emitted.size(); ++j) {
      ASSERT_GE(emitted[j], e.min[j]);
      ASSERT_LE(emitted[j], e.max[j]);
    }
    if (o.accepted) {
      ++accepted;
      ASSERT_EQ(o.reason, FallbackReason::none);
    } else {
      ++rejected;
      ASSERT_NE(o.reason, FallbackReason::none);
      ASSERT_FALSE(o.detail.empty());
    }
    prev = emitted;
  }
  EXPECT_GE(accepted + rejected, 100000);
  EXPECT_GT(accepted, 1000);  // the property is not met by rejecting everything
  EXPECT_GT(rejected, 1000);
}

TEST(SafeDefault, FixedAndProportionalRules) {
  twin::Config c;
  c.sensors.resize(2);
  c.sensors[0].name = "T1";
  c.sensors[1].name = "T2";
  c.controls = {control("H1", 0.0, 1.5, 0.02, 0.6)};
  c.controls[0].sensor = "T2";
  c.controls[0].safe = 0.5;
  c.objectives.targets.push_back({"T2", 310.0, 1.0});
  c.advisor = twin::AdvisorConfig{};
  EXPECT_DOUBLE_EQ(twin::advisor::SafeDefault::create(c)->target({300.0, 305.0})[0], 0.5);  // fixed: the safe value
  c.advisor->safe_default.type = "proportional";
  c.advisor->safe_default.gain = 0.1;
  const auto p = twin::advisor::SafeDefault::create(c);
  EXPECT_STREQ(p->rule(), "proportional");
  EXPECT_DOUBLE_EQ(p->target({300.0, 305.0})[0], 1.0);   // 0.5 + 0.1 * (310 - 305)
  EXPECT_DOUBLE_EQ(p->target({300.0, 290.0})[0], 1.5);   // clipped to max
  EXPECT_DOUBLE_EQ(p->target({300.0, nan})[0], 0.5);     // no estimate: the safe value
  c.advisor.reset();
  EXPECT_STREQ(twin::advisor::SafeDefault::create(c)->rule(), "fixed");  // no advisor section: fixed
  c.advisor = twin::AdvisorConfig{};
  c.advisor->safe_default.type = "pid";
  EXPECT_THROW(twin::advisor::SafeDefault::create(c), twin::ConfigError);
}

TEST(Breaker, OpensCoolsDownProbesAndCloses) {
  twin::BreakerConfig cfg;
  cfg.failures = 3;
  cfg.cooldown_cycles = 2;
  cfg.clean_cycles = 2;
  Breaker b(cfg);
  b.record(false);
  b.record(true);  // a success resets the count
  b.record(false);
  b.record(false);
  EXPECT_EQ(b.state(), Breaker::State::closed);
  b.record(false);
  EXPECT_EQ(b.state(), Breaker::State::open);
  EXPECT_FALSE(b.consult());
  b.skip();
  EXPECT_EQ(b.state(), Breaker::State::open);
  b.skip();
  EXPECT_EQ(b.state(), Breaker::State::half_open);
  EXPECT_TRUE(b.consult());
  EXPECT_FALSE(b.apply());
  b.record(false);  // a failed probe opens it again
  EXPECT_EQ(b.state(), Breaker::State::open);
  b.skip();
  b.skip();
  b.record(true);
  EXPECT_EQ(b.state(), Breaker::State::half_open);
  b.record(true);
  EXPECT_EQ(b.state(), Breaker::State::closed);
  EXPECT_TRUE(b.apply());
}

}  // namespace
