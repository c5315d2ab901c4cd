#include "io/audit.hpp"

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include "ground/sha256.hpp"
#include "twin/error.hpp"

namespace twin::io {

namespace {

using nlohmann::json;

const std::string genesis_hash(64, '0');
constexpr int max_depth = 256;  // far beyond any decision record

// Why `line` (number `number`) does not extend the chain, or empty when it does; then `prev`
// becomes its hash.
constexpr const char* keyed_chain = "hmac-sha256";

std::string seal(const std::string& text, const std::optional<std::string>& key) {
  return key ? hmac_sha256_hex(*key, text) : sha256_hex(text);
}

std::string check_line(const std::string& line, long number, long expected_seq, bool terminated, std::string& prev,
                       const std::optional<std::string>& key) {
  if (line.empty()) return "empty line";
  // Parsing is iterative but dump() recurses, so a crafted, deeply nested line must stop here.
  int depth = 0;
  const auto track_depth = [&depth](int d, json::parse_event_t, json&) {
    depth = std::max(depth, d);
    return true;
  };
  json record = json::parse(line, track_depth, /*allow_exceptions=*/false);
  if (record.is_discarded()) return terminated ? "not valid JSON" : "not valid JSON (truncated write?)";
  if (!record.is_object()) return "not a JSON object";
  if (depth > max_depth) return "nested deeper than " + std::to_string(max_depth) + " levels";
  const auto seq = record.find("seq");
  const auto prev_field = record.find("prev");
  const auto hash_field = record.find("hash");
  if (seq == record.end() || !seq->is_number_integer()) return "no integer \"seq\" field";
  if (prev_field == record.end() || !prev_field->is_string()) return "no string \"prev\" field";
  if (hash_field == record.end() || !hash_field->is_string()) return "no string \"hash\" field";
  const auto found_seq = seq->get<long long>();
  const auto found_prev = prev_field->get<std::string>();
  const auto hash = hash_field->get<std::string>();

  const auto chain = record.find("chain");
  const bool keyed = chain != record.end() && chain->is_string() && chain->get<std::string>() == keyed_chain;
  if (keyed && !key) return "the record is keyed (hmac-sha256): verify it with the facility key (--key FILE)";
  if (!keyed && key) return "the record is not keyed: written without the facility key, or rewritten";
  record.erase("hash");
  if (seal(record.dump(), key) != hash)
    return key ? "hmac mismatch: record was modified, or the key is not the one that wrote it" : "hash mismatch: record was modified";
  record["hash"] = hash;
  // The hash covers the parsed content; byte equality also rules out edits that parse to the
  // same content (duplicate keys, reformatting) but that another reader would see differently.
  if (record.dump() != line) return "not in canonical form: the line was edited or re-serialised";
  if (found_seq != expected_seq)
    return "seq " + std::to_string(expected_seq) + " expected, found " + std::to_string(found_seq) +
           (found_seq > expected_seq ? ": a record was removed or reordered" : ": a record was repeated or reordered");
  if (found_prev != prev)
    return number == 1 ? "prev is not 64 zeros: the log does not start here"
                       : "prev does not match the hash of line " + std::to_string(number - 1) +
                             ": a record was removed or reordered";
  prev = hash;
  return {};
}

}  // namespace

AuditLog::AuditLog(const std::string& path, std::optional<std::string> key)
    : m_file(std::fopen(path.c_str(), "wb")), m_path(path), m_prev(genesis_hash), m_key(std::move(key)) {
  if (!m_file) throw Error(path + ": cannot create the audit log: " + std::strerror(errno));
}

std::string AuditLog::append(json record) {
  if (!record.is_object() || record.contains("seq") || record.contains("prev") || record.contains("hash"))
    throw Error(m_path + ": an audit record must be a JSON object without \"seq\", \"prev\" or \"hash\"");
  std::string line;
  std::string hash;
  try {
    record["seq"] = m_seq;
    record["prev"] = m_prev;
    if (m_seq == 0 && !m_anchor.is_null()) record["previous_run"] = m_anchor;
    if (m_key) record["chain"] = keyed_chain;
    hash = seal(record.dump(), m_key);
    record["hash"] = hash;
    line = record.dump() + '\n';
  } catch (const json::exception& e) {
    throw Error(m_path + ": audit record " + std::to_string(m_seq) + " cannot be serialised: " + e.what());
  }
  // The whole line, then a flush: a crash loses at most this line, never an earlier one.
  if (std::fwrite(line.data(), 1, line.size(), m_file.get()) != line.size() || std::fflush(m_file.get()) != 0)
    throw Error(m_path + ": cannot write audit record " + std::to_string(m_seq) + ": " + std::strerror(errno));
  ++m_seq;
  m_prev = hash;
  return hash;
}

AuditLog AuditLog::resume(const std::string& path, long records, const std::string& head, const std::string& tail_file,
                          std::optional<std::string> key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open the audit log to continue it: " + std::strerror(errno));
  std::string prev = genesis_hash, line;
  long number = 0;
  std::streamoff keep = 0;
  while (number < records && std::getline(in, line)) {
    ++number;
    const std::string reason = check_line(line, number, number - 1, /*terminated=*/!in.eof(), prev, key);
    if (!reason.empty())
      throw DataError(path + ": line " + std::to_string(number) + " is broken (" + reason + "); the snapshot counts " +
                      std::to_string(records) + " records");
    keep = in.tellg();
    if (keep < 0) keep = static_cast<std::streamoff>(std::filesystem::file_size(path));
  }
  if (number < records)
    throw DataError(path + ": holds " + std::to_string(number) + " records, the snapshot counts " + std::to_string(records) +
                    ": the log was cut or replaced after the snapshot");
  if (prev != head)
    throw DataError(path + ": record " + std::to_string(records) + "'s hash is not the chain head of the snapshot: the "
                    "log was replaced");
  in.close();
  const auto size = std::filesystem::file_size(path);
  if (static_cast<std::uintmax_t>(keep) < size) {
    std::ifstream tail(path, std::ios::binary);
    tail.seekg(keep);
    std::string bytes((std::istreambuf_iterator<char>(tail)), std::istreambuf_iterator<char>());
    std::ofstream out(tail_file, std::ios::binary | std::ios::trunc);
    if (!(out << bytes) || !out.flush())
      throw Error(tail_file + ": cannot keep the audit records written after the snapshot");
    out.close();
    if (::truncate(path.c_str(), keep) != 0) throw Error(path + ": cannot cut it back to the snapshot: " + std::strerror(errno));
  }
  AuditLog log;
  log.m_file.reset(std::fopen(path.c_str(), "ab"));
  if (!log.m_file) throw Error(path + ": cannot append to the audit log: " + std::strerror(errno));
  if (keep > 0) {  // a last record without its newline (cut exactly there): end it before appending
    std::ifstream last(path, std::ios::binary);
    last.seekg(keep - 1);
    if (last.get() != '\n' && (std::fputc('\n', log.m_file.get()) == EOF || std::fflush(log.m_file.get()) != 0))
      throw Error(path + ": cannot append to the audit log: " + std::strerror(errno));
  }
  log.m_path = path;
  log.m_seq = records;
  log.m_prev = head;
  log.m_key = std::move(key);
  return log;
}

AuditCheck verify_audit(const std::string& path, const std::optional<std::string>& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open the audit log: " + std::strerror(errno));
  AuditCheck check;
  std::string prev = genesis_hash;
  std::string line;
  long number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string reason;
    try {
      reason = check_line(line, number, check.records, /*terminated=*/!in.eof(), prev, key);
    } catch (const json::exception& e) {  // defensive: the checks above avoid every throwing call
      reason = std::string("unreadable record: ") + e.what();
    }
    if (!reason.empty()) return AuditCheck{false, check.records, number, std::move(reason), prev};
    ++check.records;
  }
  if (in.bad()) throw DataError(path + ": cannot read the audit log");
  check.head = prev;
  return check;
}

std::optional<std::string> audit_key(const std::optional<std::string>& configured_file, const std::string& configured_by) {
  const char* env = std::getenv("TWIN_AUDIT_KEY_FILE");
  if (env && *env) return read_key_file(env, "TWIN_AUDIT_KEY_FILE");
  if (configured_file) return read_key_file(*configured_file, configured_by);
  return std::nullopt;
}

}  // namespace twin::io
