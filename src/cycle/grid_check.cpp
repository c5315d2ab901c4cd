#include "cycle/grid_check.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "solvers/grid.hpp"
#include "solvers/physics.hpp"
#include "sources/plant.hpp"
#include "ground/mpi.hpp"
#include "twin/error.hpp"

namespace twin::detail {

namespace {

// The twin's physics with the plant emulator's machinery (a grid `refine` times finer, the
// field restricted to the twin's grid), without the plant: no events, no offset, the given
// parameters.
Config physics_only(const Config& config, int refine, const ParametersConfig& parameters) {
  Config c = config;
  c.source.type = "plant";
  c.source.plant.refine = refine;
  c.source.plant.events.clear();
  c.source.plant.initial_offset = 0.0;
  c.source.plant.parameters = parameters;
  return c;
}

double& parameter(ParametersConfig& p, const std::string& name) {
  return name == "diffusivity_factor" ? p.diffusivity_factor : p.cooling_factor;
}

// Solves the symmetric positive definite A x = b (a few parameters) by Gaussian elimination.
std::vector<double> solve(std::vector<std::vector<double>> a, std::vector<double> b) {
  const std::size_t n = b.size();
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t i = k + 1; i < n; ++i) {
      const double f = a[i][k] / a[k][k];
      for (std::size_t j = k; j < n; ++j) a[i][j] -= f * a[k][j];
      b[i] -= f * b[k];
    }
  }
  std::vector<double> x(n, 0.0);
  for (std::size_t k = n; k-- > 0;) {
    double s = b[k];
    for (std::size_t j = k + 1; j < n; ++j) s -= a[k][j] * x[j];
    x[k] = s / a[k][k];
  }
  return x;
}

// The configured sensors' stencils on the twin's grid, as the filter reads the twin (H).
std::vector<std::vector<std::pair<long, double>>> sensor_stencils(const Config& config) {
  std::vector<std::vector<std::pair<long, double>>> out;
  for (const auto& s : config.sensors) out.push_back(solvers::global_interpolation(config.grid, s.position_m));
  return out;
}

// The sensors' readings of a field on the twin's whole grid (rank 0's truth_on_twin_grid).
std::vector<double> read_sensors(const std::vector<std::vector<std::pair<long, double>>>& stencils,
                                 const std::vector<double>& field) {
  std::vector<double> out;
  for (const auto& stencil : stencils) {
    double v = 0.0;
    for (const auto& [cell, weight] : stencil)
      v += cell >= 0 && static_cast<std::size_t>(cell) < field.size() ? weight * field[static_cast<std::size_t>(cell)] : 0.0;
    out.push_back(v);
  }
  return out;
}

}  // namespace

