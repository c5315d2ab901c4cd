#pragma once
// The grid check (assimilation.grid_check_cycles; issue 16): how far the twin's grid moves the
// estimated parameters from the values a finer grid would need. The twin's physics runs on a
// grid whose spacing is not negligible against its heaters and gradients, so the parameters that
// fit the readings best on it (its effective values) differ from the plant's: on the flow
// channel the diffusivity factor settles 1.5-2 % below the plant's with a spread of 1 %, and the
// truth is outside its ±2 sd in every cycle. That difference is the estimate's structural
// uncertainty, and the readings cannot shrink it.
//
// At start-up, before the first cycle, the twin's physics is run from its initial state with its
// controls at their initial values for `cycles` control periods, on its own grid and on one
// twice as fine, with the parameters at their prior means and, on the twin's grid, each
// parameter moved by a step (the sensitivities). Read at the sensors as the filter reads the
// twin (H), the finer run's departures d from the twin's give:
// - per parameter, the shift that parameter alone would need to take them up (the
//   noise-weighted least-squares fit of d on its sensitivity): how far the twin's grid moves its
//   best fit;
// - per sensor, the grid's error at it where the parameters settle: anywhere between the
//   finer grid's values (the departure d itself) and the twin's best fit (the residual of the
//   joint fit, the prior as regularisation, d - g). Taken as uniform on that segment, as the
//   parameters' shift is below, its mean square is mean(d^2 - d g + g^2 / 3). (The filter's
//   estimates need not go to the best fit: on the channel they stay near the plant's values,
//   and the errors at the sensors beside its heaters are the departure's, twice the residual.)
// Both are scaled to the error against the exact solution by Richardson's estimate for a
// second-order discretisation (the coarse grid's error is 4/3 of its difference from a grid
// twice as fine; Roache 1998, "Verification and Validation in Computational Science and
// Engineering") and become standard uncertainties: a parameter's shift as a uniform
// distribution of that half-width (a type B evaluation in the GUM's sense, half-width / sqrt(3)),
// a sensor's root mean square as it is. They are combined in quadrature with the members' spread in the
// stated uncertainty (ParameterEstimate::std, SensorEstimate::std); the ensemble, the estimates
// and the advice do not change.

#include <mpi.h>

#include <string>
#include <vector>

#include "twin/config.hpp"

namespace twin::detail {

struct GridCheck {
  int cycles = 0;
  /// Per estimated parameter (config.ensemble.parameters order): the twin's grid's best fit
  /// minus the finer grid's, that parameter alone fitted, in its units.
  std::vector<double> shift;
  /// Per estimated parameter: the standard uncertainty the grid adds, (4/3) |shift| / sqrt(3).
  std::vector<double> parameter_uncertainty;
  /// Per configured sensor: the standard uncertainty the grid adds at it, (4/3) times the root
  /// mean square of its error with the parameters uniform between the finer grid's values and
  /// the joint fit [u].
  std::vector<double> sensor_uncertainty;
  /// Why it did not run (empty when it did).
  std::string skipped;
};

/// Runs the check over `cycles` control periods. Collective over `comm`; every rank gets the same
/// result. Never throws for a physics that cannot run finer (a step budget the finer grid would
/// exceed, a solver failure): the result says why it was skipped.
GridCheck check_grid(const Config& config, MPI_Comm comm, int cycles);

/// The controls' signatures at the sensors, for the anomaly diagnosis (issue 16): per control,
/// how each sensor's reading changes over one control period when that control alone steps by a
/// tenth of its range, on the twin's grid at the prior means, as H reads it. The twin's physics
/// is linear in its state and controls, so this is the shape, from any state and at any level,
/// of one period of any change in that control's output (a heater that fails departs along its
/// signature, negatively). [control][configured sensor]; empty when the physics cannot be run
/// (`why` says why). Collective over `comm`; every rank gets the same result.
std::vector<std::vector<double>> control_signatures(const Config& config, MPI_Comm comm, std::string& why);

}  // namespace twin::detail
