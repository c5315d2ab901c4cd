// source.type replay: recorded readings, a CSV of t,sensor,value or a previous run's series.h5.
// Rank 0 reads the whole file at start; the Runtime broadcasts what it ingests.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ground/mpi.hpp"
#include "io/series.hpp"
#include "sources/observation_source.hpp"
#include "twin/error.hpp"

namespace twin::detail {
namespace {

std::vector<Observation> read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw DataError(path + ": cannot open the replay file");
  std::vector<Observation> readings;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#' || (number == 1 && line.rfind("t", 0) == 0)) continue;
    std::stringstream fields(line);
    std::string t, sensor, value;
    if (!std::getline(fields, t, ',') || !std::getline(fields, sensor, ',') || !std::getline(fields, value))
      throw DataError(path + ":" + std::to_string(number) + ": expected t,sensor,value");
    try {
      // Whole fields only: "12abc" is an error, "nan" a reading QC will reject.
      std::size_t a = 0, b = 0;
      const double tv = std::stod(t, &a), vv = std::stod(value, &b);
      if (a != t.size() || b != value.size()) throw std::invalid_argument("trailing characters");
      readings.push_back({tv, sensor, vv});
    } catch (const std::exception&) {
      throw DataError(path + ":" + std::to_string(number) + ": '" + line + "' is not t,sensor,value with numbers");
    }
  }
  std::stable_sort(readings.begin(), readings.end(),
                   [](const Observation& a, const Observation& b) { return a.t_s < b.t_s; });
  return readings;
}

std::vector<Observation> read_series(const std::string& path) {
  const io::RecordedReadings r = io::read_recorded_readings(path);
  std::vector<Observation> readings;
  for (std::size_t c = 0; c < r.time_s.size(); ++c)
    for (std::size_t s = 0; s < r.sensors.size(); ++s)
      if (!std::isnan(r.values[c][s])) readings.push_back({r.time_s[c], r.sensors[s], r.values[c][s]});
  return readings;
}

class ReplaySource final : public ObservationSource {
 public:
  explicit ReplaySource(const SourceContext& context) : m_comm(context.comm) {
    int rank = 0;
    TWIN_MPI_CHECK(MPI_Comm_rank(m_comm, &rank));
    if (rank != 0) return;
    const std::string& path = context.config.source.replay_file;
    m_readings = std::filesystem::path(path).extension() == ".h5" ? read_series(path) : read_csv(path);
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
