#include "run/twin_run.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "advice/features.hpp"
#include "advisor/gates.hpp"
#include "advisor/version.hpp"
#include "core/mpi.hpp"
#include "io/series.hpp"
#include "qc/qc.hpp"
#include "sources/plant.hpp"
#include "twin/error.hpp"
#include "twin/runtime.hpp"
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

// ---- observation sources other than the plant (rank 0 reads; the Runtime broadcasts) ---------

// Recorded readings: a CSV of t,sensor,value or a previous run's series.h5.
class ReplaySource {
 public:
  explicit ReplaySource(const std::string& path) {
    if (std::filesystem::path(path).extension() == ".h5") {
      const io::RecordedReadings r = io::read_recorded_readings(path);
      for (std::size_t c = 0; c < r.time_s.size(); ++c)
        for (std::size_t s = 0; s < r.sensors.size(); ++s)
          if (!std::isnan(r.values[c][s])) m_readings.push_back({r.time_s[c], r.sensors[s], r.values[c][s]});
      return;
    }
    std::ifstream in(path);
    if (!in) throw DataError(path + ": cannot open the replay file");
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.empty() || line[0] == '#' || (number == 1 && line.rfind("t", 0) == 0)) continue;
      std::stringstream fields(line);
      std::string t, sensor, value;
      if (!std::getline(fields, t, ',') || !std::getline(fields, sensor, ',') || !std::getline(fields, value))
        throw DataError(path + ":" + std::to_string(number) + ": expected t,sensor,value");
      try {
        // Whole fields only: "12abc" is an error, "nan" a reading QC will reject.
        std::size_t a = 0, b = 0;
        const double tv = std::stod(t, &a), vv = std::stod(value, &b);
        if (a != t.size() || b != value.size()) throw std::invalid_argument("trailing characters");
        m_readings.push_back({tv, sensor, vv});
      } catch (const std::exception&) {
        throw DataError(path + ":" + std::to_string(number) + ": '" + line + "' is not t,sensor,value with numbers");
      }
    }
    std::stable_sort(m_readings.begin(), m_readings.end(), [](const Observation& a, const Observation& b) { return a.t_s < b.t_s; });
  }
  std::vector<Observation> until(double t_end) {
    std::vector<Observation> out;
    while (m_next < m_readings.size() && m_readings[m_next].t_s <= t_end + 1e-9) out.push_back(m_readings[m_next++]);
    return out;
  }
  bool exhausted() const { return m_next >= m_readings.size(); }

 private:
  std::vector<Observation> m_readings;
  std::size_t m_next = 0;
};

// JSON lines {"t": 12.0, "sensor": "T07", "value": 312.4} from stdin or a file/FIFO. A cycle
// reads until a reading beyond its end arrives (held for the next cycle) or the input ends.
class StreamSource {
 public:
  explicit StreamSource(const std::string& input) {
    if (input != "-") {
      m_file.open(input);
      if (!m_file) throw DataError(input + ": cannot open the stream input");
    }
    m_name = input == "-" ? "<stdin>" : input;
  }
  std::vector<Observation> until(double t_end) {
    std::vector<Observation> out;
    if (m_held) {
      if (m_held->t_s > t_end + 1e-9) return out;
      out.push_back(*m_held);
      m_held.reset();
    }
    std::istream& in = m_file.is_open() ? static_cast<std::istream&>(m_file) : std::cin;
    std::string line;
    while (std::getline(in, line)) {
      ++m_line;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Observation o;
      try {
        const auto j = nlohmann::json::parse(line);
        o.t_s = j.at("t").get<double>();
        o.sensor = j.at("sensor").get<std::string>();
        o.value = j.at("value").is_null() ? std::nan("") : j.at("value").get<double>();
      } catch (const std::exception& e) {
        ++m_malformed;
        spdlog::warn("{}:{}: ignored a malformed reading ({}): {}", m_name, m_line, e.what(), line.substr(0, 120));
        continue;
      }
      if (o.t_s > t_end + 1e-9) {
        m_held = o;
        return out;
      }
      out.push_back(o);
    }
    m_eof = true;
    return out;
  }
  bool exhausted() const { return m_eof && !m_held; }
  long malformed() const { return m_malformed; }

