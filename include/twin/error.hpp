#pragma once
/// @file
/// The twinrt error hierarchy.
///
/// Host code reports failures by throwing a `twin::Error` subclass; the C API turns them into
/// return codes. Messages say what went wrong, where (config file:line:column and key path, the
/// sensor id, the file path) and, where there is one, what to do about it.
///
/// Expected outcomes (a rejected reading, a solve that did not converge, a gated proposal) are
/// values, not exceptions.

#include <stdexcept>
#include <string>

namespace twin {

/// Base of every error twinrt throws. Catch this to handle any twinrt failure.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where in a configuration file a problem was found. `line` and `column` are 1-based;
/// 0 means unknown (for example a config given as a string with no position information).
struct ConfigLocation {
  std::string file;  ///< file name as given by the user, or "<string>"
  int line = 0;
  int column = 0;
  std::string key;   ///< dotted key path, e.g. "grid.cells[1]"; empty for the whole document
};

/// A configuration that cannot be accepted: YAML syntax, unknown or misspelled keys, wrong
/// types, missing required keys, out-of-range values, forbidden constructs (aliases, duplicate
/// keys, non-finite numbers). `what()` reads "file:line:column: key: message".
/// The `twin` command exits with code 2 on this error.
class ConfigError : public Error {
 public:
  ConfigError(ConfigLocation where, const std::string& message)
      : Error(format(where, message)), m_where(std::move(where)), m_message(message) {}

  const ConfigLocation& where() const noexcept { return m_where; }
  /// The message without the location prefix.
  const std::string& message() const noexcept { return m_message; }

 private:
  static std::string format(const ConfigLocation& w, const std::string& message) {
    std::string out = w.file.empty() ? std::string("<config>") : w.file;
    if (w.line > 0) {
      out += ":" + std::to_string(w.line);
      if (w.column > 0) out += ":" + std::to_string(w.column);
    }
    out += ": ";
    if (!w.key.empty()) out += w.key + ": ";
    return out + message;
  }

  ConfigLocation m_where;
  std::string m_message;
};

/// Bad data from outside: observations, recorded series, snapshots, model files.
/// The `twin` command exits with code 2 on this error.
class DataError : public Error {
 public:
  using Error::Error;
};

/// An MPI call failed (message names the call, file and line).
class MpiError : public Error {
 public:
  using Error::Error;
};

/// A PETSc call failed (message names the call, file and line).
class PetscError : public Error {
 public:
  using Error::Error;
};

/// An HDF5 call failed (message names the call, the file path where known, file and line).
class Hdf5Error : public Error {
 public:
  using Error::Error;
};

/// The AI advisor could not load or run a model. The runtime answers it by switching the
/// advisor off and emitting safe defaults; it never ends a run by itself.
class AdvisorError : public Error {
 public:
  using Error::Error;
};

}  // namespace twin
