// CPU time and RAPL energy (src/kpi/resources): the counters' arithmetic on a powercap tree laid
// out as the kernel's (this machine has none, so a folder stands in for /sys/class/powercap),
// and getrusage through the meter on the process itself.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "kpi/resources.hpp"

namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text << "\n";
}

struct Powercap : ::testing::Test {
  fs::path root = fs::temp_directory_path() / ("twin_powercap_" + std::to_string(::getpid()));
  void SetUp() override {
    fs::remove_all(root);
    // Two packages and a sub-domain of the first (already inside its package's count).
    write(root / "intel-rapl:0" / "energy_uj", "1000000");
    write(root / "intel-rapl:0" / "max_energy_range_uj", "262143328850");
    write(root / "intel-rapl:1" / "energy_uj", "262143000000");  // about to wrap
    write(root / "intel-rapl:1" / "max_energy_range_uj", "262143328850");
    write(root / "intel-rapl:0:0" / "energy_uj", "5");
    write(root / "intel-rapl:0:0" / "max_energy_range_uj", "262143328850");
  }
  void TearDown() override { fs::remove_all(root); }
};

}  // namespace

TEST_F(Powercap, PackagesAreSummedAndAWrapIsCounted) {
  auto counters = twin::detail::open_rapl(root.string());
  ASSERT_EQ(counters.size(), 2u) << "the packages, not their sub-domains";
  write(root / "intel-rapl:0" / "energy_uj", "3500000");  // +2.5 J
  write(root / "intel-rapl:1" / "energy_uj", "671150");    // wrapped: +328850 + 671150 uJ = 1 J
  EXPECT_NEAR(twin::detail::read_rapl_joules(counters), 3.5, 1e-9);
  write(root / "intel-rapl:0" / "energy_uj", "4500000");  // +1 J, the other unchanged
  EXPECT_NEAR(twin::detail::read_rapl_joules(counters), 1.0, 1e-9);
}

TEST_F(Powercap, AnUnreadablePackageMeansNoMeasurement) {
  fs::remove(root / "intel-rapl:1" / "max_energy_range_uj");
  EXPECT_TRUE(twin::detail::open_rapl(root.string()).empty()) << "half a node's energy is not the node's energy";
  EXPECT_TRUE(twin::detail::open_rapl((root / "nowhere").string()).empty());
}

TEST_F(Powercap, ACounterThatGoesAwayIsNaN) {
  auto counters = twin::detail::open_rapl(root.string());
  ASSERT_EQ(counters.size(), 2u);
  fs::remove(root / "intel-rapl:0" / "energy_uj");
  EXPECT_TRUE(std::isnan(twin::detail::read_rapl_joules(counters)));
}

TEST_F(Powercap, TheMeterMeasuresWithCountersAndEstimatesWithout) {
  twin::detail::ResourceMeter measured(MPI_COMM_WORLD, 10.0, root.string());
  EXPECT_TRUE(measured.rapl());
  EXPECT_EQ(measured.energy_source(), "rapl");
  write(root / "intel-rapl:0" / "energy_uj", "3000000");  // +2 J
  EXPECT_NEAR(measured.sample().energy_j, 2.0, 1e-9);

  twin::detail::ResourceMeter estimated(MPI_COMM_WORLD, 10.0, (root / "nowhere").string());
  EXPECT_FALSE(estimated.rapl());
  volatile double x = 0.0;  // burn some CPU so the sample has something to count
  for (long i = 0; i < 30000000; ++i) x = x + std::sqrt(static_cast<double>(i));
  const auto s = estimated.sample();
  EXPECT_GT(s.cpu_core_s, 0.0);
  EXPECT_DOUBLE_EQ(s.energy_j, 10.0 * s.cpu_core_s) << "the estimate is watts_per_core x CPU seconds";
  EXPECT_NE(estimated.energy_note().find("estimate"), std::string::npos);
}

// NVML is the driver's library, opened at run time. This machine has no NVIDIA driver, so the
// tests here check that its absence, or a library that is not NVML, means no GPU energy rather
// than a failure; benchmarks/gpu/gpu_energy.cpp reads a real GPU's counter (docs/operations.md).
TEST(Nvml, AMissingLibraryMeansNoGpuEnergy) {
  twin::detail::NvmlEnergy nvml;
  EXPECT_FALSE(nvml.open("/nonexistent/libnvidia-ml.so.1"));
  EXPECT_FALSE(nvml.is_open());
  EXPECT_EQ(nvml.devices(), 0);
  EXPECT_NE(nvml.why_not().find("/nonexistent/libnvidia-ml.so.1"), std::string::npos) << nvml.why_not();
  EXPECT_TRUE(std::isnan(nvml.joules()));
}

TEST(Nvml, ALibraryWithoutNvmlIsRefused) {
  twin::detail::NvmlEnergy nvml;
  EXPECT_FALSE(nvml.open("libm.so.6"));
  EXPECT_NE(nvml.why_not().find("entry points"), std::string::npos) << nvml.why_not();
}

TEST_F(Powercap, GpuEnergyIsAddedWhereNvmlSeesGpus) {
  twin::detail::ResourceMeter without(MPI_COMM_WORLD, 10.0, root.string(), "");
  EXPECT_EQ(without.gpus(), 0);
  EXPECT_EQ(without.energy_source(), "rapl");
  EXPECT_EQ(without.energy_note().find("NVML"), std::string::npos);

  // The default library: whatever this machine has, the meter agrees with NVML itself.
  twin::detail::NvmlEnergy nvml;
  const bool gpus_here = nvml.open();
  twin::detail::ResourceMeter meter(MPI_COMM_WORLD, 10.0, (root / "nowhere").string());
  if (gpus_here) {
    EXPECT_GT(meter.gpus(), 0);
    EXPECT_EQ(meter.energy_source(), "estimate+nvml");
    EXPECT_NE(meter.energy_note().find("NVML energy of"), std::string::npos);
  } else {
    EXPECT_EQ(meter.gpus(), 0) << nvml.why_not();
    EXPECT_EQ(meter.energy_source(), "estimate");
  }
}
