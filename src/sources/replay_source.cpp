// source.type replay: recorded readings, a CSV of t,sensor,value or a previous run's series.h5.
// Rank 0 reads the whole file at start; the Runtime broadcasts what it ingests.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>

#include "ground/mpi.hpp"
#include "sources/line_input.hpp"
#include "io/series.hpp"
#include "sources/observation_source.hpp"
#include "twin/error.hpp"

namespace twin::detail {
namespace {

constexpr std::size_t max_line_bytes = 1u << 20;

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return {};
  const auto b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

// A whole field as a number: "12abc" is not one; "nan" is (QC rejects it as a value).
bool parse_number(const std::string& field, double& out) {
  try {
    std::size_t used = 0;
    out = std::stod(field, &used);
    return used == field.size();
  } catch (const std::exception&) {
    return false;
  }
}

// t,sensor,value lines. Spaces around fields and quotes around the name are accepted; a line
// that is not three fields with numbers is refused with its place; a reading without a usable
// time is skipped and counted.
std::vector<Observation> read_csv(const std::string& path, long& skipped) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw DataError(path + ": cannot open the replay file: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw DataError(path + ": the replay file is not a regular file");
  }
  LineInput in(fd, true, max_line_bytes);
  std::vector<Observation> readings;
  std::string line;
  long number = 0;
  bool header_allowed = true;
  for (;;) {
    const LineInput::Status status = in.next(line, LineInput::Clock::now() + std::chrono::hours(1));
    if (status == LineInput::Status::eof) break;
    ++number;
    if (status == LineInput::Status::too_long)
      throw DataError(path + ":" + std::to_string(number) + ": a line longer than " + std::to_string(max_line_bytes) + " bytes");
    if (status != LineInput::Status::line) throw DataError(path + ": reading was interrupted");
    const std::string text = trim(line);
    if (text.empty() || text[0] == '#') continue;
    std::vector<std::string> fields;
    std::stringstream split(text);
    for (std::string f; std::getline(split, f, ',');) fields.push_back(trim(f));
    if (!text.empty() && text.back() == ',') fields.push_back("");
    double t = 0.0, value = 0.0;
    const bool numbers = fields.size() == 3 && parse_number(fields[0], t) && parse_number(fields[2], value);
    if (!numbers && header_allowed && fields.size() == 3) {  // a header line such as t,sensor,value
      header_allowed = false;
      continue;
    }
    header_allowed = false;
    if (!numbers)
      throw DataError(path + ":" + std::to_string(number) + ": '" + text.substr(0, 120) +
                      "' is not t,sensor,value with numbers");
    std::string sensor = fields[1];
    if (sensor.size() >= 2 && sensor.front() == '"' && sensor.back() == '"') sensor = sensor.substr(1, sensor.size() - 2);
    if (!std::isfinite(t)) {
      if (skipped++ < 3) spdlog::warn("{}:{}: a reading without a usable time ({}) is skipped", path, number, fields[0]);
      continue;
    }
    readings.push_back({t, sensor, value});
  }
  std::stable_sort(readings.begin(), readings.end(),
                   [](const Observation& a, const Observation& b) { return a.t_s < b.t_s; });
  return readings;
}

std::vector<Observation> read_series(const std::string& path, long& skipped) {
  const io::RecordedReadings r = io::read_recorded_readings(path);
  std::vector<Observation> readings;
  for (std::size_t c = 0; c < r.time_s.size(); ++c) {
    if (!std::isfinite(r.time_s[c])) {
      if (skipped++ < 3) spdlog::warn("{}: /cycle/time_s row {} is not a usable time; its readings are skipped", path, c);
      continue;
    }
    for (std::size_t s = 0; s < r.sensors.size(); ++s)
      if (!std::isnan(r.values[c][s])) readings.push_back({r.time_s[c], r.sensors[s], r.values[c][s]});
  }
  std::stable_sort(readings.begin(), readings.end(),
                   [](const Observation& a, const Observation& b) { return a.t_s < b.t_s; });
  return readings;
}

// A replay that would feed the twin nothing is refused, with what it holds.
void check_usable(const std::string& path, const std::vector<Observation>& readings, const Config& config, long skipped) {
  std::set<std::string> names;
  for (const Observation& o : readings) names.insert(o.sensor);
  std::string ours, theirs;
  bool any = false;
  for (const auto& s : config.sensors) {
    ours += (ours.empty() ? "" : ", ") + s.name;
    any = any || names.count(s.name) != 0;
  }
  for (const auto& n : names) {
    if (theirs.size() > 200) {
      theirs += ", ...";
      break;
    }
    theirs += (theirs.empty() ? "" : ", ") + n;
  }
  if (readings.empty())
    throw DataError(path + ": no usable reading in the replay file" +
                    (skipped ? " (" + std::to_string(skipped) + " without a usable time)" : std::string()));
  if (!any && !config.sensors.empty())
    throw DataError(path + ": none of its " + std::to_string(readings.size()) + " readings names a sensor of this twin (it names " +
                    theirs + "; the config's sensors are " + ours + ")");
}

class ReplaySource final : public ObservationSource {
 public:
  explicit ReplaySource(const SourceContext& context) : m_comm(context.comm) {
    int rank = 0;
    TWIN_MPI_CHECK(MPI_Comm_rank(m_comm, &rank));
    if (rank != 0) return;
    const std::string& path = context.config.source.replay_file;
    long skipped = 0;
    m_readings = std::filesystem::path(path).extension() == ".h5" ? read_series(path, skipped) : read_csv(path, skipped);
    check_usable(path, m_readings, context.config, skipped);
    if (skipped > 0) spdlog::warn("{}: {} readings without a usable time were skipped", path, skipped);
  }

  std::vector<Observation> readings(long, double t0_s, double period_s, const std::vector<double>&) override {
    const double t_end = t0_s + period_s;
    std::vector<Observation> out;
    while (m_next < m_readings.size() && m_readings[m_next].t_s <= t_end + 1e-9) out.push_back(m_readings[m_next++]);
    return out;
  }

  // A replay runs for the configured cycles; cycles past its last reading see none (and say so
  // through QC's missing counts).
  bool ended(bool) override { return false; }

  void save(io::StateArchive& a) const override { a.put("source.replay.next", static_cast<long long>(m_next)); }
  void restore(const io::StateParts& parts) override {
    int rank = 0;
    TWIN_MPI_CHECK(MPI_Comm_rank(m_comm, &rank));
    if (rank != 0) return;
    const long long next = parts.part(0).get_int("source.replay.next");
    if (next < 0 || static_cast<std::size_t>(next) > m_readings.size())
      throw DataError("the replay had read " + std::to_string(next) + " readings at the snapshot, but the replay file "
                      "now holds " + std::to_string(m_readings.size()) + ": it changed");
    m_next = static_cast<std::size_t>(next);
  }

 private:
  MPI_Comm m_comm;
  std::vector<Observation> m_readings;  // rank 0
  std::size_t m_next = 0;
};

TWIN_REGISTER_TYPE(ObservationSource, "replay",
                   [](const SourceContext& c) { return std::make_unique<ReplaySource>(c); });

}  // namespace
}  // namespace twin::detail
