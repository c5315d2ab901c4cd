#pragma once
// Lines from a file descriptor (stdin, a file, a FIFO, a pipe) with a deadline: the stream
// source waits for readings without ever blocking past it (poll(2)), stops waiting when a stop
// signal arrives, and never holds more than `max_line` bytes of one line (a longer line is
// skipped up to its newline and reported once).

#include <chrono>
#include <string>

namespace twin::detail {

class LineInput {
 public:
  using Clock = std::chrono::steady_clock;
  /// Reads `fd` (not owned when `owned` is false, e.g. stdin).
  LineInput(int fd, bool owned, std::size_t max_line);
  ~LineInput();
  LineInput(const LineInput&) = delete;
  LineInput& operator=(const LineInput&) = delete;

  enum class Status {
    line,      ///< `line` holds the next line, without its newline
    timeout,   ///< nothing complete arrived before the deadline
    stopped,   ///< a stop signal arrived while waiting
    too_long,  ///< a line longer than max_line was skipped (once per such line)
    eof        ///< the input ended (a last line without a newline is returned first)
  };
  Status next(std::string& line, Clock::time_point deadline);
  /// Wall-clock time of the last byte received.
  Clock::time_point last_data() const { return m_last_data; }

 private:
  bool fill(Clock::time_point deadline, Status& why);
  int m_fd;
  bool m_owned;
  std::size_t m_max;
  std::string m_buffer;
  std::size_t m_start = 0;
  bool m_eof = false, m_skipping = false;
  Clock::time_point m_last_data = Clock::now();
};

}  // namespace twin::detail
