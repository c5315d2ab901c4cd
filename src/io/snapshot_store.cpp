#include "io/snapshot_store.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "ground/atomic_write.hpp"
#include "ground/sha256.hpp"
#include "twin/error.hpp"

namespace twin::io {

namespace fs = std::filesystem;

namespace {

constexpr const char* manifest_name = "snapshot.json";
constexpr std::size_t max_manifest_bytes = 1u << 20;

std::optional<long> cycle_of(const fs::path& dir) {
  const std::string name = dir.filename().string();
  if (name.size() != 14 || name.compare(0, 6, "cycle-") != 0) return std::nullopt;
  long cycle = 0;
  for (std::size_t i = 6; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    cycle = cycle * 10 + (name[i] - '0');
  }
  return cycle;
}

std::string read_small_file(const fs::path& path, std::size_t limit, std::string& problem) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    problem = "cannot open " + path.filename().string();
    return {};
  }
  std::string bytes;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    bytes.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (bytes.size() > limit) {
      problem = path.filename().string() + " is larger than " + std::to_string(limit) + " bytes";
      return {};
    }
  }
  return bytes;
}

// Why a committed snapshot's manifest cannot be used, or empty.
std::string check_manifest(const nlohmann::json& m) {
  if (!m.is_object()) return "the manifest is not a JSON object";
  if (!m.contains("format") || !m["format"].is_number_integer()) return "the manifest has no format";
  if (m["format"].get<long>() != snapshot_format)
    return "snapshot format " + std::to_string(m["format"].get<long>()) + ", this twinrt reads format " +
           std::to_string(snapshot_format);
  if (!m.contains("ranks") || !m["ranks"].is_number_integer() || m["ranks"].get<long>() < 1) return "the manifest has no rank count";
  if (!m.contains("parts") || !m["parts"].is_array() || m["parts"].size() != m["ranks"].get<std::size_t>())
    return "the manifest does not list one part per rank";
  for (const auto& p : m["parts"])
    if (!p.is_object() || !p.contains("sha256") || !p["sha256"].is_string() || !p.contains("bytes") ||
        !p["bytes"].is_number_unsigned())
      return "a part entry of the manifest has no sha256 or size";
  return {};
}

// Removes a snapshot folder so that no moment of the removal leaves a committed snapshot with
// missing parts: the folder is first renamed out of the snapshots' names (atomic), then deleted.
void remove_snapshot(const fs::path& dir) {
  std::error_code ec;
  const fs::path trash = dir.parent_path() / (".deleting-" + dir.filename().string());
  fs::remove_all(trash, ec);
  fs::rename(dir, trash, ec);
  if (ec) {
    spdlog::warn("cannot remove the snapshot {}: {}", dir.string(), ec.message());
    return;
  }
  fs::remove_all(trash, ec);
}

}  // namespace

fs::path SnapshotStore::snapshot_dir(long cycle) const {
  char name[32];
  std::snprintf(name, sizeof name, "cycle-%08ld", cycle);
  return m_dir / name;
}

std::string SnapshotStore::part_name(int rank) {
  char name[32];
  std::snprintf(name, sizeof name, "part-%05d.h5", rank);
  return name;
}

std::vector<SnapshotInfo> SnapshotStore::list(bool verify) const {
  std::vector<SnapshotInfo> out;
  std::error_code ec;
  if (!fs::is_directory(m_dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(m_dir, ec)) {
    const auto cycle = cycle_of(entry.path());
    if (!cycle || !entry.is_directory(ec)) continue;
    SnapshotInfo info;
    info.dir = entry.path();
    info.cycle = *cycle;
    const fs::path manifest = entry.path() / manifest_name;
    if (!fs::exists(manifest, ec)) {
      info.problem = "not committed (no " + std::string(manifest_name) + ")";
    } else {
      std::string problem;
      const std::string text = read_small_file(manifest, max_manifest_bytes, problem);
      if (problem.empty()) {
        info.manifest = nlohmann::json::parse(text, nullptr, false);
        problem = info.manifest.is_discarded() ? "the manifest is not valid JSON" : check_manifest(info.manifest);
      }
      info.committed = problem.empty();
      info.problem = problem;
      if (info.committed && info.manifest.value("cycle", -1L) != info.cycle) info.problem = "the manifest names another cycle";
      if (info.committed && info.problem.empty() && verify) {
        const auto& parts = info.manifest["parts"];
        for (std::size_t r = 0; r < parts.size() && info.problem.empty(); ++r) {
          const fs::path part = entry.path() / part_name(static_cast<int>(r));
          const auto size = fs::file_size(part, ec);
          if (ec) info.problem = part.filename().string() + " is missing";
          else if (size != parts[r]["bytes"].get<std::uintmax_t>())
            info.problem = part.filename().string() + " has " + std::to_string(size) + " bytes, the manifest says " +
                           std::to_string(parts[r]["bytes"].get<std::uintmax_t>());
          else if (sha256_file(part.string()) != parts[r]["sha256"].get<std::string>())
            info.problem = part.filename().string() + " does not match its SHA-256 in the manifest";
        }
      }
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.cycle < b.cycle; });
  return out;
}

std::optional<SnapshotInfo> SnapshotStore::newest_usable() const {
  std::vector<SnapshotInfo> all = list(true);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->committed && it->problem.empty()) return *it;
    spdlog::warn("snapshot {} skipped: {}", it->dir.string(), it->problem);
  }
  return std::nullopt;
}

