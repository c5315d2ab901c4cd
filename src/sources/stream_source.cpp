// source.type stream: JSON lines {"t": 12.0, "sensor": "T07", "value": 312.4} from stdin or a
// file/FIFO, read by rank 0. A cycle reads until most of the sensors that report have sent a
// reading beyond its end (held for their own cycles; one sensor with a fast clock does not end
// the period for the others; readings more than qc.max_future_s ahead go to QC, which rejects
// them), or the input ends, but never longer than source.silence_s without any data: then
// the cycle runs on what has arrived and its advice is the safe default (down()). The advice
// goes back as JSON lines (advice_output).
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "ground/mpi.hpp"
#include "sources/line_input.hpp"
#include "sources/observation_source.hpp"
#include "sources/reading_formats.hpp"
#include "twin/error.hpp"

namespace twin::detail {
namespace {

class StreamSource final : public ObservationSource {
 public:
  explicit StreamSource(const SourceContext& context)
      : m_comm(context.comm),
        m_silence_s(context.config.source.silence_s.value_or(context.config.twin.control_period_s)),
        m_max_future_s(context.config.qc.max_future_s) {
    for (const auto& s : context.config.sensors) m_configured.insert(s.name);
    TWIN_MPI_CHECK(MPI_Comm_rank(m_comm, &m_rank));
    if (m_rank != 0) return;
    const ObservationSourceConfig& c = context.config.source;
    int fd = STDIN_FILENO;
    if (c.stream_input != "-") {
      // Non-blocking: a FIFO without a writer yet must not hold up start-up (the cycles run
      // silent until one connects).
      fd = ::open(c.stream_input.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      if (fd < 0) throw DataError(c.stream_input + ": cannot open the stream input (source.stream_input): " + std::strerror(errno));
    }
    m_input = std::make_unique<LineInput>(fd, fd != STDIN_FILENO, max_reading_line_bytes);
    m_name = c.stream_input == "-" ? "<stdin>" : c.stream_input;
    m_advice_name = c.advice_output;
    if (c.advice_output != "-") {
      m_advice.open(c.advice_output, std::ios::app);
      if (!m_advice.is_open())
        throw DataError(c.advice_output + ": cannot open the advice output (source.advice_output): " + std::strerror(errno));
    }
  }

  std::vector<Observation> readings(long cycle, double t0_s, double period_s, const std::vector<double>&) override {
    std::vector<Observation> out;
    m_down.clear();
    if (m_rank != 0) return out;
    const double t_end = t0_s + period_s;
    // Readings that arrived early for this period; sensors already past it.
    std::set<std::string> moved_on, reported;
    std::vector<Observation> later;
    for (Observation& o : m_pending) {
      if (o.t_s <= t_end + 1e-9) {
        if (o.t_s > t0_s + 1e-9 && m_configured.count(o.sensor)) reported.insert(o.sensor);
        out.push_back(std::move(o));
      } else {
        if (counts(o.sensor)) moved_on.insert(o.sensor);
        later.push_back(std::move(o));
      }
    }
    m_pending = std::move(later);
    if (m_eof || moved_on.size() >= quorum() || complete(reported)) return out;
    // Wait until every configured sensor has reported in the period (a facility that sends all
    // its sensors gets its advice at once), or half the sensors have sent a reading beyond the
    // period (the facility has moved on: one sensor with a fast clock cannot end the period for
    // the others), or the input ends, but never longer than silence_s without any data.
    const auto wait_start = LineInput::Clock::now();
    const auto silence = std::chrono::duration_cast<LineInput::Clock::duration>(std::chrono::duration<double>(m_silence_s));
    std::string line;
    for (;;) {
      const auto deadline = std::max(wait_start, m_input->last_data()) + silence;
      const LineInput::Status status = m_input->next(line, deadline);
      if (status == LineInput::Status::eof) {
        m_eof = true;
        return out;
      }
      if (status == LineInput::Status::stopped) return out;
      if (status == LineInput::Status::timeout) {
        ++m_silent_cycles;
        m_down = "the stream " + m_name + " sent nothing for " + fmt::format("{:g}", m_silence_s) +
                 " s (source.silence_s); " + std::to_string(out.size()) + " readings arrived for this period";
        if (!m_was_silent) spdlog::warn("cycle {}: {}; the twin runs on what it has and advises the safe default", cycle + 1, m_down);
        m_was_silent = true;
        return out;
      }
      ++m_line;
      if (status == LineInput::Status::too_long) {
        if (log_worthy(++m_malformed))
          spdlog::warn("{}:{}: ignored a line longer than {} bytes ({} malformed lines so far)", m_name, m_line,
                       max_reading_line_bytes, m_malformed);
        continue;
      }
      if (m_was_silent) spdlog::info("cycle {}: the stream {} sends again", cycle + 1, m_name);
      m_was_silent = false;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Observation o;
      try {
        o = parse_stream_line(line);
      } catch (const DataError& e) {
        if (log_worthy(++m_malformed))
          spdlog::warn("{}:{}: ignored a malformed reading ({}): {} ({} malformed lines so far)", m_name, m_line, e.what(),
                       line.substr(0, 120), m_malformed);
        continue;
      }
      if (counts(o.sensor) && m_seen.size() < max_sensors_tracked) m_seen.insert(o.sensor);
      // Stamped too far ahead, or with no usable time: the Runtime's QC counts and drops it.
      if (!std::isfinite(o.t_s) || o.t_s <= t_end + 1e-9 || o.t_s > t_end + m_max_future_s) {
        if (std::isfinite(o.t_s) && o.t_s > t0_s + 1e-9 && o.t_s <= t_end + 1e-9 && m_configured.count(o.sensor))
          reported.insert(o.sensor);
        out.push_back(o);
        if (complete(reported)) return out;
        continue;
      }
      if (m_pending.size() >= max_pending) {  // a flood of early readings: bounded, and counted
        ++m_dropped;
        if (m_dropped == 1) spdlog::warn("{}:{}: more than {} readings ahead of the twin; dropping (counted)", m_name, m_line, max_pending);
        continue;
      }
      if (counts(o.sensor)) moved_on.insert(o.sensor);
      m_pending.push_back(o);
      if (moved_on.size() >= quorum()) return out;
    }
  }

  bool ended(bool had_readings) override {
    int done = m_rank == 0 && m_eof && m_pending.empty() && !had_readings ? 1 : 0;
    TWIN_MPI_CHECK(MPI_Bcast(&done, 1, MPI_INT, 0, m_comm));
    return done != 0;
  }

  std::string down() const override { return m_down; }
  bool paced() const override { return true; }
  long silent_cycles() const override { return m_silent_cycles; }

  void emit(const Advice& advice) override {
    if (m_rank != 0) return;
    nlohmann::json a = {{"cycle", advice.cycle}, {"t", advice.t_s}, {"mode", to_string(advice.mode)}, {"reason", advice.reason}};
    for (const auto& cv : advice.controls) a["controls"][cv.name] = cv.value;
    std::ostream& out = m_advice.is_open() ? static_cast<std::ostream&>(m_advice) : std::cout;
    out << a.dump() << std::endl;
    if (!out) {  // e.g. the facility closed its end of the pipe (SIGPIPE is ignored: EPIPE here)
      if (m_failed_writes++ == 0)
        spdlog::error("cycle {}: the advice could not be written to {} (closed or full?); the twin goes on, and "
                      "counts the lost advice lines in summary.json (advice_write_errors)",
                      advice.cycle, m_advice.is_open() ? m_advice_name : std::string("stdout"));
      out.clear();
    }
  }

  long failed_writes() const override { return m_failed_writes; }

  long malformed() const override { return m_malformed + m_dropped; }

  // Where the input stands: a resume of a regular file skips the lines already read; a pipe or
  // FIFO goes on with what arrives next.
  void save(io::StateArchive& a) const override {
    a.put("source.stream.counts", std::vector<long long>{m_line, m_malformed, m_failed_writes, m_silent_cycles, m_dropped});
    io::save_observations(a, "source.stream.pending", m_pending);
  }
  void restore(const io::StateParts& parts) override {
    if (m_rank != 0) return;
    const io::StateArchive& a = parts.part(0);
    const auto& n = a.ints("source.stream.counts");
    if (n.size() != 5) throw DataError(a.origin() + ": 'source.stream.counts' is malformed");
    m_malformed = n[1];
    m_failed_writes = n[2];
    m_silent_cycles = n[3];
    m_dropped = n[4];
    m_pending = io::restore_observations(a, "source.stream.pending");
    struct stat st {};
    if (m_name == "<stdin>" || ::stat(m_name.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      spdlog::info("resume: the stream {} continues with what arrives next", m_name);
      return;
    }
    std::string line;
    for (long k = 0; k < n[0]; ++k) {
      const LineInput::Status s = m_input->next(line, LineInput::Clock::now() + std::chrono::seconds(5));
      if (s != LineInput::Status::line && s != LineInput::Status::too_long)
        throw DataError(m_name + ": holds fewer lines than the snapshot's run had read (" + std::to_string(n[0]) + ")");
    }
    m_line = n[0];
  }

 private:
  static constexpr std::size_t max_pending = 1u << 16;
  MPI_Comm m_comm;
  int m_rank = 0;
  // A period ends when most of the sensors that report have sent a reading beyond it.
  // At least two when the twin has two sensors or more, so one early clock cannot end a period
  // before the others have been seen.
  std::size_t quorum() const {
    return std::max(m_seen.size() / 2 + 1, std::min<std::size_t>(2, std::max<std::size_t>(1, m_configured.size())));
  }
  // A flood of bad lines is logged at the 1st to 10th, then the 100th, 1000th, ... (all are counted).
  static bool log_worthy(long n) {
    if (n <= 10) return true;
    while (n % 10 == 0) n /= 10;
    return n == 1;
  }
  // Every configured sensor has a reading in the period.
  bool complete(const std::set<std::string>& reported) const {
    return !m_configured.empty() && reported.size() == m_configured.size();
  }
  // Only the twin's own sensors count (all names when it has none): made-up names cannot stall it.
  bool counts(const std::string& name) const { return m_configured.empty() || m_configured.count(name) != 0; }
  std::set<std::string> m_configured;
  static constexpr std::size_t max_sensors_tracked = 4096;
  double m_silence_s, m_max_future_s;
  std::set<std::string> m_seen;  // sensor names this stream has sent
  std::unique_ptr<LineInput> m_input;
  std::ofstream m_advice;
  std::string m_name, m_advice_name, m_down;
  std::vector<Observation> m_pending;  // readings for later periods, in arrival order
  long m_line = 0, m_malformed = 0, m_failed_writes = 0, m_silent_cycles = 0, m_dropped = 0;
  bool m_eof = false, m_was_silent = false;
};

TWIN_REGISTER_TYPE(ObservationSource, "stream",
                   [](const SourceContext& c) { return std::make_unique<StreamSource>(c); });

}  // namespace
}  // namespace twin::detail
