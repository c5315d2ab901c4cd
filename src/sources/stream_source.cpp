// source.type stream: JSON lines {"t": 12.0, "sensor": "T07", "value": 312.4} from stdin or a
// file/FIFO, read by rank 0. A cycle reads until a reading beyond its end arrives (held for the
// next cycle) or the input ends, but never longer than source.silence_s without any data: then
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

#include "ground/mpi.hpp"
#include "sources/line_input.hpp"
#include "sources/observation_source.hpp"
#include "twin/error.hpp"

namespace twin::detail {
namespace {

class StreamSource final : public ObservationSource {
 public:
  explicit StreamSource(const SourceContext& context)
      : m_comm(context.comm),
        m_silence_s(context.config.source.silence_s.value_or(context.config.twin.control_period_s)) {
    TWIN_MPI_CHECK(MPI_Comm_rank(m_comm, &m_rank));
    if (m_rank != 0) return;
    const ObservationSourceConfig& c = context.config.source;
    int fd = STDIN_FILENO;
    if (c.stream_input != "-") {
      // Non-blocking: a FIFO without a writer yet must not hold up start-up (the cycles run
      // silent until one connects).
      fd = ::open(c.stream_input.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      if (fd < 0) throw DataError(c.stream_input + ": cannot open the stream input: " + std::strerror(errno));
    }
    m_input = std::make_unique<LineInput>(fd, fd != STDIN_FILENO, max_line_bytes);
    m_name = c.stream_input == "-" ? "<stdin>" : c.stream_input;
    m_advice_name = c.advice_output;
    if (c.advice_output != "-") m_advice.open(c.advice_output, std::ios::app);
  }

  std::vector<Observation> readings(long cycle, double t0_s, double period_s, const std::vector<double>&) override {
    std::vector<Observation> out;
    m_down.clear();
    if (m_rank != 0) return out;
    const double t_end = t0_s + period_s;
    if (m_held) {
      if (m_held->t_s > t_end + 1e-9) return out;
      out.push_back(*m_held);
      m_held.reset();
    }
    if (m_eof) return out;
    // Wait for a reading beyond the period (the facility has moved on) or the end of the input,
    // but never longer than silence_s without any data.
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
        ++m_malformed;
        spdlog::warn("{}:{}: ignored a line longer than {} bytes", m_name, m_line, max_line_bytes);
        continue;
      }
      if (m_was_silent) spdlog::info("cycle {}: the stream {} sends again", cycle + 1, m_name);
      m_was_silent = false;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Observation o;
      try {
        const auto j = nlohmann::json::parse(line);
        o.t_s = j.at("t").get<double>();
        o.sensor = j.at("sensor").get<std::string>();
        o.value = j.at("value").is_null() ? std::nan("") : j.at("value").get<double>();
      } catch (const std::exception& e) {
        ++m_malformed;
        spdlog::warn("{}:{}: ignored a malformed reading ({}): {}", m_name, m_line, e.what(), line.substr(0, 120));
        continue;
      }
      if (o.t_s > t_end + 1e-9) {
        m_held = o;
        return out;
      }
      out.push_back(o);
    }
  }

  bool ended(bool had_readings) override {
    int done = m_rank == 0 && m_eof && !m_held && !had_readings ? 1 : 0;
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

  long malformed() const override { return m_malformed; }

  // Where the input stands: a resume of a regular file skips the lines already read; a pipe or
  // FIFO goes on with what arrives next.
  void save(io::StateArchive& a) const override {
    a.put("source.stream.counts", std::vector<long long>{m_line, m_malformed, m_failed_writes, m_silent_cycles});
    a.put("source.stream.held", m_held ? std::vector<double>{m_held->t_s, m_held->value} : std::vector<double>{});
    a.put("source.stream.held_sensor", m_held ? m_held->sensor : std::string());
  }
  void restore(const io::StateParts& parts) override {
    if (m_rank != 0) return;
    const io::StateArchive& a = parts.part(0);
    const auto& n = a.ints("source.stream.counts");
    if (n.size() != 4) throw DataError(a.origin() + ": 'source.stream.counts' is malformed");
    m_malformed = n[1];
    m_failed_writes = n[2];
    m_silent_cycles = n[3];
    const auto& held = a.doubles("source.stream.held");
    if (held.size() == 2) m_held = Observation{held[0], a.get_string("source.stream.held_sensor"), held[1]};
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
  static constexpr std::size_t max_line_bytes = 1u << 20;
  MPI_Comm m_comm;
  int m_rank = 0;
  double m_silence_s;
  std::unique_ptr<LineInput> m_input;
  std::ofstream m_advice;
  std::string m_name, m_advice_name, m_down;
  std::optional<Observation> m_held;
  long m_line = 0, m_malformed = 0, m_failed_writes = 0, m_silent_cycles = 0;
  bool m_eof = false, m_was_silent = false;
};

TWIN_REGISTER_TYPE(ObservationSource, "stream",
                   [](const SourceContext& c) { return std::make_unique<StreamSource>(c); });

}  // namespace
}  // namespace twin::detail
