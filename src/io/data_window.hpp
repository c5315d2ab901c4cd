#pragma once
// Captured data windows (docs/lifecycle.md): the rows a running twin collects for retraining,
// (surrogate inputs with the controls emitted, realised changes at the sensors), written to the
// run's data/ folder as `<sha256>.h5`, named by the hash of their content, and referenced by
// the model versions they fed.
//
// File layout:
//   /metadata   JSON: inputs, outputs, twin, config_sha256, first_cycle, last_cycle, rows, created_utc
//   /x          float64 [rows, inputs]
//   /y          float64 [rows, outputs]
//   /cycles     int64 [rows], the cycle each row's inputs are from

#include <string>
#include <vector>

namespace twin::io {

struct DataWindow {
  std::vector<std::string> inputs, outputs;
  std::vector<double> x, y;    ///< row-major
  std::vector<long> cycles;    ///< per row
  std::string twin, config_sha256, created_utc;
  long rows() const { return static_cast<long>(cycles.size()); }
};

/// sha256 (hex) of what identifies a window: names, rows and values.
std::string window_digest(const DataWindow& window);

/// Writes `window` as `<dir>/<window_digest>.h5` (complete or not at all) and returns the digest.
/// A window already there (same content) is left as it is.
std::string write_data_window(const std::string& dir, const DataWindow& window);

/// Reads a window and checks it: the sizes agree and its content hashes to its file name.
/// @throws DataError naming the file and what is wrong.
DataWindow read_data_window(const std::string& path);

}  // namespace twin::io
