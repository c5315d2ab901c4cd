#pragma once
// GPU energy from NVIDIA's management library (NVML), for the roadmap's energy-to-insight on a
// GPU node. The library ships with the driver, not with a build machine, so it is opened at run
// time (dlopen): a node without an NVIDIA driver simply has no GPU energy, and nothing of NVML is
// needed to build or link twinrt. Self-contained (no MPI, no logging), so that the device check
// in benchmarks/gpu/ can build it alone on a GPU machine.

#include <string>
#include <vector>

namespace twin::detail {

class NvmlEnergy {
 public:
  NvmlEnergy() = default;
  ~NvmlEnergy();
  NvmlEnergy(const NvmlEnergy&) = delete;
  NvmlEnergy& operator=(const NvmlEnergy&) = delete;

  /// Loads `library`, initialises NVML and reads every device's energy counter once. False, with
  /// why_not() saying which step failed, when there is no driver, no device, or a device whose
  /// counter cannot be read (NVML counts energy on Volta and newer): a sum over some of a node's
  /// GPUs is not the node's GPU energy.
  bool open(const std::string& library = "libnvidia-ml.so.1");
  bool is_open() const { return m_lib != nullptr; }
  int devices() const { return static_cast<int>(m_last_mj.size()); }
  /// Joules used by all the node's GPUs since the last call (or since open); NaN when a counter
  /// could no longer be read. Whole devices: other processes' work on them is included.
  double joules();
  const std::string& why_not() const { return m_why_not; }

 private:
  void close();

  void* m_lib = nullptr;
  std::vector<void*> m_devices;  // nvmlDevice_t
  std::vector<unsigned long long> m_last_mj;
  std::string m_why_not = "not opened";
  // NVML's C entry points used here (nvml.h, stable since the v2 API of driver 325).
  int (*m_shutdown)() = nullptr;
  int (*m_energy)(void*, unsigned long long*) = nullptr;
};

}  // namespace twin::detail
