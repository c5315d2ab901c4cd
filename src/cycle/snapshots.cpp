#include "ground/utc.hpp"
#include "cycle/snapshots.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <climits>
#include <ctime>
#include <sstream>

#include "ground/atomic_write.hpp"
#include "ground/mpi.hpp"
#include "ground/sha256.hpp"
#include "twin/version.hpp"
#include "twin/error.hpp"

namespace twin::detail {

nlohmann::json SnapshotStats::json() const {
  return {{"started", started},
          {"committed", committed},
          {"failed", failed},
          {"skipped_busy", skipped_busy},
          {"last_committed_cycle", last_committed_cycle},
          {"stall_ms_max", stall_ms_max},
          {"stall_ms_mean", started > 0 ? stall_ms_sum / static_cast<double>(started) : 0.0},
          {"part_bytes_rank0", part_bytes}};
}

SnapshotSession::SnapshotSession(std::filesystem::path state_dir, MPI_Comm comm, int keep, nlohmann::json identity)
    : m_store(std::move(state_dir)), m_comm(comm), m_keep(keep), m_identity(std::move(identity)),
      m_writer(std::make_unique<io::SnapshotWriter>()) {
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &m_rank));
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &m_size));
}

SnapshotSession::~SnapshotSession() = default;  // the writer finishes its queue

SnapshotStats SnapshotSession::stats() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_stats;
}

bool SnapshotSession::start(long cycle, double t_s, const io::StateArchive& part, std::vector<std::filesystem::path> sync,
                            const std::string& reason, double stall_ms_before) {
  if (m_pending) {  // the same on every rank: m_pending changes only in the collective poll
    std::lock_guard<std::mutex> lock(m_mutex);
    ++m_stats.skipped_busy;
    return false;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::string image = part.encode();
  const double stall =
      stall_ms_before + std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    ++m_stats.started;
    m_stats.stall_ms_max = std::max(m_stats.stall_ms_max, stall);
    m_stats.stall_ms_sum += stall;
    m_stats.part_bytes = image.size();
    m_parts[cycle] = PartStatus{};
  }
  m_pending = Pending{cycle, t_s, reason};
  auto shared = std::make_shared<std::string>(std::move(image));
  m_writer->submit(
      [this, cycle, shared, sync = std::move(sync)] {
        for (const auto& file : sync) sync_file(file);
        const std::string sha = m_store.write_part(cycle, m_rank, *shared);
        std::lock_guard<std::mutex> lock(m_mutex);
        PartStatus& s = m_parts[cycle];
        s.state = 1;
        s.sha256 = sha;
        s.bytes = shared->size();
      },
      [this, cycle](bool ok, const std::string& error) {
        if (ok) return;
        spdlog::error("snapshot of cycle {}: rank {} could not write its part: {}", cycle, m_rank, error);
        std::lock_guard<std::mutex> lock(m_mutex);
        m_parts[cycle].state = -1;
        m_parts[cycle].error = error;
      });
  return true;
}

void SnapshotSession::poll(bool wait) {
  if (!m_pending) return;
  const Pending p = *m_pending;
  if (wait) m_writer->drain();
  PartStatus mine;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    mine = m_parts[p.cycle];
  }
  int state = mine.state, worst = 0;
  TWIN_MPI_CHECK(MPI_Allreduce(&state, &worst, 1, MPI_INT, MPI_MIN, m_comm));
  if (worst == 0) return;  // still writing somewhere (never when waiting)
  m_pending.reset();
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_parts.erase(p.cycle);
    if (worst < 0) ++m_stats.failed;
  }
  if (worst < 0) {
    if (m_rank == 0)
      spdlog::error("snapshot of cycle {} abandoned: not every rank could write its part (see the errors above); "
                    "the last committed snapshot stays the newest",
                    p.cycle);
    return;
  }
  char sha[65] = {0};
  std::strncpy(sha, mine.sha256.c_str(), 64);
  std::vector<char> shas(m_rank == 0 ? 65 * static_cast<std::size_t>(m_size) : 0);
  std::vector<unsigned long long> bytes(m_rank == 0 ? static_cast<std::size_t>(m_size) : 0);
  TWIN_MPI_CHECK(MPI_Gather(sha, 65, MPI_CHAR, shas.data(), 65, MPI_CHAR, 0, m_comm));
  TWIN_MPI_CHECK(MPI_Gather(&mine.bytes, 1, MPI_UNSIGNED_LONG_LONG, bytes.data(), 1, MPI_UNSIGNED_LONG_LONG, 0, m_comm));
  if (m_rank == 0) {
    nlohmann::json manifest = m_identity;
    manifest["format"] = io::snapshot_format;
    manifest["cycle"] = p.cycle;
    manifest["t_s"] = p.t_s;
    manifest["ranks"] = m_size;
    manifest["reason"] = p.reason;
    manifest["written_utc"] = utc_now();
    manifest["parts"] = nlohmann::json::array();
    for (int r = 0; r < m_size; ++r)
      manifest["parts"].push_back({{"file", io::SnapshotStore::part_name(r)},
                                   {"sha256", std::string(&shas[65 * static_cast<std::size_t>(r)])},
                                   {"bytes", bytes[static_cast<std::size_t>(r)]}});
    m_writer->submit(
        [this, p, manifest] {
          m_store.commit(p.cycle, manifest);
          {
            std::lock_guard<std::mutex> lock(m_mutex);
            ++m_stats.committed;
            m_stats.last_committed_cycle = p.cycle;
          }
          m_store.prune(m_keep);
        },
        [this, p](bool ok, const std::string& error) {
          if (ok) return;
          spdlog::error("snapshot of cycle {} not committed: {}", p.cycle, error);
          std::lock_guard<std::mutex> lock(m_mutex);
          ++m_stats.failed;
        });
    if (wait) m_writer->drain();
  }
}

