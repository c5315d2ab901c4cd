// twin::Progress (ground/progress.hpp).
#include "ground/progress.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace twin {

Progress::Progress(std::string label, long total, bool enabled)
    : m_label(std::move(label)),
      m_total(total > 0 ? total : 1),
      m_enabled(enabled),
      m_terminal(enabled && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO)),
      m_start(std::chrono::steady_clock::now()),
      m_last_log(m_start) {}

Progress::~Progress() {
  if (m_open) std::fputs("\n", stdout), std::fflush(stdout);
}

std::string Progress::duration(double s) {
  if (!std::isfinite(s) || s < 0) return "--";
  const long t = std::lround(s);
  char out[32];
  if (t >= 3600) std::snprintf(out, sizeof out, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60) std::snprintf(out, sizeof out, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(out, sizeof out, "%lds", t);
  return out;
}

void Progress::update(long done, const std::string& note) {
  if (!m_enabled) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - m_start).count();
  // The rate so far: each unit of these jobs costs about the same.
  const double left = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(m_total - done) : NAN;
  if (m_terminal) {
    constexpr int width = 24;
    const int filled = static_cast<int>(width * std::min(1.0, static_cast<double>(done) / static_cast<double>(m_total)));
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    std::printf("\r%s [%s] %ld/%ld  %s elapsed, %s left  %s\033[K", m_label.c_str(), bar.c_str(), done, m_total,
                duration(elapsed).c_str(), duration(left).c_str(), note.c_str());
    std::fflush(stdout);
    m_open = true;
    return;
  }
  const bool tenth = (done - m_last_logged) * 10 >= m_total;
  const bool while_ago = std::chrono::duration<double>(now - m_last_log).count() >= 30.0;
  if (done < m_total && !tenth && !while_ago) return;
  spdlog::info("{}: {}/{} ({} elapsed, about {} left){}{}", m_label, done, m_total, duration(elapsed), duration(left),
               note.empty() ? "" : "; ", note);
  m_last_logged = done;
  m_last_log = now;
}

void Progress::finish(const std::string& summary) {
  if (!m_enabled) return;
  if (m_open) std::fputs("\n", stdout), std::fflush(stdout), m_open = false;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  spdlog::info("{}: done in {}{}{}", m_label, duration(elapsed), summary.empty() ? "" : "; ", summary);
}

}  // namespace twin
