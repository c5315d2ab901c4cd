// GPU energy from NVML, opened at run time (kpi/nvml.hpp).
#include "kpi/nvml.hpp"

#include <dlfcn.h>

#include <cmath>

namespace twin::detail {

namespace {

constexpr int kNvmlSuccess = 0;  // NVML_SUCCESS

template <class F>
F symbol(void* lib, const char* name) {
  return reinterpret_cast<F>(dlsym(lib, name));
}

}  // namespace

NvmlEnergy::~NvmlEnergy() { close(); }

void NvmlEnergy::close() {
  if (m_lib == nullptr) return;
  if (m_shutdown != nullptr) m_shutdown();
  dlclose(m_lib);
  m_lib = nullptr;
  m_devices.clear();
  m_last_mj.clear();
}

bool NvmlEnergy::open(const std::string& library) {
  close();
  void* lib = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = dlerror();
    m_why_not = "no NVML (" + library + "): " + (err != nullptr ? err : "not found");
    return false;
  }
  const auto init = symbol<int (*)()>(lib, "nvmlInit_v2");
  const auto count = symbol<int (*)(unsigned*)>(lib, "nvmlDeviceGetCount_v2");
  const auto handle = symbol<int (*)(unsigned, void**)>(lib, "nvmlDeviceGetHandleByIndex_v2");
  m_shutdown = symbol<int (*)()>(lib, "nvmlShutdown");
  m_energy = symbol<int (*)(void*, unsigned long long*)>(lib, "nvmlDeviceGetTotalEnergyConsumption");
  bool initialised = false;
  const auto fail = [&](const std::string& why) {
    if (initialised) m_shutdown();
    dlclose(lib);
    m_shutdown = nullptr;
    m_energy = nullptr;
    m_why_not = why;
    return false;
  };
  if (init == nullptr || count == nullptr || handle == nullptr || m_shutdown == nullptr || m_energy == nullptr)
    return fail(library + " lacks the NVML v2 entry points");
  if (const int rc = init(); rc != kNvmlSuccess) return fail("nvmlInit_v2 failed with NVML error " + std::to_string(rc));
  initialised = true;
  unsigned n = 0;
  if (const int rc = count(&n); rc != kNvmlSuccess) return fail("nvmlDeviceGetCount_v2 failed with NVML error " + std::to_string(rc));
  if (n == 0) return fail("NVML sees no GPU");
  std::vector<void*> devices(n, nullptr);
  std::vector<unsigned long long> mj(n, 0);
  for (unsigned i = 0; i < n; ++i) {
    if (const int rc = handle(i, &devices[i]); rc != kNvmlSuccess)
      return fail("GPU " + std::to_string(i) + ": no NVML handle (error " + std::to_string(rc) + ")");
    if (const int rc = m_energy(devices[i], &mj[i]); rc != kNvmlSuccess)
      return fail("GPU " + std::to_string(i) + ": its energy counter cannot be read (NVML error " + std::to_string(rc) +
                  "; NVML counts energy on Volta and newer)");
  }
  m_lib = lib;
  m_devices = std::move(devices);
  m_last_mj = std::move(mj);
  m_why_not.clear();
  return true;
}

double NvmlEnergy::joules() {
  if (m_lib == nullptr) return std::nan("");
  double mj = 0.0;
  for (std::size_t i = 0; i < m_devices.size(); ++i) {
    unsigned long long now = 0;
    if (m_energy(m_devices[i], &now) != kNvmlSuccess || now < m_last_mj[i]) return std::nan("");  // reset driver
    mj += static_cast<double>(now - m_last_mj[i]);
    m_last_mj[i] = now;
  }
  return mj * 1e-3;
}

}  // namespace twin::detail
