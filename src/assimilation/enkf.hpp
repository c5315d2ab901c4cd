#pragma once
// Stochastic ensemble Kalman filter with perturbed observations, Gaspari-Cohn covariance
// localization, multiplicative inflation, and state augmentation by named parameters
// (docs/assimilation.md). Members are spread over rank groups (solvers/ensemble.hpp): ensemble
// sums are reduced over the member communicator, so the update is the same on any layout up to
// floating-point summation order.

#include <array>
#include <vector>

#include "assimilation/assimilator.hpp"
#include "solvers/ensemble.hpp"
#include "solvers/field.hpp"
#include "solvers/grid.hpp"
#include "solvers/physics.hpp"
#include "twin/config.hpp"

namespace twin::detail {

/// Gaspari-Cohn fifth-order correlation at distance d for half-width c (0 beyond 2c).
double gaspari_cohn(double d, double c);

/// In-place Cholesky factor (lower) of an n x n symmetric positive definite matrix (row-major);
/// false when it is not positive definite.
bool cholesky(std::vector<double>& a, int n);
/// Solves L L^T x = b in place, L from cholesky().
void cholesky_solve(const std::vector<double>& l, int n, double* b);

/// The chi-square quantile with `dof` degrees of freedom exceeded with probability `alpha`
/// (Boost.Math).
double chi_square_upper_quantile(int dof, double alpha);

/// The probability that a chi-square variable with `dof` degrees of freedom is at least `x`
/// (the upper tail; NaN for dof < 1 or a non-finite x).
double chi_square_upper_tail(int dof, double x);

/// The factor on a parameter-reading covariance estimated from `members` members whose sample
/// correlation squared is `r2`: the shrinkage that minimises the expected squared error of the
/// regression coefficient, rho^2 / (rho^2 + var(r)), with rho^2 estimated as r^2 - var(r) and the
/// sampling variance of a correlation var(r) = (1 - r^2)^2 / (members - 1) (the large-sample
/// approximation; Anderson 2012, Mon. Wea. Rev. 140, tabulates the same correction by Monte
/// Carlo). 0 when the correlation is no larger than chance would make it, near 1 when it is
/// strong.
double sampling_error_factor(double r2, int members);

/// The spin-up test (assimilation.parameter_spin_up_cycles): the share of a parameter's update
/// that stands out of chance. `taken` is the share of the parameter's variance the update takes,
/// c^T G^-1 c / var(theta), with c its covariances with the readings; for a parameter unrelated
/// to the readings its mean is `chance` = tr(G^-1 C_yy) / (N - 1), and its ratio to that mean is
/// about chi-square over its degrees of freedom k = tr(M)^2 / tr(M^2), M = G^-1 C_yy, whose 95 %
/// quantile over k is `bound`. Returns 1 - bound chance / taken, at least 0: 0 for an update
/// chance would give 19 times in 20, near 1 for one far beyond it.
double beyond_chance(double taken, double chance, double bound);

/// The share of a parameter update to apply for an innovation statistic against its threshold:
/// 1 up to the threshold, then (threshold / statistic)^2 (a redescending weight: a plant that
/// departs far from the twin's physics barely moves the parameters, one just past the test
/// nearly fully).
double parameter_update_weight(double statistic, double threshold);

/// A parameter's variance after an update of weight w (0 < w < 1, the parameter gate's): the
/// readings are about the parameters with weight w (the full update: mean moved by `full_move`,
/// variance `full_variance`) or about a plant fault with weight 1 - w (no update:
/// `prior_variance`); the mixture's variance is w full + (1 - w) prior + w (1 - w) full_move^2.
/// Moving the members w of the way, as the gate does, gives the mixture's mean but less than
/// its variance: cycle after cycle of a fault, the parameters crept where the fault pulled them
/// with a spread that claimed each step was certain.
double gated_update_variance(double weight, double prior_variance, double full_variance, double full_move);

/// assimilation.type enkf.
class EnsembleFilter final : public Assimilator {
 public:
  /// `sensor_position` per configured sensor; `estimated` indexes solvers::Parameter for each
  /// entry of config.ensemble.parameters.
  EnsembleFilter(const Config& config, const solvers::EnsembleLayout& layout, const solvers::LocalGrid& grid,
                 std::vector<std::array<double, 3>> sensor_position);

  /// Inflates the prior (state anomalies, and `hx` to match), then updates the
  /// local members' states and every member's parameters in `theta` from the observations.
  /// `hx` is [member][sensor] for all members, `theta` [member][estimated parameter]; both are
  /// identical on every rank. `cycle` selects the perturbation draws. Collective over the layout.
  /// The parameters move by the full update only while the readings pass the innovation
  /// consistency test at `assimilation.parameter_gate` (parameter_update_weight).
  AnalysisReport analyse(const solvers::Field& x, std::vector<double>& hx, std::vector<double>& theta,
                         const ObservationSet& obs, long cycle) const override;
  /// The random walk (wander_s and `walk`, added in variance), `parameter_inflation` (never past
  /// prior_std), then the floor: min_spread or `floor`, whichever is larger (`floor` at most
  /// prior_std); members all at one value are drawn anew at the floor. Members stay within
  /// [min, max].
  void spread_parameters(std::vector<double>& theta, long cycle, const std::vector<double>& floor,
                         const std::vector<double>& walk) const override;

 private:
  const solvers::EnsembleLayout* m_layout;
  solvers::LocalGrid m_grid;

  AssimilationConfig m_config;
  double m_localization_m;  // localization_length(config): given, or from the sensors' layout
  EnsembleConfig m_ensemble;
  int m_members;
  int m_sensors;
  std::vector<std::array<double, 3>> m_sensor_position;
  std::vector<double> m_rho;  // [interior cell][sensor] localization weights
  double m_period_s;          // the control period: the parameters' random walk is per period
};

}  // namespace twin::detail
