#include "assimilation/model_error.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "assimilation/enkf.hpp"
#include "assimilation/smooth_field.hpp"

namespace twin::detail {

void ModelErrorVariance::update(const ObservationSet& obs, const std::vector<double>& forecast_mean,
                                const std::vector<double>& forecast_spread, double inflation, double gain,
                                bool consistent, const PersistenceTest& persistence) {
  double excess = 0.0, persisting = 0.0;
  int n = 0, both = 0;
  const int L = persistence.cycles;
  const std::vector<double>& explained = persistence.explained_by_parameters;
  // A sensor not read in this analysis (rejected by QC, dropped out) starts its mean afresh when
  // it is read again, and in the filter's spin-up (not armed) no mean is kept: a mean frozen
  // while its sensor is out, or built on the initial state's decaying error, would find a
  // departure at the first reading after it.
  std::vector<double> mean(forecast_mean.size(), 0.0);
  double largest = 0.0;  // max over the sensors read of L m_r^2, at `furthest`
  int furthest = -1;
  std::vector<double> innovation(forecast_mean.size(), std::numeric_limits<double>::quiet_NaN());
  for (std::size_t r = 0; r < obs.sensor.size(); ++r) {
    const auto s = static_cast<std::size_t>(obs.sensor[r]);
    if (s >= forecast_mean.size() || s >= forecast_spread.size()) continue;
    const double d = obs.value[r] - forecast_mean[s];
    const double f = inflation * forecast_spread[s];
    const double v = f * f + obs.error_std[r] * obs.error_std[r];
    if (!std::isfinite(d) || !std::isfinite(v)) continue;
    excess += std::min(d * d, 9.0 * v) - v;
    ++n;
    innovation[s] = d;
    const double e = r < explained.size() ? explained[r] : 0.0;  // NaN: the parameters could explain it all
    if (L > 0 && persistence.armed && v > 0.0 && std::isfinite(e)) {
      const double last = s < mean_innovation.size() ? mean_innovation[s] : 0.0;
      mean[s] = last + 2.0 / (L + 1.0) * ((d - e) / std::sqrt(v) - last);
      if (L * mean[s] * mean[s] > largest) {
        largest = L * mean[s] * mean[s];
        furthest = static_cast<int>(s);
      }
    }
    if (s < last_innovation.size() && std::isfinite(last_innovation[s])) {
      persisting += std::clamp(d * last_innovation[s], -9.0 * v, 9.0 * v);
      ++both;
    }
  }
  last_innovation = std::move(innovation);
  if (L > 0) mean_innovation = std::move(mean);
  else mean_innovation.clear();
  // (Unarmed or off, no mean was kept: `largest` is 0 and nothing is found.)
  persistent_sensor = n > 0 && largest > chi_square_upper_quantile(1, persistence.alpha / n) ? furthest : -1;
  if (n == 0 || !(gain > 0.0)) return;
  const double mean_excess = excess / n;
  if (mean_excess <= 0.0) variance = std::max(0.0, variance + gain * mean_excess);
  else if ((!consistent || persistent()) && both > 0) variance += gain * std::max(0.0, std::min(mean_excess, persisting / both));
}

bool ModelErrorVariance::holds_parameters(const ObservationSet& obs) const {
  if (!(variance > 0.0) || obs.error_std.empty()) return false;
  double noise = 0.0;
  for (double e : obs.error_std) noise += e * e;
  return variance > 0.1 * noise / static_cast<double>(obs.error_std.size());
}

double ModelErrorVariance::parameter_weight_cap(const ObservationSet& obs, double state_spread) {
  const bool known = std::isfinite(state_spread) && state_spread >= 0.0;  // a spread that is not, caps nothing
  if (holds_parameters(obs)) {
    // A departure that returns before the state has settled goes on from where it was: the
    // spread to settle back to is the one before it first began.
    if (held_cycles == 0) spread_before = spread_last;
    settling_cycles = 0;
    ++held_cycles;
    return 0.0;
  }
  if (known && held_cycles > 0 && ++settling_cycles <= held_cycles && state_spread > spread_before && spread_before > 0.0)
    return (spread_before / state_spread) * (spread_before / state_spread);
  held_cycles = settling_cycles = 0;
  if (known) spread_last = state_spread;
  return 1.0;
}

ModelErrorNoise::ModelErrorNoise(const Config& config, const solvers::EnsembleLayout& layout,
                                 const solvers::LocalGrid& grid)
    : m_layout(&layout),
      m_grid(grid),
      m_seed(config.ensemble.seed),
      m_members(config.ensemble.members),
      m_length_m(initial_length(config)),
      m_drawn_at(bank_size, -1L - bank_size),  // never drawn: refresh() draws every field
      m_bank(static_cast<std::size_t>(bank_size) * static_cast<std::size_t>(grid.interior_size()), 0.0) {}

void ModelErrorNoise::refresh(long cycle) {
  // Field k was last drawn at the latest cycle <= `cycle` that is k modulo the bank size (before
  // cycle k: at k - bank_size, a draw of its own), so the bank depends on the cycle alone.
  const solvers::LocalGrid& g = m_grid;
  for (int k = 0; k < bank_size; ++k) {
    const long at = cycle - (((cycle - k) % bank_size) + bank_size) % bank_size;
    if (m_drawn_at[static_cast<std::size_t>(k)] == at) continue;
    m_drawn_at[static_cast<std::size_t>(k)] = at;
    std::seed_seq seq{m_seed, 0x0e7u, static_cast<unsigned>(at + bank_size), static_cast<unsigned>(k)};
    std::mt19937_64 rng(seq);
    const PlaneWaves waves = draw_plane_waves(rng, g.dims, m_length_m);
    double* field = &m_bank[static_cast<std::size_t>(k) * static_cast<std::size_t>(g.interior_size())];
    long q = 0;
    for (int kk = 0; kk < g.cells[2]; ++kk)
      for (int j = 0; j < g.cells[1]; ++j)
        for (int i = 0; i < g.cells[0]; ++i, ++q) {
          const double pos[3] = {(i + g.offset[0] + 0.5) * g.dx[0], (j + g.offset[1] + 0.5) * g.dx[1],
                                 (kk + g.offset[2] + 0.5) * g.dx[2]};
          field[q] = smooth_field_value(pos, g.dims, waves);
        }
  }
}

void ModelErrorNoise::perturb(solvers::Field& x, long cycle, double variance) {
  if (!(variance > 0.0) || m_members < 2) return;
  refresh(cycle);
  // Each member's weights on the bank, centred over the members (the ensemble mean stays) and
  // scaled so that the added field has variance q^2: a sum of K unit fields / sqrt(K). Centred
  // N(0, 1) draws have sample variance 1 with the N - 1 normalisation the filter uses.
  const int N = m_members, K = bank_size;
  std::vector<double> a(static_cast<std::size_t>(N) * K), mean(static_cast<std::size_t>(K), 0.0);
  for (int m = 0; m < N; ++m) {
    std::seed_seq seq{m_seed, 0x0e8u, static_cast<unsigned>(cycle), static_cast<unsigned>(m)};
    std::mt19937_64 rng(seq);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (int k = 0; k < K; ++k) {
      a[static_cast<std::size_t>(m) * K + k] = normal(rng);
      mean[static_cast<std::size_t>(k)] += a[static_cast<std::size_t>(m) * K + k] / N;
    }
  }
  const double scale = std::sqrt(variance) / std::sqrt(static_cast<double>(K));
  const solvers::LocalGrid& g = m_grid;
  const long cells = g.interior_size();
  auto h = Kokkos::create_mirror_view(x);
  Kokkos::deep_copy(h, x);
  std::vector<double> add(static_cast<std::size_t>(cells));
  const int first = m_layout->first_member(), local = static_cast<int>(x.extent(0));
  for (int lm = 0; lm < local; ++lm) {
    std::fill(add.begin(), add.end(), 0.0);
    for (int k = 0; k < K; ++k) {
      const double w = scale * (a[static_cast<std::size_t>(first + lm) * K + k] - mean[static_cast<std::size_t>(k)]);
      const double* field = &m_bank[static_cast<std::size_t>(k) * static_cast<std::size_t>(cells)];
      for (long q = 0; q < cells; ++q) add[static_cast<std::size_t>(q)] += w * field[q];
    }
    long q = 0;
    for (int kk = 0; kk < g.cells[2]; ++kk)
      for (int j = 0; j < g.cells[1]; ++j)
        for (int i = 0; i < g.cells[0]; ++i, ++q) h(lm, g.index(i, j, kk)) += add[static_cast<std::size_t>(q)];
  }
  Kokkos::deep_copy(x, h);
}

}  // namespace twin::detail
