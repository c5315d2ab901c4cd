#include "config/yaml_tree.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <sstream>

#include "twin/error.hpp"

namespace twin::detail {
namespace {

class TreeBuilder final : public YAML::EventHandler {
 public:
  explicit TreeBuilder(std::string source) : m_source(std::move(source)) {}

  YamlNode take_root() { return std::move(m_root); }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    refuse_anchor(mark, anchor);
    add(leaf(YamlNode::Kind::null, mark));
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    fail(mark, "YAML aliases (*name) are not supported; write the value out in full");
  }

  void OnAnchor(const YAML::Mark& mark, const std::string&) override {
    fail(mark, "YAML anchors (&name) are not supported; write the value out in full");
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    refuse_anchor(mark, anchor);
    refuse_tag(mark, tag);
    YamlNode node = leaf(YamlNode::Kind::scalar, mark);
    node.scalar = value;
    node.quoted = tag == "!";
    add(std::move(node));
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(YamlNode::Kind::sequence, mark, tag, anchor);
  }
  void OnSequenceEnd() override { m_stack.pop_back(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(YamlNode::Kind::map, mark, tag, anchor);
  }
  void OnMapEnd() override {
    if (!m_stack.back().want_key) fail_at(m_stack.back().key_line, m_stack.back().key_column, "key without a value");
    m_stack.pop_back();
  }

 private:
  struct Frame {
    YamlNode* node = nullptr;
    bool want_key = true;
    std::string key;
    int key_line = 0;
    int key_column = 0;
  };

  [[noreturn]] void fail_at(int line, int column, const std::string& message) const {
    throw ConfigError({m_source, line, column, ""}, message);
  }
  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& message) const {
    fail_at(mark.line + 1, mark.column + 1, message);
  }

  void refuse_anchor(const YAML::Mark& mark, YAML::anchor_t anchor) const {
    if (anchor != YAML::NullAnchor) fail(mark, "YAML anchors (&name) are not supported; write the value out in full");
  }
  void refuse_tag(const YAML::Mark& mark, const std::string& tag) const {
    if (!tag.empty() && tag != "?" && tag != "!") fail(mark, "YAML tags (" + tag + ") are not supported");
  }

  static YamlNode leaf(YamlNode::Kind kind, const YAML::Mark& mark) {
    YamlNode node;
    node.kind = kind;
    node.line = mark.line + 1;
    node.column = mark.column + 1;
    return node;
  }

  // Places `node` into the open container (or as the root) and returns where it now lives.
  YamlNode* add(YamlNode node) {
    if (m_stack.empty()) {
      if (m_have_root) fail_at(node.line, node.column, "more than one value at the top level");
      m_have_root = true;
      m_root = std::move(node);
      return &m_root;
    }
    Frame& top = m_stack.back();
    if (top.node->kind == YamlNode::Kind::sequence) {
      top.node->items.push_back(std::move(node));
      return &top.node->items.back();
    }
    if (top.want_key) {
      if (node.kind != YamlNode::Kind::scalar || node.scalar.empty())
        fail_at(node.line, node.column, "map keys must be plain, non-empty strings");
      for (const auto& e : top.node->entries) {
        if (e.key == node.scalar)
          fail_at(node.line, node.column,
                  "duplicate key '" + node.scalar + "' (first given at line " + std::to_string(e.line) + ")");
      }
      top.key = node.scalar;
      top.key_line = node.line;
      top.key_column = node.column;
      top.want_key = false;
      return nullptr;
    }
    top.want_key = true;
    top.node->entries.push_back({std::move(top.key), top.key_line, top.key_column, std::move(node)});
    return &top.node->entries.back().value;
  }

  void open(YamlNode::Kind kind, const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor) {
    refuse_anchor(mark, anchor);
    refuse_tag(mark, tag);
    if (static_cast<int>(m_stack.size()) >= max_yaml_depth)
      fail(mark, "nesting deeper than " + std::to_string(max_yaml_depth) + " levels");
    if (!m_stack.empty() && m_stack.back().node->kind == YamlNode::Kind::map && m_stack.back().want_key)
      fail(mark, "map keys must be plain, non-empty strings");
    YamlNode* placed = add(leaf(kind, mark));
    Frame frame;
    frame.node = placed;
    m_stack.push_back(std::move(frame));
  }

  std::string m_source;
  YamlNode m_root;
  bool m_have_root = false;
  std::vector<Frame> m_stack;
};

}  // namespace

const char* kind_name(YamlNode::Kind kind) {
  switch (kind) {
    case YamlNode::Kind::null: return "nothing (null)";
    case YamlNode::Kind::scalar: return "a single value";
    case YamlNode::Kind::sequence: return "a list";
    case YamlNode::Kind::map: return "a map";
  }
  return "?";
}

YamlNode parse_yaml(const std::string& text, const std::string& source_name) {
  std::istringstream stream(text);
  TreeBuilder builder(source_name);
  try {
    YAML::Parser parser(stream);
    // Only the first document: a second HandleNextDocument is where 0.7 can loop forever.
    parser.HandleNextDocument(builder);
  } catch (const ConfigError&) {
    throw;
  } catch (const YAML::Exception& e) {
    // yaml-cpp's message for a tab in the indentation does not say "tab"; an editor shows none.
    std::string hint;
    if (e.mark.line >= 0) {
      std::istringstream lines(text);
      std::string line;
      for (int i = 0; i <= e.mark.line && std::getline(lines, line); ++i) {
      }
      const std::size_t indent_end = line.find_first_not_of(" \t");
      if (line.substr(0, indent_end).find('\t') != std::string::npos)
        hint = " (this line is indented with a tab: YAML indents with spaces only)";
    }
    throw ConfigError({source_name, e.mark.line + 1, e.mark.column + 1, ""}, "YAML syntax error: " + e.msg + hint);
  } catch (const std::exception& e) {
    throw ConfigError({source_name, 0, 0, ""}, std::string("cannot parse YAML: ") + e.what());
  }
  return builder.take_root();
}

}  // namespace twin::detail
