#pragma once
// What every fuzzer shares: a quiet process (no log lines, no HDF5 error stacks) and a scratch
// file for the readers that take a path. A reader may refuse its input only with twinrt's own
// error types (ConfigError, DataError); any other exception, a crash, a hang, a leak or a
// sanitizer report is a finding (libFuzzer stops and writes the input as crash-*/leak-*/timeout-*).

#include <hdf5.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace twin::fuzz {

inline void quiet() {
  spdlog::set_level(spdlog::level::off);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

/// A per-process scratch file (in $TMPDIR, else /tmp) holding the fuzzer's bytes.
inline const std::string& write_scratch(const std::uint8_t* data, std::size_t size, const char* suffix) {
  static std::string path;
  const char* dir = std::getenv("TMPDIR");
  path = std::string(dir && *dir ? dir : "/tmp") + "/twin_fuzz_" + std::to_string(::getpid()) + suffix;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write the scratch file %s\n", path.c_str());
    std::abort();
  }
  return path;
}

/// A property of accepted input that does not hold: a finding.
[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "fuzz: property violated: %s\n", what);
  std::abort();
}

}  // namespace twin::fuzz
