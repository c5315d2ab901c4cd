// Parsing and validation of the twin configuration (yaml-cpp: here, in writer.cpp and in
// yaml_tree.cpp only). The keys themselves are listed once, in schema.hpp.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "config/load.hpp"
#include "config/names.hpp"
#include "config/schema.hpp"
#include "config/yaml_tree.hpp"
#include "twin/error.hpp"
#include "twin/version.hpp"

namespace twin {
namespace detail {
namespace {

// ---- "did you mean" ---------------------------------------------------------------------------

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best.empty() ? std::string() : " (did you mean '" + best + "'?)";
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// ---- reading ------------------------------------------------------------------------------------

// The longest string a config may hold (a name, a path, PETSc options).
constexpr std::size_t max_string_bytes = 1024;
constexpr double max_config_magnitude = 1.0e100;

struct Where {
  const std::string* source;
  std::string path;  // dotted key path
};

[[noreturn]] void fail(const Where& at, int line, int column, const std::string& message) {
  throw ConfigError({*at.source, line, column, at.path}, message);
}
[[noreturn]] void fail(const Where& at, const YamlNode& node, const std::string& message) {
  fail(at, node.line, node.column, message);
}

std::string describe_value(const YamlNode& n) {
  if (n.kind == YamlNode::Kind::scalar) return (n.quoted ? "the string \"" : "'") + n.scalar + (n.quoted ? "\"" : "'");
  return kind_name(n.kind);
}

const YamlNode& expect_scalar(const YamlNode& n, const Where& at, const char* expected) {
  if (n.kind != YamlNode::Kind::scalar) fail(at, n, std::string("expected ") + expected + ", got " + kind_name(n.kind));
  return n;
}

void decode(const YamlNode& n, const Where& at, const Rule& rule, double& out) {
  expect_scalar(n, at, "a number");
  std::string lower = n.scalar;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (lower.find("nan") != std::string::npos || lower.find("inf") != std::string::npos)
    fail(at, n, "non-finite numbers (" + n.scalar + ") are not allowed");
  const bool numeric_chars = !n.scalar.empty() && n.scalar.find_first_not_of("0123456789+-.eE") == std::string::npos;
  if (n.quoted || !numeric_chars) fail(at, n, "expected a number, got " + describe_value(n));
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(n.scalar.c_str(), &end);
  if (end != n.scalar.c_str() + n.scalar.size()) fail(at, n, "expected a number, got " + describe_value(n));
  if (!std::isfinite(v) || errno == ERANGE) fail(at, n, "number " + n.scalar + " is out of the range of a double");
  // The filter squares and sums values over members and cells: beyond this they overflow into
  // a NaN far from the key that caused it.
  if (std::abs(v) > max_config_magnitude)
    fail(at, n, "number " + n.scalar + " is larger than 1e100 in size (the filter's squares and sums of it would overflow); "
                "give the asset in units that keep its values smaller");
  if (auto why = rule.violation(v); !why.empty()) fail(at, n, why + ", got " + n.scalar);
  out = v;
}

void decode(const YamlNode& n, const Where& at, const Rule& rule, int& out) {
  expect_scalar(n, at, "a whole number");
  const std::string& s = n.scalar;
  long long v = 0;
  const char* first = s.c_str() + (!s.empty() && s[0] == '+' ? 1 : 0);
  const auto [ptr, ec] = std::from_chars(first, s.c_str() + s.size(), v);
  if (n.quoted || s.empty() || ec != std::errc() || ptr != s.c_str() + s.size())
    fail(at, n, "expected a whole number, got " + describe_value(n));
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    fail(at, n, "number " + s + " is too large");
  if (auto why = rule.violation(static_cast<double>(v)); !why.empty()) fail(at, n, why + ", got " + s);
  out = static_cast<int>(v);
}

void decode(const YamlNode& n, const Where& at, const Rule&, unsigned& out) {
  expect_scalar(n, at, "a whole number");
  const std::string& s = n.scalar;
  unsigned long long v = 0;
  const auto [ptr, ec] = std::from_chars(s.c_str(), s.c_str() + s.size(), v);
  if (n.quoted || s.empty() || ec != std::errc() || ptr != s.c_str() + s.size())
    fail(at, n, "expected a whole number >= 0, got " + describe_value(n));
  if (v > std::numeric_limits<unsigned>::max()) fail(at, n, "number " + s + " is too large");
  out = static_cast<unsigned>(v);
}

void decode(const YamlNode& n, const Where& at, const Rule&, bool& out) {
  expect_scalar(n, at, "true or false");
  if (!n.quoted && n.scalar == "true") out = true;
  else if (!n.quoted && n.scalar == "false") out = false;
  else fail(at, n, "expected true or false, got " + describe_value(n));
}

void decode(const YamlNode& n, const Where& at, const Rule& rule, std::string& out) {
  expect_scalar(n, at, "a string");
  // Names and paths end up in logs, HDF5 string tables and JSON: text of one line, of a sane
  // length, in UTF-8 (nlohmann::json, which writes summary.json, is the judge of that).
  if (n.scalar.size() > max_string_bytes)
    fail(at, n, "a string of " + std::to_string(n.scalar.size()) + " bytes; at most " +
                    std::to_string(max_string_bytes) + " are allowed");
  for (const char ch : n.scalar)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f)
      fail(at, n, "the string contains a control character (code " + std::to_string(static_cast<unsigned char>(ch)) +
                      "; a newline from a block scalar '|' or '>'?); write it on one line");
  try {
    (void)nlohmann::json(n.scalar).dump();
  } catch (const nlohmann::json::exception&) {
    fail(at, n, "the string is not valid UTF-8 text; save the file as UTF-8");
  }
  if (!rule.choices.empty() && std::find(rule.choices.begin(), rule.choices.end(), n.scalar) == rule.choices.end())
    fail(at, n, "unknown value '" + n.scalar + "'" + did_you_mean(n.scalar, rule.choices) + "; expected one of " +
                    join_names(rule.choices));
  out = n.scalar;
}

template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
void decode(const YamlNode& n, const Where& at, const Rule&, E& out) {
  std::vector<std::string> names;
  for (const auto& [v, name] : EnumNames<E>::values) names.emplace_back(name);
  expect_scalar(n, at, ("one of " + join_names(names)).c_str());
  for (const auto& [v, name] : EnumNames<E>::values) {
    if (n.scalar == name) {
      out = v;
      return;
    }
  }
  fail(at, n, "unknown value '" + n.scalar + "'" + did_you_mean(n.scalar, names) + "; expected one of " + join_names(names));
}

template <class T>
void decode(const YamlNode& n, const Where& at, const Rule& rule, std::vector<T>& out) {
  if (n.kind != YamlNode::Kind::sequence) fail(at, n, std::string("expected a list, got ") + describe_value(n));
  const std::size_t size = n.items.size();
  if (size < rule.min_size || size > rule.max_size) {
    const std::string want = rule.min_size == rule.max_size
                                 ? std::to_string(rule.min_size)
                                 : std::to_string(rule.min_size) + " to " + std::to_string(rule.max_size);
    fail(at, n, "expected a list of " + want + " entries, got " + std::to_string(size));
  }
  std::vector<T> values(size);
  for (std::size_t i = 0; i < size; ++i) {
    T element{};
    decode(n.items[i], Where{at.source, at.path + "[" + std::to_string(i) + "]"}, rule, element);
    values[i] = element;
  }
  out = std::move(values);
}

// Lists the keys a section knows, without reading anything.
class KeyCollector {
 public:
  std::vector<std::string> keys;
  template <class T>
  void required(const char* key, T&, const Rule& = {}) { keys.emplace_back(key); }
  template <class T>
  void optional(const char* key, T&, const Rule& = {}) { keys.emplace_back(key); }
  template <class S>
  void section(const char* key, S&) { keys.emplace_back(key); }
  template <class S>
  void required_section(const char* key, S&) { keys.emplace_back(key); }
  template <class S>
  void list(const char* key, std::vector<S>&) { keys.emplace_back(key); }
  void check(bool, const std::string&, const std::string&) {}
};

template <class S>
std::vector<std::string> known_keys() {
  KeyCollector collector;
  S scratch{};
  describe(collector, scratch);
  return collector.keys;
}

// Reads one map node into a section struct, through describe().
class Reader {
 public:
  Reader(const YamlNode& map, Where at) : m_map(map), m_at(std::move(at)) {}

