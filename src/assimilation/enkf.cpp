#include "assimilation/enkf.hpp"

#include <boost/math/distributions/chi_squared.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "assimilation/signatures.hpp"
#include "ground/check.hpp"
#include "ground/mpi.hpp"
#include "twin/error.hpp"

namespace twin::detail {

double gaspari_cohn(double d, double c) {
  const double r = std::abs(d) / c;
  if (r >= 2.0) return 0.0;
  const double r2 = r * r, r3 = r2 * r, r4 = r3 * r, r5 = r4 * r;
  if (r <= 1.0) return 1.0 - 5.0 / 3.0 * r2 + 5.0 / 8.0 * r3 + 0.5 * r4 - 0.25 * r5;
  return 4.0 - 5.0 * r + 5.0 / 3.0 * r2 + 5.0 / 8.0 * r3 - 0.5 * r4 + r5 / 12.0 - 2.0 / (3.0 * r);
}

bool cholesky(std::vector<double>& a, int n) {
  for (int j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0.0)) return false;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double v = a[i * n + j];
      for (int k = 0; k < j; ++k) v -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = v / d;
    }
  }
  return true;
}

void cholesky_solve(const std::vector<double>& l, int n, double* b) {
  for (int i = 0; i < n; ++i) {
    double v = b[i];
    for (int k = 0; k < i; ++k) v -= l[i * n + k] * b[k];
    b[i] = v / l[i * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {
    double v = b[i];
    for (int k = i + 1; k < n; ++k) v -= l[k * n + i] * b[k];
    b[i] = v / l[i * n + i];
  }
}

double chi_square_upper_quantile(int dof, double alpha) {
  return boost::math::quantile(boost::math::complement(boost::math::chi_squared_distribution<double>(dof), alpha));
}

double chi_square_upper_tail(int dof, double x) {
  if (dof < 1 || !std::isfinite(x)) return std::nan("");
  if (x <= 0.0) return 1.0;
  return boost::math::cdf(boost::math::complement(boost::math::chi_squared_distribution<double>(dof), x));
}

double beyond_chance(double taken, double chance, double bound) {
  if (!(taken > 0.0) || !std::isfinite(taken)) return 0.0;
  return std::max(0.0, 1.0 - bound * chance / taken);
}

double sampling_error_factor(double r2, int members) {
  if (!(r2 > 0.0) || members < 3) return 0.0;
  const double chance = (1.0 - std::min(r2, 1.0)) * (1.0 - std::min(r2, 1.0)) / (members - 1);
  return std::max(0.0, 1.0 - chance / r2);
}

double gated_update_variance(double weight, double prior_variance, double full_variance, double full_move) {
  const double w = std::clamp(weight, 0.0, 1.0);
  return w * full_variance + (1.0 - w) * prior_variance + w * (1.0 - w) * full_move * full_move;
}

double parameter_update_weight(double statistic, double threshold) {
  if (!(statistic > threshold)) return 1.0;  // within the test (or NaN: nothing to judge by)
  const double r = threshold / statistic;
  return r * r;
}

EnsembleFilter::EnsembleFilter(const Config& config, const solvers::EnsembleLayout& layout,
                               const solvers::LocalGrid& grid, std::vector<std::array<double, 3>> sensor_position)
    : m_layout(&layout),
      m_grid(grid),
      m_config(config.assimilation),
      m_localization_m(localization_length(config)),
      m_ensemble(config.ensemble),
      m_members(config.ensemble.members),
      m_sensors(static_cast<int>(sensor_position.size())),
      m_sensor_position(std::move(sensor_position)),
      m_period_s(config.twin.control_period_s) {
  const solvers::LocalGrid& g = m_grid;
  m_rho.resize(static_cast<std::size_t>(g.interior_size()) * m_sensors);
  std::size_t n = 0;
  for (int k = 0; k < g.cells[2]; ++k)
    for (int j = 0; j < g.cells[1]; ++j)
      for (int i = 0; i < g.cells[0]; ++i) {
        const int q[3] = {i + g.offset[0], j + g.offset[1], k + g.offset[2]};
        for (int s = 0; s < m_sensors; ++s, ++n) {
          double d2 = 0.0;
          for (int d = 0; d < g.dims; ++d) {
            const double e = (q[d] + 0.5) * g.dx[d] - m_sensor_position[s][d];
            d2 += e * e;
          }
          m_rho[n] = gaspari_cohn(std::sqrt(d2), m_localization_m);
        }
      }
}

void EnsembleFilter::spread_parameters(std::vector<double>& theta, long cycle, const std::vector<double>& extra_floor,
                                       const std::vector<double>& extra_walk) const {
  // A random walk of each parameter over the period: prior_std * sqrt(period / wander_s) per
  // member, and the caller's walk, added in variance; the draws centred so that the mean stays
  // where the data put it. The draws depend on (seed, cycle, member) only: every rank adds the same.
  const int N = m_members, P = static_cast<int>(m_ensemble.parameters.size());
  std::vector<double> step(static_cast<std::size_t>(P), 0.0);
  for (int p = 0; p < P; ++p) {
    const auto& spec = m_ensemble.parameters[p];
    if (spec.wander_s > 0.0) step[p] = spec.prior_std * std::sqrt(m_period_s / spec.wander_s);
    if (static_cast<std::size_t>(p) < extra_walk.size() && extra_walk[p] > 0.0)
      step[p] = std::hypot(step[p], std::min(extra_walk[p], spec.prior_std));
  }
  if (N > 1 && std::any_of(step.begin(), step.end(), [](double s) { return s > 0.0; })) {
    std::vector<double> walk(static_cast<std::size_t>(N) * P), mean(static_cast<std::size_t>(P), 0.0);
    for (int m = 0; m < N; ++m) {
      std::seed_seq seq{m_ensemble.seed, 0x3a1u, static_cast<unsigned>(cycle), static_cast<unsigned>(m)};
      std::mt19937_64 rng(seq);
      std::normal_distribution<double> normal(0.0, 1.0);
      for (int p = 0; p < P; ++p) {
        walk[m * P + p] = step[p] * normal(rng);
        mean[p] += walk[m * P + p] / N;
      }
    }
    for (int m = 0; m < N; ++m)
      for (int p = 0; p < P; ++p) theta[m * P + p] += walk[m * P + p] - mean[p];
  }
  // Inflation, then a floor on the spread so the filter keeps learning.
  for (int p = 0; p < P && N > 1; ++p) {
    double mean = 0.0, var = 0.0;
    for (int m = 0; m < N; ++m) mean += theta[m * P + p];
    mean /= N;
    for (int m = 0; m < N; ++m) var += (theta[m * P + p] - mean) * (theta[m * P + p] - mean);
    const double sd = std::sqrt(var / (N - 1));
    const auto& spec = m_ensemble.parameters[p];
    // Spread every cycle, readings or not: the factor never makes a parameter less sure than
    // its prior, or a twin without readings would compound it cycle after cycle (the random walk
    // above still widens the spread without readings, as a random walk should, up to the clip).
    double factor = sd > 0.0 ? std::max(1.0, std::min(m_config.parameter_inflation, spec.prior_std / sd)) : 1.0;
    // The caller's floor (the parameter's recent movement) claims no more than the prior did.
    const double floor = std::max(
        spec.min_spread, static_cast<std::size_t>(p) < extra_floor.size() ? std::min(spec.prior_std, extra_floor[p]) : 0.0);
    if (!(sd > 0.0) && floor > 0.0) {
      // Every member at the same value (all clipped to a bound by one update): no factor can
      // spread them again, and the parameter would stay there, sure of itself, for the rest of
      // the run. Drawn anew at the floor's spread (seed, cycle, member, parameter only), around
      // the mean moved two floors inside the bounds where it sits on one (else the clip would
      // put half the members back on the bound).
      std::vector<double> z(static_cast<std::size_t>(N));
      double zbar = 0.0, zvar = 0.0;
      for (int m = 0; m < N; ++m) {
        std::seed_seq seq{m_ensemble.seed, 0x3a2u, static_cast<unsigned>(cycle), static_cast<unsigned>(m),
                          static_cast<unsigned>(p)};
        std::mt19937_64 rng(seq);
        z[m] = std::normal_distribution<double>(0.0, 1.0)(rng);
        zbar += z[m] / N;
      }
      for (int m = 0; m < N; ++m) zvar += (z[m] - zbar) * (z[m] - zbar) / (N - 1);
      const double centre =
          spec.max - spec.min > 4.0 * floor ? std::clamp(mean, spec.min + 2.0 * floor, spec.max - 2.0 * floor) : mean;
      for (int m = 0; m < N; ++m)
        theta[m * P + p] = std::clamp(centre + floor * (z[m] - zbar) / std::sqrt(zvar), spec.min, spec.max);
      continue;
    }
    if (sd * factor < floor) factor = floor / sd;
    // The clip keeps the solver within the parameter's bounds; near a bound it moves the mean
    // inward, and parameter_movement counts that shift with the readings' moves.
    for (int m = 0; m < N; ++m) theta[m * P + p] = std::clamp(mean + factor * (theta[m * P + p] - mean), spec.min, spec.max);
  }
}

AnalysisReport EnsembleFilter::analyse(const solvers::Field& x, std::vector<double>& hx, std::vector<double>& theta,
                                       const ObservationSet& obs, long cycle) const {
  const int N = m_members, S = m_sensors, n = static_cast<int>(obs.sensor.size());
  const int P = static_cast<int>(m_ensemble.parameters.size());
  AnalysisReport report;
  if (n == 0 || N < 2) return report;

  // Prior inflation: x_m = xbar + lambda (x_m - xbar), the same for H x (H is linear). The
  // mean does not change, so it serves the update below as well.
  const double alpha = m_config.relaxation;
  const solvers::EnsembleMoments prior = solvers::ensemble_moments(*m_layout, x, alpha > 0.0);
  const std::vector<double>& xbar = prior.mean;
  auto h = Kokkos::create_mirror_view(x);
  Kokkos::deep_copy(h, x);
  const int first = m_layout->first_member(), local = static_cast<int>(x.extent(0));
  const double lambda = m_config.inflation;
  if (lambda != 1.0) {
    for (int lm = 0; lm < local; ++lm)
      for (std::size_t c = 0; c < xbar.size(); ++c) h(lm, c) = xbar[c] + lambda * (h(lm, c) - xbar[c]);
    for (int s = 0; s < S; ++s) {
      double hbar = 0.0;
      for (int m = 0; m < N; ++m) hbar += hx[m * S + s];
      hbar /= N;
      for (int m = 0; m < N; ++m) hx[m * S + s] = hbar + lambda * (hx[m * S + s] - hbar);
    }
  }

  // Observation-space anomalies Y' [member][reading].
  std::vector<double> hbar(n, 0.0), yp(static_cast<std::size_t>(N) * n);
  for (int r = 0; r < n; ++r) {
    for (int m = 0; m < N; ++m) hbar[r] += hx[m * S + obs.sensor[r]];
    hbar[r] /= N;
    for (int m = 0; m < N; ++m) yp[m * n + r] = hx[m * S + obs.sensor[r]] - hbar[r];
  }
  // G = rho_yy o (Y'^T Y' / (N - 1)) + R, factored. The spin-up test (below) also needs C_yy
  // unlocalised.
  const bool spin_up = cycle < m_config.parameter_spin_up_cycles && P > 0;
  std::vector<double> gmat(static_cast<std::size_t>(n) * n, 0.0), cyy(spin_up ? static_cast<std::size_t>(n) * n : 0);
  for (int a = 0; a < n; ++a)
    for (int b = 0; b <= a; ++b) {
      double c = 0.0;
      for (int m = 0; m < N; ++m) c += yp[m * n + a] * yp[m * n + b];
      if (spin_up) cyy[a * n + b] = cyy[b * n + a] = c / (N - 1);
      double d2 = 0.0;
      for (int d = 0; d < 3; ++d) {
        const double e = m_sensor_position[obs.sensor[a]][d] - m_sensor_position[obs.sensor[b]][d];
        d2 += e * e;
      }
      c = c / (N - 1) * gaspari_cohn(std::sqrt(d2), m_localization_m);
      gmat[a * n + b] = gmat[b * n + a] = c;
    }
  for (int a = 0; a < n; ++a) gmat[a * n + a] += obs.error_std[a] * obs.error_std[a];
  if (!cholesky(gmat, n))
    throw Error("ensemble filter, cycle " + std::to_string(cycle + 1) + ": the innovation covariance of " + std::to_string(n) +
                " readings is not positive definite (a zero or underflowing noise_std with no ensemble spread, or "
                "non-finite forecasts)");

  // The readings' consistency with the ensemble: D = d^T G^-1 d, d = y - mean(H x), which is
  // chi-square with n degrees of freedom while the plant behaves as the twin's physics and its
  // spread say. A cycle far beyond that (a failed heater, an unmodelled heat source) is not
  // evidence about the twin's parameters: the parameters would soak up the fault and stay wrong
  // long after it ends. Such a cycle moves them by (threshold / D)^2 of the update; the state is
  // updated in full (QC has already dealt with readings that are wrong on their own).
  // The split of the same innovation along each parameter's signature (its covariances with
  // the readings) and each control's (the runtime's), for the anomaly diagnosis
  // (assimilation/signatures.hpp); the update does not read it.
  {
    std::vector<double> d(n);
    for (int r = 0; r < n; ++r) d[r] = obs.value[r] - hbar[r];
    const std::vector<double> rows = signature_rows(theta, yp, N, P, obs.sensor, obs.control_signatures);
    const SignatureSplit split = split_along_signatures(gmat, n, d, rows, static_cast<int>(rows.size()) / n);
    report.innovation_statistic = split.statistic;
    report.readings = n;
    const double threshold = chi_square_upper_quantile(n, m_config.parameter_gate > 0.0 ? m_config.parameter_gate : 0.001);
    report.consistent = !(split.statistic > threshold);
    if (m_config.parameter_gate > 0.0) report.test_weight = parameter_update_weight(split.statistic, threshold);
    report.parameter_weight = std::min(report.test_weight, obs.parameter_weight_cap);
    report.innovation_split.along_parameters.assign(split.along.begin(), split.along.begin() + P);
    report.innovation_split.along_controls.assign(split.along.begin() + P, split.along.end());
    report.innovation_split.unexplained = std::sqrt(split.unexplained / split.dof);  // NaN where nothing is left
    if (P > 0) report.explained_by_parameters = fitted_along_signatures(gmat, n, d, rows, P);
  }

  // z_m = G^-1 (y + eps_m - H x_m), eps centred over members. The draws depend on (seed, cycle,
  // member) only, so every rank computes the same z for every member.
  std::vector<double> z(static_cast<std::size_t>(N) * n), eps(static_cast<std::size_t>(N) * n), eps_mean(n, 0.0);
  for (int m = 0; m < N; ++m) {
    std::seed_seq seq{m_ensemble.seed, 0x0b5u, static_cast<unsigned>(cycle), static_cast<unsigned>(m)};
    std::mt19937_64 rng(seq);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (int r = 0; r < n; ++r) {
      eps[m * n + r] = obs.error_std[r] * normal(rng);
      eps_mean[r] += eps[m * n + r] / N;
    }
  }
  for (int m = 0; m < N; ++m) {
    for (int r = 0; r < n; ++r) z[m * n + r] = obs.value[r] + eps[m * n + r] - eps_mean[r] - hx[m * S + obs.sensor[r]];
    cholesky_solve(gmat, n, &z[static_cast<std::size_t>(m) * n]);
  }

  // State: C_xy(c, r) = sum_m x'_m(c) Y'_m(r) / (N - 1), reduced over the member groups; then
  // x_m(c) += sum_r rho(c, r) C_xy(c, r) z_m(r).
  const solvers::LocalGrid& g = m_grid;
  const long cells = g.interior_size();
  std::vector<double> cxy(static_cast<std::size_t>(cells) * n, 0.0), cxy_total(cxy.size(), 0.0);
  std::vector<long> index(static_cast<std::size_t>(cells));
  {
    long q = 0;
    for (int k = 0; k < g.cells[2]; ++k)
      for (int j = 0; j < g.cells[1]; ++j)
        for (int i = 0; i < g.cells[0]; ++i) index[q++] = g.index(i, j, k);
  }
  for (int lm = 0; lm < local; ++lm) {
    const double* ym = &yp[static_cast<std::size_t>(first + lm) * n];
    for (long q = 0; q < cells; ++q) {
      const double xp = (h(lm, index[q]) - xbar[index[q]]) / (N - 1);
      double* row = &cxy[static_cast<std::size_t>(q) * n];
      for (int r = 0; r < n; ++r) row[r] += xp * ym[r];
    }
  }
  TWIN_MPI_CHECK(MPI_Allreduce(cxy.data(), cxy_total.data(), static_cast<int>(cxy.size()), MPI_DOUBLE, MPI_SUM,
                               m_layout->member_comm()));
  for (long q = 0; q < cells; ++q) {
    double* row = &cxy_total[static_cast<std::size_t>(q) * n];
    for (int r = 0; r < n; ++r) row[r] *= m_rho[static_cast<std::size_t>(q) * S + obs.sensor[r]];
  }
  for (int lm = 0; lm < local; ++lm) {
    const double* zm = &z[static_cast<std::size_t>(first + lm) * n];
    for (long q = 0; q < cells; ++q) {
      const double* row = &cxy_total[static_cast<std::size_t>(q) * n];
      double dx = 0.0;
      for (int r = 0; r < n; ++r) dx += row[r] * zm[r];
      h(lm, index[q]) += dx;
    }
  }
  Kokkos::deep_copy(x, h);
  // Relaxation to prior spread (Whitaker & Hamill 2012): each cell's analysis anomalies scaled
  // so that its spread is alpha of the way back from the analysis spread to the (inflated)
  // forecast spread. The update shrinks the spread where the sensors are, by as much as if the
  // twin's physics were exact; the relaxation keeps part of it for the errors the physics does
  // not represent (a coarser grid, the plant's unmodelled details).
  if (alpha > 0.0) {
    const solvers::EnsembleMoments post = solvers::ensemble_moments(*m_layout, x, true);
    for (std::size_t c = 0; c < post.mean.size(); ++c) {
      const double sa = post.spread[c], sb = lambda * prior.spread[c];
      if (!(sa > 0.0) || !(sb > sa)) continue;
      const double factor = 1.0 + alpha * (sb - sa) / sa;
      for (int lm = 0; lm < local; ++lm) h(lm, c) = post.mean[c] + factor * (h(lm, c) - post.mean[c]);
    }
    Kokkos::deep_copy(x, h);
  }

  // Parameters: global (no distance localization), every rank updates every member
  // identically. With the sampling-error correction each parameter-reading covariance is shrunk
  // by how far its correlation stands above what N members produce by chance: with 20 members a
  // correlation of 0.22 is noise, and a parameter the readings barely see would otherwise take a
  // random kick each cycle, its spread shrinking as though it were learnt.
  report.parameter_withheld.assign(static_cast<std::size_t>(P), 0.0);
  std::vector<double> var_y(n, 0.0);  // only the correction reads it
  if (m_config.parameter_sampling_correction)
    for (int r = 0; r < n; ++r)
      for (int m = 0; m < N; ++m) var_y[r] += yp[m * n + r] * yp[m * n + r] / (N - 1);
  // The spin-up test: what chance correlations of N members with these readings would make a
  // parameter's update take, and the bound it stays under 19 times in 20 (beyond_chance).
  double chance = 0.0, chance_bound = 1.0;
  if (spin_up) {
    std::vector<double> m_mat(static_cast<std::size_t>(n) * n), column(n);  // M = G^-1 C_yy
    for (int b = 0; b < n; ++b) {
      for (int a = 0; a < n; ++a) column[a] = cyy[a * n + b];
      cholesky_solve(gmat, n, column.data());
      for (int a = 0; a < n; ++a) m_mat[a * n + b] = column[a];
    }
    double trace = 0.0, trace_sq = 0.0;
    for (int a = 0; a < n; ++a) {
      trace += m_mat[a * n + a];
      for (int b = 0; b < n; ++b) trace_sq += m_mat[a * n + b] * m_mat[b * n + a];
    }
    chance = trace / (N - 1);
    const int dof = trace_sq > 0.0 ? std::max(1, static_cast<int>(std::ceil(trace * trace / trace_sq - 1e-9))) : 1;
    chance_bound = chi_square_upper_quantile(dof, 0.05) / dof;
  }
  std::vector<double> move(static_cast<std::size_t>(N));  // a parameter's moves, before the gate
  for (int p = 0; p < P; ++p) {
    double tbar = 0.0, var_t = 0.0;
    for (int m = 0; m < N; ++m) tbar += theta[m * P + p];
    tbar /= N;
    std::vector<double> cty(n, 0.0);
    for (int m = 0; m < N; ++m) {
      const double dt = theta[m * P + p] - tbar;
      var_t += dt * dt / (N - 1);
      for (int r = 0; r < n; ++r) cty[r] += dt * yp[m * n + r] / (N - 1);
    }
    if (m_config.parameter_sampling_correction)
      for (int r = 0; r < n; ++r)
        cty[r] *= var_t > 0.0 && var_y[r] > 0.0 ? sampling_error_factor(cty[r] * cty[r] / (var_t * var_y[r]), N) : 0.0;
    if (spin_up) {
      std::vector<double> g_inv_c(cty);
      cholesky_solve(gmat, n, g_inv_c.data());
      double taken = 0.0;
      for (int r = 0; r < n; ++r) taken += cty[r] * g_inv_c[r];
      const double share = beyond_chance(var_t > 0.0 ? taken / var_t : 0.0, chance, chance_bound);
      for (int r = 0; r < n; ++r) cty[r] *= share;
    }
    const auto& spec = m_ensemble.parameters[p];
    const double w = report.parameter_weight;
    double move_mean = 0.0;
    for (int m = 0; m < N; ++m) {
      double d = 0.0;
      for (int r = 0; r < n; ++r) d += cty[r] * z[m * n + r];
      move[m] = m_config.parameter_damping * d;
      move_mean += move[m] / N;
    }
    for (int m = 0; m < N; ++m) {
      report.parameter_withheld[p] += (1.0 - w) * move[m] / N;
      theta[m * P + p] += w * move[m];
    }
    // A cycle that fails the consistency test is a mixture, not a smaller update
    // (gated_update_variance): the members are widened to the mixture's variance around where
    // the gate put them, never past the prior's spread (a fault that lasts for months would
    // otherwise widen them every cycle). Not in the hold's cycles: their readings passed, the
    // cap there is caution about a recovering plant, not a second hypothesis about these readings.
    if (w > 0.0 && w < 1.0 && report.test_weight < 1.0) {
      double full = 0.0, mean, sd;
      for (int m = 0; m < N; ++m) {
        const double a = theta[m * P + p] + (1.0 - w) * move[m] - tbar - move_mean;  // the full update's anomaly
        full += a * a / (N - 1);
      }
      member_moments(theta, N, P, p, mean, sd);
      const double var = sd * sd;
      const double mixture =
          std::min(gated_update_variance(w, var_t, full, move_mean), std::max(var, spec.prior_std * spec.prior_std));
      if (var > 0.0 && mixture > var)
        for (int m = 0; m < N; ++m) theta[m * P + p] = mean + std::sqrt(mixture / var) * (theta[m * P + p] - mean);
    }
    for (int m = 0; m < N; ++m) theta[m * P + p] = std::clamp(theta[m * P + p], spec.min, spec.max);
  }
  return report;
}

Assimilator::Registry& Assimilator::registry() {
  static Registry types;
  return types;
}

std::unique_ptr<Assimilator> Assimilator::create(const AssimilatorContext& c) {
  return registry().create("assimilation.type", c.config.assimilation.type, c);
}

TWIN_REGISTER_TYPE(Assimilator, "enkf", [](const AssimilatorContext& c) {
  return std::make_unique<EnsembleFilter>(c.config, c.layout, c.grid, c.sensor_positions);
});

}  // namespace twin::detail
