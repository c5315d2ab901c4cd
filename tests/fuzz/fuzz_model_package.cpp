// The model package reader: any bytes as a model file. Refusal must be a DataError; a package it
// reads must digest (the integrity check that runs before anything else looks at it).
#include "advisor/model_package.hpp"
#include "fuzz_common.hpp"
#include "io/model_file.hpp"
#include "twin/error.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  twin::fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = twin::fuzz::write_scratch(data, size, ".h5");
  twin::advisor::ModelPackage package;
  try {
    package = twin::io::read_model(path);
  } catch (const twin::DataError&) {
    return 0;
  }
  const std::string digest = twin::advisor::package_digest(package);
  if (digest.size() != 64) twin::fuzz::violated("a package digest that is not SHA-256 hex");
  if (twin::advisor::package_signature("a key of thirty-two bytes or more.", package).size() != 64)
    twin::fuzz::violated("a package signature that is not HMAC-SHA-256 hex");
  return 0;
}
