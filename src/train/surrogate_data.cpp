// Surrogate training data from the twin's own solver (twin train): control sequences held over
// segments, the sensors before and after each lead time, spread over the ranks by sequence.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <random>

#include "ground/mpi.hpp"
#include "solvers/solver.hpp"
#include "train/train.hpp"
#include "solvers/ensemble.hpp"

namespace twin::detail {
namespace {

// Sensor values of every member: [member][sensor], from a host copy of the field.
class SensorPicker {
 public:
  SensorPicker(const Config& config, const solvers::LocalGrid& g) {
    for (const auto& s : config.sensors) {
      int q[3] = {0, 0, 0};
      for (int d = 0; d < g.dims; ++d)
        q[d] = solvers::cell_containing(s.position_m[d], g.dx[d], g.global[d]);
      m_cells.push_back(g.index(q[0], q[1], q[2]));
    }
  }
  std::vector<std::vector<double>> operator()(const solvers::Field& u) const {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), u);
    std::vector<std::vector<double>> out(h.extent(0), std::vector<double>(m_cells.size()));
    for (std::size_t m = 0; m < h.extent(0); ++m)
      for (std::size_t s = 0; s < m_cells.size(); ++s) out[m][s] = h(m, m_cells[s]);
    return out;
  }

 private:
  std::vector<long> m_cells;
};

}  // namespace

advisor::Dataset generate_surrogate_data(const Config& config, const SurrogateLayout& layout, int rank, int ranks,
                                         bool progress) {
  Config local = config;
  local.grid.ranks.clear();  // each rank runs whole-grid solvers of its own
  const solvers::Decomposition decomposition(local.grid, MPI_COMM_SELF);
  const SensorPicker sensors(local, decomposition.local());
  const TrainingConfig& tc = config.training;
  const int M = tc.members_per_solver, S = layout.sensors, C = layout.controls, P = layout.parameters;
  const double period = config.twin.control_period_s;
  const int horizon = layout.lead_cycles.back();
  std::mt19937_64 rng;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::normal_distribution<double> normal(0.0, 1.0);

  const auto random_controls = [&](const std::vector<double>& prev) {
    std::vector<double> u(C);
    const bool jump = unit(rng) < 0.5;
    for (int j = 0; j < C; ++j) {
      const auto& c = config.controls[j];
      const double r = c.max - c.min;
      u[j] = jump ? c.min + r * unit(rng) : std::min(c.max, std::max(c.min, prev[j] + 0.25 * r * normal(rng)));
    }
    return u;
  };

  advisor::Dataset data{static_cast<int>(layout.inputs.size()), static_cast<int>(layout.outputs.size()), {}, {}, {}};
  std::vector<double> x(layout.inputs.size()), y(layout.outputs.size());
  // Sequence g goes to rank g % ranks and draws from (seed, g): the data are the same on any
  // number of ranks, only their split over the ranks differs.
  for (int g = rank; g < tc.control_sequences; g += ranks) {
    std::seed_seq seq{tc.seed, 0x5u, static_cast<unsigned>(g)};
    rng.seed(seq);
    auto solver = solvers::make_solver(solvers::SolverConfig::from(local), decomposition, M);
    solvers::Field u = solver->make_field("twin::training");
    // Members start at different temperatures and carry different parameters.
    {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), u);
      for (int m = 0; m < M; ++m) {
        const double offset = 4.0 * (unit(rng) - 0.5);
        for (std::size_t c = 0; c < h.extent(1); ++c) h(m, c) += offset;
      }
      Kokkos::deep_copy(u, h);
    }
    std::vector<solvers::ParameterSet> params(M, solvers::configured_parameters(config.physics));
    std::vector<std::vector<double>> theta(M, std::vector<double>(P));
    for (int m = 0; m < M; ++m)
      for (int p = 0; p < P; ++p) {
        const auto& e = config.ensemble.parameters[p];
        const double v = e.prior_mean + tc.parameter_spread * e.prior_std * (2.0 * unit(rng) - 1.0);
        theta[m][p] = std::min(e.max, std::max(e.min, v));
        params[m][solvers::parameter_index(e.name)] = theta[m][p];
      }
    solver->set_parameters(params);
    std::vector<double> ctl;
    for (const auto& c : config.controls) ctl.push_back(c.initial);
    double t = 0.0;
    const auto step = [&](const std::vector<double>& controls) {
      solver->set_controls(controls);
      const solvers::StepReport r = solver->advance(u, t, period);
      t += period;
      if (r.status != solvers::SolveStatus::ok)
        throw Error("training data generation: the solver failed (" + std::string(solvers::to_string(r.status)) +
                    "); check the config with `twin run` first");
    };
    std::vector<std::vector<double>> y_prev = sensors(u);
    for (int w = 0; w < tc.warmup_cycles; ++w) {
      if (w % 6 == 0) ctl = random_controls(ctl);
      y_prev = sensors(u);
      step(ctl);
    }
    for (int seg = 0; seg < tc.segments; ++seg) {
      std::vector<double> u_prev = ctl;
      ctl = random_controls(ctl);
      // Two samples per segment: right after the change, and one horizon later at steady controls.
      for (int half = 0; half < 2; ++half) {
        const std::vector<std::vector<double>> y0 = sensors(u);
        std::vector<std::vector<std::vector<double>>> at_lead;
        std::vector<std::vector<double>> before_last;
        std::size_t next = 0;
        for (int k = 1; k <= horizon; ++k) {
          if (k == horizon) before_last = sensors(u);
          step(ctl);
          if (next < layout.lead_cycles.size() && layout.lead_cycles[next] == k) {
            at_lead.push_back(sensors(u));
            ++next;
          }
        }
        for (int m = 0; m < M; ++m) {
          surrogate_inputs(layout, y0[m].data(), y_prev[m].data(), u_prev.data(), ctl.data(), theta[m].data(), x.data());
          for (std::size_t l = 0; l < at_lead.size(); ++l)
            for (int s = 0; s < S; ++s) y[layout.output(static_cast<int>(l), s)] = at_lead[l][m][s] - y0[m][s];
          data.add(x, y, g);  // validation holds out whole control sequences
        }
        y_prev = before_last;
        u_prev = ctl;
      }
    }
    if (progress) spdlog::info("training data: control sequence {} of {} done, {} samples on rank 0", g + 1, tc.control_sequences, data.rows());
  }
  return data;
}

}  // namespace twin::detail