SnapshotParts::SnapshotParts(io::SnapshotStore store, io::SnapshotInfo info, int rank, int size)
    : m_store(std::move(store)), m_info(std::move(info)), m_rank(rank), m_size(size) {}

const io::StateArchive& SnapshotParts::part(int rank) {
  auto it = m_loaded.find(rank);
  if (it == m_loaded.end()) it = m_loaded.emplace(rank, m_store.read_part(m_info, rank)).first;
  return it->second;
}

io::StateParts SnapshotParts::view() {
  io::StateParts v;
  v.count = m_info.manifest.at("ranks").get<int>();
  v.own_rank = v.count == m_size ? m_rank : -1;
  v.part = [this](int r) -> const io::StateArchive& { return part(r); };
  return v;
}

std::string snapshot_config_yaml(const Config& config) {
  Config c = config;
  c.twin.cycles = 1;
  c.twin.run_dir.reset();
  c.logging = LoggingConfig{};
  c.outputs.progress = false;
  c.snapshots = SnapshotConfig{};
  c.source_name.clear();
  return to_yaml(c);
}

nlohmann::json snapshot_identity(const Config& config) {
  return {{"config_sha256", sha256_hex(snapshot_config_yaml(config))}, {"twinrt", version()}};
}

void all_or_none(MPI_Comm comm, const std::function<void()>& f) {
  std::string problem;
  try {
    f();
  } catch (const std::exception& e) {
    problem = e.what();
    if (problem.empty()) problem = "unknown error";
  }
  int rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  int mine = problem.empty() ? INT_MAX : rank, first = INT_MAX;
  TWIN_MPI_CHECK(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == INT_MAX) return;
  int length = static_cast<int>(problem.size());
  TWIN_MPI_CHECK(MPI_Bcast(&length, 1, MPI_INT, first, comm));
  problem.resize(static_cast<std::size_t>(length));
  TWIN_MPI_CHECK(MPI_Bcast(problem.data(), length, MPI_CHAR, first, comm));
  throw DataError(first == 0 ? problem : problem + " (on rank " + std::to_string(first) + ")");
}

namespace {

// The first line where two YAML texts differ, for a mismatch message.
std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool ga = static_cast<bool>(std::getline(sa, la)), gb = static_cast<bool>(std::getline(sb, lb));
    if (!ga && !gb) return {};
    if (!ga || !gb || la != lb) {
      const auto trim = [](std::string s) {
        const auto at = s.find_first_not_of(' ');
        return at == std::string::npos ? std::string() : s.substr(at);
      };
      return "the snapshot's run had '" + (ga ? trim(la) : "(nothing)") + "' where this run has '" +
             (gb ? trim(lb) : "(nothing)") + "'";
    }
  }
}

}  // namespace

SnapshotParts open_snapshot(const std::filesystem::path& state_dir, const Config& config, MPI_Comm comm) {
  int rank = 0, size = 1;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &size));
  io::SnapshotStore store(state_dir);
  std::string chosen, manifest;
  all_or_none(comm, [&] {
    if (rank != 0) return;
    const std::optional<io::SnapshotInfo> found = store.newest_usable();
    if (!found) {
      std::string why;
      for (const auto& s : store.list(true)) why += "\n  " + s.dir.filename().string() + ": " + s.problem;
      throw DataError("no committed snapshot to resume from in " + state_dir.string() +
                      (why.empty() ? std::string(" (it holds none)") : ":" + why));
    }
    const nlohmann::json ours = snapshot_identity(config);
    if (found->manifest.value("config_sha256", std::string()) != ours["config_sha256"].get<std::string>()) {
      std::string hint;
      try {
        SnapshotParts parts(store, *found, 0, 1);
        hint = first_difference(parts.shared().get_string("runtime.config_yaml"), snapshot_config_yaml(config));
      } catch (const std::exception&) {
      }
      throw DataError(found->dir.string() + " was written by a run of another config" +
                      (hint.empty() ? std::string() : ": " + hint) +
                      " (twin.cycles, run_dir, logging and snapshots may change; nothing else)");
    }
    if (found->manifest.value("twinrt", std::string()) != version())
      spdlog::warn("{} was written by twinrt {}, this is {}: same snapshot format, but results may differ from an "
                   "uninterrupted run",
                   found->dir.string(), found->manifest.value("twinrt", std::string("?")), version());
    chosen = found->dir.string();
    manifest = found->manifest.dump();
  });
  broadcast(chosen, comm);
  broadcast(manifest, comm);
  io::SnapshotInfo info;
  info.dir = chosen;
  info.committed = true;
  info.manifest = nlohmann::json::parse(manifest);
  info.cycle = info.manifest.at("cycle").get<long>();
  return SnapshotParts(store, info, rank, size);
}

}  // namespace twin::detail
