#pragma once
// The configuration keys of the advisor (`objectives:`, `advisor:`, `training:`), described once, next to the code that owns
// them. `describe(v, section)` is walked by the config reader (parse and validate) and by the
// writer (effective config) in src/config, through the visitor protocol of
// ground/config_rule.hpp. Keep docs/config.md in step.

#include "ground/config_rule.hpp"
#include "advisor/drift.hpp"
#include "advisor/model_package.hpp"
#include "advisor/safe_default.hpp"
#include "twin/config.hpp"

namespace twin::detail {

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
  v.check(!c.anomaly || !c.anomaly->empty(), "anomaly", "must name a model; write ~ to turn the diagnosis off");
  v.optional("candidates", c.candidates, Rule::range(1, 256));
  v.optional("iterations", c.iterations, Rule::range(0, 1000));
  v.optional("anomaly_threshold", c.anomaly_threshold, Rule::above_up_to(0.0, 1.0));
  v.optional("anomaly_warmup_cycles", c.anomaly_warmup_cycles, Rule::non_negative());
  v.optional("threads", c.threads, Rule::range(1, 256));
  v.optional("reprobe_cycles", c.reprobe_cycles, Rule::at_least(1));
  v.optional("model_key_file", c.model_key_file);
  v.optional("require_signed_models", c.require_signed_models);
  v.section("safe_default", c.safe_default);
  v.section("gates", c.gates);
  v.section("breaker", c.breaker);
  v.check(!c.surrogate.empty(), "surrogate", "needs a model name");
}

/// The signals `drift.monitors[].signal` may name; without `monitors`, one cusum for each.
inline const std::vector<std::string>& drift_signals() {
  static const std::vector<std::string> s{"surrogate_error", "ood", "innovation", "anomaly_rate", "parameters"};
  return s;
}

/// The `parameters` monitors report each parameter as the signal `parameter:<name>`.
inline std::string parameter_signal(const std::string& name) { return "parameter:" + name; }
inline bool is_parameter_signal(const std::string& signal) { return signal.rfind("parameter:", 0) == 0; }

template <class V>
void describe(V& v, DriftMonitorConfig& c) {
  v.required("signal", c.signal, Rule::one_of(drift_signals()));
  v.optional("type", c.type, Rule::one_of(advisor::DriftDetector::registry().types()));
  v.optional("shift", c.shift, Rule::above_up_to(0.0, 10.0));
}

template <class V>
void describe(V& v, DriftConfig& c) {
  v.optional("false_alarm_cycles", c.false_alarm_cycles, Rule::range(10.0, 1e9));
  v.optional("warmup_cycles", c.warmup_cycles, Rule::range(0, 100000));
  v.optional("reference_cycles", c.reference_cycles, Rule::range(5, 100000));
  v.optional("tighten", c.tighten, Rule::above_up_to(0.0, 1.0));
  v.optional("tighten_cycles", c.tighten_cycles, Rule::at_least(1));
  v.list("monitors", c.monitors);
}

template <class V>
void describe(V& v, RetrainConfig& c) {
  v.optional("control_sequences", c.control_sequences, Rule::range(0, 10000));
  v.optional("segments", c.segments, Rule::range(1, 10000));
  v.optional("members_per_solver", c.members_per_solver, Rule::range(1, 1024));
  v.optional("warmup_cycles", c.warmup_cycles, Rule::non_negative());
  v.optional("parameter_spread", c.parameter_spread, Rule::non_negative());
  v.optional("captured_weight", c.captured_weight, Rule::range(0, 100));
  v.optional("epochs", c.epochs, Rule::range(1, 100000));
  v.optional("learning_rate", c.learning_rate, Rule::above_up_to(0.0, 1.0));
}

