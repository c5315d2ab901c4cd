// Surrogate training data from the twin's own solver (twin train): control sequences held over
// segments, the sensors before and after each lead time, spread over the ranks by sequence.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <random>

#include "ground/mpi.hpp"
#include "solvers/solver.hpp"
#include "ground/progress.hpp"
#include "train/train.hpp"
#include "solvers/ensemble.hpp"

namespace twin::detail {
namespace {

// Sensor values of every member: [member][sensor], from a host copy of the field (the whole
// grid on this rank), read as the twin's H reads them.
class SensorPicker {
 public:
  SensorPicker(const Config& config, const solvers::LocalGrid& g) {
    for (const auto& s : config.sensors) {
      const solvers::InterpolationStencil st = solvers::interpolation_stencil(g.dims, g.global, g.dx, s.position_m);
      std::vector<std::pair<long, double>> cells;
      for (int k = 0; k < st.count; ++k) cells.push_back({g.index(st.cell[k][0], st.cell[k][1], st.cell[k][2]), st.weight[k]});
      m_stencils.push_back(cells);
    }
  }
  std::vector<std::vector<double>> operator()(const solvers::Field& u) const {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), u);
    std::vector<std::vector<double>> out(h.extent(0), std::vector<double>(m_stencils.size(), 0.0));
    for (std::size_t m = 0; m < h.extent(0); ++m)
      for (std::size_t s = 0; s < m_stencils.size(); ++s)
        for (const auto& [cell, weight] : m_stencils[s]) out[m][s] += weight * h(m, cell);
    return out;
  }

 private:
  std::vector<std::vector<std::pair<long, double>>> m_stencils;
};

}  // namespace

struct SurrogateDataGenerator::Impl {
  Config config, local;
  SurrogateLayout layout;
  solvers::Decomposition decomposition;
  SensorPicker sensors;
  int rank, ranks;
  std::vector<double> start;  // interior cells, x fastest; empty: the configured initial state
  int g;              // the sequence in hand
  bool progress;
  std::mt19937_64 rng;
  std::uniform_real_distribution<double> unit{0.0, 1.0};
  std::normal_distribution<double> normal{0.0, 1.0};
  advisor::Dataset data;
  std::vector<double> x, y;
  // The sequence in hand: its solver, state and where in the sequence it is.
  std::unique_ptr<solvers::Solver> solver;
  solvers::Field u;
  std::vector<std::vector<double>> theta, y_prev;
  std::vector<std::vector<std::vector<double>>> trajectory;  // the segment's sensors: [step][member][sensor]
  std::vector<double> ctl, u_prev;
  double t = 0.0;
  int warmup = 0, segment = 0, k = 0;  // k: the step of the segment in hand (0: not started)
  int sequences_done = 0;
  Progress bar;  // rank 0's sequences

  Impl(const Config& c, const SurrogateLayout& l, int r, int n, bool p, std::vector<double> s)
      : config(c), local(local_config(c)), layout(l), decomposition(local.grid, MPI_COMM_SELF),
        sensors(local, decomposition.local()), rank(r), ranks(n), start(std::move(s)), g(r), progress(p),
        data{static_cast<int>(l.inputs.size()), static_cast<int>(l.outputs.size()), {}, {}, {}},
        x(l.inputs.size()), y(l.outputs.size()),
        bar("surrogate data", (c.training.control_sequences + n - 1 - r) / n, p) {}

  static Config local_config(Config c) {
    c.grid.ranks.clear();  // each rank runs whole-grid solvers of its own
    return c;
  }

  std::vector<double> random_controls(const std::vector<double>& prev) {
    std::vector<double> next(layout.controls);
    const bool jump = unit(rng) < 0.5;
    for (int j = 0; j < layout.controls; ++j) {
      const auto& c = config.controls[j];
      const double r = c.max - c.min;
      next[j] = jump ? c.min + r * unit(rng) : std::min(c.max, std::max(c.min, prev[j] + 0.25 * r * normal(rng)));
    }
    return next;
  }

  void step(const std::vector<double>& controls) {
    solver->set_controls(controls);
    const solvers::StepReport r = solver->advance(u, t, config.twin.control_period_s);
    t += config.twin.control_period_s;
    if (r.status != solvers::SolveStatus::ok)
      throw Error("training data generation: the solver failed (" + std::string(solvers::to_string(r.status)) +
                  "); check the config with `twin run` first");
  }

