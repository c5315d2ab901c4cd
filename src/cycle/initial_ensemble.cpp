#include "cycle/initial_ensemble.hpp"

#include <random>

#include "assimilation/smooth_field.hpp"

namespace twin::detail {

std::vector<double> initialise_ensemble(const Config& config, const solvers::EnsembleLayout& layout,
                                        const solvers::LocalGrid& g, solvers::Field& x) {
  const EnsembleConfig& e = config.ensemble;
  const int N = e.members, P = static_cast<int>(e.parameters.size());
  const double length_m = initial_length(config);
  std::vector<double> theta(static_cast<std::size_t>(N) * P, 0.0);
  auto h = Kokkos::create_mirror_view(x);
  Kokkos::deep_copy(h, x);
  for (int m = 0; m < N; ++m) {
    std::seed_seq seq{e.seed, 0x1417u, static_cast<unsigned>(m)};
    std::mt19937_64 rng(seq);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (int p = 0; p < P; ++p) {
      const auto& spec = e.parameters[p];
      theta[m * P + p] = std::min(spec.max, std::max(spec.min, spec.prior_mean + spec.prior_std * normal(rng)));
    }
    const PlaneWaves waves = draw_plane_waves(rng, g.dims, length_m);
    const int lm = m - layout.first_member();
    if (lm < 0 || lm >= layout.local_members()) continue;
    for (int k = 0; k < g.cells[2]; ++k)
      for (int j = 0; j < g.cells[1]; ++j)
        for (int i = 0; i < g.cells[0]; ++i) {
          const double pos[3] = {(i + g.offset[0] + 0.5) * g.dx[0], (j + g.offset[1] + 0.5) * g.dx[1],
                                 (k + g.offset[2] + 0.5) * g.dx[2]};
          h(lm, g.index(i, j, k)) += e.initial_spread * smooth_field_value(pos, g.dims, waves);
        }
  }
  Kokkos::deep_copy(x, h);
  return theta;
}

}  // namespace twin::detail
