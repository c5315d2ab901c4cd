// Numerics against analytic solutions, with the measured order of convergence asserted:
// diffusion (second order in space) in 2D and 3D with zero-flux and Dirichlet walls, pure
// advection (upwind: first order), advection with diffusion at cell Peclet numbers up to 2
// (the hybrid scheme's central differences: second order), and reaction (SSPRK3: third order in
// time).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "common/field_util.hpp"
#include "solvers/explicit_solver.hpp"
#include "twin/config.hpp"

namespace {

constexpr double pi = 3.14159265358979323846;
using Exact = std::function<double(double x, double y, double z, double t)>;

// RMS error at time `t_end` of a run started from the exact solution at t = 0.
double rms_error(const std::string& yaml, const Exact& exact, double t_end) {
  const twin::Config config = twin::parse_config(yaml);
  twin::solvers::Decomposition dec(config.grid, MPI_COMM_SELF);
  twin::solvers::ExplicitSolver solver(twin::solvers::SolverConfig::from(config), dec, 1);
  const auto& g = solver.grid();
  auto center = [&](int axis, int idx) { return (idx + 0.5) * g.dx[axis]; };
  auto u = solver.make_field("u");
  twin::test::set_interior(u, g, [&](int, int i, int j, int k) {
    return exact(center(0, i), center(1, j), g.dims == 3 ? center(2, k) : 0.0, 0.0);
  });
  const auto report = solver.advance(u, 0.0, t_end);
  EXPECT_EQ(report.status, twin::solvers::SolveStatus::ok);
  const auto values = twin::test::interior(u, g);
  double sum = 0.0;
  std::size_t n = 0;
  for (int k = 0; k < g.cells[2]; ++k)
    for (int j = 0; j < g.cells[1]; ++j)
      for (int i = 0; i < g.cells[0]; ++i, ++n) {
        const double e = values[n] - exact(center(0, i), center(1, j), g.dims == 3 ? center(2, k) : 0.0, t_end);
        sum += e * e;
      }
  return std::sqrt(sum / static_cast<double>(n));
}

// Observed order from errors on successively halved spacings; printed for the record.
std::vector<double> orders(const std::vector<double>& errors) {
  std::vector<double> out;
  std::string line;
  for (std::size_t i = 1; i < errors.size(); ++i) {
    out.push_back(std::log2(errors[i - 1] / errors[i]));
    line += " " + std::to_string(out.back());
  }
  std::printf("  measured orders:%s\n", line.c_str());
  return out;
}

std::string grid(const std::vector<int>& n, const std::vector<double>& extent) {
  std::string cells, ext;
  for (std::size_t d = 0; d < n.size(); ++d) {
    cells += (d ? ", " : "") + std::to_string(n[d]);
    ext += (d ? ", " : "") + std::to_string(extent[d]);
  }
  return "grid: {cells: [" + cells + "], extent_m: [" + ext + "]}\n";
}

}  // namespace

TEST(Convergence, Diffusion2DZeroFluxIsSecondOrder) {
  const double k = 0.01, lx = 1.0, ly = 0.7, t = 2.0;
  const double rate = k * pi * pi * (1 / (lx * lx) + 1 / (ly * ly));
  const Exact exact = [&](double x, double y, double, double time) {
    return 1.0 + std::exp(-rate * time) * std::cos(pi * x / lx) * std::cos(pi * y / ly);
  };
  std::vector<double> errors;
  for (int n : {16, 32, 64})
    errors.push_back(rms_error(grid({n, n}, {lx, ly}) + "physics: {diffusivity_m2_s: 0.01}\n", exact, t));
  for (double p : orders(errors)) EXPECT_GE(p, 1.9) << "errors " << errors[0] << " " << errors[1] << " " << errors[2];
}

TEST(Convergence, Diffusion2DDirichletIsSecondOrder) {
  const double k = 0.02, t = 1.5;
  const Exact exact = [&](double x, double y, double, double time) {
    return std::exp(-2.0 * k * pi * pi * time) * std::sin(pi * x) * std::sin(pi * y);
  };
  std::vector<double> errors;
  for (int n : {16, 32, 64})
    errors.push_back(rms_error(grid({n, n}, {1.0, 1.0}) +
                                   "physics: {diffusivity_m2_s: 0.02, boundaries: {default: {type: dirichlet, value: 0}}}\n",
                               exact, t));
  for (double p : orders(errors)) EXPECT_GE(p, 1.9) << "errors " << errors[0] << " " << errors[1] << " " << errors[2];
}