GridCheck check_grid(const Config& config, MPI_Comm comm, int cycles) {
  GridCheck out;
  const auto& estimated = config.ensemble.parameters;
  const std::size_t P = estimated.size(), S = config.sensors.size();
  if (cycles <= 0 || S == 0) {
    out.skipped = cycles <= 0 ? "off" : "no sensors";
    return out;
  }
  ParametersConfig prior = config.physics.parameters;
  for (const auto& p : estimated) parameter(prior, p.name) = p.prior_mean;

  // Run 0 is the finer grid, run 1 the twin's grid at the prior, run 2 + q the twin's grid with
  // parameter q moved by a quarter of its prior spread.
  std::vector<std::unique_ptr<PlantEmulator>> runs;
  std::vector<double> step(P, 0.0);
  try {
    runs.push_back(std::make_unique<PlantEmulator>(physics_only(config, 2, prior), comm));
    runs.push_back(std::make_unique<PlantEmulator>(physics_only(config, 1, prior), comm));
    for (std::size_t q = 0; q < P; ++q) {
      ParametersConfig moved = prior;
      step[q] = std::max(0.25 * estimated[q].prior_std, 1e-3 * std::max(1.0, std::abs(estimated[q].prior_mean)));
      parameter(moved, estimated[q].name) += step[q];
      runs.push_back(std::make_unique<PlantEmulator>(physics_only(config, 1, moved), comm));
    }
  } catch (const Error& e) {
    out.skipped = e.what();
    return out;
  }

  const auto stencils = sensor_stencils(config);
  std::vector<double> controls;
  for (const auto& c : config.controls) controls.push_back(c.initial);
  const double period = config.twin.control_period_s;
  int rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));

  // Rank 0 keeps, per cycle and sensor, the departure d and the sensitivities j.
  std::vector<double> d, j;  // d[c S + s], j[(c S + s) P + q]
  std::string failed;
  for (int c = 0; c < cycles && failed.empty(); ++c) {
    std::vector<std::vector<double>> read(runs.size());
    try {
      for (std::size_t r = 0; r < runs.size(); ++r) {
        runs[r]->advance(c * period, period, controls, c);  // collective; throws on every rank alike
        read[r] = read_sensors(stencils, runs[r]->truth_on_twin_grid());  // rank 0's
      }
    } catch (const Error& e) {
      failed = e.what();
      break;
    }
    if (rank != 0) continue;
    for (std::size_t s = 0; s < S; ++s) {
      d.push_back(read[0][s] - read[1][s]);  // the finer grid's reading minus the twin's
      for (std::size_t q = 0; q < P; ++q) j.push_back((read[2 + q][s] - read[1][s]) / step[q]);
    }
  }
  if (!failed.empty()) {
    out.skipped = failed;
    return out;
  }

  std::vector<double> result(P + S, 0.0);  // the shifts, then the sensors' RMS residuals
  int finite = 1;
  if (rank == 0) {
    const auto weight = [&](std::size_t s) {
      return 1.0 / std::max(1e-24, config.sensors[s].noise_std * config.sensors[s].noise_std);
    };
    // Each parameter alone, and the normal equations of the joint fit with the prior as
    // regularisation.
    std::vector<std::vector<double>> a(P, std::vector<double>(P, 0.0));
    std::vector<double> b(P, 0.0);
    for (std::size_t q = 0; q < P; ++q) a[q][q] = 1.0 / std::max(1e-24, estimated[q].prior_std * estimated[q].prior_std);
    std::vector<double> jj(P, 0.0);
    for (std::size_t i = 0; i < d.size(); ++i) {
      const double w = weight(i % S);
      for (std::size_t q = 0; q < P; ++q) {
        b[q] += w * j[i * P + q] * d[i];
        jj[q] += w * j[i * P + q] * j[i * P + q];
        for (std::size_t k = 0; k < P; ++k) a[q][k] += w * j[i * P + q] * j[i * P + k];
      }
    }
    // The twin's grid reads the finer grid's values with each parameter moved by b / jj: its
    // best fit sits there, the finer grid's at the prior (linearised at the prior: the sign need
    // not hold at another operating point; only the size is used).
    for (std::size_t q = 0; q < P; ++q) result[q] = jj[q] > 0.0 ? b[q] / jj[q] : 0.0;
    const std::vector<double> joint = P > 0 ? solve(a, b) : std::vector<double>{};
    // Each sensor's error with the parameters at t of the way to the joint fit is d - t g, g the
    // fit's part; t uniform on [0, 1] gives a mean square of d^2 - d g + g^2 / 3.
    std::vector<double> sum(S, 0.0);
    for (std::size_t i = 0; i < d.size(); ++i) {
      double g = 0.0;
      for (std::size_t q = 0; q < P; ++q) g += j[i * P + q] * joint[q];
      sum[i % S] += d[i] * d[i] - d[i] * g + g * g / 3.0;
    }
    for (std::size_t s = 0; s < S; ++s) result[P + s] = std::sqrt(std::max(0.0, sum[s]) / cycles);
    for (double v : result) finite = finite && std::isfinite(v);
  }
  TWIN_MPI_CHECK(MPI_Bcast(&finite, 1, MPI_INT, 0, comm));
  if (!finite) {
    out.skipped = "the runs' readings were not finite";
    return out;
  }
  TWIN_MPI_CHECK(MPI_Bcast(result.data(), static_cast<int>(result.size()), MPI_DOUBLE, 0, comm));
  constexpr double richardson = 4.0 / 3.0;  // second order, a grid twice as fine
  out.cycles = cycles;
  for (std::size_t q = 0; q < P; ++q) {
    out.shift.push_back(result[q]);
    out.parameter_uncertainty.push_back(richardson * std::abs(result[q]) / std::sqrt(3.0));
  }
  for (std::size_t s = 0; s < S; ++s) out.sensor_uncertainty.push_back(richardson * result[P + s]);
  return out;
}

std::vector<std::vector<double>> control_signatures(const Config& config, MPI_Comm comm, std::string& why) {
  const std::size_t C = config.controls.size(), S = config.sensors.size();
  if (C == 0 || S == 0) return {};
  ParametersConfig prior = config.physics.parameters;
  for (const auto& p : config.ensemble.parameters) parameter(prior, p.name) = p.prior_mean;
  const auto stencils = sensor_stencils(config);
  std::vector<double> base;
  for (const auto& c : config.controls) base.push_back(c.initial);
  int rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  // Run 0 at the initial controls, run 1 + j with control j stepped; one period each from the
  // initial state (every run's own emulator: the physics only, no events, no offset).
  std::vector<double> read((C + 1) * S, 0.0), step(C, 0.0);
  try {
    for (std::size_t r = 0; r <= C; ++r) {
      std::vector<double> u = base;
      if (r > 0) {
        const ControlConfig& c = config.controls[r - 1];
        step[r - 1] = 0.1 * (c.max > c.min ? c.max - c.min : 1.0);
        u[r - 1] += step[r - 1];
      }
      PlantEmulator run(physics_only(config, 1, prior), comm);
      run.advance(0.0, config.twin.control_period_s, u, 0);  // collective; throws on every rank alike
      const std::vector<double> at = read_sensors(stencils, run.truth_on_twin_grid());  // rank 0's
      if (rank == 0) std::copy(at.begin(), at.end(), read.begin() + static_cast<std::ptrdiff_t>(r * S));
    }
  } catch (const Error& e) {
    why = e.what();
    return {};
  }
  TWIN_MPI_CHECK(MPI_Bcast(read.data(), static_cast<int>(read.size()), MPI_DOUBLE, 0, comm));
  std::vector<std::vector<double>> out(C, std::vector<double>(S, 0.0));
  for (std::size_t j = 0; j < C; ++j)
    for (std::size_t s = 0; s < S; ++s) {
      out[j][s] = (read[(j + 1) * S + s] - read[s]) / step[j];
      if (!std::isfinite(out[j][s])) {
        why = "the control '" + config.controls[j].name + "' gave readings that were not finite";
        return {};
      }
    }
  return out;
}

}  // namespace twin::detail
