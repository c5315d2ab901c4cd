#include "train/train.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <random>

#include "core/check.hpp"
#include "core/mpi.hpp"
#include "core/sha256.hpp"
#include "io/model_file.hpp"
#include "solvers/solver.hpp"
#include "twin/error.hpp"
#include "twin/version.hpp"

namespace twin::detail {

namespace {

// Sensor values of every member: [member][sensor], from a host copy of the field.
class SensorPicker {
 public:
  SensorPicker(const Config& config, const solvers::LocalGrid& g) {
    for (const auto& s : config.sensors) {
      int q[3] = {0, 0, 0};
      for (int d = 0; d < g.dims; ++d)
        q[d] = std::min(g.global[d] - 1, std::max(0, static_cast<int>(std::floor(s.position_m[d] / g.dx[d]))));
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

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

// sha256 over every rank's shard, in rank order (rank 0 gets it).
std::string data_digest(const advisor::Dataset& shard, MPI_Comm comm) {
  std::string mine = sha256_hex(shard.x.data(), shard.x.size() * sizeof(double)) +
                     sha256_hex(shard.y.data(), shard.y.size() * sizeof(double));
  int size = 1, rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &size));
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  std::string all(mine.size() * static_cast<std::size_t>(size), '\0');
  TWIN_MPI_CHECK(MPI_Gather(mine.data(), static_cast<int>(mine.size()), MPI_CHAR, all.data(), static_cast<int>(mine.size()),
                            MPI_CHAR, 0, comm));
  return rank == 0 ? sha256_hex(all) : std::string();
}

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
    auto solver = solvers::make_solver(local, decomposition, M);
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

std::string train_models(const Config& config, MPI_Comm comm, const TrainOptions& options) {
  int rank = 0, size = 1;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &size));
  if (config.controls.empty() || config.sensors.empty())
    throw ConfigError({config.source_name, 0, 0, "controls"}, "twin train needs controls and sensors to train for");
  const std::string registry = options.registry.value_or(io::registry_directory(config));
  const AdvisorConfig advisor = config.advisor.value_or(AdvisorConfig{});
  const bool log = options.progress && rank == 0;
  const auto start = std::chrono::steady_clock::now();

  const SurrogateLayout layout = surrogate_layout(config);
  if (log)
    spdlog::info("twin train: surrogate data from the solver on {} ranks: {} control sequences x {} members, {} segments of {} cycles",
                 size, config.training.control_sequences, config.training.members_per_solver, config.training.segments,
                 2 * layout.lead_cycles.back());
  const advisor::Dataset shard = generate_surrogate_data(config, layout, rank, size, log);
  const double data_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string digest = data_digest(shard, comm);

  advisor::TrainSpec spec;
  spec.name = advisor.surrogate;
  spec.role = "surrogate";
  spec.inputs = layout.inputs;
  spec.outputs = layout.outputs;
  spec.ensemble = config.training.ensemble;
  spec.hidden = config.training.hidden;
  spec.epochs = config.training.epochs;
  spec.learning_rate = config.training.learning_rate;
  spec.seed = config.training.seed;
  spec.validation_fraction = config.training.validation_fraction;
  const auto train_start = std::chrono::steady_clock::now();
  advisor::ModelPackage p = advisor::train_mlp_ensemble(shard, spec, comm, [&](int epoch, double train, double valid) {
    if (log) spdlog::info("training {}: epoch {}/{}, loss {:.4g} (validation {:.4g})", spec.name, epoch, spec.epochs, train, valid);
  });
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - train_start).count();
  if (rank == 0) {
    p.lineage.data_sha256 = digest;
    p.lineage.config_sha256 = sha256_hex(to_yaml(config));
    p.lineage.seed = config.training.seed;
    p.lineage.ranks = size;
    p.lineage.created_utc = utc_now();
    p.lineage.twinrt_version = version();
    p.metrics["data_generation_s"] = data_s;
    p.metrics["training_s"] = train_s;
    std::string leads;
    for (int l : layout.lead_cycles) leads += (leads.empty() ? "" : ",") + std::to_string(l);
    p.attributes["lead_cycles"] = leads;
    p.attributes["control_period_s"] = std::to_string(config.twin.control_period_s);
    io::ModelRegistry reg(registry);
    const int v = reg.add(p);
    spdlog::info("twin train: {} v{} in {} ({} rows, validation relative error {:.4f}, rmse {:.4f}; data {:.1f} s, training {:.1f} s)",
                 p.name, v, reg.path(p.name, v), static_cast<long>(p.metrics["training_rows"]),
                 p.metrics["validation_relative_error"], p.metrics["validation_rmse"], data_s, train_s);
  }
  TWIN_MPI_CHECK(MPI_Barrier(comm));
  return registry;
}

}  // namespace twin::detail
