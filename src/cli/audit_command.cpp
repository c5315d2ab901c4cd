// `twin audit verify` (cli/audit_command.hpp).
#include "cli/audit_command.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "io/audit.hpp"
#include "twin/error.hpp"

namespace twin::cli {

namespace {

namespace fs = std::filesystem;

constexpr int exit_ok = 0;
constexpr int exit_runtime_failure = 1;
constexpr int exit_bad_input = 2;

// The previous run's chain head that a log's first record anchors ("previous_run"), or null.
nlohmann::json first_record_anchor(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  if (!in || !std::getline(in, line) || line.size() > (1u << 20)) return nullptr;
  const nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
  if (!r.is_object() || !r.contains("previous_run") || !r["previous_run"].is_object()) return nullptr;
  return r["previous_run"];
}

}  // namespace

int verify_audit_file(const std::string& path, const std::string& key_file, std::string summary_file,
                      const std::string& anchored_in) {
  try {
    const std::optional<std::string> key =
        twin::io::audit_key(key_file.empty() ? std::nullopt : std::optional<std::string>(key_file), "--key");
    const twin::io::AuditCheck check = twin::io::verify_audit(path, key);
    if (check.ok) {
      if (summary_file.empty() && fs::exists(fs::path(path).parent_path() / "summary.json"))
        summary_file = (fs::path(path).parent_path() / "summary.json").string();
      std::string anchor;
      if (!summary_file.empty()) {
        std::ifstream in(summary_file);
        const nlohmann::json s = nlohmann::json::parse(in, nullptr, false);
        if (s.is_discarded() || !s.contains("audit") || !s["audit"].is_object())
          throw twin::DataError(summary_file + ": holds no audit chain head (a summary of twinrt 0.1.0?)");
        const long records = s["audit"].value("records", -1L);
        const std::string head = s["audit"].value("head", std::string());
        if (records != check.records || head != check.head) {
          std::cout << path << ": broken: " << check.records << " intact records ending in " << check.head.substr(0, 16)
                    << "..., but " << summary_file << " recorded " << records << " ending in " << head.substr(0, 16)
                    << "... (records were cut, removed, appended or the log rewritten)\n";
          return exit_runtime_failure;
        }
        anchor = ", chain head matches " + summary_file;
      } else if (check.records == 0 && anchored_in.empty()) {
        std::cout << path << ": holds no record and there is no summary.json to compare with: nothing is verified\n";
        return exit_runtime_failure;
      }
      if (!anchored_in.empty()) {
        // The later run's first record must be intact (its own chain, under the same key) and
        // name this log's length and head.
        const twin::io::AuditCheck later = twin::io::verify_audit(anchored_in, key);
        const nlohmann::json a = first_record_anchor(anchored_in);
        if (later.records < 1 || a.is_null()) {
          std::cout << path << ": not anchored: the first record of " << anchored_in
                    << (later.records < 1 ? " is not intact (" + later.reason + ")" : " anchors no previous run") << "\n";
          return exit_runtime_failure;
        }
        const long records = a.value("records", -1L);
        const std::string head = a.value("head", std::string());
        if (records != check.records || head != check.head) {
          std::cout << path << ": broken: " << check.records << " intact records ending in " << check.head.substr(0, 16)
                    << "..., but the first record of " << anchored_in << " anchors " << records << " ending in "
                    << head.substr(0, 16) << "... (this log was cut or rewritten after that run began)\n";
          return exit_runtime_failure;
        }
        anchor += ", anchored in " + anchored_in;
      }
      const nlohmann::json previous = first_record_anchor(path);
      if (!previous.is_null())
        anchor += "; its first record anchors the previous run " + previous.value("run_dir", std::string("?")) + " (" +
                  std::to_string(previous.value("records", -1L)) + " records, head " +
                  previous.value("head", std::string()).substr(0, 16) + "...)";
      std::cout << path << ": ok, " << check.records << " records, " << (key ? "keyed (HMAC) " : "hash ")
                << "chain intact" << anchor << "\n";
      return exit_ok;
    }
    std::cout << path << ": broken at line " << check.first_bad << ": " << check.reason << "\n";
    return exit_runtime_failure;  // the command ran; its answer is "broken"
  } catch (const std::exception& e) {
    std::cerr << "twin: " << e.what() << std::endl;
    return exit_bad_input;
  }
}

}  // namespace twin::cli
