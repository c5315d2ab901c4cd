// `twin run`: the loop, and nothing else. Readers live with their sources (src/sources/), the
// KPIs with src/kpi/, the cycle with twin::Runtime (src/cycle/).
#include "ground/utc.hpp"
#include "driver/twin_run.hpp"
#include "driver/watchdog.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "advisor/version.hpp"
#include "cycle/runtime_state.hpp"
#include "cycle/snapshots.hpp"
#include "driver/operator_commands.hpp"
#include "ground/atomic_write.hpp"
#include "ground/handle.hpp"
#include "ground/mpi.hpp"
#include "ground/signals.hpp"
#include "kpi/run_kpis.hpp"
#include "sources/observation_source.hpp"
#include "twin/error.hpp"
#include "twin/runtime.hpp"
#include "twin/version.hpp"

namespace twin::detail {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The config as this run uses it: the command line's overrides applied, input paths resolved
// beside the config file (as a reader of the config expects).
Config effective_config(const Config& input, const RunOptions& options) {
  Config config = input;
  if (options.no_assimilation) config.assimilation.enabled = false;
  if (options.no_advisor) config.advisor.reset();
  if (options.no_faults) config.source.plant.events.clear();
  if (options.registry && config.advisor) config.advisor->registry = *options.registry;
  const auto beside_config = [&](std::string& path) {
    if (path.empty() || path == "-" || std::filesystem::path(path).is_absolute() || config.source_name.empty() ||
        config.source_name == "<string>")
      return;
    path = (std::filesystem::path(config.source_name).parent_path() / path).lexically_normal().string();
  };
  beside_config(config.source.replay_file);
  beside_config(config.source.stream_input);
  if (config.outputs.audit_key_file) beside_config(*config.outputs.audit_key_file);
  return config;
}

namespace fs = std::filesystem;

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}

// The files this run has opened in the run directory before claiming it: its JSON-lines logs
// (logging.json_file, "{rank}" replaced for every rank).
bool own_log(const Config& config, int ranks, const fs::path& file) {
  if (!config.logging.json_file) return false;
  for (int r = 0; r < ranks; ++r) {
    std::string path = *config.logging.json_file;
    if (auto at = path.find("{rank}"); at != std::string::npos) path.replace(at, 6, std::to_string(r));
    if (same_file(path, file)) return true;
  }
  return false;
}

constexpr const char* lock_name = ".twin-run.lock";

// The run directory's lock: held (flock) by rank 0 for the whole run, released by the kernel
// however the process ends, so two runs (a resume beside a run still going, two launches with
// the same run_dir) never write one directory. Empty when taken, else why not. `created` tells
// whether this call made the lock file (a refused run removes it again: a folder it may not
// write keeps no trace of it).
std::string lock_run_directory(const fs::path& dir, UniqueFd& lock, bool& created) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return "cannot create the run directory '" + dir.string() + "': " + ec.message();
  const fs::path path = dir / lock_name;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  created = fd.get() >= 0;
  if (!created) fd = UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return "cannot open '" + path.string() + "': " + std::strerror(errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    char owner[256] = {0};
    (void)::pread(fd.get(), owner, sizeof owner - 1, 0);
    return "another twin run is writing the run directory '" + dir.string() + "' (" +
           (owner[0] ? std::string(owner) : std::string("its lock is held")) +
           "): wait for it to end, or stop it (SIGTERM) before resuming";
  }
  char host[128] = {0};
  ::gethostname(host, sizeof host - 1);
  const std::string owner = "pid " + std::to_string(::getpid()) + " on " + host;
  if (::ftruncate(fd.get(), 0) == 0) (void)::pwrite(fd.get(), owner.data(), owner.size(), 0);
  lock = std::move(fd);
  return {};
}

// Why the run may not write into `dir`, or empty. A run never replaces another's evidence
// unless asked to; --overwrite removes the earlier run's outputs and nothing else, and not
// when this run reads one of them (a replay of that run's series.h5).
std::string claim_run_directory(const Config& config, int ranks, const fs::path& dir, bool overwrite) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) return "the run directory '" + dir.string() + "' is a file";
  if (overwrite) {
    for (const std::string& name : run_outputs())
      for (const std::string& input : {config.source.replay_file, config.source.stream_input})
        if (!input.empty() && input != "-" && same_file(input, dir / name))
          return "--overwrite would remove '" + (dir / name).string() +
                 "', which this run reads as its input: write the run into another --run-dir";
    for (const std::string& name : run_outputs()) fs::remove_all(dir / name, ec);
  } else if (fs::exists(dir, ec)) {
    std::string found;
    int shown = 0;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (!own_log(config, ranks, entry.path()) && entry.path().filename() != lock_name && shown++ < 4)
        found += (found.empty() ? "" : ", ") + entry.path().filename().string();
    if (shown == 0) return {};
    return "the run directory '" + dir.string() + "' is not empty (" + found + (shown > 4 ? ", ..." : "") +
           "): a run never overwrites another; choose another with --run-dir, or replace that run with --overwrite";
  }
  fs::create_directories(dir, ec);
  if (ec) return "cannot create the run directory '" + dir.string() + "': " + ec.message();
  return {};
}

