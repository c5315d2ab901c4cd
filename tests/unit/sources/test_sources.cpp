// Observation sources through their registry (src/sources): the types a config may name, an
// unknown type refused at its file:line with the known ones listed, a replay's readings cycle by
// cycle, and a stream that holds a reading for its cycle, skips and counts malformed lines, and ends.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sources/observation_source.hpp"
#include "twin/config.hpp"
#include "twin/error.hpp"

namespace {

namespace fs = std::filesystem;
using twin::detail::ObservationSource;

const std::string tiny = std::string(TWIN_SOURCE_DIR) + "/tests/cli/data/tiny.yaml";

fs::path write(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("twin_sources_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p;
}

std::vector<std::string> names(const std::vector<twin::Observation>& readings) {
  std::vector<std::string> out;
  for (const auto& r : readings) out.push_back(r.sensor + "@" + std::to_string(static_cast<int>(r.t_s)));
  return out;
}

}  // namespace

TEST(Sources, TheRegistryHoldsTheShippedTypes) {
  EXPECT_EQ(ObservationSource::registry().types(), std::vector<std::string>({"plant", "replay", "stream"}));
}

TEST(Sources, AnUnknownTypeIsRefusedWhereItIsWritten) {
  std::ifstream in(tiny);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text += "source:\n  type: kafka\n";
  try {
    twin::parse_config(text, "kafka.yaml");
    FAIL() << "source.type kafka was accepted";
  } catch (const twin::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("kafka.yaml:"), std::string::npos) << what;
    EXPECT_NE(what.find("unknown value 'kafka'; expected one of plant, replay, stream"), std::string::npos) << what;
    EXPECT_GT(e.where().line, 1);
  }
}

TEST(Sources, AReplayDeliversEachCyclesReadingsInTimeOrder) {
  twin::Config c = twin::load_config(tiny);
  c.source.type = "replay";
  c.source.replay_file = write("replay.csv", "t,sensor,value\n10,S2,2\n5,S1,1\n10,S1,3\n12,S1,4\n").string();
  const auto source = ObservationSource::create({c, MPI_COMM_SELF});
  EXPECT_EQ(names(source->readings(0, 0.0, 5.0, {})), std::vector<std::string>({"S1@5"}));
  EXPECT_EQ(names(source->readings(1, 5.0, 5.0, {})), std::vector<std::string>({"S2@10", "S1@10"}));
  EXPECT_EQ(names(source->readings(2, 10.0, 5.0, {})), std::vector<std::string>({"S1@12"}));
  EXPECT_TRUE(source->readings(3, 15.0, 5.0, {}).empty());
  EXPECT_FALSE(source->ended(false));  // a replay runs its cycles; missing readings show in QC
  EXPECT_EQ(source->truth(), nullptr);
}

TEST(Sources, AReplayWithAnUnreadableLineSaysWhere) {
  twin::Config c = twin::load_config(tiny);
  c.source.type = "replay";
  c.source.replay_file = write("bad.csv", "t,sensor,value\n10,S1,2\n10,S1,12abc\n").string();
  try {
    ObservationSource::create({c, MPI_COMM_SELF});
    FAIL() << "a bad value was accepted";
  } catch (const twin::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:3:"), std::string::npos) << e.what();
  }
}

TEST(Sources, AStreamHoldsALaterReadingAndEndsWithItsInput) {
  twin::Config c = twin::load_config(tiny);
  c.source.type = "stream";
  c.source.stream_input = write("stream.jsonl", "{\"t\": 4, \"sensor\": \"S1\", \"value\": 1}\n"
                                                "not json\n"
                                                "{\"t\": 9, \"sensor\": \"S2\", \"value\": null}\n").string();
  c.source.advice_output = write("advice.jsonl", "").string();
  const auto source = ObservationSource::create({c, MPI_COMM_SELF});
  auto first = source->readings(0, 0.0, 5.0, {});
  EXPECT_EQ(names(first), std::vector<std::string>({"S1@4"}));
  EXPECT_FALSE(source->ended(!first.empty()));
  auto second = source->readings(1, 5.0, 5.0, {});
  ASSERT_EQ(names(second), std::vector<std::string>({"S2@9"}));
  EXPECT_TRUE(std::isnan(second[0].value));  // null: a reading QC will reject, not a parse error
  EXPECT_EQ(source->malformed(), 1);
  EXPECT_FALSE(source->ended(!second.empty()));
  EXPECT_TRUE(source->readings(2, 10.0, 5.0, {}).empty());
  EXPECT_TRUE(source->ended(false));
}
