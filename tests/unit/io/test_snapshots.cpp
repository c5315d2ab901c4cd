// Restart snapshots, piece by piece: the archive keeps every bit (NaN payloads too) and refuses
// damaged bytes; the store commits only with a manifest, detects damaged parts and keeps the
// newest; the audit log and series.h5 continue where a snapshot left them and refuse files that
// do not match it.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>
#include <filesystem>
#include <fstream>

#include "io/audit.hpp"
#include "io/series.hpp"
#include "io/snapshot_store.hpp"
#include "io/state_archive.hpp"
#include "twin/config.hpp"
#include "twin/error.hpp"

namespace fs = std::filesystem;
using twin::io::SnapshotStore;
using twin::io::StateArchive;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("twin_snapshot_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::uint64_t bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

StateArchive sample() {
  StateArchive a;
  double payload_nan;
  const std::uint64_t nan_bits = 0x7ff8dead0000beefULL;
  std::memcpy(&payload_nan, &nan_bits, sizeof payload_nan);
  a.put("x", std::vector<double>{1.0 / 3.0, -0.0, payload_nan, INFINITY, 5e-324});
  a.put("n", std::vector<long long>{-1, 0, 1LL << 62});
  a.put("names", std::vector<std::string>{"S1", "", "a longer name"});
  a.put("empty", std::vector<double>{});
  a.put("one", 42);
  a.put("text", std::string("{\"json\": true}"));
  return a;
}

}  // namespace

