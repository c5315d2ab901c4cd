// SHA-256 known answers, and the audit log's hash chain: it verifies when intact and reports
// the first line a modification, removal, reordering, truncation or junk breaks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ground/sha256.hpp"
#include "io/audit.hpp"
#include "twin/error.hpp"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A file path private to the running test (and process).
std::string scratch(const std::string& suffix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (fs::temp_directory_path() /
          ("twin_audit_" + std::string(info->name()) + "_" + std::to_string(::getpid()) + suffix))
      .string();
}

// Writes `n` decision records through AuditLog and returns their hashes.
std::vector<std::string> write_log(const std::string& path, int n) {
  twin::io::AuditLog log(path);
  std::vector<std::string> hashes;
  hashes.reserve(n);
  for (int i = 0; i < n; ++i)
    hashes.push_back(log.append({{"cycle", i + 1},
                                 {"t_s", 10.0 * (i + 1)},
                                 {"mode", "advisor_on"},
                                 {"setpoint_w", 1200.5 + i},
                                 {"decision", i % 3 == 0 ? "rejected" : "accepted"}}));
  return hashes;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const auto& line : lines) out << line << '\n';
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

// --- sha256 ------------------------------------------------------------------------------------

TEST(Sha256, MatchesFips180KnownAnswers) {
  EXPECT_EQ(twin::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(twin::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(twin::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(twin::sha256_hex(nullptr, 0), twin::sha256_hex(""));
  const std::string million_a(1000000, 'a');
  EXPECT_EQ(twin::sha256_hex(million_a.data(), million_a.size()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, FileDigestEqualsDigestOfItsContents) {
  // Larger than one read chunk and not a multiple of it, with NUL and high bytes.
  std::string contents(200003, '\0');
  for (std::size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>((i * 131 + 7) % 256);
  const std::string path = scratch(".bin");
  std::ofstream(path, std::ios::binary) << contents;
  EXPECT_EQ(twin::sha256_file(path), twin::sha256_hex(contents));
  EXPECT_NE(twin::sha256_file(path), twin::sha256_hex(contents.substr(1)));
  fs::remove(path);
}

TEST(Sha256, UnreadableFileThrowsDataErrorNamingThePath) {
  const std::string missing = scratch(".missing");
  try {
    twin::sha256_file(missing);
    FAIL() << "no DataError";
  } catch (const twin::DataError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  const std::string dir = scratch(".dir");
  fs::create_directory(dir);
  EXPECT_THROW(twin::sha256_file(dir), twin::DataError);
  fs::remove(dir);
}

// --- writing -----------------------------------------------------------------------------------

TEST(AuditLog, ChainsEachRecordToThePreviousOne) {
  const std::string path = scratch(".jsonl");
  const auto hashes = write_log(path, 3);
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 3u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    json record = json::parse(lines[i]);
    EXPECT_EQ(record["seq"], i);
    EXPECT_EQ(record["prev"], i == 0 ? std::string(64, '0') : hashes[i - 1]);
    EXPECT_EQ(record["hash"], hashes[i]);
    EXPECT_EQ(lines[i], record.dump()) << "lines are written in canonical form";
    record.erase("hash");
    EXPECT_EQ(twin::sha256_hex(record.dump()), hashes[i]) << "the hash covers the record without itself";
  }
  EXPECT_EQ(hashes[0].size(), 64u);
  EXPECT_EQ(hashes[0].find_first_not_of("0123456789abcdef"), std::string::npos);
  fs::remove(path);
}

TEST(AuditLog, EachAppendIsOnDiskBeforeTheNext) {
  const std::string path = scratch(".jsonl");
  twin::io::AuditLog log(path);
  log.append({{"decision", "accepted"}});
  EXPECT_EQ(read_lines(path).size(), 1u) << "flushed without closing";
  twin::io::AuditLog moved = std::move(log);
  moved.append({{"decision", "rejected"}});
  EXPECT_EQ(read_lines(path).size(), 2u);
  const auto check = twin::io::verify_audit(path);
  EXPECT_TRUE(check.ok) << check.reason;
  EXPECT_EQ(check.records, 2) << "a moved log continues the same chain";
  fs::remove(path);
}

TEST(AuditLog, RejectsRecordsItCannotChain) {
  const std::string path = scratch(".jsonl");
  twin::io::AuditLog log(path);
  EXPECT_THROW(log.append(json::array({1, 2})), twin::Error);
  EXPECT_THROW(log.append({{"seq", 4}}), twin::Error);
  EXPECT_THROW(log.append({{"hash", "x"}}), twin::Error);
  EXPECT_THROW(log.append({{"text", std::string("\xff\xfe")}}), twin::Error) << "not UTF-8";
  EXPECT_EQ(read_all(path), "") << "a rejected record writes nothing";
  log.append({{"decision", "accepted"}});
  EXPECT_EQ(json::parse(read_lines(path).at(0))["seq"], 0) << "and takes no sequence number";
  fs::remove(path);
}

TEST(AuditLog, UncreatableFileThrowsNamingThePath) {
  const std::string path = scratch(".no_such_dir") + "/audit.jsonl";
  try {
    twin::io::AuditLog log(path);
    FAIL() << "no Error";
  } catch (const twin::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

// --- verifying ---------------------------------------------------------------------------------

TEST(VerifyAudit, IntactLogOfFiftyRecordsIsOk) {
  const std::string path = scratch(".jsonl");
  write_log(path, 50);
  const auto check = twin::io::verify_audit(path);
  EXPECT_TRUE(check.ok) << check.reason;
  EXPECT_EQ(check.records, 50);
  EXPECT_EQ(check.first_bad, -1);
  EXPECT_EQ(check.reason, "");
  fs::remove(path);
}

TEST(VerifyAudit, EmptyFileIsOkAndMissingFileThrows) {
  const std::string path = scratch(".jsonl");
  { twin::io::AuditLog created(path); }
  const auto check = twin::io::verify_audit(path);
  EXPECT_TRUE(check.ok);
  EXPECT_EQ(check.records, 0);
  fs::remove(path);
  try {
    twin::io::verify_audit(path);
    FAIL() << "no DataError";
  } catch (const twin::DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(VerifyAudit, ModifiedValueIsReportedAtItsLine) {
  const std::string path = scratch(".jsonl");
  write_log(path, 50);
  auto lines = read_lines(path);
  json record = json::parse(lines[19]);
  record["setpoint_w"] = 9999.0;  // still canonical JSON: only the hash can tell
  lines[19] = record.dump();
  write_lines(path, lines);
  const auto check = twin::io::verify_audit(path);
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad, 20);
  EXPECT_EQ(check.records, 19);
  EXPECT_EQ(check.reason, "hash mismatch: record was modified");
  fs::remove(path);
}

TEST(VerifyAudit, DeletedLineIsReportedWhereTheGapIs) {
  const std::string path = scratch(".jsonl");
  write_log(path, 50);
  auto lines = read_lines(path);
  lines.erase(lines.begin() + 9);
  write_lines(path, lines);
  const auto check = twin::io::verify_audit(path);
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad, 10);
  EXPECT_EQ(check.reason, "seq 9 expected, found 10: a record was removed or reordered");
  fs::remove(path);
}

TEST(VerifyAudit, SwappedLinesAreReportedAtTheFirst) {
  const std::string path = scratch(".jsonl");
  write_log(path, 50);
  auto lines = read_lines(path);
  std::swap(lines[29], lines[34]);
  write_lines(path, lines);
  const auto check = twin::io::verify_audit(path);
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad, 30);
  EXPECT_EQ(check.reason, "seq 29 expected, found 34: a record was removed or reordered");
  fs::remove(path);
}

TEST(VerifyAudit, RechainedRecordWithForeignPrevIsReported) {
  // Line 5 is replaced by a self-consistent record (correct seq and hash) that chains onto
  // line 3: what a forger without the earlier records' bytes could produce.
  const std::string path = scratch(".jsonl");
  const auto hashes = write_log(path, 8);
  auto lines = read_lines(path);
  json record = json::parse(lines[4]);
  record.erase("hash");
  record["prev"] = hashes[2];
  record["hash"] = twin::sha256_hex(record.dump());
  lines[4] = record.dump();
  write_lines(path, lines);
  const auto check = twin::io::verify_audit(path);
  EXPECT_EQ(check.first_bad, 5);
  EXPECT_EQ(check.reason, "prev does not match the hash of line 4: a record was removed or reordered");
  fs::remove(path);
}

TEST(VerifyAudit, ReformattedLineIsNotCanonical) {
  const std::string path = scratch(".jsonl");
  write_log(path, 8);
  auto lines = read_lines(path);
  lines[6].insert(1, " ");  // same content, different bytes
  write_lines(path, lines);
  const auto check = twin::io::verify_audit(path);
  EXPECT_EQ(check.first_bad, 7);
  EXPECT_EQ(check.reason, "not in canonical form: the line was edited or re-serialised");
  fs::remove(path);
}

TEST(VerifyAudit, TruncatedLastLineIsNotValidJson) {
  const std::string path = scratch(".jsonl");
  write_log(path, 50);
  const std::string all = read_all(path);
  const std::size_t last = all.rfind('\n', all.size() - 2) + 1;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << all.substr(0, last + (all.size() - last) / 2);
  const auto check = twin::io::verify_audit(path);
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad, 50);
  EXPECT_EQ(check.records, 49);
  EXPECT_EQ(check.reason, "not valid JSON (truncated write?)");
  fs::remove(path);
}

TEST(VerifyAudit, GarbageLinesAreReportedNeverThrown) {
  const std::string path = scratch(".jsonl");
  write_log(path, 6);
  const auto good = read_lines(path);
  std::string binary;
  for (unsigned i = 0; i < 4096; ++i) binary += static_cast<char>((i * 2654435761u) >> 13);
  binary.erase(std::remove(binary.begin(), binary.end(), '\n'), binary.end());
  const std::string deep =
      "{\"hash\":\"h\",\"prev\":\"p\",\"seq\":4,\"x\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  const std::vector<std::pair<std::string, std::string>> junk{
      {binary, "not valid JSON"},
      {std::string("\0\0\0", 3), "not valid JSON"},
      {"\xff\xfe{\"seq\":4}", "not valid JSON"},
      {"", "empty line"},
      {"[1,2]", "not a JSON object"},
      {"null", "not a JSON object"},
      {"{}", "no integer \"seq\" field"},
      {"{\"seq\":4.0,\"prev\":\"p\",\"hash\":\"h\"}", "no integer \"seq\" field"},
      {"{\"seq\":4,\"prev\":1,\"hash\":\"h\"}", "no string \"prev\" field"},
      {"{\"seq\":4,\"prev\":\"p\",\"hash\":null}", "no string \"hash\" field"},
      {"{\"seq\":99999999999999999999999,\"prev\":\"p\",\"hash\":\"h\"}", "no integer \"seq\" field"},
      {deep, "nested deeper than 256 levels"}};
  for (const auto& [line, reason] : junk) {
    auto lines = good;
    lines.insert(lines.begin() + 4, line);
    write_lines(path, lines);
    twin::io::AuditCheck check;
    ASSERT_NO_THROW(check = twin::io::verify_audit(path)) << reason;
    EXPECT_EQ(check.first_bad, 5) << reason;
    EXPECT_EQ(check.records, 4) << reason;
    EXPECT_EQ(check.reason, reason);
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << binary;  // no newline at all
  twin::io::AuditCheck check;
  ASSERT_NO_THROW(check = twin::io::verify_audit(path));
  EXPECT_EQ(check.first_bad, 1);
  EXPECT_EQ(check.reason, "not valid JSON (truncated write?)");
  fs::remove(path);
}

// Issue 14: a keyed chain verifies only with its key; an unkeyed rewrite fails with the key.
TEST(VerifyAudit, AKeyedChainVerifiesOnlyWithItsKey) {
  const std::string path = scratch(".jsonl");
  const std::string key(32, 'k'), other(32, 'o');
  {
    twin::io::AuditLog log(path, key);
    for (int i = 0; i < 5; ++i) log.append({{"cycle", i + 1}});
  }
  const auto with_key = twin::io::verify_audit(path, key);
  EXPECT_TRUE(with_key.ok) << with_key.reason;
  EXPECT_EQ(with_key.records, 5);
  EXPECT_NE(with_key.head, std::string(64, '0'));
  const auto without = twin::io::verify_audit(path);
  EXPECT_FALSE(without.ok);
  EXPECT_NE(without.reason.find("--key"), std::string::npos) << without.reason;
  EXPECT_FALSE(twin::io::verify_audit(path, other).ok);
  write_log(path, 5);  // the same records rewritten without the key
  const auto rewritten = twin::io::verify_audit(path, key);
  EXPECT_FALSE(rewritten.ok);
  EXPECT_NE(rewritten.reason.find("not keyed"), std::string::npos) << rewritten.reason;
}

TEST(AuditKey, AKeyFileMustHoldEnoughSecretAndBeARegularFile) {
  const std::string path = scratch(".key");
  std::ofstream(path) << "short";
  EXPECT_THROW(twin::io::audit_key(path), twin::DataError);
  std::ofstream(path) << std::string(40, 'x');
  EXPECT_EQ(twin::io::audit_key(path)->size(), 40u);
  EXPECT_THROW(twin::io::audit_key(fs::temp_directory_path().string()), twin::DataError);
  EXPECT_FALSE(twin::io::audit_key(std::nullopt).has_value());
  // The message names the file and what named it: a config key, or the option of `twin audit`.
  const auto message = [](const std::string& file, const std::string& named_by) {
    try {
      twin::io::audit_key(file, named_by);
    } catch (const twin::DataError& e) {
      return std::string(e.what());
    }
    return std::string("(read)");
  };
  const std::string missing = scratch(".missing-key");
  EXPECT_EQ(message(missing, "outputs.audit_key_file").rfind(missing + " (outputs.audit_key_file): cannot read", 0), 0u)
      << message(missing, "outputs.audit_key_file");
  EXPECT_NE(message(missing, "--key").find("(--key)"), std::string::npos);
}
