#pragma once
// How a configuration section is described, for every library that owns one: each owner writes
// `template <class V> void describe(V& v, XxxConfig& c)` next to its code (solvers/solver_schema.hpp,
// advisor/advisor_schema.hpp, src/*/*_schema.hpp), and src/config walks it with a reader (parse
// and validate, file:line:column in every error), a writer (the effective config) and a key
// collector ("did you mean"). A visitor V provides:
//   v.required(key, value, rule)      value must be present
//   v.optional(key, value, rule)      keeps the default when absent (std::optional stays empty)
//   v.section(key, sub)               a nested map described by describe(v, sub); optional
//   v.required_section(key, sub)      the same, required
//   v.list(key, items)                a list of maps, each described by describe(v, item)
//   v.check(ok, key, message)         a cross-field rule (reader only)
// A Rule constrains a value: numeric bounds (also applied to each list element), list size, and
// the names a string may take (the types a registry holds).

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace twin::detail {

struct Rule {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;
  std::size_t min_size = 0;
  std::size_t max_size = std::numeric_limits<std::size_t>::max();
  std::vector<std::string> choices;  ///< a string must be one of these (registered types); empty: any

  static Rule positive() { return bounds(0.0, hi_inf(), true); }
  static Rule non_negative() { return bounds(0.0, hi_inf(), false); }
  static Rule at_least(double v) { return bounds(v, hi_inf(), false); }
  static Rule range(double a, double b) { return bounds(a, b, false); }
  /// (a, b]
  static Rule above_up_to(double a, double b) { return bounds(a, b, true); }
  /// A string naming one of `names` (e.g. the types a registry holds).
  static Rule one_of(std::vector<std::string> names) {
    Rule r;
    r.choices = std::move(names);
    return r;
  }
  Rule& size(std::size_t lo_n, std::size_t hi_n) {
    min_size = lo_n;
    max_size = hi_n;
    return *this;
  }

  /// Empty when `v` satisfies the bounds, else the reason ("must be > 0").
  std::string violation(double v) const {
    if (v < lo || (lo_open && v == lo)) return std::string("must be ") + (lo_open ? "> " : ">= ") + num(lo) + bound_hi();
    if (v > hi || (hi_open && v == hi)) return std::string("must be ") + (hi_open ? "< " : "<= ") + num(hi) + bound_lo();
    return {};
  }

 private:
  static Rule bounds(double lo, double hi, bool lo_open) {
    Rule r;
    r.lo = lo;
    r.hi = hi;
    r.lo_open = lo_open;
    return r;
  }
  static double hi_inf() { return std::numeric_limits<double>::infinity(); }
  static std::string num(double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }
  std::string bound_hi() const {
    return hi == hi_inf() ? "" : std::string(" and ") + (hi_open ? "< " : "<= ") + num(hi);
  }
  std::string bound_lo() const {
    return lo == -hi_inf() ? "" : std::string(" and ") + (lo_open ? "> " : ">= ") + num(lo);
  }
};

/// What is wrong with the names of a list (sensors, controls, sources, parameters): the first item
/// without one or repeating an earlier one's, as "list[i] repeats the name 'x' of list[j]"; empty
/// when every item has a name of its own.
template <class T>
std::string name_problem(const std::vector<T>& items, const std::string& list = "") {
  const auto at = [&](std::size_t i) { return list + "[" + std::to_string(i) + "]"; };
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].name.empty()) return at(i) + " has no name";
    for (std::size_t j = 0; j < i; ++j)
      if (items[j].name == items[i].name) return at(i) + " repeats the name '" + items[i].name + "' of " + at(j);
  }
  return {};
}

/// True when every item has a name and no two share one.
template <class T>
bool unique_names(const std::vector<T>& items) {
  return name_problem(items).empty();
}

}  // namespace twin::detail