  template <class S>
  static void read_section(const YamlNode& node, const Where& at, S& out) {
    if (node.kind == YamlNode::Kind::null) return;  // "physics:" with nothing under it: defaults
    if (node.kind != YamlNode::Kind::map) fail(at, node, std::string("expected a map of keys, got ") + describe_value(node));
    const auto keys = known_keys<std::remove_cv_t<S>>();
    for (const auto& e : node.entries) {
      if (std::find(keys.begin(), keys.end(), e.key) == keys.end())
        fail(Where{at.source, sub_path(at.path, e.key)}, e.line, e.column,
             "unknown key '" + e.key + "'" + did_you_mean(e.key, keys) + "; known keys here: " + join_names(keys));
    }
    Reader reader(node, at);
    describe(reader, out);
  }

  template <class T>
  void required(const char* key, T& out, const Rule& rule = {}) {
    const auto* e = find(key);
    if (!e) fail(m_at, m_map, "missing required key '" + std::string(key) + "'");
    read_value(*e, key, out, rule);
  }

  template <class T>
  void optional(const char* key, T& out, const Rule& rule = {}) {
    const auto* e = find(key);
    if (!e) return;
    if constexpr (is_vector<T>::value) {
      // An empty list means "not given" (the effective config writes unset lists as []).
      if (e->value.kind == YamlNode::Kind::sequence && e->value.items.empty()) {
        out.clear();
        return;
      }
    }
    read_value(*e, key, out, rule);
  }