// The audit anchors of a folder of runs: one line per finished run (twin, run directory, chain
// length and head), beside the run directories. The next run of the twin puts the last one into
// its first audit record, so cutting or rewriting a finished run's log (and its summary.json)
// also breaks the next run's keyed chain: `twin audit verify OLD --anchored-in NEW` tells.
constexpr const char* anchors_name = ".twin-audit-anchors.jsonl";

fs::path anchors_file(const fs::path& run_dir) { return fs::absolute(run_dir).lexically_normal().parent_path() / anchors_name; }

// The newest anchor of this twin, or null. A damaged line is skipped (the anchors are evidence
// for a later check, not a condition of this run).
nlohmann::json last_anchor(const fs::path& run_dir, const std::string& twin_name) {
  std::ifstream in(anchors_file(run_dir), std::ios::binary);
  if (!in) return nullptr;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - (1 << 20)));  // the last MiB: the newest runs
  nlohmann::json found;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json a = nlohmann::json::parse(line, nullptr, false);
    if (a.is_object() && a.value("twin", std::string()) == twin_name && a.contains("head") && a.contains("records"))
      found = a;
  }
  return found;
}

void record_anchor(const fs::path& run_dir, const std::string& twin_name, long records, const std::string& head) {
  const nlohmann::json a = {{"twin", twin_name}, {"run_dir", fs::absolute(run_dir).lexically_normal().string()},
                            {"records", records}, {"head", head}, {"ended_utc", utc_now()}};
  std::ofstream out(anchors_file(run_dir), std::ios::app);
  out << a.dump() << "\n";
  if (!out) spdlog::warn("cannot record the audit anchor in {}: the next run will not anchor this one", anchors_file(run_dir).string());
}

}  // namespace

const std::vector<std::string>& run_outputs() {
  static const std::vector<std::string> names{"effective.yaml", "series.h5",    "series.xmf", "audit.jsonl",
                                              "summary.json",   "metrics.prom", "report.html", "state"};
  return names;
}

std::string run_directory(const Config& config, const RunOptions& options) {
  if (options.resume) return *options.resume;
  if (options.run_dir) return *options.run_dir;
  if (config.twin.run_dir) return *config.twin.run_dir;
  return "runs/" + config.twin.name;
}

