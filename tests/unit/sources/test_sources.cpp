// Observation sources through their registry (src/sources): the types a config may name, an
// unknown type refused at its file:line with the known ones listed, a replay's readings cycle by
// cycle, and a stream that holds a reading for its cycle, skips and counts malformed lines, and ends.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

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

// A facility that sends every sensor each period gets its advice at once: the period ends when
// all configured sensors have reported in it, not after source.silence_s or the next period's
// readings. The FIFO stays open (a live feed), so waiting for either would take 30 s.
TEST(Sources, AStreamPeriodEndsWhenEverySensorHasReported) {
  twin::Config c = twin::load_config(std::string(TWIN_SOURCE_DIR) + "/tests/data/small_plate.yaml");  // 6 sensors
  c.source.type = "stream";
  c.source.silence_s = 30.0;
  const fs::path fifo = fs::temp_directory_path() / ("twin_sources_" + std::to_string(::getpid()) + "_live.fifo");
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  c.source.stream_input = fifo.string();
  c.source.advice_output = write("advice_live.jsonl", "").string();
  std::string lines;
  for (std::size_t s = 0; s < c.sensors.size(); ++s) lines += "{\"t\": 5, \"sensor\": \"" + c.sensors[s].name + "\", \"value\": 300}\n";
  // The writer opens the FIFO (it blocks until the source opens it), writes one period and
  // keeps it open until the test ends.
  std::promise<void> done;
  std::thread writer([&, finished = done.get_future()]() mutable {
    std::ofstream out(fifo);
    out << lines << std::flush;
    finished.wait();
  });
  const auto source = ObservationSource::create({c, MPI_COMM_SELF});
  const auto start = std::chrono::steady_clock::now();
  const auto first = source->readings(0, 0.0, 5.0, {});
  const double waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  done.set_value();
  writer.join();
  ASSERT_EQ(c.sensors.size(), 6u);
  EXPECT_EQ(first.size(), c.sensors.size());
  EXPECT_TRUE(source->down().empty()) << source->down();
  EXPECT_LT(waited_s, 15.0);  // not the 30 s silence limit
  fs::remove(fifo);
}
