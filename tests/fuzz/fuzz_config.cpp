// The config loader: any bytes as a YAML config. Refusal must be a ConfigError; an accepted
// config must write out as the effective config (to_yaml) and read back to the same text
// (under the same source name, which the effective config's first line gives).
#include <string>

#include "fuzz_common.hpp"
#include "twin/config.hpp"
#include "twin/error.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  twin::fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  twin::Config config;
  try {
    config = twin::parse_config(text, "fuzz.yaml");
  } catch (const twin::ConfigError&) {
    return 0;
  }
  const std::string effective = twin::to_yaml(config);
  std::string again;
  try {
    again = twin::to_yaml(twin::parse_config(effective, "fuzz.yaml"));
  } catch (const twin::ConfigError& e) {
    std::fprintf(stderr, "%s\n--- effective config ---\n%s\n", e.what(), effective.c_str());
    twin::fuzz::violated("an accepted config's effective config is refused");
  }
  if (again != effective) twin::fuzz::violated("an accepted config's effective config does not read back the same");
  return 0;
}
