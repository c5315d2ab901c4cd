// source.type stream: JSON lines {"t": 12.0, "sensor": "T07", "value": 312.4} from stdin or a
// file/FIFO, read by rank 0. A cycle reads until a reading beyond its end arrives (held for the
// next cycle) or the input ends; the advice goes back as JSON lines (advice_output).
#include <spdlog/spdlog.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "ground/mpi.hpp"
#include "sources/observation_source.hpp"
#include "twin/error.hpp"

namespace twin::detail {
namespace {

class StreamSource final : public ObservationSource {
 public:
  explicit StreamSource(const SourceContext& context) : m_comm(context.comm) {
    TWIN_MPI_CHECK(MPI_Comm_rank(m_comm, &m_rank));
    if (m_rank != 0) return;
    const ObservationSourceConfig& c = context.config.source;
    if (c.stream_input != "-") {
      m_file.open(c.stream_input);
      if (!m_file) throw DataError(c.stream_input + ": cannot open the stream input");
    }
    m_name = c.stream_input == "-" ? "<stdin>" : c.stream_input;
    m_advice_name = c.advice_output;
    if (c.advice_output != "-") m_advice.open(c.advice_output, std::ios::app);
  }

  std::vector<Observation> readings(long, double t0_s, double period_s, const std::vector<double>&) override {
    std::vector<Observation> out;
    if (m_rank != 0) return out;
    const double t_end = t0_s + period_s;
    if (m_held) {
      if (m_held->t_s > t_end + 1e-9) return out;
      out.push_back(*m_held);
      m_held.reset();
    }
    std::istream& in = m_file.is_open() ? static_cast<std::istream&>(m_file) : std::cin;
    std::string line;
    while (std::getline(in, line)) {
      ++m_line;
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
    m_eof = true;
    return out;
  }

  bool ended(bool had_readings) override {
    int done = m_rank == 0 && m_eof && !m_held && !had_readings ? 1 : 0;
    TWIN_MPI_CHECK(MPI_Bcast(&done, 1, MPI_INT, 0, m_comm));
    return done != 0;
  }

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

 private:
  MPI_Comm m_comm;
  int m_rank = 0;
  std::ifstream m_file;
  std::ofstream m_advice;
  std::string m_name, m_advice_name;
  std::optional<Observation> m_held;
  long m_line = 0, m_malformed = 0, m_failed_writes = 0;
  bool m_eof = false;
};

TWIN_REGISTER_TYPE(ObservationSource, "stream",
                   [](const SourceContext& c) { return std::make_unique<StreamSource>(c); });

}  // namespace
}  // namespace twin::detail
