#pragma once
// Progress of a long job (twin train's data and epochs) for whoever waits on it: on a terminal
// one line redrawn in place with a bar and the time left; otherwise (a log file, CI) a plain
// log line at most every tenth of the work or every 30 s.

#include <chrono>
#include <string>

namespace twin {

class Progress {
 public:
  /// `total` units of work; `enabled` false makes every call a no-op (ranks other than 0).
  Progress(std::string label, long total, bool enabled);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// `done` units finished so far; `note` says more (a loss, a count of rows).
  void update(long done, const std::string& note = "");
  /// Ends the line with what was done.
  void finish(const std::string& summary);

  /// "1m05s" for 65 s; "--" before anything is known.
  static std::string duration(double seconds);

 private:
  std::string m_label;
  long m_total;
  bool m_enabled, m_terminal, m_open = false;
  std::chrono::steady_clock::time_point m_start, m_last_log;
  long m_last_logged = 0;
};

}  // namespace twin