StateArchive SnapshotStore::read_part(const SnapshotInfo& snapshot, int rank) const {
  const fs::path path = snapshot.dir / part_name(rank);
  const auto& parts = snapshot.manifest.at("parts");
  if (rank < 0 || static_cast<std::size_t>(rank) >= parts.size())
    throw DataError(snapshot.dir.string() + ": the snapshot has no part for rank " + std::to_string(rank));
  std::string problem;
  const std::size_t expected = parts[static_cast<std::size_t>(rank)]["bytes"].get<std::size_t>();
  const std::string bytes = read_small_file(path, expected, problem);
  if (!problem.empty()) throw DataError(path.string() + ": " + problem);
  if (bytes.size() != expected || sha256_hex(bytes) != parts[static_cast<std::size_t>(rank)]["sha256"].get<std::string>())
    throw DataError(path.string() + ": does not match its SHA-256 in the manifest");
  return StateArchive::decode(bytes, path.string());
}

std::string SnapshotStore::write_part(long cycle, int rank, const std::string& image) const {
  const fs::path dir = snapshot_dir(cycle);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create '" + dir.string() + "': " + ec.message());
  atomic_write(dir / part_name(rank), image, WriteSync::durable);
  return sha256_hex(image);
}

void SnapshotStore::commit(long cycle, const nlohmann::json& manifest) const {
  atomic_write(snapshot_dir(cycle) / manifest_name, manifest.dump(2) + "\n", WriteSync::durable);
}

void SnapshotStore::prune(int keep) const {
  const std::vector<SnapshotInfo> all = list(false);
  long newest = -1;
  int committed = 0;
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (it->committed) newest = std::max(newest, it->cycle);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const bool old_unfinished = !it->committed && it->cycle < newest;
    const bool beyond_keep = it->committed && ++committed > keep;
    if (!old_unfinished && !beyond_keep) continue;
    remove_snapshot(it->dir);
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(m_dir, ec))  // removals a kill interrupted
    if (entry.path().filename().string().rfind(".deleting-", 0) == 0) fs::remove_all(entry.path(), ec);
}

void SnapshotStore::discard_after(long cycle) const {
  for (const SnapshotInfo& s : list(false)) {
    if (s.cycle <= cycle) continue;
    remove_snapshot(s.dir);
    spdlog::warn("snapshot {} removed: the run resumes from cycle {}{}", s.dir.string(), cycle,
                 s.problem.empty() ? std::string() : " (it was not usable: " + s.problem + ")");
  }
}

SnapshotWriter::SnapshotWriter() : m_thread([this] { loop(); }) {}

SnapshotWriter::~SnapshotWriter() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  m_thread.join();
}

void SnapshotWriter::submit(std::function<void()> job, std::function<void(bool, const std::string&)> done) {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_jobs.push_back({std::move(job), std::move(done)});
  }
  m_wake.notify_all();
}

void SnapshotWriter::drain() {
  std::unique_lock<std::mutex> lock(m_mutex);
  m_idle.wait(lock, [this] { return m_jobs.empty() && !m_busy; });
}

bool SnapshotWriter::idle() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_jobs.empty() && !m_busy;
}

void SnapshotWriter::loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(m_mutex);
      m_wake.wait(lock, [this] { return m_stop || !m_jobs.empty(); });
      if (m_jobs.empty()) return;  // stopping, and nothing left
      job = std::move(m_jobs.front());
      m_jobs.pop_front();
      m_busy = true;
    }
    bool ok = true;
    std::string error;
    try {
      job.run();
    } catch (const std::exception& e) {
      ok = false;
      error = e.what();
    }
    if (job.done) job.done(ok, error);
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_busy = false;
    }
    m_idle.notify_all();
  }
}

}  // namespace twin::io
