// The Decider on its own, without MPI or a Runtime: the mode machine (safe_hold, advisor_off,
// fallback, nominal, the breaker), the physics check as an explicit stage between propose and
// decide, the safe default's ramp inside the envelope, and the override's validation.
#include <gtest/gtest.h>

#include <cmath>

#include "decision/advised_twin.hpp"
#include "decision/decider.hpp"
#include "twin/error.hpp"

namespace {

using twin::detail::Decider;
using twin::detail::Decision;
using twin::detail::DecisionInputs;
using twin::detail::Proposal;

DecisionInputs inputs(const twin::Config& c, int cycle, double value = 296.0) {
  DecisionInputs in;
  in.cycle = cycle;
  in.t_s = cycle * c.twin.control_period_s;
  in.analysis.assign(c.sensors.size(), value);
  for (const auto& p : c.ensemble.parameters) in.theta.push_back(p.prior_mean);
  in.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  return in;
}

// One cycle as the Runtime runs it on the deciding rank, without a physics check.
Decision cycle(Decider& d, const DecisionInputs& in) { return d.decide(in, d.propose(in), std::nullopt); }

std::vector<double> values(const Decision& d) {
  std::vector<double> v;
  for (const auto& c : d.advice.controls) v.push_back(c.value);
  return v;
}

}  // namespace

TEST(Decider, WithoutAnAdvisorTheControlsRampToTheSafeDefault) {
  twin::Config c = twin::test::advised_config("unused");
  c.advisor.reset();
  for (auto& u : c.controls) u.safe = 0.1;  // from 0.6 at 0.02 per s over 10 s: three cycles
  Decider d(c, true);
  std::vector<double> previous = d.controls();
  for (int n = 1; n <= 4; ++n) {
    const Decision out = cycle(d, inputs(c, n));
    EXPECT_EQ(out.advice.mode, twin::Mode::advisor_off);
    EXPECT_EQ(out.report.gate, "no_advisor");
    EXPECT_FALSE(out.report.consulted);
    for (std::size_t j = 0; j < c.controls.size(); ++j) {
      EXPECT_LE(std::abs(values(out)[j] - previous[j]), 0.2 + 1e-12) << "rate limit, cycle " << n;
      EXPECT_GE(values(out)[j], c.controls[j].min);
    }
    previous = values(out);
  }
  for (double v : previous) EXPECT_DOUBLE_EQ(v, 0.1);
  EXPECT_EQ(d.controls(), previous);  // what it decided is in force
}

TEST(Decider, AnUnhealthyTwinHoldsTheSafeDefaultAndAsksNoModel) {
  const twin::Config c = twin::test::advised_config(twin::test::trained_registry());
  Decider d(c, true);
  DecisionInputs in = inputs(c, 1);
  in.twin_healthy = false;
  in.unhealthy_reason = "twin unhealthy: solver state non_finite";
  const Proposal p = d.propose(in);
  EXPECT_FALSE(p.consulted);
  const Decision out = d.decide(in, p, std::nullopt);
  EXPECT_EQ(out.advice.mode, twin::Mode::safe_hold);
  EXPECT_EQ(out.report.gate, "twin_unhealthy");
  EXPECT_NE(out.advice.reason.find("solver state non_finite"), std::string::npos) << out.advice.reason;
}

TEST(Decider, AMissingModelIsAReasonNotAnError) {
  const twin::Config c = twin::test::advised_config((twin::test::scratch() / "empty_registry").string());
  Decider d(c, true);
  const Decision out = cycle(d, inputs(c, 1));
  EXPECT_EQ(out.advice.mode, twin::Mode::advisor_off);
  EXPECT_EQ(out.report.gate, "model_unavailable");
  EXPECT_NE(out.advice.reason.find("retrying every"), std::string::npos) << out.advice.reason;
}

TEST(Decider, ThePhysicsCheckSettlesAnAcceptedProposal) {
  twin::Config c = twin::test::advised_config(twin::test::trained_registry());
  c.advisor->gates.physics_check = true;
  c.advisor->gates.physics_tolerance = 1.0;
  for (const double offset : {0.5, 5.0}) {  // the solver agrees within the tolerance, or not
    Decider d(c, true);
    const DecisionInputs in = inputs(c, 1);
    const Proposal p = d.propose(in);
    ASSERT_TRUE(p.consulted && p.outcome.accepted) << p.outcome.detail;
    ASSERT_TRUE(p.check) << "an accepted proposal with time to spare asks for the physics check";
    std::vector<double> solver = p.predicted;
    for (double& v : solver) v += offset;
    const Decision out = d.decide(in, p, solver);
    EXPECT_DOUBLE_EQ(out.report.physics_error, offset);
    if (offset < 1.0) {
      EXPECT_EQ(out.advice.mode, twin::Mode::nominal);
      EXPECT_EQ(values(out), p.report.proposal);
    } else {
      EXPECT_EQ(out.advice.mode, twin::Mode::fallback);
      EXPECT_EQ(out.report.gate, "physics_check");
      EXPECT_EQ(values(out), p.fallback);
    }
  }
}

TEST(Decider, GateFailuresOpenTheBreakerWhichThenProbes) {
  twin::Config c = twin::test::advised_config(twin::test::trained_registry());
  c.advisor->gates.max_spread = 1e-12;  // every proposal is uncertain
  c.advisor->breaker = {2, 2, 1};       // open after 2 failures, cool down 2 cycles, 1 clean probe
  Decider d(c, true);
  std::vector<Decision> out;
  for (int n = 1; n <= 5; ++n) out.push_back(cycle(d, inputs(c, n)));
  EXPECT_EQ(out[0].advice.mode, twin::Mode::fallback);
  EXPECT_EQ(out[0].report.gate, "uncertain");
  EXPECT_EQ(out[1].advice.mode, twin::Mode::advisor_off);  // the second failure opens it
  EXPECT_NE(out[1].advice.reason.find("circuit breaker opened"), std::string::npos);
  for (int n : {2, 3}) {
    EXPECT_FALSE(out[n].report.consulted);
    EXPECT_EQ(out[n].report.gate, "breaker_open");
  }
  EXPECT_TRUE(out[4].report.consulted);  // half-open: asked, not applied
  EXPECT_EQ(out[4].advice.mode, twin::Mode::advisor_off);
  EXPECT_NE(out[4].advice.reason.find("probing"), std::string::npos) << out[4].advice.reason;
}

TEST(Decider, AnOverrideIsValidatedBeforeItReplacesTheControls) {
  const twin::Config c = twin::test::advised_config("unused");
  Decider d(c, false);
  const std::vector<double> before = d.controls();
  EXPECT_THROW(d.override_controls({0.1}), twin::DataError);
  EXPECT_THROW(d.override_controls({0.1, std::nan("")}), twin::DataError);
  EXPECT_EQ(d.controls(), before);
  EXPECT_NE(d.controls_problem({0.1}).find("expected 2 finite values (H1, H2), got 1"), std::string::npos)
      << d.controls_problem({0.1});
  d.override_controls({0.3, 2.0});  // 2.0 is above H2's max: taken, with a warning
  EXPECT_EQ(d.controls(), std::vector<double>({0.3, 2.0}));
}