TEST(Convergence, Diffusion3DZeroFluxIsSecondOrder) {
  const double k = 0.01, t = 1.0;
  const double rate = k * pi * pi * (1.0 + 1.0 / 0.64 + 1.0 / 0.36);
  const Exact exact = [&](double x, double y, double z, double time) {
    return std::exp(-rate * time) * std::cos(pi * x) * std::cos(pi * y / 0.8) * std::cos(pi * z / 0.6);
  };
  std::vector<double> errors;
  for (int n : {8, 16, 32})
    errors.push_back(rms_error(grid({n, n, n}, {1.0, 0.8, 0.6}) + "physics: {diffusivity_m2_s: 0.01}\n", exact, t));
  for (double p : orders(errors)) EXPECT_GE(p, 1.9) << "errors " << errors[0] << " " << errors[1] << " " << errors[2];
}

TEST(Convergence, UpwindAdvectionIsFirstOrder) {
  const double v = 0.5, t = 0.4;
  const Exact exact = [&](double x, double, double, double time) {
    const double s = (x - v * time - 0.3) / 0.08;
    return std::exp(-s * s);
  };
  std::vector<double> errors;
  for (int n : {200, 400, 800, 1600})
    errors.push_back(rms_error(grid({n, 4}, {1.0, 0.1}) + "physics: {diffusivity_m2_s: 0, velocity_m_s: [0.5, 0]}\n",
                               exact, t));
  const auto p = orders(errors);
  EXPECT_GE(p.back(), 0.9) << "errors " << errors[0] << " " << errors[1] << " " << errors[2] << " " << errors[3];
  EXPECT_LE(p.back(), 1.1);  // and no better: the scheme is first-order upwind
}

TEST(Convergence, AdvectionDiffusionAtCellPecletNumbersUnderTwoIsSecondOrder) {
  // A Gaussian carried at v and spread by k: sigma(t)^2 = sigma0^2 + 2 k t. Cell Peclet numbers
  // v dx / k from 1.6 (n = 80) to 0.2 (n = 640): the hybrid scheme differences centrally.
  const double v = 0.4, k = 0.003, t = 0.5, s0 = 0.05;
  const Exact exact = [&](double x, double, double, double time) {
    const double var = s0 * s0 + 2.0 * k * time, e = x - v * time - 0.3;
    return std::sqrt(s0 * s0 / var) * std::exp(-e * e / (2.0 * var));
  };
  std::vector<double> errors;
  for (int n : {80, 160, 320, 640})
    errors.push_back(rms_error(grid({n, 4}, {1.0, 0.1}) + "physics: {diffusivity_m2_s: 0.003, velocity_m_s: [0.4, 0]}\n",
                               exact, t));
  for (double p : orders(errors))
    EXPECT_GE(p, 1.8) << "errors " << errors[0] << " " << errors[1] << " " << errors[2] << " " << errors[3];
}

TEST(Convergence, ReactionIsThirdOrderInTime) {
  const double r = 0.5, s = 2.0, ref = 1.0, u0 = 10.0, t = 4.0;
  const double equilibrium = ref + s / r;
  const Exact exact = [&](double, double, double, double time) {
    return equilibrium + (u0 - equilibrium) * std::exp(-r * time);
  };
  std::vector<double> errors;
  for (double dt : {0.4, 0.2, 0.1, 0.05})
    errors.push_back(rms_error(grid({4, 4}, {1.0, 1.0}) + "physics: {diffusivity_m2_s: 0, reaction_per_s: 0.5, "
                                                          "reaction_reference: 1.0, source: 2.0, initial_value: 10}\n"
                                                          "time: {integrator: ssprk3, cfl: 1.0, max_dt_s: " +
                                   std::to_string(dt) + "}\n",
                               exact, t));
  for (double p : orders(errors)) EXPECT_GE(p, 2.8) << "errors " << errors[0] << " " << errors[1] << " " << errors[2];
}
