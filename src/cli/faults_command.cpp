#include "cli/faults_command.hpp"

#include <mpi.h>

#include <cmath>
#include <iomanip>
#include <ostream>
#include <vector>

#include "sources/plant.hpp"
#include "twin/config.hpp"

namespace twin::cli {

int show_fault_evidence(const Config& config, std::ostream& out) {
  const auto& events = config.source.plant.events;
  if (config.source.type != "plant" || events.empty()) {
    out << "twin faults: the config schedules no plant events (source.plant.events): nothing to show\n";
    return 2;
  }
  Config without = config;
  without.source.plant.events.clear();
  detail::PlantEmulator with_events(config, MPI_COMM_SELF), clean(without, MPI_COMM_SELF);
  detail::FaultEvidence evidence(config, events);
  std::vector<double> controls;
  for (const auto& u : config.controls) controls.push_back(u.initial);
  const double T = config.twin.control_period_s;
  std::vector<detail::EventCycles> windows;
  for (const auto& e : events) windows.push_back(detail::event_cycles(e, T));
  std::vector<long> shown(events.size(), -1);
  std::vector<double> peak(events.size(), 0.0);
  for (long c = 0; c < config.twin.cycles; ++c) {
    evidence.next(c, with_events.advance(c * T, T, controls, c), clean.advance(c * T, T, controls, c));
    for (std::size_t i = 0; i < events.size(); ++i) {  // every event in effect, overlapping or not
      const double v = evidence.evidence_of(i);
      if (!std::isfinite(v)) continue;
      peak[i] = std::max(peak[i], v);
      if (shown[i] < 0 && v >= detail::FaultEvidence::detectable_evidence) shown[i] = c;
    }
  }
  out << "How soon each scheduled event shows in the readings (plant emulator with and without it, controls at\n"
         "their initial values; evidence: a matched filter's signal-to-noise ratio, detectable from "
      << detail::FaultEvidence::detectable_evidence << "; onset: the first cycle\n"
         "it is in effect, counted from 0 as summary.json's anomaly.events[].onset_cycle):\n";
  bool overlap = false;  // within the run: events that meet only after its end do not
  for (std::size_t i = 0; i < windows.size(); ++i)
    for (std::size_t j = i + 1; j < windows.size(); ++j) overlap = overlap || windows[i].overlaps(windows[j], config.twin.cycles);
  if (overlap)
    out << "(some events overlap: each is credited with all the plant did since its own onset, the others' signal\n"
           "included, so an overlapping event may show sooner than it would alone)\n";
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    out << "  " << std::left << std::setw(20) << to_string(e.type) << std::setw(8) << (e.target.empty() ? "-" : e.target)
        << std::right << "onset " << std::setw(4) << windows[i].first << ": ";
    if (windows[i].first >= config.twin.cycles)
      out << "after the run's last cycle\n";
    else if (shown[i] >= 0)
      out << "detectable after " << shown[i] - windows[i].first << " cycles (evidence up to " << std::fixed << std::setprecision(1)
          << peak[i] << std::defaultfloat << ")\n";
    else
      out << "never detectable while in effect (evidence up to " << std::fixed << std::setprecision(1) << peak[i]
          << std::defaultfloat << ")\n";
  }
  return 0;
}

}  // namespace twin::cli
