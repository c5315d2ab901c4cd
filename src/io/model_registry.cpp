#include "io/model_registry.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "ground/atomic_write.hpp"
#include "ground/sha256.hpp"
#include "ground/utc.hpp"
#include "twin/error.hpp"

namespace twin::io {

namespace fs = std::filesystem;
using advisor::ModelPackage;

std::string registry_directory(const Config& config) {
  if (config.advisor && config.advisor->registry) return *config.advisor->registry;
  return "models/" + config.twin.name;
}

ModelRegistry::ModelRegistry(std::string directory, std::optional<std::string> key)
    : m_dir(std::move(directory)), m_key(std::move(key)) {}

std::optional<std::string> model_key(const std::optional<std::string>& configured_file) {
  const char* env = std::getenv("TWIN_MODEL_KEY_FILE");
  if (env && *env) return read_key_file(env, "TWIN_MODEL_KEY_FILE");
  if (configured_file) return read_key_file(*configured_file, "advisor.model_key_file");
  return std::nullopt;
}

namespace {

// A model name is a plain file-name stem: it can never name a path outside the registry.
void check_name(const std::string& name, const std::string& dir) {
  static const std::regex plain("[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}");
  if (!std::regex_match(name, plain) || name.find("..") != std::string::npos)
    throw DataError("model name '" + name.substr(0, 80) + "' in registry " + dir +
                    " is not a plain name (letters, digits, '_', '.', '-'; no '..', no '/')");
}

constexpr std::uintmax_t max_history_bytes = 16u << 20;  // ~100 000 transitions

}  // namespace

std::string ModelRegistry::checked_path(const std::string& name, int version) const {
  const std::string file = path(name, version);
  std::error_code ec;
  const fs::path real = fs::canonical(file, ec);
  if (ec) throw DataError(file + ": no such model file");
  const fs::path root = fs::canonical(m_dir, ec);
  const std::string r = root.string() + "/";
  if (ec || real.string().compare(0, r.size(), r) != 0)
    throw DataError(file + ": leads outside the registry " + m_dir + " (to " + real.string() + ")");
  if (!fs::is_regular_file(real)) throw DataError(file + ": not a regular file (a FIFO, device or folder?)");
  return file;
}

std::string ModelRegistry::path(const std::string& name, int version) const {
  check_name(name, m_dir);
  char file[64];
  std::snprintf(file, sizeof file, "-v%04d.h5", version);
  return (fs::path(m_dir) / (name + file)).string();
}

std::vector<RegistryEntry> ModelRegistry::list() const {
  std::vector<RegistryEntry> out;
  if (!fs::is_directory(m_dir)) return out;
  const std::regex pattern("(.+)-v([0-9]{1,9})\\.h5");
  for (const auto& e : fs::directory_iterator(m_dir)) {
    std::smatch m;
    const std::string file = e.path().filename().string();
    if (!std::regex_match(file, m, pattern)) continue;
    RegistryEntry r{m[1], std::stoi(m[2]), e.path().string(), false, {}, {}};
    out.push_back(r);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.name != b.name ? a.name < b.name : a.version < b.version;
  });
  // States from each name's history, read once.
  std::map<std::string, std::map<int, Transition>> last;
  for (RegistryEntry& r : out) {
    if (!last.count(r.name)) {
      auto& by_version = last[r.name];
      for (const Transition& t : history(r.name)) by_version[t.version] = t;
    }
    const auto active_version = active(r.name);
    r.active = active_version == r.version;
    const auto& by_version = last[r.name];
    const auto it = by_version.find(r.version);
    if (it != by_version.end()) r.reason = it->second.reason;
    if (r.active) r.state = "active";
    else if (it == by_version.end()) r.state = "stored";
    else r.state = it->second.state == "active" ? "retired" : it->second.state;
  }
  return out;
}

std::optional<int> ModelRegistry::active(const std::string& name) const {
  check_name(name, m_dir);
  const fs::path pointer = fs::path(m_dir) / (name + ".active");
  std::error_code ec;
  if (!fs::exists(pointer, ec)) return std::nullopt;
  if (!fs::is_regular_file(pointer, ec)) throw DataError(pointer.string() + ": not a regular file (a FIFO, device or folder?)");
  if (fs::file_size(pointer, ec) > 64) throw DataError(pointer.string() + ": not a version number (too large)");
  std::ifstream in(pointer);
  int v = 0;
  std::string rest;
  if (!(in >> v) || v <= 0 || (in >> rest)) throw DataError(pointer.string() + ": does not hold a version number");
  return v;
}

