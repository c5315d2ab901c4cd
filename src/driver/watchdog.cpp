#include "driver/watchdog.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "ground/log.hpp"

namespace twin::detail {

namespace {

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string heartbeat_name(int rank) {
  char name[32];
  std::snprintf(name, sizeof name, "rank-%05d", rank);
  return name;
}

struct Heartbeat {
  bool readable = false;
  long pid = 0, cycle = 0;
  std::string stage;
  double since = 0.0, written = 0.0;
};

Heartbeat read_heartbeat(const std::filesystem::path& path) {
  Heartbeat h;
  std::ifstream in(path);
  std::string key;
  h.readable = static_cast<bool>(in >> key >> h.pid >> key >> h.cycle >> key >> h.stage >> key >> h.since >> key >> h.written);
  return h;
}

constexpr double publish_every_s = 0.5;
constexpr double stale_after_s = 2.0;  // no heartbeat written for this long (4 periods): stopped or dead

}  // namespace

Watchdog::Watchdog(std::filesystem::path dir, int rank, int size, double limit_s, double source_extra_s)
    : m_dir(std::move(dir)), m_rank(rank), m_size(size), m_limit_s(limit_s), m_source_extra_s(source_extra_s) {
  std::error_code ec;
  std::filesystem::create_directories(m_dir, ec);
  m_fd = ::open((m_dir / heartbeat_name(rank)).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (m_fd < 0) spdlog::warn("watchdog: cannot write {}: {}; other ranks cannot see this one's heartbeat",
                             (m_dir / heartbeat_name(rank)).string(), std::strerror(errno));
  m_since = wall_now();
  publish(m_since);
  m_thread = std::thread([this] { loop(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  m_thread.join();
  if (m_fd >= 0) ::close(m_fd);
}

void Watchdog::beat(long cycle, const char* stage) {
  m_cycle = cycle;
  m_stage = stage;
  m_since = wall_now();
}

void Watchdog::publish(double now_s) const {
  if (m_fd < 0) return;
  char text[256];
  const int n = std::snprintf(text, sizeof text, "pid %ld cycle %ld stage %s since %.3f written %.3f\n",
                              static_cast<long>(::getpid()), m_cycle.load(), m_stage.load(), m_since.load(), now_s);
  // One pwrite of a short record: a reader sees the old or the new line, padded to a fixed size.
  std::string record(text, static_cast<std::size_t>(n));
  record.resize(127, ' ');
  record += '\n';
  (void)::pwrite(m_fd, record.data(), record.size(), 0);
}

std::string Watchdog::diagnose(double now_s, const char* stage, long cycle, double stuck_s) const {
  std::ostringstream why;
  why << "watchdog: rank " << m_rank << " has been in cycle " << cycle + 1 << " stage '" << stage << "' for "
      << static_cast<long>(stuck_s) << " s (limit " << m_limit_s << " s, twin.watchdog_s)";
  std::vector<std::string> culprits;
  int worst_rank = -1;
  double worst_since = now_s;
  for (int r = 0; r < m_size; ++r) {
    if (r == m_rank) continue;
    const Heartbeat h = read_heartbeat(m_dir / heartbeat_name(r));
    std::ostringstream one;
    if (!h.readable) {
      one << "rank " << r << " has no readable heartbeat";
      culprits.push_back(one.str());
    } else if (now_s - h.written > stale_after_s) {
      one << "rank " << r << " (pid " << h.pid << ") stopped responding " << static_cast<long>(now_s - h.written)
          << " s ago in cycle " << h.cycle + 1 << " stage '" << h.stage << "' (stopped, or dead)";
      culprits.push_back(one.str());
    } else if (h.since < worst_since) {
      worst_since = h.since;
      worst_rank = r;
    }
  }
  if (!culprits.empty()) {
    for (const auto& c : culprits) why << "; " << c;
  } else if (worst_rank >= 0 && now_s - worst_since > 1.0) {
    const Heartbeat h = read_heartbeat(m_dir / heartbeat_name(worst_rank));
    why << "; rank " << worst_rank << " (pid " << h.pid << ") is alive but stuck in cycle " << h.cycle + 1 << " stage '"
        << h.stage << "' for " << static_cast<long>(now_s - h.since) << " s";
  } else if (m_size > 1) {
    why << "; every other rank's heartbeat is current: this rank is the one stuck";
  }
  why << "; ending the job (exit " << exit_watchdog << ")";
  return why.str();
}

void Watchdog::loop() {
  std::unique_lock<std::mutex> lock(m_mutex);
  double last = wall_now();
  for (;;) {
    m_wake.wait_for(lock, std::chrono::duration<double>(publish_every_s), [this] { return m_stop; });
    if (m_stop) return;
    const double now = wall_now();
    publish(now);
    if (now - last > stale_after_s)  // this process itself did not run (SIGSTOP, starved)
      spdlog::warn("watchdog: rank {} did not run for {:.1f} s (stopped or starved)", m_rank, now - last);
    last = now;
    const char* stage = m_stage.load();
    const bool waits = std::strcmp(stage, "source") == 0 || std::strcmp(stage, "paced wait") == 0;
    const double limit = m_limit_s + (waits ? m_source_extra_s : 0.0);
    const double stuck = now - m_since.load();
    if (stuck <= limit) continue;
    // Give the other ranks' watchdogs a moment to publish the same picture, then decide.
    const std::string why = diagnose(now, stage, m_cycle.load(), stuck);
    spdlog::critical("{}", why);
    log::flush();
    std::fflush(nullptr);
    std::_Exit(exit_watchdog);  // not exit(): the main thread may be inside MPI or Kokkos
  }
}

}  // namespace twin::detail