  template <class S>
  void section(const char* key, S& out) {
    const auto* e = find(key);
    if (!e) return;
    const Where at{m_at.source, sub_path(m_at.path, key)};
    if constexpr (is_optional<S>::value) {
      if (e->value.kind == YamlNode::Kind::null) {
        out.reset();
        return;
      }
      typename S::value_type value{};
      read_section(e->value, at, value);
      out = std::move(value);
    } else {
      read_section(e->value, at, out);
    }
  }

  template <class S>
  void required_section(const char* key, S& out) {
    const auto* e = find(key);
    if (!e) fail(m_at, m_map, "missing required section '" + std::string(key) + "'");
    // "grid:" with nothing under it (a file cut after that line) is not a grid of defaults.
    if (e->value.kind == YamlNode::Kind::null)
      fail(Where{m_at.source, sub_path(m_at.path, key)}, e->value,
           "the required section '" + std::string(key) + "' is empty (was the file cut short?)");
    section(key, out);
  }

  template <class S>
  void list(const char* key, std::vector<S>& out) {
    const auto* e = find(key);
    if (!e || e->value.kind == YamlNode::Kind::null) return;
    const Where at{m_at.source, sub_path(m_at.path, key)};
    if (e->value.kind != YamlNode::Kind::sequence)
      fail(at, e->value, std::string("expected a list of maps, got ") + describe_value(e->value));
    std::vector<S> items(e->value.items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      const YamlNode& item = e->value.items[i];
      const Where item_at{m_at.source, at.path + "[" + std::to_string(i) + "]"};
      if (item.kind != YamlNode::Kind::map) fail(item_at, item, std::string("expected a map of keys, got ") + describe_value(item));
      read_section(item, item_at, items[i]);
    }
    out = std::move(items);
  }

