// source.type replay: recorded readings, a CSV of t,sensor,value or a previous run's series.h5.
// Rank 0 reads the whole file at start; the Runtime broadcasts what it ingests.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "ground/mpi.hpp"
#include "sources/observation_source.hpp"
#include "sources/reading_formats.hpp"
#include "twin/error.hpp"

namespace twin::detail {
namespace {

class ReplaySource final : public ObservationSource {
 public:
  explicit ReplaySource(const SourceContext& context) : m_comm(context.comm) {
    int rank = 0;
    TWIN_MPI_CHECK(MPI_Comm_rank(m_comm, &rank));
    if (rank != 0) return;
    const std::string& path = context.config.source.replay_file;
    long skipped = 0;
    m_readings = std::filesystem::path(path).extension() == ".h5" ? read_replay_series(path, skipped) : read_replay_csv(path, skipped);
    check_replay_usable(path, m_readings, context.config, skipped);
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
