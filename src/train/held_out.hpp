#pragma once
// The held-out evaluation of `twin train` (docs/advisor.md, "Held-out evaluation"): the anomaly
// threshold chosen on the validation scenarios to a false-alarm budget, and the test figures of
// both models on control sequences and fault scenarios they were neither trained nor tuned on.

#include <mpi.h>

#include <map>
#include <string>
#include <vector>

#include "advisor/model.hpp"
#include "train/train.hpp"

namespace twin::detail {

using Metrics = std::map<std::string, double>;

/// Every rank's cycles, on rank 0 (the others get none). Collective over `comm`.
std::vector<ScenarioCycle> gather_cycles(const std::vector<ScenarioCycle>& mine, int features, MPI_Comm comm);
/// Every rank's rows, on rank 0 (the others get none). Collective over `comm`.
advisor::Dataset gather_rows(const advisor::Dataset& mine, MPI_Comm comm);

/// A cycle's anomaly score (the probability of its most probable class when that is a fault, 0
/// otherwise) by a model that was not trained on its scenario.
struct ScoredCycle {
  double score = 0.0;
  int called = 0;  ///< that class (index in anomaly_classes())
  ScenarioCycle cycle;
};

/// Scores `cycles` with `model` (ScoredCycle::score).
std::vector<ScoredCycle> score_cycles(const advisor::Model& model, const std::vector<ScenarioCycle>& cycles);

/// Per class (index in anomaly_classes()), the probability at which the diagnosis flags it when it
/// is the most probable; [0] (none) is never flagged and holds 1.
using AnomalyThresholds = std::vector<double>;

/// The conformal thresholds over held-out scored cycles' quiet ones (ScenarioCycle::quiet), one
/// per fault class, the budget shared equally among the C - 1 of them: class c's threshold lies
/// just above the k-th highest score of the quiet cycles called c, k = floor(budget / (C - 1)
/// (n + 1)) over all n quiet cycles, so that a new quiet cycle is flagged as c with probability
/// at most k / (n + 1), and as anything with probability at most budget; each within [0.5,
/// 0.999]. A class the quiet cycles seldom call is not held to the threshold another class's
/// false alarms set. Records "anomaly_threshold:<class>", "anomaly_threshold" (the highest, for
/// readers of one threshold), "validation_quiet_cycles", "validation_false_alarm_rate" and
/// "validation_false_alarm_bound" ((C - 1) max(k, 1) / (n + 1), at most 1), and logs the cycle
/// that set each. Without any quiet cycle, every threshold is 0.999.
AnomalyThresholds choose_anomaly_thresholds(const Config& config, std::vector<ScoredCycle> scored, double budget,
                                            Metrics& out);
/// The same over `validation` scored by `model` (split conformal).
AnomalyThresholds choose_anomaly_thresholds(const Config& config, const advisor::Model& model,
                                            const std::vector<ScenarioCycle>& validation, double budget, Metrics& out);

/// The test scenarios with the model flagging at `thresholds`: "test_false_alarm_rate" over quiet
/// cycles; per class c, over the labelled cycles, "test_precision:c", "test_recall:c" and the
/// confusion counts "test_confusion:TRUE>CALLED" (CALLED none when not flagged); per fault
/// class over the scheduled events, "test_events:c", "test_named:c" (named with its class
/// while in effect), "test_named_in_time:c" (within 3 cycles for sensor faults, 5 for plant
/// faults), "test_delay_mean:c" and "test_delay_max:c" in cycles from onset; and how soon the
/// readings could show each (FaultEvidence): "test_detectable:c" (events whose evidence reached
/// FaultEvidence::detectable_evidence while in effect), "test_detectable_delay_mean:c" (cycles
/// from onset until then) and "test_delay_after_detectable_mean:c" (the named and detectable
/// ones: cycles from detectable to named; below 0 when named on less evidence).
void test_anomaly_model(const Config& config, const advisor::Model& model, const AnomalyThresholds& thresholds,
                        const std::vector<ScenarioCycle>& test, Metrics& out);

/// The surrogate on the test control sequences: "test_rmse", "test_relative_error" (as the
/// validation ones), "test_coverage_2sigma" (share of realised outcomes within the ensemble
/// mean +- 2 sd) and "test_rows".
void test_surrogate(const advisor::Model& model, const advisor::Dataset& test, Metrics& out);

}  // namespace twin::detail
