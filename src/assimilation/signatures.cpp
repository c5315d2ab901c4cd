#include "assimilation/signatures.hpp"

#include <algorithm>
#include <cmath>

#include "assimilation/enkf.hpp"

namespace twin::detail {

std::vector<double> signature_rows(const std::vector<double>& theta, const std::vector<double>& yp, int members,
                                   int parameters, const std::vector<int>& sensor,
                                   const std::vector<std::vector<double>>* controls) {
  const int N = members, P = parameters, n = static_cast<int>(sensor.size());
  const int C = controls ? static_cast<int>(controls->size()) : 0;
  std::vector<double> c(static_cast<std::size_t>(P + C) * n, 0.0);
  for (int p = 0; p < P; ++p) {
    double tbar = 0.0;
    for (int m = 0; m < N; ++m) tbar += theta[m * P + p] / N;
    for (int m = 0; m < N; ++m)
      for (int r = 0; r < n; ++r) c[static_cast<std::size_t>(p) * n + r] += (theta[m * P + p] - tbar) * yp[m * n + r] / (N - 1);
  }
  for (int j = 0; j < C; ++j) {
    const std::vector<double>& row = (*controls)[static_cast<std::size_t>(j)];
    for (int r = 0; r < n; ++r) {
      const auto s = static_cast<std::size_t>(sensor[r]);
      c[static_cast<std::size_t>(P + j) * n + r] = s < row.size() ? row[s] : 0.0;
    }
  }
  return c;
}

SignatureSplit split_along_signatures(const std::vector<double>& g, int n, const std::vector<double>& d,
                                      const std::vector<double>& c, int K) {
  SignatureSplit out;
  out.along.assign(static_cast<std::size_t>(K), 0.0);
  std::vector<double> g_inv_d(d);
  cholesky_solve(g, n, g_inv_d.data());
  double& statistic = out.statistic;
  for (int r = 0; r < n; ++r) statistic += d[r] * g_inv_d[r];
  // The signatures with some spread, whitened and scaled to unit length: u_p = G^-1/2 c_p /
  // sqrt(c_p^T G^-1 c_p). along_p = u_p^T G^-1/2 d, and the fit of all of them explains
  // along^T R^-1 along of D, R_pq = u_p^T u_q their correlations (a^T B^-1 a in unscaled terms;
  // the scaled form keeps the ridge below independent of the parameters' units).
  std::vector<int> seen;
  std::vector<std::vector<double>> g_inv_c;
  std::vector<double> norm;
  for (int p = 0; p < K; ++p) {
    const double* cp = c.data() + static_cast<std::size_t>(p) * n;
    std::vector<double> v(cp, cp + n);
    cholesky_solve(g, n, v.data());
    double b = 0.0, a = 0.0;
    for (int r = 0; r < n; ++r) b += cp[r] * v[r], a += cp[r] * g_inv_d[r];
    if (!(b > 0.0) || !std::isfinite(b) || !std::isfinite(a)) continue;
    out.along[p] = a / std::sqrt(b);
    seen.push_back(p);
    g_inv_c.push_back(std::move(v));
    norm.push_back(std::sqrt(b));
  }
  const int k = static_cast<int>(seen.size());
  out.dof = n - k;
  if (!std::isfinite(statistic) || out.dof < 1) {  // nothing left to tell a remainder by
    out.unexplained = std::nan("");
    return out;
  }
  // Nearly parallel signatures leave R near singular: a ridge of 1e-9 on its unit diagonal.
  std::vector<double> rmat(static_cast<std::size_t>(k) * k), along(static_cast<std::size_t>(k));
  for (int i = 0; i < k; ++i) {
    along[i] = out.along[seen[i]];
    const double* ci = c.data() + static_cast<std::size_t>(seen[i]) * n;
    for (int j = 0; j < k; ++j) {
      double b = 0.0;
      for (int r = 0; r < n; ++r) b += ci[r] * g_inv_c[j][r];
      rmat[static_cast<std::size_t>(i) * k + j] = b / (norm[i] * norm[j]) + (i == j ? 1e-9 : 0.0);
    }
  }
  double explained = 0.0;
  if (k > 0 && cholesky(rmat, k)) {
    std::vector<double> x(along);
    cholesky_solve(rmat, k, x.data());
    for (int i = 0; i < k; ++i) explained += along[i] * x[i];
  }
  out.unexplained = std::max(0.0, statistic - explained);
  return out;
}

}  // namespace twin::detail
