#pragma once
// A YAML document as a plain tree, built from yaml-cpp's parser events so that hostile input is
// refused while parsing: aliases, anchors, explicit tags, duplicate keys, non-scalar keys and deep
// nesting are errors, and only the first document is read (yaml-cpp 0.7's LoadAll can loop
// forever on short malformed input). Every node keeps its 1-based line and column.

#include <string>
#include <utility>
#include <vector>

namespace twin::detail {

struct YamlNode {
  enum class Kind { null, scalar, sequence, map };
  struct Entry;

  Kind kind = Kind::null;
  std::string scalar;           // the text of a scalar
  bool quoted = false;          // scalar was written in quotes
  int line = 0;
  int column = 0;
  std::vector<YamlNode> items;  // sequence elements
  std::vector<Entry> entries;   // map entries, in file order
};

struct YamlNode::Entry {
  std::string key;
  int line = 0;    // position of the key
  int column = 0;
  YamlNode value;
};

/// Deepest nesting of maps and sequences accepted.
inline constexpr int max_yaml_depth = 32;

/// Parses the first YAML document of `text`. An empty document gives a null node.
/// @throws twin::ConfigError with `source_name`, line and column on any problem.
YamlNode parse_yaml(const std::string& text, const std::string& source_name);

const char* kind_name(YamlNode::Kind kind);

}  // namespace twin::detail
