// Cheaper solvers as the surrogate's baselines (solver_baselines.hpp).
#include "solver_baselines.hpp"

#include <mpi.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>

#include "advisor_bench.hpp"
#include "solvers/solver.hpp"

namespace twin::bench {
namespace {

struct Variant {
  int factor;              // coarsening per axis; 1: the twin's grid
  std::string integrator;  // a registered integrator
  double max_dt_s;         // 0: the integrator's own choice (explicit: the stable step)
  std::string label() const {
    return integrator + (factor > 1 ? ", grid / " + std::to_string(factor) : ", twin's grid") +
           (max_dt_s > 0 ? ", dt " + std::to_string(static_cast<int>(max_dt_s)) + " s" : "");
  }
};

bool coarsens(const Config& c, int factor) {
  for (int n : c.grid.cells)
    if (n % factor != 0 || n / factor < 3) return false;
  return true;
}

Config variant_config(const Config& config, const Variant& v) {
  Config c = config;
  c.grid.ranks.clear();
  for (int& n : c.grid.cells) n /= v.factor;
  c.time.integrator = v.integrator;
  if (v.max_dt_s > 0) c.time.max_dt_s = v.max_dt_s;
  return c;
}

// One member's solver on one rank, with each sensor's interpolation stencil (as the twin's H).
struct OneMember {
  Config config;
  solvers::Decomposition decomposition;
  std::unique_ptr<solvers::Solver> solver;
  solvers::Field u;
  std::vector<std::vector<std::pair<long, double>>> sensor_stencils;  // (padded cell, weight)

  explicit OneMember(const Config& c)
      : config(c), decomposition(c.grid, MPI_COMM_SELF),
        solver(solvers::make_solver(solvers::SolverConfig::from(c), decomposition, 1)), u(solver->make_field("bench::u")) {
    const solvers::LocalGrid& g = solver->grid();
    for (const auto& s : c.sensors) {
      const solvers::InterpolationStencil st = solvers::interpolation_stencil(g.dims, g.global, g.dx, s.position_m);
      std::vector<std::pair<long, double>> cells;
      for (int k = 0; k < st.count; ++k) cells.emplace_back(g.index(st.cell[k][0], st.cell[k][1], st.cell[k][2]), st.weight[k]);
      sensor_stencils.push_back(std::move(cells));
    }
  }
  const solvers::LocalGrid& grid() const { return solver->grid(); }
  void prepare(const solvers::ParameterSet& p, const std::vector<double>& controls) {
    solver->set_parameters({p});
    solver->set_controls(controls);
  }
  std::vector<double> sensors() const {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), u);
    std::vector<double> out;
    for (const auto& stencil : sensor_stencils) {
      double v = 0.0;
      for (const auto& [cell, weight] : stencil) v += weight * h(0, cell);
      out.push_back(v);
    }
    return out;
  }
  // Interior cells, x fastest.
  std::vector<double> interior() const {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), u);
    const solvers::LocalGrid& g = grid();
    std::vector<double> v;
    for (int k = 0; k < g.cells[2]; ++k)
      for (int j = 0; j < g.cells[1]; ++j)
        for (int i = 0; i < g.cells[0]; ++i) v.push_back(h(0, g.index(i, j, k)));
    return v;
  }
  void set_interior(const std::vector<double>& v) {
    auto h = Kokkos::create_mirror_view(u);
    Kokkos::deep_copy(h, 0.0);  // ghosts are the solver's to fill
    const solvers::LocalGrid& g = grid();
    std::size_t n = 0;
    for (int k = 0; k < g.cells[2]; ++k)
      for (int j = 0; j < g.cells[1]; ++j)
        for (int i = 0; i < g.cells[0]; ++i) h(0, g.index(i, j, k)) = v[n++];
    Kokkos::deep_copy(u, h);
  }
  void advance(double t0, double duration) {
    const solvers::StepReport r = solver->advance(u, t0, duration);
    if (r.status != solvers::SolveStatus::ok)
      throw Error(std::string("solver baseline: ") + config.time.integrator + " failed (" + solvers::to_string(r.status) + ")");
  }
};

// Block average of a fine interior (x fastest) onto the grid `factor` times coarser per axis.
std::vector<double> coarsen(const std::vector<double>& fine, const std::vector<int>& cells, int factor) {
  const int nx = cells[0], ny = cells.size() > 1 ? cells[1] : 1, nz = cells.size() > 2 ? cells[2] : 1;
  const int fz = cells.size() > 2 ? factor : 1;
  const int cx = nx / factor, cy = ny / factor, cz = nz / fz;
  std::vector<double> out(static_cast<std::size_t>(cx) * cy * cz, 0.0);
  const double share = 1.0 / (static_cast<double>(factor) * factor * fz);
  for (int k = 0; k < nz; ++k)
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i)
        out[(static_cast<std::size_t>(k / fz) * cy + j / factor) * cx + i / factor] +=
            share * fine[(static_cast<std::size_t>(k) * ny + j) * nx + i];
  return out;
}