int ModelRegistry::add(ModelPackage package, bool activate, const std::string& state, const std::string& reason) {
  fs::create_directories(m_dir);
  int next = 1;
  for (const auto& e : list())
    if (e.name == package.name) next = std::max(next, e.version + 1);
  package.version = next;
  if (package.lineage.parent_version <= 0) package.lineage.parent_version = active(package.name).value_or(0);
  package.package_sha256 = advisor::package_digest(package);  // sealed as stored
  package.signature = m_key ? advisor::package_signature(*m_key, package) : std::string();
  write_model(path(package.name, next), package);
  if (activate) promote(package.name, next, reason.empty() ? "stored and activated" : reason);
  else mark(package.name, next, state, reason);
  return next;
}

void ModelRegistry::promote(const std::string& name, int version, const std::string& reason,
                            const std::string& replaced_state) {
  if (!fs::exists(path(name, version)))
    throw DataError(path(name, version) + ": no such model version in registry " + m_dir);
  const auto before = active(name);
  const fs::path pointer = fs::path(m_dir) / (name + ".active");
  atomic_write(pointer, std::to_string(version) + "\n");
  if (before && *before != version)
    append_history(name, *before, replaced_state, "replaced by v" + std::to_string(version) + (reason.empty() ? "" : ": " + reason));
  append_history(name, version, "active", reason);
}

int ModelRegistry::rollback(const std::string& name, const std::string& reason) {
  const auto current = active(name);
  if (!current) throw DataError(m_dir + ": model '" + name + "' has no active version to roll back from");
  const int parent = read_model(checked_path(name, *current)).lineage.parent_version;
  if (parent <= 0) throw DataError(path(name, *current) + ": has no parent version to roll back to");
  promote(name, parent, reason.empty() ? "rollback from v" + std::to_string(*current) : reason, "rolled_back");
  return parent;
}

void ModelRegistry::mark(const std::string& name, int version, const std::string& state, const std::string& reason) {
  if (!fs::exists(path(name, version)))
    throw DataError(path(name, version) + ": no such model version in registry " + m_dir);
  append_history(name, version, state, reason);
}

void ModelRegistry::append_history(const std::string& name, int version, const std::string& state,
                                   const std::string& reason) const {
  const nlohmann::json line = {{"utc", utc_now()}, {"version", version}, {"state", state}, {"reason", reason}};
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const std::string file = (fs::path(m_dir) / (name + ".history.jsonl")).string();
  // One write of a whole line with O_APPEND: runs and operators sharing a registry do not
  // interleave their lines.
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(file + ": cannot append the model's history");
  const ssize_t n = ::write(fd, text.data(), text.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()) || !synced) throw Error(file + ": the model's history could not be written");
}

std::vector<Transition> ModelRegistry::history(const std::string& name, int* skipped) const {
  check_name(name, m_dir);
  std::vector<Transition> out;
  int bad = 0;
  const fs::path file = fs::path(m_dir) / (name + ".history.jsonl");
  std::error_code ec;
  if (fs::is_regular_file(file, ec)) {
    std::ifstream in(file, std::ios::binary);
    // A history beyond its bound is read from its end: the latest transitions are what count.
    const std::uintmax_t size = fs::file_size(file, ec);
    if (!ec && size > max_history_bytes) {
      in.seekg(static_cast<std::streamoff>(size - max_history_bytes));
      std::string partial;
      std::getline(in, partial);
      ++bad;
    }
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object() || !j.contains("version") || !j["version"].is_number_integer() || !j.contains("state") ||
          !j["state"].is_string()) {
        ++bad;
        continue;
      }
      out.push_back({j.value("utc", std::string()), j["version"].get<int>(), j["state"].get<std::string>(),
                     j.contains("reason") && j["reason"].is_string() ? j["reason"].get<std::string>() : std::string()});
    }
  }
  if (skipped) *skipped = bad;
  return out;
}

std::string ModelRegistry::state(const std::string& name, int version) const {
  for (const RegistryEntry& e : list())
    if (e.name == name && e.version == version) return e.state;
  return {};
}

std::vector<ModelPackage> ModelRegistry::lineage(const std::string& name, int version) const {
  std::vector<ModelPackage> chain;
  chain.push_back(read_model(checked_path(name, version)));
  std::set<int> seen{version};
  for (int parent = chain.back().lineage.parent_version; parent > 0 && !seen.count(parent);
       parent = chain.back().lineage.parent_version) {
    seen.insert(parent);
    try {
      chain.push_back(read_model(checked_path(name, parent)));
    } catch (const std::exception& e) {
      ModelPackage missing;
      missing.name = name;
      missing.version = parent;
      missing.kind.clear();
      missing.role = e.what();
      chain.push_back(std::move(missing));
      break;
    }
  }
  return chain;
}

}  // namespace twin::io
