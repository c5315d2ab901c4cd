// Uses the installed public API only: parse a config, print the effective one and the versions.
#include <iostream>

#include "twin/config.hpp"
#include "twin/error.hpp"
#include "twin/version.hpp"

int main() {
  const twin::Config c = twin::parse_config("grid: {cells: [8, 8], extent_m: [1, 1]}\n", "consumer.yaml");
  std::cout << "twinrt " << twin::version() << ", " << c.dims() << "D\n" << twin::to_yaml(c);
  try {
    twin::parse_config("grid: {cels: [8, 8]}\n", "consumer.yaml");
  } catch (const twin::ConfigError& e) {
    std::cout << "rejected as expected: " << e.what() << "\n";
    return 0;
  }
  return 1;
}