RunResult run_twin(const Config& input, const RunOptions& options, MPI_Comm comm) {
  int rank = 0, size = 1;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &size));
  const Config config = effective_config(input, options);
  if (config.advisor) advisor::set_torch_threads(config.advisor->threads, 1);
  const int cycles = options.cycles.value_or(config.twin.cycles);
  const std::filesystem::path dir = run_directory(config, options);
  std::string problem;
  UniqueFd lock;
  bool lock_created = false;
  if (rank == 0) problem = lock_run_directory(dir, lock, lock_created);
  if (rank == 0 && problem.empty()) {
    problem = options.resume ? (std::filesystem::is_directory(dir / "state")
                                    ? std::string()
                                    : "--resume " + dir.string() + ": no state/ folder there (no snapshot to continue from)")
                             : claim_run_directory(config, size, dir, options.overwrite);
    std::error_code ec;
    if (!problem.empty() && lock_created) std::filesystem::remove(dir / lock_name, ec);
  }
  broadcast(problem, comm);  // every rank refuses together
  if (!problem.empty()) throw DataError(problem);
  install_stop_handlers();

  const auto setup_start = Clock::now();
  std::unique_ptr<ObservationSource> source = ObservationSource::create({config, comm});
  Runtime runtime(config, comm, RuntimeOptions{dir.string()});
  RunKpis kpis(config, comm);
  std::vector<double> applied;
  for (const auto& c : config.controls) applied.push_back(c.initial);
  SnapshotSession snapshots(dir / "state", comm, config.snapshots.keep, snapshot_identity(config));
  long last_snapshot = -1;  // the cycle of the newest snapshot this run started or resumed from
  if (rank == 0 && !options.resume) {
    nlohmann::json previous = last_anchor(dir, config.twin.name);
    if (!previous.is_null()) {
      previous.erase("twin");
      RuntimeState::anchor_audit(runtime, previous);
    }
  }
  if (options.resume) {
    SnapshotParts parts = open_snapshot(dir / "state", config, comm);
    all_or_none(comm, [&] {
      RuntimeState::restore(runtime, parts);
      source->restore(parts.view());
      kpis.restore(parts.shared());
      applied = parts.shared().doubles("driver.applied", applied.size());
    });
    last_snapshot = runtime.cycle();
    if (rank == 0) {
      snapshots.store().discard_after(last_snapshot);
      const nlohmann::json entry = {{"snapshot_written_utc", parts.info().manifest.value("written_utc", "")},
                                    {"from_cycle", last_snapshot},
                                    {"snapshot", parts.info().dir.filename().string()},
                                    {"snapshot_ranks", parts.info().manifest.value("ranks", 0)},
                                    {"ranks", size},
                                    {"twinrt", version()}};
      std::ofstream(dir / "state" / "resumes.jsonl", std::ios::app) << entry.dump() << "\n";
      spdlog::info("resuming from {} (cycle {}, t = {} s, written on {} ranks)", parts.info().dir.string(), last_snapshot,
                   runtime.time_s(), parts.info().manifest.value("ranks", 0));
      if (runtime.cycle() >= cycles)
        spdlog::warn("the snapshot is at cycle {}, at or past the {} cycles asked (twin.cycles, or --cycles): there is "
                     "nothing left to run; give --cycles beyond {} to go on",
                     runtime.cycle(), cycles, runtime.cycle());
    }
  }
  // Once the run has started: a run that failed to set up leaves no file that would block its retry.
  if (rank == 0 && !options.resume) atomic_write(dir / "effective.yaml", to_yaml(config));
  RunTimes times;
  times.setup_s = seconds_since(setup_start);
  spdlog::info("twin '{}': {} members on {} ranks, {} sensors, {} controls, source {}, {} cycles of {} s, deadline {} ms",
               config.twin.name, config.ensemble.members, size, config.sensors.size(), config.controls.size(),
               config.source.type, cycles, config.twin.control_period_s, config.twin.deadline_ms);
  // The lengths effective.yaml leaves blank when they derive from the sensors' layout.
  spdlog::info("filter lengths: localization {:.3g} m ({}), initial ensemble correlation {:.3g} m ({})",
               localization_length(config), config.assimilation.localization_m ? "given" : "from the sensors' layout",
               initial_length(config), config.ensemble.initial_length_m ? "given" : "half the localization");

  // A snapshot of the state after `done` cycles: this rank's part is copied and encoded here,
  // written by the session's thread. Never twice for the same cycle (a committed one stays).
  const auto snapshot = [&](long done, const char* reason) {
    if (done <= last_snapshot) return;
    const auto t0 = Clock::now();
    io::StateArchive part;
    RuntimeState::save(runtime, part);
    source->save(part);
    if (rank == 0) {
      kpis.save(part);
      part.put("driver.applied", applied);
    }
    const std::vector<std::filesystem::path> sync = RuntimeState::files_to_sync(runtime);
    // Skipped while the previous one is still being written (the final one never is: it waits).
    if (snapshots.start(done, runtime.time_s(), part, sync, reason, 1000.0 * seconds_since(t0))) last_snapshot = done;
  };

  const double period = config.twin.control_period_s;
  const auto deadline = std::chrono::milliseconds(static_cast<long>(config.twin.deadline_ms));
  const bool terminal = rank == 0 && config.outputs.progress && isatty(STDOUT_FILENO);
  RunResult result;

  if (options.pace > 0.0 && source->paced())
    throw ConfigError({}, "--pace: the " + config.source.type +
                              " source is paced by its facility (readings arrive when they arrive); --pace applies to "
                              "the plant and replay sources");
  const bool pacing = options.pace > 0.0;
  double silence_s = source->paced() ? config.source.silence_s.value_or(period) + period : 0.0;
  if (pacing) silence_s = period / options.pace;  // the watchdog allows for the wait between cycles
  times.pace = options.pace;
  const int first_cycle = runtime.cycle();
  Watchdog watchdog(dir / "state" / "heartbeat", rank, size, config.twin.watchdog_limit_s(), silence_s);
  const auto wall_start = Clock::now();
  for (int c = runtime.cycle(); c < cycles; ++c) {
    if (pacing) {
      // A paced run: cycle c's readings exist at the end of its period, (c + 1) T of facility
      // time after the start, scaled by the pace. The wait is sliced so that a stop request
      // ends it (and counted in double seconds: a tiny pace must not overflow the clock).
      watchdog.beat(c, "paced wait");
      const double due_s = (c + 1 - first_cycle) * period / options.pace;
      for (double left = due_s - seconds_since(wall_start); left > 0.0 && stop_signal() == 0;
           left = due_s - seconds_since(wall_start))
        std::this_thread::sleep_for(std::chrono::duration<double>(std::min(left, 0.2)));
    }
    // A stop request ends the run between cycles, on every rank at the same cycle.
    watchdog.beat(c, "start");
    int stop = stop_signal();
    TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &stop, 1, MPI_INT, MPI_MAX, comm));
    if (stop != 0) {
      if (terminal) std::printf("\n");
      spdlog::warn("{} received: stopping after {} cycles; writing the outputs", signal_name(stop), c);
      result.stop_signal = stop;
      break;
    }
    auto stage = Clock::now();
    watchdog.beat(c, "source");
    const std::vector<Observation> readings = source->readings(c, c * period, period, applied);
    if (source->ended(!readings.empty())) {
      spdlog::info("stream input ended after {} cycles", c);
      break;
    }
    std::string down = source->down();
    broadcast(down, comm);
    const double wait_s = seconds_since(stage);
    times.source_wall_s += wait_s;
    kpis.add_source_wait(1000.0 * wait_s, !down.empty());

    stage = Clock::now();
    const auto readings_in_hand = stage;
    if (!down.empty()) runtime.report_source_down(down);
    if (rank == 0)
      for (const OperatorCommand& command : take_commands(dir / "commands")) runtime.command(command);
    runtime.ingest(readings);
    watchdog.beat(c, "step");
    const CycleOutcome out = runtime.step(deadline);
    kpis.add_twin_wall_s(seconds_since(stage));
    const std::vector<double> used = applied;
    for (std::size_t j = 0; j < applied.size(); ++j) applied[j] = out.advice.controls[j].value;
    watchdog.beat(c, "emit and record");
    source->emit(out.advice);
    kpis.add_reading_to_advice(1000.0 * seconds_since(readings_in_hand));
    kpis.record(c, out, used, runtime, source->truth());
    snapshots.poll(false);
    if (config.snapshots.every > 0 && (c + 1) % config.snapshots.every == 0 && c + 1 < cycles) snapshot(c + 1, "periodic");

    if (rank != 0) continue;
    if (terminal) {
      std::printf("\r%s", kpis.progress(cycles).c_str());
      std::fflush(stdout);
    }
    if (config.outputs.flush_every > 0 && (c + 1) % (config.outputs.flush_every * 10) == 0)
      atomic_write(dir / "metrics.prom", prometheus(config, kpis.partial(runtime)), WriteSync::atomic);  // between cycles: no fsync
  }
  if (terminal && !result.stop_signal) std::printf("\n");
  times.wall_s = seconds_since(wall_start);
  // The final snapshot (end of the cycles, a stop signal, the end of a stream): a later
  // --resume, or --cycles beyond these, continues from here.
  watchdog.beat(runtime.cycle(), "final snapshot");
  snapshots.poll(true);  // a periodic one still being written first: the final one is never skipped
  snapshot(runtime.cycle(), result.stop_signal ? signal_name(result.stop_signal) : "end of run");
  snapshots.poll(true);
  watchdog.beat(runtime.cycle(), "summary");
  result.cycles = kpis.completed();
  if (rank != 0) return result;

  nlohmann::json j = kpis.summary(runtime, *source, times);
  if (result.stop_signal) j["stopped_by"] = signal_name(result.stop_signal);
  j["snapshots"] = snapshots.stats().json();
  j["readings_dropped"] = runtime.readings_dropped();
  j["confidence"]["grid_check"] = RuntimeState::grid_check(runtime);
  // The chain head outside the log: `twin audit verify` compares it, so a cut or emptied log shows.
  if (const auto head = RuntimeState::audit_head(runtime)) {
    j["audit"] = {{"records", head->first}, {"head", head->second}, {"keyed", config.outputs.audit_key_file.has_value() ||
                                                                             std::getenv("TWIN_AUDIT_KEY_FILE") != nullptr}};
    record_anchor(dir, config.twin.name, head->first, head->second);
  }
  atomic_write(dir / "summary.json", j.dump(2) + "\n");
  atomic_write(dir / "metrics.prom", prometheus(config, j));
  const double facility = kpis.completed() * period;
  spdlog::info("run finished: {} cycles, {:.0f} s facility time, twin {:.2f} s wall ({:.0f}x real time), {} deadline misses{}",
               kpis.completed(), facility, kpis.twin_wall_s(), facility / std::max(1e-9, kpis.twin_wall_s()),
               j["deadline_misses"].get<int>(),
               j.contains("rmse_analysis") ? fmt::format(", RMSE analysis {:.3f} vs free run {:.3f}",
                                                         j["rmse_analysis"].get<double>(), j["rmse_free_run"].get<double>())
                                           : std::string());
  spdlog::info("outputs in {}", dir.string());
  return result;
}

}  // namespace twin::detail