 private:
  std::ifstream m_file;
  std::string m_name;
  std::optional<Observation> m_held;
  long m_line = 0, m_malformed = 0;
  bool m_eof = false;
};

double rms_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return a.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(a.size()));
}

// The `control` KPIs of one controller against the truth: tracking error at the targets, time
// over the limits, energy spent (p in W, kW or MW counts as power; other units as unit-seconds).
class ControlScore {
 public:
  explicit ControlScore(const Config& c) : m_period(c.twin.control_period_s) {
    const auto cell = [&](const std::string& sensor) {
      for (const auto& s : c.sensors)
        if (s.name == sensor) {
          long index = 0, stride = 1;
          for (int d = 0; d < c.dims(); ++d) {
            const double dx = c.grid.extent_m[d] / c.grid.cells[d];
            index += stride * std::min(c.grid.cells[d] - 1, std::max(0, static_cast<int>(std::floor(s.position_m[d] / dx))));
            stride *= c.grid.cells[d];
          }
          return index;
        }
      return 0L;
    };
    for (const auto& t : c.objectives.targets) m_targets.push_back({cell(t.sensor), t.value, t.weight});
    for (const auto& l : c.objectives.limits) m_limits.push_back({cell(l.sensor), l.max, 1.0});
    for (const auto& u : c.controls)
      m_power.push_back(u.unit == "W" ? 1.0 : u.unit == "kW" ? 1e3 : u.unit == "MW" ? 1e6 : 1.0);
  }
  void add(const std::vector<double>& truth, const std::vector<double>& controls) {
    if (truth.empty()) return;
    for (const auto& t : m_targets) {
      m_sq += t.weight * (truth[t.cell] - t.value) * (truth[t.cell] - t.value);
      m_w += t.weight;
    }
    bool over = false;
    for (const auto& l : m_limits) over = over || truth[l.cell] > l.value;
    if (over) m_violation_s += m_period;
    for (std::size_t j = 0; j < controls.size(); ++j) m_energy += controls[j] * m_power[j] * m_period;
  }
  nlohmann::json json() const {
    return {{"tracking_rmse", m_w > 0 ? std::sqrt(m_sq / m_w) : 0.0}, {"limit_violation_s", m_violation_s}, {"energy_j", m_energy}};
  }

 private:
  struct Point {
    long cell;
    double value, weight;
  };
  double m_period;
  std::vector<Point> m_targets, m_limits;
  std::vector<double> m_power;
  double m_sq = 0.0, m_w = 0.0, m_violation_s = 0.0, m_energy = 0.0;
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * (v.size() - 1) + 0.5))];
}

std::string prometheus(const Config& config, const nlohmann::json& s) {
  std::ostringstream out;
  const std::string labels = "{twin=\"" + config.twin.name + "\"}";
  auto gauge = [&](const char* name, const char* help, double v) {
    out << "# HELP twin_" << name << " " << help << "\n# TYPE twin_" << name << " gauge\ntwin_" << name << labels << " " << v << "\n";
  };
  gauge("cycles", "control periods completed", s.value("cycles", 0));
  gauge("facility_time_seconds", "facility time simulated", s.value("facility_time_s", 0.0));
  gauge("realtime_factor", "facility time over wall time of the twin cycles", s.value("realtime_factor", 0.0));
  gauge("deadline_misses", "cycles over their deadline", s.value("deadline_misses", 0));
  gauge("cycle_p99_milliseconds", "99th percentile of cycle wall time", s["cycle_ms"].value("p99", 0.0));
  if (s.contains("rmse_analysis")) gauge("rmse_analysis", "time-mean analysis RMSE against the truth", s["rmse_analysis"].get<double>());
  out << "# HELP twin_qc_rejected_total readings rejected by QC\n# TYPE twin_qc_rejected_total counter\n";
  for (const auto& [sensor, reasons] : s["qc"]["rejected"].items())
    for (const auto& [reason, n] : reasons.items())
      out << "twin_qc_rejected_total{twin=\"" << config.twin.name << "\",sensor=\"" << sensor << "\",reason=\"" << reason
          << "\"} " << n.get<long>() << "\n";
  return out.str();
}

}  // namespace

