#pragma once
// The innovation split along signatures, for the anomaly diagnosis (docs/advisor.md, issue 16):
// a plant whose cooling degrades departs from the twin as a lower cooling factor would, along
// that parameter's signature at the sensors; a failed heater departs along its control's
// signature (cycle/grid_check.hpp, control_signatures); a heat source away from the heaters
// departs in a shape none has. The filter reports the split with each analysis; its update does
// not read it.

#include <vector>

namespace twin::detail {

/// The signatures at this cycle's readings, K = P + C rows of n: per estimated parameter its
/// covariances with the readings over the members (theta [member][parameter], yp the readings'
/// anomalies [member][reading]), then per control its response at each reading's sensor
/// (`controls` [control][configured sensor], may be null).
std::vector<double> signature_rows(const std::vector<double>& theta, const std::vector<double>& yp, int members,
                                   int parameters, const std::vector<int>& sensor,
                                   const std::vector<std::vector<double>>* controls);

/// `g` is the Cholesky factor of the innovation covariance G (cholesky() in enkf.hpp), `d` the
/// innovation y - mean(H x), `c` the signatures, K rows of n.
/// Per signature, along = c^T G^-1 d / sqrt(c^T G^-1 c), standard normal while the plant behaves
/// as the twin's physics and spread say (0 for a parameter without spread); `unexplained` is
/// what is left of D = d^T G^-1 d once the k signatures with spread are fitted together, D -
/// a^T B^-1 a with a_p = c_p^T G^-1 d and B_pq = c_p^T G^-1 c_q (chi-square with dof = n - k
/// degrees of freedom while consistent); NaN when no degree of freedom is left (n <= k) or D is
/// not finite.
struct SignatureSplit {
  double statistic = 0.0;  ///< D
  std::vector<double> along;
  double unexplained = 0.0;
  int dof = 0;  ///< n less the signatures fitted
};
SignatureSplit split_along_signatures(const std::vector<double>& g, int n, const std::vector<double>& d,
                                      const std::vector<double>& c, int K);

/// The part of `d` the first K signatures of `c` explain together: the generalised
/// least-squares fit sum_p b_p c_p with b = B^-1 a, a and B as above (signatures without spread
/// left out; the same ridge). n values, 0 where nothing is fitted; NaN where no degree of
/// freedom is left (n <= the signatures with spread: they could explain any d).
std::vector<double> fitted_along_signatures(const std::vector<double>& g, int n, const std::vector<double>& d,
                                            const std::vector<double>& c, int K);

}  // namespace twin::detail
