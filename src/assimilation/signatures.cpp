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

namespace {

// The signatures with some spread (b_p = c_p^T G^-1 c_p > 0), whitened and scaled to unit
// length: u_p = G^-1/2 c_p / sqrt(b_p), along_p = u_p^T G^-1/2 d = c_p^T G^-1 d / sqrt(b_p).
struct Whitened {
  double statistic = 0.0;                   // D = d^T G^-1 d
  std::vector<double> along;                // K, 0 for a signature without spread
  std::vector<int> seen;                    // the signatures with spread
  std::vector<double> norm;                 // sqrt(b_p), per seen signature
  std::vector<std::vector<double>> g_inv_c; // G^-1 c_p, per seen signature
};

Whitened whiten(const std::vector<double>& g, int n, const std::vector<double>& d, const std::vector<double>& c,
                int K) {
  Whitened w;
  w.along.assign(static_cast<std::size_t>(K), 0.0);
  std::vector<double> g_inv_d(d);
  cholesky_solve(g, n, g_inv_d.data());
  for (int r = 0; r < n; ++r) w.statistic += d[r] * g_inv_d[r];
  for (int p = 0; p < K; ++p) {
    const double* cp = c.data() + static_cast<std::size_t>(p) * n;
    std::vector<double> v(cp, cp + n);
    cholesky_solve(g, n, v.data());
    double b = 0.0, a = 0.0;
    for (int r = 0; r < n; ++r) b += cp[r] * v[r], a += cp[r] * g_inv_d[r];
    if (!(b > 0.0) || !std::isfinite(b) || !std::isfinite(a)) continue;
    w.along[p] = a / std::sqrt(b);
    w.seen.push_back(p);
    w.g_inv_c.push_back(std::move(v));
    w.norm.push_back(std::sqrt(b));
  }
  return w;
}

// x = R^-1 along over the seen signatures, R_pq = u_p^T u_q their correlations (the joint fit
// of all of them; the scaled form keeps the ridge independent of the parameters' units).
// Nearly parallel signatures leave R near singular: a ridge of 1e-9 on its unit diagonal.
// Empty when R is not positive definite or nothing was seen.
std::vector<double> joint_fit(const Whitened& w, const std::vector<double>& c, int n) {
  const int k = static_cast<int>(w.seen.size());
  std::vector<double> rmat(static_cast<std::size_t>(k) * k), x(static_cast<std::size_t>(k));
  for (int i = 0; i < k; ++i) {
    x[i] = w.along[w.seen[i]];
    const double* ci = c.data() + static_cast<std::size_t>(w.seen[i]) * n;
    for (int j = 0; j < k; ++j) {
      double b = 0.0;
      for (int r = 0; r < n; ++r) b += ci[r] * w.g_inv_c[j][r];
      rmat[static_cast<std::size_t>(i) * k + j] = b / (w.norm[i] * w.norm[j]) + (i == j ? 1e-9 : 0.0);
    }
  }
  if (k == 0 || !cholesky(rmat, k)) return {};
  cholesky_solve(rmat, k, x.data());
  return x;
}

}  // namespace

SignatureSplit split_along_signatures(const std::vector<double>& g, int n, const std::vector<double>& d,
                                      const std::vector<double>& c, int K) {
  const Whitened w = whiten(g, n, d, c, K);
  SignatureSplit out;
  out.statistic = w.statistic;
  out.along = w.along;
  out.dof = n - static_cast<int>(w.seen.size());
  if (!std::isfinite(out.statistic) || out.dof < 1) {  // nothing left to tell a remainder by
    out.unexplained = std::nan("");
    return out;
  }
  // The fit of all of them explains along^T R^-1 along of D (a^T B^-1 a in unscaled terms).
  const std::vector<double> x = joint_fit(w, c, n);
  double explained = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) explained += w.along[w.seen[i]] * x[i];
  out.unexplained = std::max(0.0, out.statistic - explained);
  return out;
}

std::vector<double> fitted_along_signatures(const std::vector<double>& g, int n, const std::vector<double>& d,
                                            const std::vector<double>& c, int K) {
  const Whitened w = whiten(g, n, d, c, K);
  // No more readings than signatures with spread: they can explain all of it, and what is left
  // says nothing (as the split's NaN).
  if (n - static_cast<int>(w.seen.size()) < 1) return std::vector<double>(static_cast<std::size_t>(n), std::nan(""));
  const std::vector<double> x = joint_fit(w, c, n);  // the fit's coefficients on u_p
  std::vector<double> fitted(static_cast<std::size_t>(n), 0.0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double* ci = c.data() + static_cast<std::size_t>(w.seen[i]) * n;
    for (int r = 0; r < n; ++r) fitted[r] += x[i] / w.norm[i] * ci[r];
  }
  return fitted;
}

}  // namespace twin::detail
