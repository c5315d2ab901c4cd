#pragma once
// How the lifecycle's files (lifecycle.cpp, lifecycle_judge.cpp, lifecycle_state.cpp) write and
// combine their figures.
#include <fmt/format.h>

#include <cmath>
#include <string>

namespace twin::detail::lifecycle_figures {

/// A figure in a reason or a log line: 3 significant digits.
inline std::string fixed(double v, int digits = 3) { return fmt::format("{:.{}g}", v, digits); }
/// Root mean square of n squared errors summed in sq (NaN without any).
inline double rms(double sq, long n) { return n > 0 ? std::sqrt(sq / n) : std::nan(""); }

}  // namespace twin::detail::lifecycle_figures
