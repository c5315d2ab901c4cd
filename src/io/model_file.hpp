#pragma once
// Model packages as HDF5 files, and the model registry: a directory with one file per model
// version (`<name>-v0003.h5`) and a pointer to the active version (`<name>.active`).
//
// File layout (h5dump shows it all):
//   /metadata                  JSON string: names, kind, role, lineage, metrics, versions, hashes
//   /normalization/{input_mean, input_scale, output_mean, output_scale}
//   /training_statistics/{mean, std, covariance, histogram_edges, histogram_fractions}
//   /weights/layer0.weight ... float32 [ensemble, in, out] (mlp_ensemble)
//   /script                    uint8, the TorchScript module (torchscript)

#include <optional>
#include <string>
#include <vector>

#include "advisor/model_package.hpp"
#include "twin/config.hpp"

namespace twin::io {

/// Writes a package; the file appears complete or not at all (written beside, then renamed).
void write_model(const std::string& path, const advisor::ModelPackage& package);

/// Reads a package. Does not verify it (advisor::validate does, before anything runs it).
/// @throws DataError naming the path when the file is missing, truncated, not HDF5 or lacks
///         a part of the layout above.
advisor::ModelPackage read_model(const std::string& path);

/// The registry directory a config's models live in: advisor.registry, else models/<twin.name>
/// (relative to the working directory, like runs/<twin.name>).
std::string registry_directory(const Config& config);

struct RegistryEntry {
  std::string name;
  int version = 0;
  std::string path;
  bool active = false;
};

class ModelRegistry {
 public:
  /// With `key` (the facility's model key), add() signs every package it stores.
  explicit ModelRegistry(std::string directory, std::optional<std::string> key = std::nullopt);
  const std::string& directory() const { return m_dir; }
  /// Every model file, by name then version.
  std::vector<RegistryEntry> list() const;
  /// The file of a version. @throws DataError when `name` is not a plain name.
  std::string path(const std::string& name, int version) const;
  /// As path(), for opening: the file must exist, be a regular file and lie inside the registry
  /// (a symlink may not lead out of it). @throws DataError saying which.
  std::string checked_path(const std::string& name, int version) const;
  /// The active version of `name` (from `<name>.active`), if any. @throws DataError when the
  /// pointer is not a regular file holding one positive number.
  std::optional<int> active(const std::string& name) const;
  /// Stores `package` as the next version of its name with the active one as parent, makes it
  /// active and returns the version. Creates the directory.
  int add(advisor::ModelPackage package);
  /// Makes `version` the active one. @throws DataError when it does not exist.
  void promote(const std::string& name, int version);
  /// Makes the parent of the active version active and returns it. @throws DataError when there
  /// is none.
  int rollback(const std::string& name);

 private:
  std::string m_dir;
  std::optional<std::string> m_key;
};

/// The facility's model key, when one is configured: the file named by TWIN_MODEL_KEY_FILE, else
/// by advisor.model_key_file. @throws DataError when it cannot be read.
std::optional<std::string> model_key(const std::optional<std::string>& configured_file);

}  // namespace twin::io
