// The effective configuration: every key of schema.hpp written back as YAML, defaults filled in.
#include <yaml-cpp/emitter.h>
#include <yaml-cpp/emittermanip.h>

#include <charconv>
#include <string>

#include "config/names.hpp"
#include "config/schema.hpp"
#include "twin/version.hpp"

namespace twin {
namespace detail {
namespace {

std::string shortest(double v) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, result.ptr);
  // Keep it a number that reads back as a float in any YAML reader.
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

class Writer {
 public:
  explicit Writer(YAML::Emitter& out) : m_out(out) {}

  template <class T>
  void required(const char* key, T& value, const Rule& = {}) {
    m_out << YAML::Key << key << YAML::Value;
    write(value);
  }
  template <class T>
  void optional(const char* key, T& value, const Rule& rule = {}) {
    required(key, value, rule);
  }
  template <class S>
  void section(const char* key, S& value) {
    if constexpr (is_optional<S>::value) {
      if (!value) return;
      section(key, *value);
    } else {
      m_out << YAML::Key << key << YAML::Value << YAML::BeginMap;
      describe(*this, value);
      m_out << YAML::EndMap;
    }
  }
  template <class S>
  void required_section(const char* key, S& value) {
    section(key, value);
  }
  template <class S>
  void list(const char* key, std::vector<S>& items) {
    m_out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
    for (auto& item : items) {
      m_out << YAML::BeginMap;
      describe(*this, item);
      m_out << YAML::EndMap;
    }
    m_out << YAML::EndSeq;
  }
  void check(bool, const std::string&, const std::string&) {}

 private:
  void write(double v) { m_out << shortest(v); }
  void write(int v) { m_out << v; }
  void write(unsigned v) { m_out << v; }
  void write(bool v) { m_out << (v ? "true" : "false"); }
  void write(const std::string& v) { m_out << YAML::DoubleQuoted << v; }
  template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
  void write(E v) {
    m_out << enum_name(v);
  }
  template <class T>
  void write(std::vector<T>& v) {
    m_out << YAML::Flow << YAML::BeginSeq;
    for (auto& x : v) write(x);
    m_out << YAML::EndSeq;
  }
  template <class T>
  void write(std::optional<T>& v) {
    if (v) write(*v);
    else m_out << YAML::Null;
  }

  YAML::Emitter& m_out;
};

}  // namespace
}  // namespace detail

std::string to_yaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::Comment(std::string("effective configuration (defaults filled in), twinrt ") + version() +
                       ", from " + (config.source_name.empty() ? "<string>" : config.source_name));
  out << YAML::Newline << YAML::BeginMap;
  Config copy = config;
  detail::Writer writer(out);
  detail::describe(writer, copy);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

const char* to_string(BoundaryType v) { return detail::enum_name(v); }
const char* to_string(ShapeKind v) { return detail::enum_name(v); }
const char* to_string(EventKind v) { return detail::enum_name(v); }
const char* to_string(LogLevel v) { return detail::enum_name(v); }

}  // namespace twin
