#pragma once
// Constraints on a config value: numeric bounds (also applied to each list element) and list size.

#include <cstddef>
#include <limits>
#include <string>

namespace twin::detail {

struct Rule {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;
  std::size_t min_size = 0;
  std::size_t max_size = std::numeric_limits<std::size_t>::max();

  static Rule positive() { return Rule{0.0, hi_inf(), true, false}; }
  static Rule non_negative() { return Rule{0.0, hi_inf(), false, false}; }
  static Rule at_least(double v) { return Rule{v, hi_inf(), false, false}; }
  static Rule range(double a, double b) { return Rule{a, b, false, false}; }
  /// (a, b]
  static Rule above_up_to(double a, double b) { return Rule{a, b, true, false}; }
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

}  // namespace twin::detail
