#pragma once
// The parameters' adaptive random walk (assimilation.parameter_walk_cycles; issue 16). A fixed
// walk (`wander_s`) must be chosen for the worst case: wide enough for a parameter the plant
// shifts (a fault that ends, a coarse twin whose effective cooling depends on the operating
// point), it keeps every other parameter's estimate wandering inside that spread. This walk is
// estimated from the filter's own analysis increments instead.
//
// While the members' spread is right, the increments of a parameter's mean are uncorrelated in
// time (the innovations of a calibrated filter are white: Mehra 1970, IEEE Trans. Autom. Control
// 15, 175-184), each with the variance the analysis took from the members (var before - var
// after). Their exponentially weighted sum D (memory L cycles, weight lambda = 1 - 1/L) then has
// the variance V, the same weighted sum of those variances. A truth that walks by q per cycle,
// which the filter tracks, adds q / (1 - lambda^2) to E[D^2] (after the idea of Dee 1995,
// Mon. Wea. Rev. 123, 1128-1145: error variances from the filter's own statistics, here on the
// parameters' increments instead of the readings' innovations). The walk's variance is the part of D^2 beyond what a right spread would give 19
// times in 20 (chi-square, one degree of freedom, 3.84 V):
//
//   q = max(0, D^2 - 3.84 V) (1 - lambda^2)
//
// A filter lagging a moved truth moves its mean the same way cycle after cycle, at a spread that
// claims each move is noise: D grows past its V, the walk widens the spread, the readings pull
// the mean faster and the spread widens while it catches up. Once caught up, the increments
// flip sign, D falls back and the walk stops: a parameter the plant holds still is estimated as
// if there were no walk. Because the walk's own variance then enters V, this is a catch-up
// trigger rather than an estimate of the plant's walk; and with parameter_damping w < 1 the
// variance an analysis takes from the members is (2 - w)/w times its mean increment's, so V is
// conservative (docs/twin-cycle.md, "The adaptive walk").

#include <vector>

namespace twin::detail {

/// D and V per estimated parameter (above); the runtime keeps them and saves them in snapshots.
/// Identical on every rank (every rank holds the same parameters).
struct ParameterWalk {
  std::vector<double> displacement;  ///< D, per parameter
  std::vector<double> expected;      ///< V, per parameter (>= 0)

  /// After an analysis that moved the parameters: `before` and `after` are the members'
  /// parameters ([member][parameter], N members) on either side of it.
  void record(const std::vector<double>& before, const std::vector<double>& after, int members, int memory);
  /// Per parameter, the std of the walk each member takes before the next forecast (all 0
  /// before the first record).
  std::vector<double> step(int memory) const;
};

}  // namespace twin::detail
