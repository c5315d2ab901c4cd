#pragma once
// Drift detectors: sequential change detectors over one standardised signal (mean 0 and
// variance 1 while nothing has changed), chosen by `type:` (drift.monitors[].type). Each alarms
// on an increase of the signal's mean and is calibrated to a stated false-alarm rate:
// `false_alarm_cycles` is the expected number of updates between false alarms on a drift-free
// signal (the in-control average run length, ARL0) for independent standard normal values.
// src/decision/drift_watch.cpp standardises the twin's signals against a reference window and
// for their autocorrelation before they reach a detector.
//
//   cusum         Page (1954), "Continuous inspection schemes", Biometrika 41: the one-sided
//                 upper CUSUM S = max(0, S + z - k) with k = shift/2, alarming at S > h; h solves
//                 Siegmund's approximation ARL0 = (exp(2kb) - 2kb - 1) / (2k^2), b = h + 1.166
//                 (Siegmund 1985, Sequential Analysis, ch. 2).
//   page_hinkley  Page (1954) and Hinkley (1971), in the incremental form of Gama, Sebastiao and
//                 Rodrigues (2013), "On evaluating stream learning algorithms", Machine Learning 90:
//                 m = m + (z - mean(z) - delta), PH = m - min(m), alarming at PH > lambda, with
//                 delta = shift/2 and lambda = CUSUM's h for the same ARL0.
//   adwin         Bifet and Gavalda (2007), "Learning from time-changing data with adaptive
//                 windowing", SIAM SDM: a window of recent values cut where its older and newer
//                 parts differ in mean by more than eps_cut = sqrt(2 v ln(2/d') / m) + 2 ln(2/d') / (3m)
//                 (v the window's variance, m the harmonic mean of the parts' sizes, d' = d / ln n),
//                 with d = 1 / ARL0; here only an increase of the newer part's mean alarms.
// MPI-free, no LibTorch.

#include <memory>
#include <string>
#include <vector>

#include "ground/registry.hpp"

namespace twin::advisor {

struct DriftSettings {
  double false_alarm_cycles = 5000.0;  ///< ARL0 on drift-free data
  double shift = 1.0;                  ///< the mean shift (in standard deviations) to detect fastest
};

class DriftDetector {
 public:
  virtual ~DriftDetector() = default;
  /// Feeds one standardised value (a non-finite one is ignored); true when this update detects
  /// an increase of the mean. The detector then starts afresh.
  virtual bool update(double z) = 0;
  /// The test statistic now and the value at which it alarms (same units).
  virtual double statistic() const = 0;
  virtual double threshold() const = 0;
  /// Its state, for restart snapshots.
  virtual std::vector<double> state() const = 0;
  /// @throws DataError when `state` is not one this type saved.
  virtual void restore(const std::vector<double>& state) = 0;

  static Registry<DriftDetector, const DriftSettings&>& registry();
  /// @throws ConfigError for an unknown type.
  static std::unique_ptr<DriftDetector> create(const std::string& type, const DriftSettings& settings);
};

/// CUSUM's threshold h for reference `k` and in-control run length `arl0` (Siegmund's
/// approximation, solved by bisection).
double cusum_threshold(double k, double arl0);

}  // namespace twin::advisor
