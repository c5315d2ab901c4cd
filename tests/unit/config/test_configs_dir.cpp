// Every file shipped in configs/ is a runnable twin: it loads, validates, and its effective
// config loads again.
#include <gtest/gtest.h>

#include <filesystem>

#include "twin/config.hpp"
#include "twin/error.hpp"

TEST(ShippedConfigs, EveryFileLoads) {
  const std::filesystem::path dir = TWIN_SOURCE_DIR "/configs";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    twin::Config config;
    ASSERT_NO_THROW(config = twin::load_config(entry.path().string()));
    // The effective config (every default written out) loads again to the same config.
    const std::string effective = twin::to_yaml(config);
    twin::Config again;
    ASSERT_NO_THROW(again = twin::parse_config(effective, "effective.yaml"));
    again.source_name = config.source_name;  // the header names the file it came from
    EXPECT_EQ(twin::to_yaml(again), effective);
  }
  EXPECT_GE(files, 1) << "no configs found in " << dir;
}

TEST(ShippedConfigs, DefaultTwinIsThePlate) {
  const twin::Config c = twin::load_config(TWIN_SOURCE_DIR "/configs/plate.yaml");
  EXPECT_EQ(c.twin.name, "plate");
  EXPECT_EQ(c.dims(), 2);
}
