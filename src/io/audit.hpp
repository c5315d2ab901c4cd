#pragma once
// audit.jsonl: a hash-chained, append-only record of the twin's decisions, one JSON object per
// line, and its verifier (`twin audit verify FILE`).
//
// Every record carries three reserved fields besides its own:
//   "seq"   0, 1, 2, ... in file order;
//   "prev"  the "hash" of the record before it (64 zeros for the first record);
//   "hash"  SHA-256 (lowercase hex) of the record serialised with nlohmann::json::dump() without
//           "hash"; dump() sorts object keys and has no whitespace, so this form is canonical.
// Changing, inserting, removing or reordering a record therefore breaks the chain at that record.
// Dropping records at the end cannot be seen from the file alone: keep the last hash that
// `append` returned elsewhere (for example in summary.json) and compare it to detect that.

#include <cstdio>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>

namespace twin::io {

/// Writes audit.jsonl. Each `append` ends with fflush, so a crash loses at most the line being
/// written (the verifier then reports that last line as not valid JSON).
/// Not thread-safe: one writer (one rank) per file. Non-copyable, movable; a moved-from log may
/// only be destroyed or assigned to.
class AuditLog {
 public:
  /// Creates (truncates) the file at `path`.
  /// @throws Error naming `path` when the file cannot be created.
  /// With `key` (the facility's secret), each record's "hash" is an HMAC-SHA-256 under it and the
  /// record says so ("chain": "hmac-sha256"): nobody without the key can rewrite the log so that
  /// it verifies.
  explicit AuditLog(const std::string& path, std::optional<std::string> key = std::nullopt);
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  AuditLog(AuditLog&&) noexcept = default;
  AuditLog& operator=(AuditLog&&) noexcept = default;
  ~AuditLog() = default;

  /// Adds "seq", "prev" and "hash" to `record` (a JSON object without those keys), writes it as
  /// one line and flushes it to the operating system.
  /// @returns the record's hash (64 lowercase hex characters).
  /// @throws Error when `record` is not such an object or cannot be serialised (a string that is
  ///         not UTF-8), or when the write fails; the log is then unchanged or, after a partial
  ///         write, broken at that line.
  std::string append(nlohmann::json record);

  /// Continues an existing log after its first `records` records, whose last hash must be `head`
  /// (a restart snapshot's chain head): the chain is verified up to there, the lines after it
  /// (written after the snapshot by the run that stopped) are moved to `tail_file` when there
  /// are any, and appends continue the chain. @throws DataError when the log holds fewer intact
  /// records than `records` or another head: the evidence does not match the snapshot.
  static AuditLog resume(const std::string& path, long records, const std::string& head, const std::string& tail_file,
                         std::optional<std::string> key = std::nullopt);
  /// Puts `previous` into the first record this log appends, as "previous_run": the previous
  /// run's chain length and head (docs/operations.md). That run's log can then not be cut or
  /// rewritten without breaking this one's chain, which needs the key.
  void anchor(nlohmann::json previous) { m_anchor = std::move(previous); }
  long records() const noexcept { return m_seq; }
  const std::string& head() const noexcept { return m_prev; }

  /// The file's path as given to the constructor.
  const std::string& path() const noexcept { return m_path; }

 private:
  struct Closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  AuditLog() = default;
  std::unique_ptr<std::FILE, Closer> m_file;
  std::string m_path;
  long m_seq = 0;
  std::string m_prev;
  std::optional<std::string> m_key;
  nlohmann::json m_anchor;
};

/// The verdict on an audit log. A broken chain is an expected outcome, hence a value.
struct AuditCheck {
  bool ok = true;
  long records = 0;     ///< intact records before the first broken one (all of them when ok)
  long first_bad = -1;  ///< 1-based line number of the first broken record; -1 when ok
  std::string reason;   ///< what is wrong with that line, e.g. "hash mismatch: record was
                        ///< modified"; empty when ok
  std::string head;     ///< the hash of the last intact record (64 zeros when none)
};

/// The facility's audit key, when one is configured: the file named by the environment variable
/// TWIN_AUDIT_KEY_FILE, else `configured_file` (named by `configured_by`, for messages).
/// @throws DataError when it cannot be read.
std::optional<std::string> audit_key(const std::optional<std::string>& configured_file,
                                     const std::string& configured_by = "outputs.audit_key_file");

/// Reads the audit log at `path` line by line and checks that every line is a canonical JSON
/// object (exactly as `AuditLog` wrote it) whose "hash" matches its content, whose "seq" follows
/// the previous one and whose "prev" is the previous record's hash. Stops at the first broken
/// line. An empty file is ok with 0 records. Never throws on the content of the file (binary
/// junk is just a broken line).
/// @throws DataError naming `path` when the file cannot be opened or read.
/// Verifies the chain. With `key`, every record must be keyed and its HMAC must match (a log
/// written without the key, or rewritten, fails); without it, a keyed record fails with the
/// advice to give the key.
AuditCheck verify_audit(const std::string& path, const std::optional<std::string>& key = std::nullopt);

}  // namespace twin::io
