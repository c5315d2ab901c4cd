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

/// assimilation.type enkf.
class EnsembleFilter final : public Assimilator {
 public:
  /// `sensor_position` per configured sensor; `estimated` indexes solvers::Parameter for each
  /// entry of config.ensemble.parameters.
  EnsembleFilter(const Config& config, const solvers::EnsembleLayout& layout, const solvers::LocalGrid& grid,
                 std::vector<std::array<double, 3>> sensor_position);

  /// Inflates the prior (state and parameter anomalies, and `hx` to match), then updates the
  /// local members' states and every member's parameters in `theta` from the observations.
  /// `hx` is [member][sensor] for all members, `theta` [member][estimated parameter]; both are
  /// identical on every rank. `cycle` selects the perturbation draws. Collective over the layout.
  void analyse(const solvers::Field& x, std::vector<double>& hx, std::vector<double>& theta, const ObservationSet& obs,
               long cycle) const override;

 private:
  const solvers::EnsembleLayout* m_layout;
  solvers::LocalGrid m_grid;
  void inflate_parameters(std::vector<double>& theta, long cycle) const;

  AssimilationConfig m_config;
  EnsembleConfig m_ensemble;
  int m_members;
  int m_sensors;
  std::vector<std::array<double, 3>> m_sensor_position;
  std::vector<double> m_rho;  // [interior cell][sensor] localization weights
  double m_period_s;          // the control period: the parameters' random walk is per period
};

}  // namespace twin::detail
