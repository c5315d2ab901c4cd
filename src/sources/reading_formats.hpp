#pragma once
// The formats readings arrive in, apart from the sources that wait for them: one stream line,
// a replay CSV, a replayed series.h5. Each is a pure function of its bytes, so each can be
// tested and fuzzed alone (tests/fuzz/). What each accepts is in docs/operations.md.

#include <cstddef>
#include <string>
#include <vector>

#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin::detail {

/// The longest line a stream or a replay CSV may hold.
inline constexpr std::size_t max_reading_line_bytes = 1u << 20;

/// One stream line: {"t": 12.0, "sensor": "T07", "value": 312.4}; "value": null is a missing
/// value (NaN, which QC rejects). Other keys are ignored.
/// @throws DataError saying what is wrong (not JSON, not an object, a key missing or of the wrong type).
Observation parse_stream_line(const std::string& line);

/// The readings of a replay CSV (t,sensor,value lines; an optional header; `#` comments; spaces
/// around fields and quotes around the name accepted), sorted by time. A reading without a
/// usable time is skipped and counted in `skipped`.
/// @throws DataError naming the file and line of a line that is not t,sensor,value with numbers,
///         or longer than max_reading_line_bytes, or when the file is not a readable regular file.
std::vector<Observation> read_replay_csv(const std::string& path, long& skipped);

/// The readings of a previous run's series.h5 (/sensors/observed, /cycle/time_s), sorted by
/// time; rows without a usable time are skipped and counted in `skipped`.
/// @throws DataError naming the file and dataset when its layout or shapes do not agree.
std::vector<Observation> read_replay_series(const std::string& path, long& skipped);

/// Refuses a replay that would feed the twin nothing: no usable reading, or none naming one of
/// the config's sensors. @throws DataError saying what it holds.
void check_replay_usable(const std::string& path, const std::vector<Observation>& readings, const Config& config,
                         long skipped);

}  // namespace twin::detail
