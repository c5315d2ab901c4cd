// The GPU part of energy-to-insight on a real GPU: opens NVML the way the twin does
// (src/kpi/nvml.hpp), reads every GPU's energy counter over a window and prints the joules and
// mean watts as JSON, for comparison with `nvidia-smi --query-gpu=power.draw` sampled over the
// same window. Exit 77 (skipped) where NVML or a GPU is missing, 1 when a reading is
// implausible (no energy, or more than 1500 W per GPU: no GPU NVML counts draws that).
//
// Self-contained, so that a GPU machine without twinrt's dependencies can build it:
//   g++ -std=c++17 -O2 -Isrc benchmarks/gpu/gpu_energy.cpp src/kpi/nvml.cpp -ldl -o gpu_energy
//   ./gpu_energy --seconds 5
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "kpi/nvml.hpp"

int main(int argc, char** argv) {
  double seconds = 2.0;
  std::string library = "libnvidia-ml.so.1";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    else if (std::strcmp(argv[i], "--library") == 0) library = argv[i + 1];
  }
  twin::detail::NvmlEnergy nvml;
  if (!nvml.open(library)) {
    std::printf("{\"skipped\": true, \"why\": \"%s\"}\n", nvml.why_not().c_str());
    return 77;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double joules = nvml.joules();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double watts_per_gpu = joules / s / nvml.devices();
  std::printf("{\"gpus\": %d, \"window_s\": %.3f, \"energy_j\": %.3f, \"mean_w_per_gpu\": %.1f}\n", nvml.devices(), s,
              joules, watts_per_gpu);
  const bool plausible = std::isfinite(joules) && joules > 0.0 && watts_per_gpu < 1500.0;
  if (!plausible) std::fprintf(stderr, "implausible GPU energy reading\n");
  return plausible ? 0 : 1;
}
