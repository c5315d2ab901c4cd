// Core helpers: the MPI check macro, the error hierarchy and the JSON-lines log sink.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/check.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "twin/error.hpp"

TEST(MpiCheck, ThrowsMpiErrorNamingTheCall) {
  ASSERT_EQ(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), MPI_SUCCESS);
  int rank = 0;
  EXPECT_NO_THROW(TWIN_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank)));
  try {
    TWIN_MPI_CHECK(MPI_Bcast(&rank, -1, MPI_INT, 0, MPI_COMM_WORLD));  // negative count: an MPI error
    FAIL() << "no MpiError";
  } catch (const twin::MpiError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("MPI_Bcast(&rank, -1, MPI_INT, 0, MPI_COMM_WORLD)"), std::string::npos) << what;
    EXPECT_NE(what.find("test_core.cpp"), std::string::npos) << what;
  }
}

TEST(Errors, HierarchyAndRequire) {
  EXPECT_THROW(TWIN_REQUIRE(1 + 1 == 3, twin::DataError, "arithmetic"), twin::DataError);
  EXPECT_NO_THROW(TWIN_REQUIRE(1 + 1 == 2, twin::DataError, "arithmetic"));
  try {
    TWIN_REQUIRE(false, twin::AdvisorError, std::string("model missing"));
  } catch (const twin::Error& e) {  // every twinrt error is a twin::Error
    EXPECT_NE(std::string(e.what()).find("model missing"), std::string::npos);
  }
  const twin::ConfigError e({"plant.yaml", 4, 7, "grid.cells"}, "bad");
  EXPECT_STREQ(e.what(), "plant.yaml:4:7: grid.cells: bad");
  EXPECT_EQ(e.message(), "bad");
}

TEST(Logging, JsonLinesSinkWritesOneObjectPerLine) {
  const auto path = std::filesystem::temp_directory_path() / ("twin_log_" + std::to_string(twin::world_rank()) + ".jsonl");
  std::filesystem::remove(path);
  twin::LoggingConfig config;
  config.json_file = path.string();
  config.level = twin::LogLevel::debug;
  config.all_ranks = true;
  twin::log::init(config);
  spdlog::info("sensor \"T07\" rejected: {}", "stuck");
  spdlog::debug("second line");
  twin::log::flush();
  std::ifstream in(path);
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["msg"], "sensor \"T07\" rejected: stuck");
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["rank"], twin::world_rank());
  EXPECT_EQ(lines[1]["level"], "debug");
  twin::log::init_default();
  std::filesystem::remove(path);
}

TEST(Logging, UnwritableJsonFileIsAConfigError) {
  twin::LoggingConfig config;
  config.json_file = "/nonexistent-dir/log.jsonl";
  EXPECT_THROW(twin::log::init(config), twin::ConfigError);
  twin::log::init_default();
}
