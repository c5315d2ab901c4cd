// The ground layer: the MPI check macro, the error hierarchy, the JSON-lines log sink, owning
// handles, atomic file writes and the registry of components chosen by `type:`.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ground/atomic_write.hpp"
#include "ground/check.hpp"
#include "ground/handle.hpp"
#include "ground/log.hpp"
#include "ground/mpi.hpp"
#include "ground/registry.hpp"
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
    EXPECT_NE(what.find("test_ground.cpp"), std::string::npos) << what;
  }
}

TEST(Errors, HierarchyAndRequire) {
  EXPECT_THROW(TWIN_REQUIRE(1 + 1 == 3, twin::DataError, "arithmetic"), twin::DataError);
  EXPECT_NO_THROW(TWIN_REQUIRE(1 + 1 == 2, twin::DataError, "arithmetic"));
  try {
    TWIN_REQUIRE(false, twin::AdvisorError, std::string("model missing"));
    FAIL() << "TWIN_REQUIRE(false, ...) did not throw";
  } catch (const twin::Error& e) {  // every twinrt error is a twin::Error
    EXPECT_NE(dynamic_cast<const twin::AdvisorError*>(&e), nullptr);
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

// ---- UniqueHandle ------------------------------------------------------------------------------

namespace {
std::vector<int> closed;  // what the test policy closed, in order
struct RecordClose {
  static int null() noexcept { return -1; }
  void operator()(int h) const noexcept { closed.push_back(h); }
};
using TestHandle = twin::UniqueHandle<int, RecordClose>;
}  // namespace

TEST(UniqueHandle, ClosesOnceWhateverPathItTakes) {
  closed.clear();
  {
    TestHandle a(3);
    TestHandle b(std::move(a));  // the move leaves a empty
    EXPECT_FALSE(a);
    EXPECT_EQ(b.get(), 3);
    TestHandle c(5);
    c = std::move(b);  // 5 closed now, 3 moves on
    EXPECT_EQ(closed, std::vector<int>({5}));
    *c.out() = 8;  // out() closes 3 and takes the new handle
    EXPECT_EQ(closed, std::vector<int>({5, 3}));
    TestHandle d(9);
    EXPECT_EQ(d.release(), 9);  // released: never closed
    TestHandle empty;
  }
  EXPECT_EQ(closed, std::vector<int>({5, 3, 8}));
}

TEST(UniqueHandle, CommunicatorIsFreedButWorldIsNot) {
  MPI_Comm dup = MPI_COMM_NULL;
  ASSERT_EQ(MPI_Comm_dup(MPI_COMM_WORLD, &dup), MPI_SUCCESS);
  twin::UniqueComm owned(dup);
  twin::UniqueComm world(MPI_COMM_WORLD);  // must never be freed
  owned.reset();
  EXPECT_FALSE(owned);
  world.reset();
  int size = 0;
  EXPECT_EQ(MPI_Comm_size(MPI_COMM_WORLD, &size), MPI_SUCCESS);
}

// ---- atomic_write ------------------------------------------------------------------------------

TEST(AtomicWrite, ReplacesTheWholeFileAndLeavesNoTemporary) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("twin_atomic_" + std::to_string(twin::world_rank()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = dir / "summary.json";
  twin::atomic_write(file, "first version, longer than the second\n");
  twin::atomic_write(file, "second\n", twin::WriteSync::atomic);  // without fsync: still whole
  std::ifstream in(file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "second\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  fs::remove_all(dir);
}

TEST(AtomicWrite, AFailedWriteKeepsTheOldFile) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("twin_atomic_fail_" + std::to_string(twin::world_rank()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = dir / "model.h5";
  twin::atomic_write(file, "old");
  EXPECT_THROW(twin::atomic_replace(file,
                                    [](const fs::path& tmp) {
                                      std::ofstream(tmp) << "half of the new";
                                      throw twin::Hdf5Error("writer failed half way");
                                    }),
               twin::Hdf5Error);
  std::ifstream in(file);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);  // no temporary left
  EXPECT_THROW(twin::atomic_write(dir / "no-such-dir" / "x", "y"), twin::Error);
  fs::remove_all(dir);
}

// ---- Registry ----------------------------------------------------------------------------------

namespace {
struct Shape {
  virtual ~Shape() = default;
  virtual double area() const = 0;
  using Registry = twin::Registry<Shape, double>;
  static Registry& registry() {
    static Registry types;
    return types;
  }
};
struct Square final : Shape {
  explicit Square(double side) : m_side(side) {}
  double area() const override { return m_side * m_side; }
  double m_side;
};
struct Circle final : Shape {
  explicit Circle(double r) : m_r(r) {}
  double area() const override { return 3.0 * m_r * m_r; }
  double m_r;
};
TWIN_REGISTER_TYPE(Shape, "square", [](double s) { return std::make_unique<Square>(s); });
TWIN_REGISTER_TYPE(Shape, "circle", [](double r) { return std::make_unique<Circle>(r); });
}  // namespace

TEST(Registry, CreatesRegisteredTypesAndListsThemOnAMiss) {
  EXPECT_EQ(Shape::registry().types(), std::vector<std::string>({"circle", "square"}));
  EXPECT_EQ(Shape::registry().create("shape.type", "square", 2.0)->area(), 4.0);
  EXPECT_EQ(Shape::registry().create("shape.type", "circle", 1.0)->area(), 3.0);
  EXPECT_FALSE(Shape::registry().add("square", [](double s) { return std::make_unique<Circle>(s); }));
  EXPECT_EQ(Shape::registry().create("shape.type", "square", 3.0)->area(), 9.0);  // the first registration stays
  try {
    Shape::registry().create("shape.type", "triangle", 1.0);
    FAIL() << "an unknown type was created";
  } catch (const twin::ConfigError& e) {
    EXPECT_EQ(e.where().key, "shape.type");
    EXPECT_NE(std::string(e.what()).find("unknown type 'triangle' (known: circle, square)"), std::string::npos) << e.what();
  }
}
