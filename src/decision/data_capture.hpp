#pragma once
// The twin's captured data (docs/lifecycle.md): each healthy cycle's surrogate inputs (with the
// controls actually emitted) become a row once its longest lead has matured, its outputs the
// analysis at the sensors lead cycles later minus the analysis then, as `twin train` makes
// them from solver runs. Rows gather in windows of lifecycle.window_cycles; a full window is
// written to the run's data/ folder as <sha256>.h5 (io/data_window.hpp) and the latest
// lifecycle.keep_windows are kept for retraining. Rank 0 only; no MPI.

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "advisor/training.hpp"
#include "decision/features.hpp"
#include "io/data_window.hpp"
#include "twin/config.hpp"

namespace twin::io {
class StateArchive;
}

namespace twin::detail {

class DataCapture {
 public:
  /// `dir`: where windows are written (a run's data/); empty: kept in memory only.
  DataCapture(const Config& config, std::string dir);

  /// One cycle: `features` are its surrogate inputs with the emitted controls (empty: the twin
  /// was unhealthy or had no surrogate, and no row starts here), `analysis` its analysis at the
  /// sensors. Returns the hash of a window completed this cycle, or empty.
  /// @throws Error when a full window cannot be written (the rows are kept in memory).
  std::string add(int cycle, const std::vector<double>& features, const std::vector<double>& analysis);

  /// The rows of the kept windows and of the window being filled, grouped by window.
  advisor::Dataset rows() const;
  /// The hashes of the kept windows, oldest first.
  std::vector<std::string> windows() const;
  long rows_captured() const { return m_captured; }
  /// Rows left out because the emitted controls moved within their horizon.
  long rows_moved() const { return m_moved; }

  /// Kept window hashes and the open window; restore reads the kept windows back from the
  /// folder (a missing or altered one is skipped with a warning).
  void save(io::StateArchive& a) const;
  void restore(const io::StateArchive& a);

 private:
  io::DataWindow empty_window() const;
  const Config& m_config;
  SurrogateLayout m_layout;
  std::string m_dir, m_config_sha256;
  std::map<int, std::vector<double>> m_pending;    // cycle -> features, until the longest lead matures
  std::map<int, std::vector<double>> m_analysis;   // cycle -> analysis at the sensors, as long as needed
  io::DataWindow m_open;
  std::deque<std::pair<std::string, io::DataWindow>> m_kept;
  long m_captured = 0, m_moved = 0;
};

}  // namespace twin::detail
