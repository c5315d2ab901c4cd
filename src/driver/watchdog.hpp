#pragma once
// Liveness of a run's ranks (docs/operations.md, "Watchdog"). The main thread marks each stage
// of each cycle (`beat`); a thread of the watchdog's own publishes it every half second to
// state/heartbeat/rank-NNNNN (pid, cycle, stage, how long in it) and checks the main thread:
// stuck in one stage longer than twin.watchdog_s (the wait for a paced source, and a paced run's
// wait between cycles, get the longest expected wait on top) it reads every rank's heartbeat, names the rank that stopped responding (a stale
// heartbeat: stopped or dead) or the one stuck longest, logs it and ends the process with exit
// status 4, which ends the MPI job. Files, not MPI, so a stopped or hung rank cannot block it.

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

namespace twin::detail {

inline constexpr int exit_watchdog = 4;

class Watchdog {
 public:
  /// `limit_s`: the longest a stage may last; `source_extra_s`: added for the stages that wait
  /// by design, "source" and "paced wait".
  Watchdog(std::filesystem::path dir, int rank, int size, double limit_s, double source_extra_s);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// The main thread enters `stage` (a string literal) of cycle `cycle`.
  void beat(long cycle, const char* stage);

 private:
  void loop();
  void publish(double now_s) const;
  std::string diagnose(double now_s, const char* stage, long cycle, double stuck_s) const;

  std::filesystem::path m_dir;
  int m_rank, m_size;
  double m_limit_s, m_source_extra_s;
  std::atomic<long> m_cycle{0};
  std::atomic<const char*> m_stage{"setup"};
  std::atomic<double> m_since{0.0};  // wall-clock seconds when the stage began
  int m_fd = -1;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  std::thread m_thread;
};

}  // namespace twin::detail