  void check(bool ok, const std::string& key, const std::string& message) {
    if (ok) return;
    // Point at the key when it is present, else at the enclosing section.
    const YamlNode* node = &m_map;
    int line = m_map.line, column = m_map.column;
    std::string rest = key;
    while (node && node->kind == YamlNode::Kind::map && !rest.empty()) {
      std::string head = rest.substr(0, rest.find('.'));
      rest = rest.size() > head.size() ? rest.substr(head.size() + 1) : std::string();
      // "sources[2]": the key, then item 2 of its list.
      long item = -1;
      if (const auto open = head.find('['); open != std::string::npos) {
        item = std::strtol(head.c_str() + open + 1, nullptr, 10);
        head.resize(open);
      }
      const YamlNode* next = nullptr;
      for (const auto& e : node->entries) {
        if (e.key == head) {
          line = e.line;
          column = e.column;
          next = &e.value;
        }
      }
      if (next && item >= 0 && next->kind == YamlNode::Kind::sequence &&
          item < static_cast<long>(next->items.size())) {
        next = &next->items[static_cast<std::size_t>(item)];
        line = next->line;
        column = next->column;
      }
      node = next;
    }
    fail(Where{m_at.source, sub_path(m_at.path, key)}, line, column, message);
  }

 private:
  static std::string sub_path(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  const YamlNode::Entry* find(const char* key) const {
    for (const auto& e : m_map.entries)
      if (e.key == key) return &e;
    return nullptr;
  }

  template <class T>
  void read_value(const YamlNode::Entry& e, const char* key, T& out, const Rule& rule) {
    const Where at{m_at.source, sub_path(m_at.path, key)};
    if constexpr (is_optional<T>::value) {
      if (e.value.kind == YamlNode::Kind::null) {
        out.reset();
        return;
      }
      typename T::value_type value{};
      decode(e.value, at, rule, value);
      out = std::move(value);
    } else {
      if (e.value.kind == YamlNode::Kind::null) fail(at, e.line, e.column, "needs a value");
      decode(e.value, at, rule, out);
    }
  }

  const YamlNode& m_map;
  Where m_at;
};

}  // namespace
}  // namespace detail

Config parse_config(const std::string& text, const std::string& source_name) {
  using detail::YamlNode;
  if (text.size() > max_config_bytes)
    throw ConfigError({source_name, 0, 0, ""}, "file is larger than " + std::to_string(max_config_bytes) +
                                                   " bytes; a twin configuration is a few kilobytes");
  if (text.find('\0') != std::string::npos)
    throw ConfigError({source_name, 0, 0, ""}, "file contains NUL bytes; is it a binary file?");
  const YamlNode root = detail::parse_yaml(text, source_name);
  if (root.kind == YamlNode::Kind::null)
    throw ConfigError({source_name, 0, 0, ""}, "the configuration is empty; start from configs/plate.yaml");
  const detail::Where at{&source_name, ""};
  if (root.kind != YamlNode::Kind::map)
    detail::fail(at, root, std::string("the top level must be a map of sections (twin:, grid:, physics:, ...), got ") +
                               detail::kind_name(root.kind));
  Config config;
  detail::Reader::read_section(root, at, config);
  config.source_name = source_name;
  return config;
}

double sensor_distance(const SensorConfig& a, const SensorConfig& b) {
  double d2 = 0.0;
  for (std::size_t d = 0; d < a.position_m.size() && d < b.position_m.size(); ++d)
    d2 += (a.position_m[d] - b.position_m[d]) * (a.position_m[d] - b.position_m[d]);
  return std::sqrt(d2);
}

double widest_sensor_gap(const std::vector<SensorConfig>& sensors) {
  double widest = 0.0;
  for (std::size_t s = 0; s < sensors.size(); ++s) {
    double nearest = std::numeric_limits<double>::infinity();
    for (std::size_t t = 0; t < sensors.size(); ++t)
      if (t != s) nearest = std::min(nearest, sensor_distance(sensors[s], sensors[t]));
    if (std::isfinite(nearest)) widest = std::max(widest, nearest);
  }
  return widest;
}

double localization_length(const Config& config) {
  if (config.assimilation.localization_m) return *config.assimilation.localization_m;
  const double gap = widest_sensor_gap(config.sensors);
  if (gap > 0.0) return gap;
  double extent = 0.0;
  for (double e : config.grid.extent_m) extent = std::max(extent, e);
  return extent > 0.0 ? extent : 1.0;
}

double initial_length(const Config& config) {
  return config.ensemble.initial_length_m ? *config.ensemble.initial_length_m : 0.5 * localization_length(config);
}

Config load_config(const std::string& path) { return parse_config(detail::read_config_file(path), path); }

}  // namespace twin