  // Sequence g draws from (seed, g): the data are the same on any number of ranks, only their
  // split over the ranks differs.
  void start_sequence() {
    const TrainingConfig& tc = config.training;
    const int M = tc.members_per_solver, P = layout.parameters;
    std::seed_seq seq{tc.seed, 0x5u, static_cast<unsigned>(g)};
    rng.seed(seq);
    solver = solvers::make_solver(solvers::SolverConfig::from(local), decomposition, M);
    u = solver->make_field("twin::training");
    // Members start at different temperatures and carry different parameters.
    {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), u);
      const solvers::LocalGrid& grid = decomposition.local();
      const long cells = static_cast<long>(grid.global[0]) * grid.global[1] * grid.global[2];
      const bool from_state = static_cast<long>(start.size()) == cells;
      for (int m = 0; m < M; ++m) {
        const double offset = (from_state ? 1.0 : 4.0) * (unit(rng) - 0.5);
        if (!from_state) {
          for (std::size_t c = 0; c < h.extent(1); ++c) h(m, c) += offset;
          continue;
        }
        for (int c = 0; c < grid.global[2]; ++c)
          for (int b = 0; b < grid.global[1]; ++b)
            for (int a = 0; a < grid.global[0]; ++a)
              h(m, grid.index(a, b, c)) = start[a + static_cast<long>(grid.global[0]) * (b + static_cast<long>(grid.global[1]) * c)] + offset;
      }
      Kokkos::deep_copy(u, h);
    }
    std::vector<solvers::ParameterSet> params(M, solvers::configured_parameters(config.physics));
    theta.assign(M, std::vector<double>(P));
    for (int m = 0; m < M; ++m)
      for (int p = 0; p < P; ++p) {
        const auto& e = config.ensemble.parameters[p];
        const double v = e.prior_mean + tc.parameter_spread * e.prior_std * (2.0 * unit(rng) - 1.0);
        theta[m][p] = std::min(e.max, std::max(e.min, v));
        params[m][solvers::parameter_index(e.name)] = theta[m][p];
      }
    solver->set_parameters(params);
    ctl.clear();
    for (const auto& c : config.controls) ctl.push_back(c.initial);
    t = 0.0;
    y_prev = sensors(u);
    warmup = segment = k = 0;
  }

  // One segment: new controls held for two horizons, the sensors after every step. Samples right
  // after the change (u_prev the old controls, dy the last cycle's change under them) and one
  // horizon later at steady controls (u_prev = u); with training.transient_samples also at every
  // cycle between, through the transient the change starts (dy can be large). The twin asks
  // about those states too: after an accepted proposal its controls ramp, and the sensors move
  // for cycles. One solver step per call.
  void segment_step() {
    const int horizon = layout.lead_cycles.back();
    if (k == 0) {
      u_prev = ctl;
      ctl = random_controls(ctl);
      trajectory.assign(1, sensors(u));
      k = 1;
    }
    step(ctl);
    trajectory.push_back(sensors(u));
    if (++k <= 2 * horizon) return;
    for (int s = 0; s <= horizon; s += config.training.transient_samples ? 1 : horizon)
      for (int m = 0; m < config.training.members_per_solver; ++m) {
        const std::vector<double>& now = trajectory[s][m];
        const std::vector<double>& before = s == 0 ? y_prev[m] : trajectory[s - 1][m];
        surrogate_inputs(layout, now.data(), before.data(), s == 0 ? u_prev.data() : ctl.data(), ctl.data(), theta[m].data(),
                         x.data());
        for (std::size_t l = 0; l < layout.lead_cycles.size(); ++l)
          for (int j = 0; j < layout.sensors; ++j)
            y[layout.output(static_cast<int>(l), j)] = trajectory[s + layout.lead_cycles[l]][m][j] - now[j];
        data.add(x, y, g);  // validation holds out whole control sequences
      }
    y_prev = trajectory[2 * horizon - 1];
    k = 0;
    ++segment;
  }
};

SurrogateDataGenerator::SurrogateDataGenerator(const Config& config, const SurrogateLayout& layout, int rank, int ranks,
                                               bool progress, std::vector<double> start)
    : m(std::make_unique<Impl>(config, layout, rank, ranks, progress, std::move(start))) {}
SurrogateDataGenerator::~SurrogateDataGenerator() = default;

bool SurrogateDataGenerator::advance() {
  Impl& s = *m;
  const TrainingConfig& tc = s.config.training;
  if (s.g >= tc.control_sequences) return false;
  if (!s.solver) {
    s.start_sequence();
  } else if (s.warmup < tc.warmup_cycles) {
    if (s.warmup % 6 == 0) s.ctl = s.random_controls(s.ctl);
    s.y_prev = s.sensors(s.u);
    s.step(s.ctl);
    ++s.warmup;
  } else if (s.segment < tc.segments) {
    s.segment_step();
  }
  if (s.solver && s.warmup >= tc.warmup_cycles && s.segment >= tc.segments) {
    ++s.sequences_done;
    s.bar.update(s.sequences_done, std::to_string(s.data.rows()) + " rows on rank 0");
    if (s.g + s.ranks >= tc.control_sequences) s.bar.finish(std::to_string(s.data.rows()) + " rows on rank 0");
    s.solver.reset();
    s.g += s.ranks;
  }
  return s.g < tc.control_sequences;
}

const advisor::Dataset& SurrogateDataGenerator::data() const { return m->data; }
int SurrogateDataGenerator::sequences_done() const { return m->sequences_done; }

advisor::Dataset generate_surrogate_data(const Config& config, const SurrogateLayout& layout, int rank, int ranks,
                                         bool progress) {
  SurrogateDataGenerator generator(config, layout, rank, ranks, progress);
  while (generator.advance()) {
  }
  return generator.data();
}

}  // namespace twin::detail
