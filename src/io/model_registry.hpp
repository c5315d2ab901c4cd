#pragma once
// The model registry: a directory with one file per model version (`<name>-v0003.h5`, written
// by io/model_file.hpp), a pointer to the active version (`<name>.active`) and the history of
// every version's states (`<name>.history.jsonl`, one JSON line per transition, appended).
//
// A version's state (docs/lifecycle.md):
//   active       the pointer names it: runs use it
//   shadow       retrained in a run, scored beside the active one, never applied
//   retired      was active, replaced by a promotion
//   rolled_back  was active, replaced by a rollback (it did worse than the one before)
//   rejected     was in shadow and not promoted
//   stored       no transition on record (imported or trained without activation)
// The pointer decides what runs; the history says how it came to be. A history line that does
// not parse is skipped (and counted), never fatal: the pointer alone is enough to run.

#include <optional>
#include <string>
#include <vector>

#include "advisor/model_package.hpp"
#include "io/model_file.hpp"
#include "twin/config.hpp"

namespace twin::io {

/// The registry directory a config's models live in: advisor.registry, else models/<twin.name>
/// (relative to the working directory, like runs/<twin.name>).
std::string registry_directory(const Config& config);

/// The facility's model key, when one is configured: the file named by TWIN_MODEL_KEY_FILE, else
/// by advisor.model_key_file. @throws DataError when it cannot be read.
std::optional<std::string> model_key(const std::optional<std::string>& configured_file);

struct RegistryEntry {
  std::string name;
  int version = 0;
  std::string path;
  bool active = false;
  std::string state;   ///< see above
  std::string reason;  ///< of the last transition, when on record
};

/// One line of a model's history.
struct Transition {
  std::string utc;
  int version = 0;
  std::string state;
  std::string reason;
};

class ModelRegistry {
 public:
  /// With `key` (the facility's model key), add() signs every package it stores.
  explicit ModelRegistry(std::string directory, std::optional<std::string> key = std::nullopt);
  const std::string& directory() const { return m_dir; }
  /// Every model file, by name then version, with its state.
  std::vector<RegistryEntry> list() const;
  /// The file of a version. @throws DataError when `name` is not a plain name.
  std::string path(const std::string& name, int version) const;
  /// As path(), for opening: the file must exist, be a regular file and lie inside the registry
  /// (a symlink may not lead out of it). @throws DataError saying which.
  std::string checked_path(const std::string& name, int version) const;
  /// The active version of `name` (from `<name>.active`), if any. @throws DataError when the
  /// pointer is not a regular file holding one positive number.
  std::optional<int> active(const std::string& name) const;
  /// Stores `package` as the next version of its name with the active one as parent (unless the
  /// package names a parent already) and returns the version. With `activate` it becomes the
  /// active one (the pointer is moved only after the file is complete); otherwise the pointer
  /// is left alone and the version is recorded in `state` (e.g. "shadow"). Creates the directory.
  int add(advisor::ModelPackage package, bool activate = true, const std::string& state = "stored",
          const std::string& reason = {});
  /// Makes `version` the active one; the version it replaces becomes `replaced_state` (retired,
  /// or rolled_back). @throws DataError when it does not exist.
  void promote(const std::string& name, int version, const std::string& reason = {},
               const std::string& replaced_state = "retired");
  /// Makes the parent of the active version active (the active one becomes rolled_back) and
  /// returns it. @throws DataError when there is none.
  int rollback(const std::string& name, const std::string& reason = {});
  /// Records a state of a version that does not move the pointer (shadow, rejected).
  void mark(const std::string& name, int version, const std::string& state, const std::string& reason);
  /// The transitions on record, oldest first; `skipped` counts lines that did not parse.
  std::vector<Transition> history(const std::string& name, int* skipped = nullptr) const;
  /// The state of one version (see above).
  std::string state(const std::string& name, int version) const;
  /// The version and its ancestors, newest first, following lineage.parent_version; stops at a
  /// missing or unreadable file (its entry then has an empty kind and the error in role) or a
  /// loop. @throws DataError when `version` itself does not exist.
  std::vector<advisor::ModelPackage> lineage(const std::string& name, int version) const;

 private:
  void append_history(const std::string& name, int version, const std::string& state, const std::string& reason) const;
  std::string m_dir;
  std::optional<std::string> m_key;
};

}  // namespace twin::io
