#pragma once
// Names of the config's enum values as written in YAML, and the type traits the reader and the
// writer share (src/config only).

#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "twin/config.hpp"

namespace twin::detail {

template <class E>
struct EnumNames;
template <>
struct EnumNames<BoundaryType> {
  static constexpr std::pair<BoundaryType, const char*> values[] = {
      {BoundaryType::dirichlet, "dirichlet"}, {BoundaryType::neumann, "neumann"}, {BoundaryType::robin, "robin"}};
};
template <>
struct EnumNames<ShapeKind> {
  static constexpr std::pair<ShapeKind, const char*> values[] = {{ShapeKind::box, "box"}, {ShapeKind::gaussian, "gaussian"}};
};
template <>
struct EnumNames<EventKind> {
  static constexpr std::pair<EventKind, const char*> values[] = {
      {EventKind::sensor_stuck, "sensor_stuck"},     {EventKind::sensor_dropout, "sensor_dropout"},
      {EventKind::sensor_spike, "sensor_spike"},     {EventKind::sensor_drift, "sensor_drift"},
      {EventKind::sensor_bias, "sensor_bias"},       {EventKind::heater_failure, "heater_failure"},
      {EventKind::heat_source, "heat_source"},       {EventKind::cooling_degradation, "cooling_degradation"},
      {EventKind::parameter_drift, "parameter_drift"},   {EventKind::heater_decay, "heater_decay"}};
};
template <>
struct EnumNames<LogLevel> {
  static constexpr std::pair<LogLevel, const char*> values[] = {
      {LogLevel::trace, "trace"}, {LogLevel::debug, "debug"}, {LogLevel::info, "info"},
      {LogLevel::warn, "warn"},   {LogLevel::error, "error"}, {LogLevel::off, "off"}};
};


template <class E>
inline const char* enum_name(E value) {
  for (const auto& [v, name] : EnumNames<E>::values)
    if (v == value) return name;
  return "?";
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

}  // namespace twin::detail
