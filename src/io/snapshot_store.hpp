#pragma once
// The restart snapshots of a run: state/ of the run directory holds one folder per snapshot,
//
//     state/cycle-00000120/part-00000.h5 ... part-<ranks-1>.h5   each rank's StateArchive
//     state/cycle-00000120/snapshot.json                         the manifest, written last
//
// A snapshot is committed when its manifest exists: the manifest is written (temporary name,
// fsync, rename, fsync of the folder) only after every rank's part is durable, and it holds each
// part's SHA-256 and size, so a committed snapshot whose parts were damaged later is detected
// and skipped. A folder without a manifest is a snapshot that never finished; it is never read.
//
// SnapshotStore is the file layout (MPI-free); SnapshotWriter does the writing on a thread of
// its own so that the cycle only pays for encoding its state (the vote between ranks is in
// src/cycle/snapshots.hpp).

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/state_archive.hpp"

namespace twin::io {

/// The format of snapshots this build writes and reads.
inline constexpr int snapshot_format = 4;  // 2: QC counts of 12 reasons; 3: parts in the checksummed HDF5 1.8 format; 4: CPU and energy per cycle

struct SnapshotInfo {
  std::filesystem::path dir;
  long cycle = -1;
  bool committed = false;      ///< its manifest exists and parses
  std::string problem;         ///< why it cannot be used (empty: usable)
  nlohmann::json manifest;     ///< when committed
};

class SnapshotStore {
 public:
  explicit SnapshotStore(std::filesystem::path state_dir) : m_dir(std::move(state_dir)) {}
  const std::filesystem::path& dir() const { return m_dir; }

  std::filesystem::path snapshot_dir(long cycle) const;
  static std::string part_name(int rank);

  /// Every snapshot folder, oldest first; `verify` also checks each committed part's size and
  /// hash (reads every part).
  std::vector<SnapshotInfo> list(bool verify) const;
  /// The newest committed snapshot whose parts verify; the ones skipped on the way are logged.
  std::optional<SnapshotInfo> newest_usable() const;
  /// Reads and verifies one part of a committed snapshot.
  StateArchive read_part(const SnapshotInfo& snapshot, int rank) const;

  /// Writes one part durably; returns its SHA-256.
  std::string write_part(long cycle, int rank, const std::string& image) const;
  /// Writes the manifest durably: the snapshot is committed.
  void commit(long cycle, const nlohmann::json& manifest) const;
  /// Removes all but the newest `keep` committed snapshots, and unfinished folders older than the
  /// newest committed one.
  void prune(int keep) const;
  /// Removes every snapshot folder newer than `cycle` (a resume continues from `cycle`).
  void discard_after(long cycle) const;

 private:
  std::filesystem::path m_dir;
};

/// A queue of file jobs run in order on one background thread. A job that throws is logged and
/// counted; later jobs still run.
class SnapshotWriter {
 public:
  SnapshotWriter();
  ~SnapshotWriter();  ///< finishes the queued jobs
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  /// Queues `job`; `done(ok, error)` runs on the writer thread after it.
  void submit(std::function<void()> job, std::function<void(bool ok, const std::string& error)> done = {});
  /// Blocks until every queued job has finished.
  void drain();
  bool idle() const;

 private:
  struct Job {
    std::function<void()> run;
    std::function<void(bool, const std::string&)> done;
  };
  void loop();
  mutable std::mutex m_mutex;
  std::condition_variable m_wake, m_idle;
  std::deque<Job> m_jobs;
  bool m_busy = false, m_stop = false;
  std::thread m_thread;
};

}  // namespace twin::io
