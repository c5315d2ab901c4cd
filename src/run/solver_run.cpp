#include "run/solver_run.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/mpi.hpp"
#include "solvers/solver.hpp"
#include "twin/error.hpp"
#include "twin/version.hpp"

namespace twin::detail {
namespace {

using Clock = std::chrono::steady_clock;

void write_text_file(const std::filesystem::path& path, const std::string& text) {
  // Write beside, then rename: a reader never sees half a file.
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) throw Error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace

std::string run_directory(const Config& config, const RunOptions& options) {
  if (options.run_dir) return *options.run_dir;
  if (config.twin.run_dir) return *config.twin.run_dir;
  return "runs/" + config.twin.name;
}

RunSummary run_solver(const Config& config, const RunOptions& options, MPI_Comm comm) {
  int rank = 0, size = 1;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &size));

  RunSummary summary;
  summary.run_dir = run_directory(config, options);
  summary.cycles = options.cycles.value_or(config.twin.cycles);
  const std::filesystem::path dir(summary.run_dir);
  if (rank == 0) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error("cannot create the run directory '" + summary.run_dir + "': " + ec.message());
    write_text_file(dir / "effective.yaml", to_yaml(config));
  }

  solvers::Decomposition decomposition(config.grid, comm);
  const std::unique_ptr<solvers::Solver> solver_ptr = solvers::make_solver(config, decomposition, 1);
  solvers::Solver& solver = *solver_ptr;
  solvers::Field state = solver.make_field("twin::state");
  const auto& pg = decomposition.process_grid();
  spdlog::info("twin '{}': {}D grid {}x{}{} on {} ranks ({}x{}{}), {} cycles of {} s, {}, stable dt {:.4g} s",
               config.twin.name, config.dims(), config.grid.cells[0], config.grid.cells[1],
               config.dims() == 3 ? "x" + std::to_string(config.grid.cells[2]) : "", size, pg[0], pg[1],
               config.dims() == 3 ? "x" + std::to_string(pg[2]) : "", summary.cycles, config.twin.control_period_s,
               to_string(config.time.integrator), solver.stable_dt());

  const double deadline_s = config.twin.deadline_ms * 1e-3;
  const int report_every = std::max(1, summary.cycles / 10);
  const auto start = Clock::now();
  solvers::SolveStatus status = solvers::SolveStatus::ok;
  for (int cycle = 1; cycle <= summary.cycles; ++cycle) {
    const auto t0 = Clock::now();
    const solvers::StepReport step = solver.advance(state, summary.facility_time_s, config.twin.control_period_s);
    const double cycle_s = std::chrono::duration<double>(Clock::now() - t0).count();
    summary.solver_steps += step.steps;
    summary.facility_time_s += config.twin.control_period_s;
    if (cycle_s > deadline_s) ++summary.deadline_misses;
    status = step.status;
    if (status != solvers::SolveStatus::ok) {
      spdlog::error("cycle {}: solver state is {}; stopping (safe_hold arrives with the closed loop)", cycle,
                    solvers::to_string(status));
      summary.cycles = cycle;
      break;
    }
    if (cycle % report_every == 0 || cycle == summary.cycles) {
      const solvers::FieldStats s = solver.stats(state);
      const double wall = std::chrono::duration<double>(Clock::now() - start).count();
      spdlog::info("cycle {:>5}/{}  t = {:>9.1f} s  u in [{:.4g}, {:.4g}] mean {:.6g}  {} steps of {:.3g} s  {:.0f}x real time",
                   cycle, summary.cycles, summary.facility_time_s, s.min, s.max, s.mean, step.steps, step.dt_s,
                   wall > 0 ? summary.facility_time_s / wall : 0.0);
    }
  }
  summary.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  summary.realtime_factor = summary.wall_s > 0 ? summary.facility_time_s / summary.wall_s : 0.0;
  summary.status = solvers::to_string(status);

  if (rank == 0) {
    const nlohmann::json j = {{"twinrt_version", version()},
                              {"config", config.source_name},
                              {"ranks", size},
                              {"cycles", summary.cycles},
                              {"facility_time_s", summary.facility_time_s},
                              {"wall_s", summary.wall_s},
                              {"realtime_factor", summary.realtime_factor},
                              {"deadline_ms", config.twin.deadline_ms},
                              {"deadline_misses", summary.deadline_misses},
                              {"solver_steps", summary.solver_steps},
                              {"status", summary.status}};
    write_text_file(dir / "summary.json", j.dump(2) + "\n");
    spdlog::info("run finished: {} cycles, {:.1f} s facility time in {:.2f} s wall ({:.0f}x real time), "
                 "{} deadline misses; outputs in {}",
                 summary.cycles, summary.facility_time_s, summary.wall_s, summary.realtime_factor,
                 summary.deadline_misses, summary.run_dir);
  }
  return summary;
}

}  // namespace twin::detail
