#pragma once
// `twin faults CONFIG`: how soon each of the config's scheduled plant events (source.plant.events)
// shows in its sensors' readings. The plant emulator runs twice, with its events and without,
// at each control's `initial` value (the fixed safe default), and FaultEvidence
// (src/sources/plant.hpp) says from which cycle after its onset a detector that knew the fault's
// exact signature could tell it at 3 noise-sd: no anomaly model can name it with that confidence
// sooner. For sensor layouts and fault targets; the twin itself is not run. Rank 0 only.

#include <iosfwd>
#include <string>

namespace twin {
struct Config;
}

namespace twin::cli {

/// Writes one line per scheduled event to `out`; exit 0, or 2 when the config has no plant with
/// events.
int show_fault_evidence(const Config& config, std::ostream& out);

}  // namespace twin::cli
