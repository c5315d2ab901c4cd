#include "driver/operator_commands.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ground/atomic_write.hpp"
#include "twin/error.hpp"

namespace twin::detail {

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t max_command_bytes = 64 * 1024;
const std::pair<const char*, OperatorCommand::Kind> verbs[] = {{"promote", OperatorCommand::Kind::promote},
                                                               {"rollback", OperatorCommand::Kind::rollback},
                                                               {"pause", OperatorCommand::Kind::pause},
                                                               {"resume", OperatorCommand::Kind::resume},
                                                               {"retrain", OperatorCommand::Kind::retrain}};

}  // namespace

OperatorCommand parse_command(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("command") || !j["command"].is_string())
    throw DataError("not a command: expected a JSON object with \"command\" (promote, rollback, pause, resume or retrain)");
  OperatorCommand c;
  const std::string verb = j["command"].get<std::string>();
  const auto it = std::find_if(std::begin(verbs), std::end(verbs), [&](const auto& v) { return verb == v.first; });
  if (it == std::end(verbs)) throw DataError("unknown command '" + verb.substr(0, 40) + "' (promote, rollback, pause, resume or retrain)");
  c.kind = it->second;
  if (j.contains("version")) {
    if (!j["version"].is_number_integer() || j["version"].get<long long>() < 0 || j["version"].get<long long>() > 1000000000)
      throw DataError("\"version\" must be a version number");
    c.version = j["version"].get<int>();
  }
  if (j.contains("reason")) {
    if (!j["reason"].is_string()) throw DataError("\"reason\" must be text");
    c.reason = j["reason"].get<std::string>().substr(0, 500);
  }
  return c;
}

std::string command_text(const OperatorCommand& c) {
  const auto it = std::find_if(std::begin(verbs), std::end(verbs), [&](const auto& v) { return c.kind == v.second; });
  nlohmann::json j = {{"command", it->first}, {"reason", c.reason}};
  if (c.version > 0) j["version"] = c.version;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::vector<OperatorCommand> take_commands(const fs::path& dir) {
  std::vector<OperatorCommand> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    std::string why;
    try {
      if (!fs::is_regular_file(f) || fs::file_size(f) > max_command_bytes) throw DataError("not a small regular file");
      std::ifstream in(f, std::ios::binary);
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      out.push_back(parse_command(text));
    } catch (const std::exception& e) {
      why = e.what();
      spdlog::error("operator command {} refused: {}", f.string(), why);
    }
    fs::path taken = f;
    taken += why.empty() ? ".done" : ".refused";
    fs::rename(f, taken, ec);
    if (!ec) {
      if (!why.empty()) std::ofstream(taken, std::ios::app) << "\n# refused: " << why << "\n";
      continue;
    }
    // A command that cannot be marked taken would be applied again every cycle: removed, or
    // left out when it cannot be removed either.
    std::error_code removed;
    fs::remove(f, removed);
    if (removed && why.empty()) {
      out.pop_back();
      spdlog::error("operator command {} ignored: it can be neither renamed nor removed ({})", f.string(), removed.message());
    }
  }
  return out;
}

fs::path post_command(const fs::path& dir, const OperatorCommand& c) {
  fs::create_directories(dir);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const fs::path file = dir / (std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now).count()) + ".json");
  atomic_write(file, command_text(c));
  return file;
}

}  // namespace twin::detail
