// Hostile and broken inputs to the sources (issue 14): each case of the issue, with its class.
// Replays: a nan time is skipped and counted, not a stuck cursor; an empty, header-only or
// foreign file is refused with what it holds; spaces and quotes are read; a recorded series.h5
// whose datasets do not fit its names is refused before any read. Streams: a reading from the
// far future neither blocks later lines nor stays held; one sensor with a fast clock does not
// end the period for the others; an advice output that cannot be opened is refused.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "io/series.hpp"
#include "sources/observation_source.hpp"
#include "twin/config.hpp"
#include "twin/error.hpp"

namespace {

namespace fs = std::filesystem;
using twin::detail::ObservationSource;

const std::string small_plate = std::string(TWIN_SOURCE_DIR) + "/tests/data/small_plate.yaml";

fs::path write(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("twin_hostile_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p;
}

twin::Config replay_of(const fs::path& file) {
  twin::Config c = twin::load_config(small_plate);
  c.source = {};
  c.source.type = "replay";
  c.source.replay_file = file.string();
  return c;
}

std::string refusal(const twin::Config& c) {
  try {
    ObservationSource::create({c, MPI_COMM_SELF});
  } catch (const twin::DataError& e) {
    return e.what();
  }
  return "accepted";
}

int count_readings(ObservationSource& s, int cycles) {
  int n = 0;
  for (int c = 0; c < cycles; ++c) n += static_cast<int>(s.readings(c, c * 10.0, 10.0, {}).size());
  return n;
}

// A series.h5 with the given names and dataset shapes (rank-1 time, rank-2 values).
fs::path crafted_series(const std::string& name, int names, std::vector<hsize_t> time_dims, std::vector<hsize_t> value_dims) {
  const fs::path p = fs::temp_directory_path() / ("twin_hostile_" + std::to_string(::getpid()) + "_" + name);
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  const hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  for (const char* g : {"/sensors", "/cycle"}) H5Gclose(H5Gcreate2(f, g, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, 4);
  std::vector<char> buf(static_cast<std::size_t>(names) * 4, '\0');
  for (int i = 0; i < names; ++i) buf[static_cast<std::size_t>(i) * 4] = 'S', buf[static_cast<std::size_t>(i) * 4 + 1] = static_cast<char>('1' + i);
  hsize_t n = static_cast<hsize_t>(names);
  hid_t space = H5Screate_simple(1, &n, nullptr);
  hid_t set = H5Dcreate2(f, "/sensors/names", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  H5Dclose(set), H5Sclose(space), H5Tclose(type);
  const auto dataset = [&](const char* path, const std::vector<hsize_t>& dims) {
    hsize_t total = 1;
    for (hsize_t d : dims) total *= d;
    std::vector<double> values(total, 300.0);
    const hid_t s = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t d = H5Dcreate2(f, path, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(d), H5Sclose(s);
  };
  dataset("/cycle/time_s", time_dims);
  dataset("/sensors/observed", value_dims);
  H5Fclose(f), H5Pclose(fapl);
  return p;
}

}  // namespace

TEST(HostileReplay, ANanTimeIsSkippedAndCountedNotAStuckCursor) {
  const auto s = ObservationSource::create(
      {replay_of(write("nan.csv", "t,sensor,value\n10,S1,295\nnan,S1,296\n20,S1,297\n30,S2,298\n")), MPI_COMM_SELF});
  EXPECT_EQ(count_readings(*s, 3), 3) << "the readings after the nan time are still replayed";
}

TEST(HostileReplay, EmptyHeaderOnlyAndForeignFilesAreRefusedWithWhatTheyHold) {
  EXPECT_NE(refusal(replay_of(write("empty.csv", ""))).find("no usable reading"), std::string::npos);
  EXPECT_NE(refusal(replay_of(write("header.csv", "t,sensor,value\n"))).find("no usable reading"), std::string::npos);
  EXPECT_NE(refusal(replay_of(write("nans.csv", "nan,S1,1\ninf,S1,2\n"))).find("2 without a usable time"), std::string::npos);
  const std::string foreign = refusal(replay_of(write("foreign.csv", "10,T1,1\n10,T2,2\n")));
  EXPECT_NE(foreign.find("none of its 2 readings names a sensor of this twin (it names T1, T2"), std::string::npos) << foreign;
  EXPECT_NE(refusal(replay_of(write("cols.csv", "10,S1\n"))).find("cols.csv:1:"), std::string::npos);
  EXPECT_NE(refusal(replay_of(fs::temp_directory_path())).find("not a regular file"), std::string::npos);
}

TEST(HostileReplay, SpacesAndQuotedNamesAreRead) {
  const auto s = ObservationSource::create(
      {replay_of(write("spaces.csv", "t, sensor, value\n 10 , S1 , 295\n10,\"S2\",296\r\n")), MPI_COMM_SELF});
  const auto r = s->readings(0, 0.0, 10.0, {});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].sensor, "S1");
  EXPECT_EQ(r[1].sensor, "S2");
  EXPECT_EQ(r[1].value, 296.0);
}

TEST(HostileReplay, ASeriesWhoseDatasetsDoNotFitItsNamesIsRefusedBeforeAnyRead) {
  const auto refused = [](const fs::path& p, const std::string& part) {
    twin::Config c = replay_of(p);
    const std::string why = refusal(c);
    EXPECT_NE(why.find(part), std::string::npos) << p << ": " << why;
  };
  refused(crafted_series("wide.h5", 2, {3}, {3, 5}), "/sensors/observed is [3 x 5], expected [3 x 2]");
  refused(crafted_series("long.h5", 2, {3}, {300, 2}), "/sensors/observed is [300 x 2], expected [3 x 2]");
  refused(crafted_series("narrow.h5", 3, {3}, {3, 2}), "expected [3 x 3]");
  refused(crafted_series("twod.h5", 2, {3, 2}, {3, 2}), "/cycle/time_s is [3 x 2], a list of times expected");
  // The right shapes replay.
  EXPECT_EQ(refusal(replay_of(crafted_series("good.h5", 2, {3}, {3, 2}))), "accepted");
}

namespace {

twin::Config stream_of(const std::string& text) {
  twin::Config c = twin::load_config(small_plate);
  c.source = {};
  c.source.type = "stream";
  c.source.stream_input = write("stream.jsonl", text).string();
  c.source.advice_output = write("advice.jsonl", "").string();
  return c;
}

std::string reading(double t, const std::string& sensor, double value = 295.0) {
  return "{\"t\": " + std::to_string(t) + ", \"sensor\": \"" + sensor + "\", \"value\": " + std::to_string(value) + "}\n";
}

}  // namespace

TEST(HostileStream, AReadingFromTheFarFutureNeitherBlocksNorStaysHeld) {
  std::string text;
  for (int c = 0; c < 3; ++c)
    for (const char* s : {"S1", "S2", "S3", "S4"}) {
      text += reading(c * 10.0 + 5.0, s);
      if (c == 0 && std::string(s) == "S1") text += reading(1e12, "S2");  // a clock gone wrong
    }
  const auto source = ObservationSource::create({stream_of(text), MPI_COMM_SELF});
  const auto first = source->readings(0, 0.0, 10.0, {});
  int far = 0;
  for (const auto& o : first) far += o.t_s > 1e11;
  EXPECT_EQ(far, 1) << "the far-future reading goes to QC (which rejects it as future), not into the queue";
  EXPECT_EQ(first.size(), 5u);
  EXPECT_EQ(source->readings(1, 10.0, 10.0, {}).size(), 4u) << "later lines are still read";
  EXPECT_EQ(source->readings(2, 20.0, 10.0, {}).size(), 4u);
}

TEST(HostileStream, ASensorWithAFastClockDoesNotEndThePeriodForTheOthers) {
  // S1's clock runs 15 s fast: its readings arrive stamped in the next periods.
  std::string text;
  for (int c = 0; c < 3; ++c) {
    text += reading(c * 10.0 + 15.0 + 2.0, "S1");
    for (const char* s : {"S2", "S3", "S4", "S5", "S6"}) text += reading(c * 10.0 + 5.0, s);
  }
  const auto source = ObservationSource::create({stream_of(text), MPI_COMM_SELF});
  const auto first = source->readings(0, 0.0, 10.0, {});
  int others = 0;
  for (const auto& o : first) others += o.sensor != "S1" && o.t_s <= 10.0;
  EXPECT_EQ(others, 5) << "every other sensor's reading of the first period arrives in the first cycle";
}

TEST(HostileStream, AnAdviceOutputThatCannotBeOpenedIsRefused) {
  twin::Config c = stream_of(reading(5, "S1"));
  c.source.advice_output = "/proc/no-such-dir/advice.jsonl";
  EXPECT_NE(refusal(c).find("cannot open the advice output"), std::string::npos) << refusal(c);
}

TEST(HostileStream, ALineWithoutEndIsSkippedAndCountedNotAnEndOfStream) {
  std::string text = std::string(3u << 20, 'x') + "\n" + reading(5, "S1") + reading(15, "S1");
  const auto source = ObservationSource::create({stream_of(text), MPI_COMM_SELF});
  const auto first = source->readings(0, 0.0, 10.0, {});
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].sensor, "S1");
  EXPECT_EQ(source->malformed(), 1);
}
