#pragma once
// Always-on checks (TWIN_REQUIRE) and debug-only asserts (TWIN_ASSERT).

#include <sstream>
#include <string>

namespace twin::detail {

template <class E>
[[noreturn]] void throw_check(const char* cond, const std::string& what, const char* file, int line) {
  std::ostringstream out;
  out << what << " (check '" << cond << "' failed at " << file << ":" << line << ")";
  throw E(out.str());
}

}  // namespace twin::detail

/// Throws `ErrorType` with `message` (a std::string expression) when `cond` is false.
#define TWIN_REQUIRE(cond, ErrorType, message)                                      \
  do {                                                                              \
    if (!(cond)) ::twin::detail::throw_check<ErrorType>(#cond, (message), __FILE__, __LINE__); \
  } while (false)

/// Internal invariant, checked in debug builds only.
#ifdef NDEBUG
#define TWIN_ASSERT(cond) ((void)0)
#else
#include <cassert>
#define TWIN_ASSERT(cond) assert(cond)
#endif