template <class V>
void describe(V& v, LifecycleConfig& c) {
  v.optional("window_cycles", c.window_cycles, Rule::range(1, 100000));
  v.optional("keep_windows", c.keep_windows, Rule::range(1, 10000));
  v.optional("capture_tolerance", c.capture_tolerance, Rule::range(0.0, 1.0));
  v.optional("retrain_on", c.retrain_on, Rule::one_of(drift_signals()).size(0, 5));
  v.optional("retrain_every_cycles", c.retrain_every_cycles, Rule::non_negative());
  v.optional("slice", c.slice, Rule::above_up_to(0.0, 0.95));
  v.section("retrain", c.retrain);
  v.optional("shadow_cycles", c.shadow_cycles, Rule::range(1, 100000));
  v.optional("shadow_max_cycles", c.shadow_max_cycles, Rule::range(1, 1000000));
  v.optional("promotion_margin", c.promotion_margin, Rule::range(0.0, 0.9));
  v.optional("promotion_z", c.promotion_z, Rule::range(0.0, 100.0));
  v.optional("degraded_factor", c.degraded_factor, Rule::range(1.0, 100.0));
  v.optional("reference_cycles", c.reference_cycles, Rule::range(1, 100000));
  v.optional("min_gate_pass", c.min_gate_pass, Rule::range(0.0, 1.0));
  v.optional("watch_cycles", c.watch_cycles, Rule::range(1, 100000));
  v.optional("watch_min_cycles", c.watch_min_cycles, Rule::range(1, 100000));
  v.optional("rollback_factor", c.rollback_factor, Rule::range(1.0, 100.0));
  v.check(c.shadow_max_cycles >= c.shadow_cycles, "shadow_max_cycles", "must be at least shadow_cycles");
  v.check(c.watch_cycles >= c.watch_min_cycles, "watch_cycles", "must be at least watch_min_cycles");
}

template <class V>
void describe(V& v, TrainingConfig& c) {
  v.optional("seed", c.seed);
  v.optional("ensemble", c.ensemble, Rule::range(1, 64));
  v.optional("surrogate_kind", c.surrogate_kind,
             Rule::one_of(std::vector<std::string>{advisor::kind_response_ensemble, advisor::kind_mlp_ensemble}));
  v.optional("hidden", c.hidden, Rule::range(1, 4096).size(1, 8));
  v.optional("epochs", c.epochs, Rule::range(1, 1000000));
  v.optional("learning_rate", c.learning_rate, Rule::above_up_to(0.0, 1.0));
  v.optional("validation_fraction", c.validation_fraction, Rule::range(0.05, 0.5));
  v.optional("test_fraction", c.test_fraction, Rule::range(0.05, 0.5));
  v.optional("anomaly_false_alarm_rate", c.anomaly_false_alarm_rate, Rule::range(0.0001, 0.2));
  v.optional("lead_cycles", c.lead_cycles, Rule::range(1, 10000).size(1, 16));
  v.optional("control_sequences", c.control_sequences, Rule::range(1, 100000));
  v.optional("members_per_solver", c.members_per_solver, Rule::range(1, 1024));
  v.optional("segments", c.segments, Rule::range(1, 100000));
  v.optional("transient_samples", c.transient_samples);
  v.optional("warmup_cycles", c.warmup_cycles, Rule::non_negative());
  v.optional("parameter_spread", c.parameter_spread, Rule::non_negative());
  v.optional("anomaly_scenarios", c.anomaly_scenarios, Rule::non_negative());
  v.optional("anomaly_cycles", c.anomaly_cycles, Rule::range(1, 1000000));
  v.optional("anomaly_hidden", c.anomaly_hidden, Rule::range(1, 4096).size(1, 8));
  v.optional("anomaly_epochs", c.anomaly_epochs, Rule::range(1, 1000000));
  v.optional("anomaly_ensemble", c.anomaly_ensemble, Rule::range(1, 64));
  v.check(c.validation_fraction + c.test_fraction <= 0.6, "test_fraction",
          "with validation_fraction holds out more than 60 % of the data: too little is left to train on");
  bool increasing = !c.lead_cycles.empty();
  for (std::size_t i = 1; i < c.lead_cycles.size(); ++i) increasing = increasing && c.lead_cycles[i] > c.lead_cycles[i - 1];
  v.check(increasing, "lead_cycles", "must be increasing");
}

}  // namespace twin::detail
