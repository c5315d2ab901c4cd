// The replay CSV reader: any bytes as a replay file. Refusal must be a DataError; what it
// accepts holds only readings with a finite time, in time order.
#include <cmath>

#include "fuzz_common.hpp"
#include "sources/reading_formats.hpp"
#include "twin/error.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  twin::fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = twin::fuzz::write_scratch(data, size, ".csv");
  long skipped = 0;
  try {
    const auto readings = twin::detail::read_replay_csv(path, skipped);
    for (std::size_t i = 0; i < readings.size(); ++i) {
      if (!std::isfinite(readings[i].t_s)) twin::fuzz::violated("a reading without a finite time was accepted");
      if (i > 0 && readings[i].t_s < readings[i - 1].t_s) twin::fuzz::violated("readings out of time order");
    }
    if (skipped < 0) twin::fuzz::violated("a negative skip count");
  } catch (const twin::DataError&) {
  }
  return 0;
}
