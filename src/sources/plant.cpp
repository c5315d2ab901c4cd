#include "sources/plant.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include <fmt/format.h>

#include "assimilation/enkf.hpp"
#include "solvers/ensemble.hpp"

namespace twin::detail {

namespace {

Config make_truth(const Config& c) {
  Config t = c;
  const PlantConfig& p = c.source.plant;
  for (auto& n : t.grid.cells) n *= p.refine;
  t.grid.ranks.clear();
  t.physics.parameters = p.parameters;
  t.physics.initial_value += p.initial_offset;
  for (std::size_t i = 0; i < p.events.size(); ++i) {
    const PlantEventConfig& e = p.events[i];
    if (e.type != EventKind::heat_source) continue;
    SourceConfig s;
    s.name = "plant_event_" + std::to_string(i);
    s.region.shape = ShapeKind::gaussian;
    s.region.center_m = e.center_m;
    s.region.size_m = e.size_m;
    s.rate = e.magnitude;
    s.start_s = e.start_s;
    s.end_s = e.end_s;
    t.physics.sources.push_back(s);
  }
  return t;
}

bool active(const PlantEventConfig& e, double t) { return t >= e.start_s && (!e.end_s || t < *e.end_s); }

// A drift's factor at t: 1 until start_s, then linearly to `magnitude` at end_s, kept after.
double drift_factor(const PlantEventConfig& e, double t) {
  if (t <= e.start_s) return 1.0;
  const double span = e.end_s ? *e.end_s - e.start_s : 0.0;
  const double f = span > 0.0 ? std::min(1.0, (t - e.start_s) / span) : 1.0;
  return 1.0 + (e.magnitude - 1.0) * f;
}

}  // namespace

double settling_consistency(const CycleOutcome& out) {
  for (const SensorEstimate& s : out.sensors)
    if (s.qc == QcReason::innovation) return 0.0;
  return chi_square_upper_tail(out.accepted, out.innovation_statistic);
}

EventCycles event_cycles(const PlantEventConfig& e, double period) {
  // Cycle c covers [c T, (c + 1) T) and reads its sensors at (c + 1) T.
  const double eps = 1e-9 * std::max(1.0, std::abs(e.start_s));
  const auto first_reading_at_or_after = [&](double t) { return static_cast<long>(std::ceil((t - eps) / period)) - 1; };
  EventCycles c;
  if (e.type == EventKind::sensor_spike) {
    c.first = std::max(0L, first_reading_at_or_after(e.start_s));
    c.last = c.first;
    return c;
  }
  if (is_sensor_event(e.type)) {
    c.first = std::max(0L, first_reading_at_or_after(e.start_s));
    if (e.end_s) c.last = first_reading_at_or_after(*e.end_s) - 1;  // active while t < end
  } else if (e.type == EventKind::heat_source) {
    c.first = std::max(0L, static_cast<long>(std::floor((e.start_s + eps) / period)));
    if (e.end_s) c.last = static_cast<long>(std::ceil((*e.end_s - eps) / period)) - 1;
  } else {  // applied when active at the start of a cycle
    c.first = std::max(0L, static_cast<long>(std::ceil((e.start_s - eps) / period)));
    if (e.end_s) c.last = static_cast<long>(std::ceil((*e.end_s - eps) / period)) - 1;
  }
  return c;
}

PlantEmulator::PlantEmulator(const Config& config, MPI_Comm comm)
    : m_config(config),
      m_truth(make_truth(config)),
      m_decomposition(m_truth.grid, comm),
      m_solver(solvers::make_solver(solvers::SolverConfig::from(m_truth), m_decomposition, 1)),
      m_held(config.sensors.size(), std::numeric_limits<double>::quiet_NaN()) {
  solvers::require_step_budget(*m_solver, m_truth.time, config.twin.control_period_s,
                               "the plant emulator (its grid is source.plant.refine = " +
                                   std::to_string(config.source.plant.refine) + " times finer than grid.cells)");
  m_u = m_solver->make_field("twin::plant_truth");
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &m_rank));
  m_truth_field = solvers::gather_interior(m_decomposition, m_u, 0);
}

PlantEmulator::~PlantEmulator() = default;

