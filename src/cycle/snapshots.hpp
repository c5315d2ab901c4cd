#pragma once
// Restart snapshots across ranks (docs/operations.md, "Snapshots"). Each rank encodes its part
// on the cycle thread (a copy of its state), a background thread writes it durably; once every
// rank's part is durable (a vote at the next `poll`), rank 0 writes the manifest: only then is
// the snapshot committed. A part that fails to write (disk full, read-only) abandons that
// snapshot on every rank, logged and counted; the run goes on.
//
//     SnapshotSession s(run_dir / "state", comm, keep, identity);
//     s.start(cycle, t, part, {series.h5, audit.jsonl});  // every `snapshots.every` cycles
//     s.poll(false);                                       // every cycle: commits when ready
//     s.poll(true);                                        // at shutdown: waits for the commit
//
// Every method is collective and called at the same cycles on every rank.

#include <mpi.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "io/snapshot_store.hpp"
#include "io/state_fields.hpp"
#include "twin/config.hpp"

namespace twin::detail {

struct SnapshotStats {
  long started = 0, committed = 0, failed = 0, skipped_busy = 0;
  long last_committed_cycle = -1;
  double stall_ms_max = 0.0, stall_ms_sum = 0.0;  ///< the cycle thread's cost (copy and encode)
  std::size_t part_bytes = 0;                    ///< this rank's last part
  nlohmann::json json() const;
};

class SnapshotSession {
 public:
  /// `identity` goes into every manifest (config_sha256, twinrt, ...).
  SnapshotSession(std::filesystem::path state_dir, MPI_Comm comm, int keep, nlohmann::json identity);
  ~SnapshotSession();

  /// Starts a snapshot of the state after `cycle` cycles; `part` is this rank's state, `sync`
  /// the files (of this rank) to fsync before its part, so the snapshot never counts rows that
  /// are not on disk. Skipped (and counted) while the previous one is still being written.
  /// @returns false when it was skipped (the previous one still being written).
  bool start(long cycle, double t_s, const io::StateArchive& part, std::vector<std::filesystem::path> sync,
             const std::string& reason, double stall_ms_before = 0.0);
  /// Commits the pending snapshot when every rank's part is durable; `wait` blocks until it is
  /// (and until the manifest is written).
  void poll(bool wait);
  bool pending() const { return m_pending.has_value(); }
  SnapshotStats stats() const;
  const io::SnapshotStore& store() const { return m_store; }

 private:
  struct Pending {
    long cycle;
    double t_s;
    std::string reason;
  };
  struct PartStatus {
    int state = 0;  // 0 writing, 1 durable, -1 failed
    std::string sha256, error;
    unsigned long long bytes = 0;
  };
  io::SnapshotStore m_store;
  MPI_Comm m_comm;
  int m_rank = 0, m_size = 1, m_keep = 3;
  nlohmann::json m_identity;
  std::optional<Pending> m_pending;
  SnapshotStats m_stats;
  mutable std::mutex m_mutex;  // guards m_parts and m_stats, written by the writer thread too
  std::map<long, PartStatus> m_parts;
  std::unique_ptr<io::SnapshotWriter> m_writer;
};

/// The parts of a committed snapshot for restoring on this communicator: rank 0's part holds the
/// replicated state; fields come from whichever parts hold them (another rank count works).
class SnapshotParts {
 public:
  SnapshotParts(io::SnapshotStore store, io::SnapshotInfo info, int rank, int size);
  const io::StateArchive& part(int rank);
  const io::StateArchive& shared() { return part(0); }
  io::StateParts view();
  const io::SnapshotInfo& info() const { return m_info; }

 private:
  io::SnapshotStore m_store;
  io::SnapshotInfo m_info;
  int m_rank, m_size;
  std::map<int, io::StateArchive> m_loaded;
};

/// What a snapshot must match to be continued: {"config_sha256", "twinrt"}. The hash covers the
/// effective config apart from what may change between a run and its resume (twin.cycles,
/// twin.run_dir, logging, outputs.progress, snapshots).
nlohmann::json snapshot_identity(const Config& config);
/// The config as the identity hashes it (YAML); kept in rank 0's part to explain a mismatch.
std::string snapshot_config_yaml(const Config& config);

/// The newest usable committed snapshot in `state_dir`, checked against `config`. Collective;
/// every rank throws the same DataError when there is none or it does not match.
SnapshotParts open_snapshot(const std::filesystem::path& state_dir, const Config& config, MPI_Comm comm);

/// Runs `f` on every rank; when it throws anywhere, every rank throws a DataError with the
/// message of the lowest failing rank (so no rank is left waiting in a collective).
void all_or_none(MPI_Comm comm, const std::function<void()>& f);

}  // namespace twin::detail