struct Case {
  solvers::ParameterSet parameters;
  std::vector<std::vector<double>> warm_controls;  // held 10 periods each
  std::vector<double> controls;
};

Case draw(const Config& config, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Case c;
  c.parameters = solvers::configured_parameters(config.physics);
  for (const auto& p : config.ensemble.parameters) {
    const double v = p.prior_mean + config.training.parameter_spread * p.prior_std * (2.0 * unit(rng) - 1.0);
    c.parameters[solvers::parameter_index(p.name)] = std::clamp(v, p.min, p.max);
  }
  const auto controls = [&] {
    std::vector<double> u;
    for (const auto& ctl : config.controls) u.push_back(ctl.min + (ctl.max - ctl.min) * unit(rng));
    return u;
  };
  for (int s = 0; s < 3; ++s) c.warm_controls.push_back(controls());
  c.controls = controls();
  return c;
}

// The sensors' changes at each lead, advancing between leads in one call (an implicit
// integrator takes steps up to its max_dt_s across them).
std::vector<double> answer(OneMember& m, double t0, double period, const std::vector<int>& leads) {
  const std::vector<double> before = m.sensors();
  std::vector<double> y;
  int done = 0;
  for (int lead : leads) {
    m.advance(t0 + done * period, (lead - done) * period);
    done = lead;
    const std::vector<double> after = m.sensors();
    for (std::size_t s = 0; s < after.size(); ++s) y.push_back(after[s] - before[s]);
  }
  return y;
}

}  // namespace

nlohmann::json solver_baselines(const Config& config, const std::vector<int>& lead_cycles, int cases, unsigned seed) {
  const double period = config.twin.control_period_s;
  std::vector<Variant> variants;
  for (int f : {2, 4, 8})
    if (coarsens(config, f)) variants.push_back({f, config.time.integrator, 0.0});
  for (const char* integrator : {"crank_nicolson", "backward_euler"})
    for (int f : {1, 2, 4})
      for (double dt : {period, 3.0 * period})
        if (f == 1 || coarsens(config, f)) variants.push_back({f, integrator, dt});

  Config reference_config = config;
  reference_config.grid.ranks.clear();
  OneMember reference(reference_config);
  std::vector<std::unique_ptr<OneMember>> cheap;
  for (const Variant& v : variants) {
    cheap.push_back(std::make_unique<OneMember>(variant_config(config, v)));
    cheap.back()->advance(0.0, period);  // set-up (an implicit solver's preconditioner) left out of the timing
  }
  std::vector<double> err2(variants.size(), 0.0), ref_ms;
  std::vector<std::vector<double>> ms(variants.size());
  double ref2 = 0.0;
  std::mt19937_64 rng(seed);
  for (int c = 0; c < cases; ++c) {
    const Case k = draw(config, rng);
    reference.u = reference.solver->make_field("bench::u");
    double t = 0.0;
    for (const auto& u : k.warm_controls) {
      reference.prepare(k.parameters, u);
      reference.advance(t, 10 * period);
      t += 10 * period;
    }
    const std::vector<double> start = reference.interior();
    reference.prepare(k.parameters, k.controls);
    auto t0 = Clock::now();
    const std::vector<double> truth = answer(reference, t, period, lead_cycles);
    ref_ms.push_back(us_since(t0) / 1e3);
    for (double y : truth) ref2 += y * y;
    for (std::size_t v = 0; v < variants.size(); ++v) {
      OneMember& m = *cheap[v];
      m.prepare(k.parameters, k.controls);
      m.set_interior(variants[v].factor == 1 ? start : coarsen(start, config.grid.cells, variants[v].factor));
      t0 = Clock::now();
      const std::vector<double> y = answer(m, t, period, lead_cycles);
      ms[v].push_back(us_since(t0) / 1e3);
      for (std::size_t i = 0; i < y.size(); ++i) err2[v] += (y[i] - truth[i]) * (y[i] - truth[i]);
    }
  }
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t v = 0; v < variants.size(); ++v) {
    const Config vc = variant_config(config, variants[v]);
    const double rel = std::sqrt(err2[v] / ref2), med = quantile(ms[v], 0.5);
    std::fprintf(stderr, "bench_surrogate: solver baseline %-40s relative error %.4f in %.2f ms per case\n",
                 variants[v].label().c_str(), rel, med);
    out.push_back({{"baseline", variants[v].label()},
                   {"integrator", variants[v].integrator},
                   {"coarsening", variants[v].factor},
                   {"grid", vc.grid.cells},
                   {"max_dt_s", variants[v].max_dt_s > 0 ? nlohmann::json(variants[v].max_dt_s) : nlohmann::json()},
                   {"relative_error", rel},
                   {"ms", med}});
  }
  return {{"cases", cases},
          {"seed", seed},
          {"reference", config.time.integrator + " on the twin's grid"},
          {"reference_ms", quantile(ref_ms, 0.5)},
          {"baselines", out}};
}

}  // namespace twin::bench