solvers::ParameterSet PlantEmulator::parameters_at(double t) const {
  solvers::ParameterSet p = solvers::configured_parameters(m_truth.physics);
  for (const auto& e : m_config.source.plant.events)
    if (e.type == EventKind::cooling_degradation && active(e, t))
      p[static_cast<int>(solvers::Parameter::cooling_factor)] *= e.magnitude;
    else if (e.type == EventKind::parameter_drift)
      p[solvers::parameter_index(e.target)] *= drift_factor(e, t);
  return p;
}

bool PlantEmulator::sensor_faulty(int sensor, double t, double period) const {
  for (const auto& e : m_config.source.plant.events) {
    if (!is_sensor_event(e.type) || e.target != m_config.sensors[sensor].name) continue;
    if (e.type == EventKind::sensor_spike) {
      if (t >= e.start_s && t < e.start_s + period) return true;  // one reading
    } else if (active(e, t)) {
      return true;
    }
  }
  return false;
}

std::vector<Observation> PlantEmulator::advance(double t0, double period, const std::vector<double>& controls, long cycle) {
  std::vector<double> delivered = controls;
  for (const auto& e : m_config.source.plant.events) {
    const bool failing = e.type == EventKind::heater_failure && active(e, t0);
    if (!failing && e.type != EventKind::heater_decay) continue;
    for (std::size_t j = 0; j < m_config.controls.size(); ++j)
      if (m_config.controls[j].name == e.target) delivered[j] *= failing ? e.magnitude : drift_factor(e, t0);
  }
  m_solver->set_controls(delivered);
  m_solver->set_parameters({parameters_at(t0)});
  // The plant is the truth every figure is measured against: one that its own physics cannot
  // advance ends the run rather than feed the twin NaN or garbage as readings.
  const solvers::StepReport report = m_solver->advance(m_u, t0, period);
  if (report.status != solvers::SolveStatus::ok)
    throw Error("plant emulator: its solver reported " + std::string(solvers::to_string(report.status)) +
                " over cycle " + std::to_string(cycle) + " (facility time " + fmt::format("{:g}", t0) + " to " +
                fmt::format("{:g}", t0 + period) +
                " s): the configured physics cannot be simulated; check physics.* (rates, sources, boundary "
                "values, initial_value), controls' gain, time.* (integrator, max_dt_s, implicit) and source.plant "
                "(refine, parameters, events)");

  const double t = t0 + period;
  m_truth_field = solvers::gather_interior(m_decomposition, m_u, 0);  // kept for truth_on_twin_grid
  if (m_rank != 0) return {};
  const std::vector<double>& truth = m_truth_field;
  const solvers::LocalGrid& g = m_decomposition.local();
  std::vector<Observation> out;
  for (std::size_t s = 0; s < m_config.sensors.size(); ++s) {
    const SensorConfig& sensor = m_config.sensors[s];
    // Multilinear interpolation between the truth's cell centres.
    double value = 0.0;
    for (const auto& [cell, weight] : solvers::global_interpolation(g.dims, g.global, g.dx, sensor.position_m))
      value += weight * truth[static_cast<std::size_t>(cell)];
    std::seed_seq seq{m_config.source.plant.seed, 0x5e7u, static_cast<unsigned>(cycle), static_cast<unsigned>(s)};
    std::mt19937_64 rng(seq);
    value += sensor.noise_std * std::normal_distribution<double>(0.0, 1.0)(rng);

    bool dropped = false;
    for (const auto& e : m_config.source.plant.events) {
      if (!is_sensor_event(e.type) || e.target != sensor.name) continue;
      if (e.type == EventKind::sensor_spike) {
        if (t >= e.start_s && t < e.start_s + period) value += e.magnitude;
        continue;
      }
      if (!active(e, t)) continue;
      switch (e.type) {
        case EventKind::sensor_stuck:
          if (std::isnan(m_held[s])) m_held[s] = value;
          value = m_held[s];
          break;
        case EventKind::sensor_dropout: dropped = true; break;
        case EventKind::sensor_drift: value += e.magnitude * (t - e.start_s); break;
        case EventKind::sensor_bias: value += e.magnitude; break;
        default: break;
      }
    }
    if (!dropped) out.push_back({t, sensor.name, value});
  }
  return out;
}

