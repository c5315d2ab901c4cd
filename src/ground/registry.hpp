#pragma once
/// @file
/// Components chosen by `type:` in the config (amr-wind's `Factory<Base>`, TorchFort's
/// `REGISTER_MODEL`). Each abstract base owns one `Registry<Base, Args...>`, returned by its
/// static `registry()`; each implementation registers itself in its own .cpp with one line:
///
///     TWIN_REGISTER_TYPE(ObservationSource, "replay", [](const SourceContext& c) {
///       return std::make_unique<ReplaySource>(c);
///     });
///
/// Adding a type is one new file and one registration line; the config reader asks the
/// registry which types exist, so an unknown one is refused with the list of known ones.
/// Registration runs during static initialisation of the library that holds the type; lookups
/// happen after main starts. Not thread-safe for registration (none happens after start-up).

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "twin/error.hpp"

namespace twin {

template <class Base, class... Args>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Base>(Args...)>;

  /// Registers `type`; returns true so that it can initialise a namespace-scope constant.
  /// A second registration of the same type replaces nothing and is reported as false.
  bool add(const std::string& type, Factory factory) { return m_factories.emplace(type, std::move(factory)).second; }

  bool contains(const std::string& type) const { return m_factories.count(type) > 0; }

  /// The registered types, sorted.
  std::vector<std::string> types() const {
    std::vector<std::string> out;
    for (const auto& entry : m_factories) out.push_back(entry.first);
    return out;
  }

  /// "plant, replay, stream".
  std::string list() const {
    std::string out;
    for (const auto& entry : m_factories) out += (out.empty() ? "" : ", ") + entry.first;
    return out;
  }

  /// A new component of `type`.
  /// @throws ConfigError naming `what` (e.g. "source.type") and listing the known types when
  ///         `type` is not registered (the config reader refuses it earlier, with file:line).
  std::unique_ptr<Base> create(const std::string& what, const std::string& type, Args... args) const {
    const auto it = m_factories.find(type);
    if (it == m_factories.end())
      throw ConfigError({"", 0, 0, what}, "unknown type '" + type + "' (known: " + list() + ")");
    return it->second(std::forward<Args>(args)...);
  }

 private:
  std::map<std::string, Factory> m_factories;
};

}  // namespace twin

#define TWIN_REGISTRY_CONCAT_(a, b) a##b
#define TWIN_REGISTRY_NAME_(line) TWIN_REGISTRY_CONCAT_(twin_registered_type_, line)
/// Registers a factory for `type` in `Base::registry()` at static initialisation.
#define TWIN_REGISTER_TYPE(Base, type, ...) \
  [[maybe_unused]] static const bool TWIN_REGISTRY_NAME_(__LINE__) = Base::registry().add(type, __VA_ARGS__)
