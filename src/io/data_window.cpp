#include "io/data_window.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "ground/atomic_write.hpp"
#include "ground/sha256.hpp"
#include "io/hdf5.hpp"
#include "io/hdf5_package.hpp"
#include "twin/error.hpp"

namespace twin::io {

namespace fs = std::filesystem;

std::string window_digest(const DataWindow& w) {
  std::string names;
  for (const auto& n : w.inputs) names += n + '\n';
  names += '\n';
  for (const auto& n : w.outputs) names += n + '\n';
  return sha256_hex(names + sha256_hex(w.x.data(), w.x.size() * sizeof(double)) +
                    sha256_hex(w.y.data(), w.y.size() * sizeof(double)) +
                    sha256_hex(w.cycles.data(), w.cycles.size() * sizeof(long)));
}

std::string write_data_window(const std::string& dir, const DataWindow& w) {
  const std::size_t rows = w.cycles.size();
  if (w.x.size() != rows * w.inputs.size() || w.y.size() != rows * w.outputs.size())
    throw Error("data window: " + std::to_string(rows) + " rows do not match its x and y");
  const std::string digest = window_digest(w);
  const fs::path target = fs::path(dir) / (digest + ".h5");
  if (fs::exists(target)) return digest;
  fs::create_directories(dir);
  atomic_replace(target, [&](const fs::path& tmp_path) {
    const std::string tmp = tmp_path.string();
    Hdf5Id file(package::create_checksummed_file(tmp));
    if (file.get() < 0) throw Error(tmp + ": cannot create the data window");
    const nlohmann::json meta = {{"inputs", w.inputs},   {"outputs", w.outputs},
                                 {"twin", w.twin},       {"config_sha256", w.config_sha256},
                                 {"rows", rows},         {"first_cycle", rows ? w.cycles.front() : 0},
                                 {"last_cycle", rows ? w.cycles.back() : 0}, {"created_utc", w.created_utc}};
    package::write_text(file.get(), "metadata", meta.dump());
    package::write_array(file.get(), "x", w.x, {rows, w.inputs.size()});
    package::write_array(file.get(), "y", w.y, {rows, w.outputs.size()});
    package::write_array(file.get(), "cycles", w.cycles);
  });
  return digest;
}

DataWindow read_data_window(const std::string& path) {
  const package::PackageReader r(path, "data window");
  DataWindow w;
  try {
    const nlohmann::json meta = nlohmann::json::parse(r.text("metadata"));
    w.inputs = meta.at("inputs").get<std::vector<std::string>>();
    w.outputs = meta.at("outputs").get<std::vector<std::string>>();
    w.twin = meta.at("twin").get<std::string>();
    w.config_sha256 = meta.at("config_sha256").get<std::string>();
    w.created_utc = meta.at("created_utc").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path + ": data window metadata is malformed: " + e.what());
  }
  w.x = r.array<double>("x");
  w.y = r.array<double>("y");
  w.cycles = r.array<long>("cycles");
  const std::size_t rows = w.cycles.size();
  if (w.inputs.empty() || w.outputs.empty() || w.x.size() != rows * w.inputs.size() || w.y.size() != rows * w.outputs.size())
    throw DataError(path + ": data window sizes disagree (" + std::to_string(rows) + " rows, " + std::to_string(w.x.size()) +
                    " inputs, " + std::to_string(w.y.size()) + " outputs)");
  if (fs::path(path).stem().string() != window_digest(w))
    throw DataError(path + ": its content does not hash to its name (altered after it was written?)");
  return w;
}

}  // namespace twin::io
