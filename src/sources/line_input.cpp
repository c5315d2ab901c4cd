#include "sources/line_input.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ground/signals.hpp"
#include "twin/error.hpp"

namespace twin::detail {

LineInput::LineInput(int fd, bool owned, std::size_t max_line) : m_fd(fd), m_owned(owned), m_max(max_line) {}

LineInput::~LineInput() {
  if (m_owned && m_fd >= 0) ::close(m_fd);
}

// Reads what is available, waiting until the deadline for something; false when nothing came.
bool LineInput::fill(Clock::time_point deadline, Status& why) {
  for (;;) {
    if (stop_signal() != 0) {
      why = Status::stopped;
      return false;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{m_fd, POLLIN, 0};
    // Wake at least every 200 ms to notice a stop signal (SA_RESTART handlers do not interrupt poll
    // on every system; the flag is checked on each wake-up).
    const int rc = ::poll(&p, 1, static_cast<int>(std::max<long>(0, std::min<long>(left, 200))));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) throw Error(std::string("cannot wait for the stream input: ") + std::strerror(errno));
    if (rc == 0) {
      if (Clock::now() >= deadline) {
        why = Status::timeout;
        return false;
      }
      continue;
    }
    char chunk[65536];
    const ssize_t n = ::read(m_fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) throw Error(std::string("cannot read the stream input: ") + std::strerror(errno));
    if (n == 0) {
      m_eof = true;
      return true;
    }
    m_last_data = Clock::now();
    if (m_start > 0 && m_start >= m_buffer.size() / 2) {
      m_buffer.erase(0, m_start);
      m_start = 0;
    }
    m_buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
}

LineInput::Status LineInput::next(std::string& line, Clock::time_point deadline) {
  for (;;) {
    const std::size_t nl = m_buffer.find('\n', m_start);
    if (nl != std::string::npos) {
      const bool skipped = m_skipping;
      m_skipping = false;
      // A whole line longer than the cap can arrive in one read (found by tests/fuzz): too long too.
      const bool too_long = !skipped && nl - m_start > m_max;
      if (!skipped && !too_long) line.assign(m_buffer, m_start, nl - m_start);
      m_start = nl + 1;
      if (too_long) return Status::too_long;
      if (!skipped) return Status::line;
      continue;  // the rest of an over-long line
    }
    if (m_buffer.size() - m_start > m_max) {  // no newline within max_line bytes
      const bool first = !m_skipping;
      m_skipping = true;
      m_buffer.clear();
      m_start = 0;
      if (first) return Status::too_long;
    }
    if (m_eof) {
      if (m_start < m_buffer.size() && !m_skipping) {
        line.assign(m_buffer, m_start, std::string::npos);
        m_start = m_buffer.size();
        return Status::line;
      }
      return Status::eof;
    }
    Status why = Status::timeout;
    if (!fill(deadline, why)) return why;
  }
}

}  // namespace twin::detail