TEST(StateArchive, RoundTripsEveryBit) {
  const StateArchive a = sample();
  const StateArchive b = StateArchive::decode(a.encode(), "memory");
  ASSERT_EQ(b.doubles("x").size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(bits(a.doubles("x")[i]), bits(b.doubles("x")[i])) << i;
  EXPECT_EQ(b.ints("n"), a.ints("n"));
  EXPECT_EQ(b.strings("names"), a.strings("names"));
  EXPECT_TRUE(b.doubles("empty").empty());
  EXPECT_EQ(b.get_int("one"), 42);
  EXPECT_EQ(b.get_string("text"), "{\"json\": true}");
}

// The same state encodes to the same bytes at any time: no object header carries a time (the
// root group's did; tests/fuzz found two encodings a second apart that differed).
TEST(StateArchive, EncodesTheSameBytesASecondLater) {
  const StateArchive a = sample();
  const std::string first = a.encode();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(first == a.encode());
  EXPECT_TRUE(StateArchive::decode(first, "memory").encode() == first);
}

TEST(StateArchive, RefusesMissingEntriesWrongKindsAndDamagedBytes) {
  const StateArchive b = StateArchive::decode(sample().encode(), "part-7.h5");
  EXPECT_THROW(b.doubles("nothing"), twin::DataError);
  EXPECT_THROW(b.doubles("n"), twin::DataError);
  EXPECT_THROW(b.doubles("x", 4), twin::DataError);
  try {
    b.get_int("nothing");
    FAIL();
  } catch (const twin::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("part-7.h5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(StateArchive::decode("", "empty"), twin::DataError);
  EXPECT_THROW(StateArchive::decode("not an hdf5 file at all", "text"), twin::DataError);
  std::string image = sample().encode();
  EXPECT_THROW(StateArchive::decode(image.substr(0, image.size() / 2), "cut"), twin::DataError);
  // Every damaged image is refused with a DataError or decodes: never a crash.
  for (std::size_t at = 0; at < image.size(); at += 97) {
    std::string damaged = image;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    try {
      (void)StateArchive::decode(damaged, "damaged");
    } catch (const twin::DataError&) {
    }
  }
}

TEST(SnapshotStore, CommitsOnlyWithAManifestAndDetectsDamage) {
  const fs::path dir = scratch("store");
  SnapshotStore store(dir);
  const std::string image = sample().encode();
  const auto commit = [&](long cycle) {
    nlohmann::json parts = nlohmann::json::array();
    for (int r = 0; r < 2; ++r) {
      const std::string sha = store.write_part(cycle, r, image);
      parts.push_back({{"sha256", sha}, {"bytes", image.size()}});
    }
    store.commit(cycle, {{"format", twin::io::snapshot_format}, {"cycle", cycle}, {"ranks", 2}, {"parts", parts}});
  };
  commit(10);
  commit(20);
  store.write_part(30, 0, image);  // rank 1 never finished: not committed
  auto all = store.list(true);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_TRUE(all[0].committed && all[0].problem.empty());
  EXPECT_FALSE(all[2].committed);
  ASSERT_TRUE(store.newest_usable());
  EXPECT_EQ(store.newest_usable()->cycle, 20);
  EXPECT_EQ(store.read_part(*store.newest_usable(), 1).get_int("one"), 42);

  // A damaged part of the newest committed snapshot: it is skipped, the one before is used.
  {
    std::fstream f(store.snapshot_dir(20) / SnapshotStore::part_name(1), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    const char was = static_cast<char>(f.get());
    f.seekp(100);
    f.put(static_cast<char>(was ^ 0x01));
  }
  EXPECT_EQ(store.newest_usable()->cycle, 10);
  // A manifest of another format is refused with the reason.
  std::ofstream(store.snapshot_dir(10) / "snapshot.json")
      << nlohmann::json({{"format", 99}, {"cycle", 10}, {"ranks", 2}, {"parts", {}}}).dump();
  all = store.list(true);
  EXPECT_NE(all[0].problem.find("format 99"), std::string::npos) << all[0].problem;
  EXPECT_FALSE(store.newest_usable());

  // prune keeps the newest `keep` committed and removes unfinished ones older than them.
  commit(40);
  commit(50);
  store.prune(2);
  std::vector<long> left;
  for (const auto& s : store.list(false)) left.push_back(s.cycle);
  EXPECT_EQ(left, (std::vector<long>{40, 50}));
  store.discard_after(40);
  ASSERT_EQ(store.list(false).size(), 1u);
  EXPECT_EQ(store.list(false)[0].cycle, 40);
}

TEST(SnapshotWriter, RunsJobsInOrderAndSurvivesAFailingOne) {
  std::vector<int> order;
  int failures = 0;
  {
    twin::io::SnapshotWriter w;
    w.submit([&] { order.push_back(1); });
    w.submit([] { throw twin::Error("disk full"); }, [&](bool ok, const std::string& e) {
      failures += ok ? 0 : 1;
      EXPECT_EQ(e, "disk full");
    });
    w.submit([&] { order.push_back(3); });
    w.drain();
    EXPECT_TRUE(w.idle());
  }
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
  EXPECT_EQ(failures, 1);
}

TEST(AuditResume, ContinuesTheChainAndKeepsTheTail) {
  const fs::path dir = scratch("audit");
  const std::string path = (dir / "audit.jsonl").string();
  std::string head;
  {
    twin::io::AuditLog log(path);
    for (int i = 0; i < 3; ++i) head = log.append({{"cycle", i}});
    log.append({{"cycle", 3}});  // written after the "snapshot" at 3 records
  }
  {
    auto log = twin::io::AuditLog::resume(path, 3, head, (dir / "tail.jsonl").string());
    EXPECT_EQ(log.records(), 3);
    log.append({{"cycle", 3}, {"again", true}});
  }
  const twin::io::AuditCheck check = twin::io::verify_audit(path);
  EXPECT_TRUE(check.ok) << check.reason;
  EXPECT_EQ(check.records, 4);
  EXPECT_NE(slurp(dir / "tail.jsonl").find("\"cycle\":3"), std::string::npos);
  EXPECT_EQ(slurp(path).find("again") != std::string::npos, true);
  // Another head, or fewer records than the snapshot counts: refused.
  EXPECT_THROW(twin::io::AuditLog::resume(path, 3, std::string(64, 'f'), (dir / "t2").string()), twin::DataError);
  EXPECT_THROW(twin::io::AuditLog::resume(path, 9, head, (dir / "t3").string()), twin::DataError);
}

TEST(SeriesResume, CopiesTheSnapshotsRowsAndRefusesAShorterFile) {
  const twin::Config config = twin::load_config(std::string(TWIN_SOURCE_DIR) + "/tests/data/small_plate.yaml");
  const fs::path dir = scratch("series");
  const std::string path = (dir / "series.h5").string();
  const auto outcome = [&](int c) {
    twin::CycleOutcome o;
    o.advice.t_s = 10.0 * c;
    for (const auto& s : config.sensors) o.sensors.push_back({s.name, 290.0 + c, twin::QcReason::accepted, 1, 1, 1, 1});
    for (const auto& p : config.ensemble.parameters) o.parameters.push_back({p.name, 1.0 + c, 0.1});
    for (const auto& u : config.controls) o.advice.controls.push_back({u.name, 0.5 + c, u.unit});
    return o;
  };
  const std::size_t cells = static_cast<std::size_t>(config.grid.cells[0] * config.grid.cells[1]);
  {
    twin::io::SeriesWriter w(path, config);
    for (int c = 0; c < 5; ++c) w.append(outcome(c));
    w.append_fields(20.0, std::vector<double>(cells, 1.0), std::vector<double>(cells, 0.1));
    w.append_fields(40.0, std::vector<double>(cells, 2.0), std::vector<double>(cells, 0.2));
    w.flush();
  }
  {
    auto w = twin::io::SeriesWriter::resume(path, config, 3, 1, (dir / "old.h5").string());
    EXPECT_EQ(w->rows(), 3);
    EXPECT_EQ(w->field_rows(), 1);
    w->append(outcome(3));
    w->flush();
  }
  EXPECT_EQ(twin::io::recorded_cycles(path), 4);
  EXPECT_EQ(twin::io::recorded_cycles((dir / "old.h5").string()), 5);  // the file as it was, kept
  const auto r = twin::io::read_recorded_readings(path);
  ASSERT_EQ(r.time_s.size(), 4u);
  EXPECT_EQ(r.time_s[2], 20.0);
  EXPECT_EQ(r.values[3][0], 293.0);
  EXPECT_THROW(twin::io::SeriesWriter::resume(path, config, 9, 0, (dir / "old2.h5").string()), twin::DataError);
  EXPECT_EQ(twin::io::recorded_cycles(path), 4);  // a refused resume leaves the file alone
}