std::string run_directory(const Config& config, const RunOptions& options) {
  if (options.run_dir) return *options.run_dir;
  if (config.twin.run_dir) return *config.twin.run_dir;
  return "runs/" + config.twin.name;
}

void run_twin(const Config& input, const RunOptions& options, MPI_Comm comm) {
  int rank = 0, size = 1;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &size));
  Config config = input;
  if (options.no_assimilation) config.assimilation.enabled = false;
  if (options.no_advisor) config.advisor.reset();
  if (options.no_faults) config.source.plant.events.clear();
  if (options.registry && config.advisor) config.advisor->registry = *options.registry;
  if (config.advisor) advisor::set_torch_threads(config.advisor->threads, 1);
  // Relative input files are relative to the config file, as a reader of the config expects.
  const auto beside_config = [&](std::string& path) {
    if (path.empty() || path == "-" || std::filesystem::path(path).is_absolute() || config.source_name.empty() ||
        config.source_name == "<string>")
      return;
    path = (std::filesystem::path(config.source_name).parent_path() / path).lexically_normal().string();
  };
  beside_config(config.source.replay_file);
  beside_config(config.source.stream_input);
  const int cycles = options.cycles.value_or(config.twin.cycles);
  const std::string dir = run_directory(config, options);
  if (rank == 0) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error("cannot create the run directory '" + dir + "': " + ec.message());
    write_text_file(std::filesystem::path(dir) / "effective.yaml", to_yaml(config));
  }

  const auto setup_start = Clock::now();
  std::unique_ptr<PlantEmulator> plant;
  std::unique_ptr<ReplaySource> replay;
  std::unique_ptr<StreamSource> stream;
  std::ofstream advice_file;
  const SourceKind kind = config.source.type;
  if (kind == SourceKind::plant) plant = std::make_unique<PlantEmulator>(config, comm);
  // With an advisor, a second plant driven by the safe default controller alone is the baseline
  // of the `control` KPIs: same plant, same events, same noise.
  std::unique_ptr<PlantEmulator> baseline;
  if (plant && config.advisor) baseline = std::make_unique<PlantEmulator>(config, comm);
  if (kind == SourceKind::replay && rank == 0) replay = std::make_unique<ReplaySource>(config.source.replay_file);
  if (kind == SourceKind::stream && rank == 0) {
    stream = std::make_unique<StreamSource>(config.source.stream_input);
    if (config.source.advice_output != "-") advice_file.open(config.source.advice_output, std::ios::app);
  }
  Runtime runtime(config, comm, RuntimeOptions{dir});
  const double setup_s = std::chrono::duration<double>(Clock::now() - setup_start).count();
  spdlog::info("twin '{}': {} members on {} ranks, {} sensors, {} controls, source {}, {} cycles of {} s, deadline {} ms",
               config.twin.name, config.ensemble.members, size, config.sensors.size(), config.controls.size(),
               to_string(kind), cycles, config.twin.control_period_s, config.twin.deadline_ms);

  const double period = config.twin.control_period_s;
  const auto deadline = std::chrono::milliseconds(static_cast<long>(config.twin.deadline_ms));
  const bool terminal = rank == 0 && config.outputs.progress && isatty(STDOUT_FILENO);
  std::vector<double> applied, baseline_applied;
  for (const auto& c : config.controls) applied.push_back(c.initial);
  baseline_applied = applied;
  const advisor::SafeDefault safe_default(config);
  const advisor::Envelope envelope = advisor::Envelope::from(config.controls);
  ControlScore score(config), baseline_score(config);
  std::map<std::string, int> modes, gates;
  std::vector<double> advise_ms;
  const std::size_t S = config.sensors.size();

  // KPI bookkeeping (rank 0).
  std::vector<double> cycle_ms, rmse_analysis, rmse_free;
  double stage_sum[5] = {0, 0, 0, 0, 0};
  double twin_wall_s = 0.0, source_wall_s = 0.0;
  int misses = 0, completed = 0, safe_holds = 0;
  long healthy = 0, healthy_rejected = 0, healthy_nominal = 0, healthy_nominal_rejected = 0;
  std::vector<int> fault_onset(S, -1), fault_detected(S, -1);
  std::vector<bool> was_faulty(S, false);
  nlohmann::json faults = nlohmann::json::array();
  std::string last_mode = "nominal";
  // Anomaly diagnosis against the plant's schedule (rank 0).
  struct Scheduled {
    EventCycles cycles;
    std::string expected;
    long first_flag = -1, first_right = -1;
    std::string first_class;
    std::vector<std::string> sensors;  // attributed at the first right flag
  };
  std::vector<Scheduled> scheduled;
  for (const auto& e : config.source.plant.events)
    scheduled.push_back({event_cycles(e, period), anomaly_class(e.type), -1, -1, "", {}});
  long anomaly_consulted = 0, anomaly_flagged = 0, quiet_cycles = 0, quiet_flagged = 0;
  std::map<std::string, long> flagged_classes;

  const auto wall_start = Clock::now();
  for (int c = 0; c < cycles; ++c) {
    const double t0 = c * period, t1 = t0 + period;
    auto stage = Clock::now();
    std::vector<Observation> readings;
    int more = 1;
    if (plant) readings = plant->advance(t0, period, applied, c);
    if (baseline) {
      std::vector<double> seen(S, std::nan(""));
      for (const auto& r : baseline->advance(t0, period, baseline_applied, c))
        for (std::size_t s = 0; s < S; ++s)
          if (config.sensors[s].name == r.sensor) seen[s] = r.value;
      const std::vector<double> used = baseline_applied;
      baseline_applied = envelope.ramp_towards(safe_default.target(seen), baseline_applied, period);
      TWIN_MPI_CHECK(MPI_Bcast(baseline_applied.data(), static_cast<int>(baseline_applied.size()), MPI_DOUBLE, 0, comm));
      const std::vector<double> truth = baseline->truth_on_twin_grid();
      if (rank == 0) baseline_score.add(truth, used);
    }
    if (replay) readings = replay->until(t1);
    if (stream) readings = stream->until(t1);
    if (stream) more = stream->exhausted() && readings.empty() ? 0 : 1;
    TWIN_MPI_CHECK(MPI_Bcast(&more, 1, MPI_INT, 0, comm));
    if (!more) {
      spdlog::info("stream input ended after {} cycles", c);
      break;
    }
    source_wall_s += std::chrono::duration<double>(Clock::now() - stage).count();

    stage = Clock::now();
    runtime.ingest(readings);
    const CycleOutcome out = runtime.step(deadline);
    twin_wall_s += std::chrono::duration<double>(Clock::now() - stage).count();
    const std::vector<double> used = applied;
    for (std::size_t j = 0; j < applied.size(); ++j) applied[j] = out.advice.controls[j].value;
    ++modes[to_string(out.advice.mode)];
    ++gates[out.advisor.gate];
    if (out.advisor.consulted) advise_ms.push_back(out.advisor.latency_ms);
    ++completed;
    if (out.advice.mode == Mode::safe_hold) ++safe_holds;
    last_mode = to_string(out.advice.mode);

    if (stream && rank == 0) {
      nlohmann::json a = {{"cycle", out.advice.cycle}, {"t", out.advice.t_s}, {"mode", to_string(out.advice.mode)},
                          {"reason", out.advice.reason}};
      for (const auto& cv : out.advice.controls) a["controls"][cv.name] = cv.value;
      (advice_file.is_open() ? static_cast<std::ostream&>(advice_file) : std::cout) << a.dump() << std::endl;
    }

    // Against the truth: fields (collective) and sensor faults.
    std::vector<double> truth, mean, free;
    if (plant) {
      truth = plant->truth_on_twin_grid();
      mean = runtime.mean_field();
      free = runtime.free_run_field();
    }
    if (rank != 0) continue;
    if (out.anomaly.consulted) ++anomaly_consulted;
    if (out.anomaly.flagged) {
      ++anomaly_flagged;
      ++flagged_classes[out.anomaly.fault_class];
    }
    if (plant) {
      bool quiet = true;  // no event in effect, none ended in the last 8 cycles
      for (Scheduled& e : scheduled) {
        const bool on = e.cycles.contains(c);
        quiet = quiet && !on && !e.cycles.settling(c, plant_fault_settle_cycles);
        if (!on || !out.anomaly.flagged) continue;
        if (e.first_flag < 0) {
          e.first_flag = c;
          e.first_class = out.anomaly.fault_class;
        }
        if (e.first_right < 0 && out.anomaly.fault_class == e.expected) {
          e.first_right = c;
          e.sensors = out.anomaly.sensors;
        }
      }
      if (quiet && out.anomaly.consulted) {
        ++quiet_cycles;
        if (out.anomaly.flagged) ++quiet_flagged;
      }
    }
    cycle_ms.push_back(out.timings.total_ms);
    stage_sum[0] += out.timings.qc_ms;
    stage_sum[1] += out.timings.forecast_ms;
    stage_sum[2] += out.timings.assimilate_ms;
    stage_sum[3] += out.timings.emit_ms;
    stage_sum[4] += out.timings.record_ms;
    if (out.deadline_missed) ++misses;
    if (plant) {
      score.add(truth, used);
      rmse_analysis.push_back(rms_difference(mean, truth));
      rmse_free.push_back(rms_difference(free, truth));
      // A plant fault (heater, cooling, heat source) in effect or ended in the last 8 cycles: the
      // plant departs from the twin's physics, and readings showing it may be rejected.
      bool plant_fault = false;
      for (std::size_t i = 0; i < scheduled.size(); ++i) {
        const EventCycles& ec = scheduled[i].cycles;
        plant_fault = plant_fault || (!is_sensor_event(config.source.plant.events[i].type) &&
                                      (ec.contains(c) || ec.settling(c, plant_fault_settle_cycles)));
      }
      for (std::size_t s = 0; s < S; ++s) {
        const bool faulty = plant->sensor_faulty(static_cast<int>(s), t1, period);
        const bool rejected = out.sensors[s].qc != QcReason::accepted;
        if (faulty && !was_faulty[s]) {
          fault_onset[s] = c;
          fault_detected[s] = -1;
        }
        if (faulty && rejected && fault_detected[s] < 0) fault_detected[s] = c;
        if (!faulty && was_faulty[s]) {
          faults.push_back({{"sensor", config.sensors[s].name}, {"onset_cycle", fault_onset[s]},
                            {"first_rejected_cycle", fault_detected[s]},
                            {"cycles_to_reject", fault_detected[s] < 0 ? -1 : fault_detected[s] - fault_onset[s]}});
        }
        was_faulty[s] = faulty;
        if (!faulty && out.sensors[s].qc != QcReason::missing) {
          ++healthy;
          if (rejected) ++healthy_rejected;
          if (!plant_fault) {
            ++healthy_nominal;
            if (rejected) ++healthy_nominal_rejected;
          }
        }
      }
    }
    if (terminal) {
      std::printf("\rcycle %d/%d  t = %.0f s  %.0fx real time  RMSE %.3f  mode %s   ", c + 1, cycles, t1,
                  t1 / std::max(1e-9, twin_wall_s), rmse_analysis.empty() ? 0.0 : rmse_analysis.back(), last_mode.c_str());
      std::fflush(stdout);
    }
    if (config.outputs.flush_every > 0 && (c + 1) % (config.outputs.flush_every * 10) == 0) {
      nlohmann::json partial = {{"cycles", completed}, {"facility_time_s", completed * period},
                                {"realtime_factor", completed * period / std::max(1e-9, twin_wall_s)},
                                {"deadline_misses", misses}, {"cycle_ms", {{"p99", percentile(cycle_ms, 0.99)}}}};
      partial["qc"]["rejected"] = nlohmann::json::object();
      write_text_file(std::filesystem::path(dir) / "metrics.prom", prometheus(config, partial));
    }
  }
  if (terminal) std::printf("\n");
  const double wall_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
  if (rank != 0) return;

  // Faults still active at the end.
  for (std::size_t s = 0; s < S; ++s)
    if (was_faulty[s])
      faults.push_back({{"sensor", config.sensors[s].name}, {"onset_cycle", fault_onset[s]},
                        {"first_rejected_cycle", fault_detected[s]},
                        {"cycles_to_reject", fault_detected[s] < 0 ? -1 : fault_detected[s] - fault_onset[s]}});

  const double facility = completed * period;
  nlohmann::json j = {{"twinrt_version", version()},
                      {"config", config.source_name},
                      {"ranks", size},
                      {"members", config.ensemble.members},
                      {"source", to_string(kind)},
                      {"assimilation", config.assimilation.enabled},
                      {"cycles", completed},
                      {"facility_time_s", facility},
                      {"setup_s", setup_s},
                      {"wall_s", wall_s},
                      {"twin_wall_s", twin_wall_s},
                      {"source_wall_s", source_wall_s},
                      {"realtime_factor", facility / std::max(1e-9, twin_wall_s)},
                      {"realtime_factor_with_source", facility / std::max(1e-9, wall_s)},
                      {"deadline_ms", config.twin.deadline_ms},
                      {"deadline_misses", misses},
                      {"safe_hold_cycles", safe_holds},
                      {"cycle_ms", {{"p50", percentile(cycle_ms, 0.5)}, {"p99", percentile(cycle_ms, 0.99)},
                                    {"max", percentile(cycle_ms, 1.0)}}},
                      {"stage_mean_ms", {{"qc", stage_sum[0] / std::max(1, completed)},
                                         {"forecast", stage_sum[1] / std::max(1, completed)},
                                         {"assimilate", stage_sum[2] / std::max(1, completed)},
                                         {"emit", stage_sum[3] / std::max(1, completed)},
                                         {"record", stage_sum[4] / std::max(1, completed)}}}};
  if (plant) {
    const auto mean = [](const std::vector<double>& v) {
      double s = 0.0;
      for (double x : v) s += x;
      return v.empty() ? 0.0 : s / static_cast<double>(v.size());
    };
    j["rmse_analysis"] = mean(rmse_analysis);
    j["rmse_free_run"] = mean(rmse_free);
    j["rmse_ratio"] = mean(rmse_analysis) / std::max(1e-300, mean(rmse_free));
    j["rmse_analysis_final"] = rmse_analysis.empty() ? 0.0 : rmse_analysis.back();
    const solvers::ParameterSet truth = plant->parameters_at(facility - period);
    for (const auto& p : runtime.parameter_estimates()) {
      const double hidden = truth[solvers::parameter_index(p.name)];
      j["parameter_error"][p.name] = {{"estimate", p.mean}, {"std", p.std}, {"truth", hidden},
                                      {"relative_error", std::abs(p.mean - hidden) / std::abs(hidden)}};
    }
  }
  nlohmann::json qc = {{"healthy_readings", healthy}, {"healthy_rejected", healthy_rejected},
                       {"healthy_rejected_fraction", healthy ? double(healthy_rejected) / healthy : 0.0},
                       {"healthy_rejected_fraction_nominal",
                        healthy_nominal ? double(healthy_nominal_rejected) / healthy_nominal : 0.0},
                       {"faults", faults}};
  const auto& counts = runtime.qc_counts();
  qc["rejected"] = nlohmann::json::object();
  for (std::size_t s = 0; s < counts.size(); ++s)
    for (int r = 1; r < qc_reason_count; ++r)
      if (counts[s][r] > 0)
        qc["rejected"][s < S ? config.sensors[s].name : std::string("(unknown)")][to_string(static_cast<QcReason>(r))] = counts[s][r];
  bool all_detected = true;
  for (const auto& f : faults) all_detected = all_detected && f["cycles_to_reject"].get<int>() >= 0 && f["cycles_to_reject"].get<int>() <= 3;
  qc["all_faults_rejected_within_3_cycles"] = all_detected;
  j["qc"] = qc;
  if (stream) j["stream_malformed_lines"] = stream->malformed();
  j["advisor"] = {{"configured", config.advisor.has_value()}, {"modes", modes}, {"gates", gates},
                  {"advise_ms", {{"p50", percentile(advise_ms, 0.5)}, {"p99", percentile(advise_ms, 0.99)},
                                 {"max", percentile(advise_ms, 1.0)}}}};
  {
    nlohmann::json events = nlohmann::json::array();
    bool all_flagged = !scheduled.empty();
    for (std::size_t i = 0; i < scheduled.size(); ++i) {
      const Scheduled& e = scheduled[i];
      const PlantEventConfig& pe = config.source.plant.events[i];
      const long to_flag = e.first_right < 0 ? -1 : e.first_right - e.cycles.first;
      all_flagged = all_flagged && to_flag >= 0 && to_flag <= 5;  // named by the fifth cycle after onset
      events.push_back({{"type", to_string(pe.type)}, {"target", pe.target}, {"expected_class", e.expected},
                        {"onset_cycle", e.cycles.first}, {"first_flag_cycle", e.first_flag}, {"first_flag_class", e.first_class},
                        {"first_right_cycle", e.first_right}, {"cycles_to_flag", to_flag}, {"sensors", e.sensors}});
    }
    j["anomaly"] = {{"consulted_cycles", anomaly_consulted},
                    {"flagged_cycles", anomaly_flagged},
                    {"flagged_fraction", completed ? double(anomaly_flagged) / completed : 0.0},
                    {"flagged_classes", flagged_classes},
                    {"quiet_cycles", quiet_cycles},
                    {"quiet_flagged", quiet_flagged},
                    {"quiet_flagged_fraction", quiet_cycles ? double(quiet_flagged) / quiet_cycles : 0.0},
                    {"events", events},
                    {"all_faults_flagged_within_5_cycles", all_flagged}};
  }
  if (plant) {
    j["control"] = {{"controller", config.advisor ? "advisor" : std::string("safe_default (") + safe_default.rule() + ")"},
                    {"twin", score.json()}};
    if (baseline) {
      j["control"]["safe_default"] = baseline_score.json();
      const auto a = score.json(), b = baseline_score.json();
      j["control"]["advisor_better"] = a["tracking_rmse"].get<double>() < b["tracking_rmse"].get<double>() &&
                                       a["limit_violation_s"].get<double>() <= b["limit_violation_s"].get<double>() &&
                                       a["energy_j"].get<double>() <= b["energy_j"].get<double>();
    }
  }
  write_text_file(std::filesystem::path(dir) / "summary.json", j.dump(2) + "\n");
  write_text_file(std::filesystem::path(dir) / "metrics.prom", prometheus(config, j));
  spdlog::info("run finished: {} cycles, {:.0f} s facility time, twin {:.2f} s wall ({:.0f}x real time), {} deadline misses{}",
               completed, facility, twin_wall_s, facility / std::max(1e-9, twin_wall_s), misses,
               plant ? fmt::format(", RMSE analysis {:.3f} vs free run {:.3f}", j["rmse_analysis"].get<double>(),
                                   j["rmse_free_run"].get<double>())
                     : std::string());
  spdlog::info("outputs in {}", dir);
}

}  // namespace twin::detail