std::vector<double> PlantEmulator::truth_on_twin_grid() const {
  if (m_rank != 0) return {};
  const std::vector<double>& fine = m_truth_field;
  const int r = m_config.source.plant.refine;
  const auto& n = m_config.grid.cells;
  const int nz = n.size() > 2 ? n[2] : 1, rz = n.size() > 2 ? r : 1;
  const long fx = 1L * n[0] * r, fy = 1L * n[1] * r;
  std::vector<double> coarse(static_cast<std::size_t>(1L * n[0] * n[1] * nz), 0.0);
  const double share = 1.0 / (1.0 * r * r * rz);
  for (int k = 0; k < nz * rz; ++k)
    for (long j = 0; j < fy; ++j)
      for (long i = 0; i < fx; ++i)
        coarse[(i / r) + n[0] * ((j / r) + 1L * n[1] * (k / rz))] += share * fine[i + fx * (j + fy * k)];
  return coarse;
}

void PlantEmulator::save(io::StateArchive& a, const std::string& prefix) const {
  io::save_field(a, prefix + "truth", m_u, m_decomposition.local(), 0);
  a.put(prefix + "held", m_held);
}

void PlantEmulator::restore(const io::StateParts& parts, const std::string& prefix) {
  io::restore_field(parts, prefix + "truth", m_u, m_decomposition.local(), 0);
  m_held = parts.part(0).doubles(prefix + "held", m_held.size());
  m_truth_field = solvers::gather_interior(m_decomposition, m_u, 0);
}

FaultEvidence::FaultEvidence(const Config& config, const std::vector<PlantEventConfig>& events) {
  for (const auto& e : events) m_events.push_back(event_cycles(e, config.twin.control_period_s));
  for (const auto& s : config.sensors) {
    m_sensors.push_back(s.name);
    m_noise.push_back(s.noise_std > 0.0 ? s.noise_std : 1.0);
  }
  m_last.assign(m_sensors.size(), std::nan(""));
  m_base.resize(m_events.size());
  m_sum.assign(m_events.size(), 0.0);
  m_evidence.assign(m_events.size(), std::nan(""));
}

double FaultEvidence::next(long cycle, const std::vector<Observation>& faulty, const std::vector<Observation>& clean) {
  const std::size_t S = m_sensors.size();
  // The latest reading of each sensor from each plant (a repeated sensor: its last).
  const auto latest = [&](const std::vector<Observation>& readings) {
    std::vector<double> v(S, std::nan(""));
    for (const Observation& o : readings) {
      const auto it = std::find(m_sensors.begin(), m_sensors.end(), o.sensor);
      if (it != m_sensors.end()) v[static_cast<std::size_t>(it - m_sensors.begin())] = o.value;
    }
    return v;
  };
  const std::vector<double> a = latest(faulty), b = latest(clean);
  std::vector<double> diff(S, std::nan(""));
  std::vector<bool> lost(S, false);
  for (std::size_t s = 0; s < S; ++s) {
    if (std::isfinite(a[s]) && std::isfinite(b[s])) diff[s] = a[s] - b[s];
    lost[s] = std::isfinite(a[s]) != std::isfinite(b[s]);
  }
  m_event = -1;  // the latest begun
  for (std::size_t i = 0; i < m_events.size(); ++i) {
    m_evidence[i] = std::nan("");
    if (!m_events[i].contains(cycle)) continue;
    if (m_base[i].empty()) m_base[i] = m_last;  // its onset: what earlier events left is not its signal
    for (std::size_t s = 0; s < S; ++s) {
      if (lost[s]) {
        m_sum[i] += detectable_evidence * detectable_evidence;
      } else if (std::isfinite(diff[s])) {
        const double signal = (diff[s] - (std::isfinite(m_base[i][s]) ? m_base[i][s] : 0.0)) / m_noise[s];
        m_sum[i] += signal * signal;
      }
    }
    m_evidence[i] = std::sqrt(m_sum[i]);
    if (m_event < 0 || m_events[i].first > m_events[m_event].first) m_event = static_cast<int>(i);
  }
  m_last = diff;
  return m_event < 0 ? std::nan("") : m_evidence[m_event];
}

}  // namespace twin::detail
