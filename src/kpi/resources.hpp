#pragma once
// What a run costs, for the roadmap's energy-to-insight: CPU core-seconds from getrusage on every
// rank, and energy from the RAPL powercap counters (/sys/class/powercap) where every node lets
// the twin read them; otherwise an estimate from `outputs.watts_per_core`, labelled as one. The
// energy of the nodes' NVIDIA GPUs, read through NVML (kpi/nvml.hpp), is added where there are any.

#include <mpi.h>

#include <string>
#include <vector>

#include "kpi/nvml.hpp"

namespace twin::detail {

/// One package domain's RAPL counter.
struct RaplCounter {
  std::string energy_file;  ///< .../intel-rapl:N/energy_uj
  double range_uj = 0.0;    ///< max_energy_range_uj: the counter wraps to 0 there
  double last_uj = 0.0;
};

/// The package-level RAPL counters under `root` (normally /sys/class/powercap) that can be
/// read; empty when there are none or the kernel does not let this user read them.
std::vector<RaplCounter> open_rapl(const std::string& root);
/// Joules since the last call (or since open_rapl), counting one wrap of each counter.
/// NaN when a counter could no longer be read.
double read_rapl_joules(std::vector<RaplCounter>& counters);

class ResourceMeter {
 public:
  /// Collective over comm: takes every rank's CPU time so far (the run's set-up) and opens
  /// the RAPL counters and NVML on one rank per node. `powercap_root`: where the counters live;
  /// `nvml_library`: the library dlopen loads (an empty string: no GPU energy).
  ResourceMeter(MPI_Comm comm, double watts_per_core, const std::string& powercap_root = "/sys/class/powercap",
                const std::string& nvml_library = "libnvidia-ml.so.1");

  struct Sample {
    double cpu_core_s = 0.0;  ///< user + system CPU seconds of all ranks since the last sample
    double energy_j = 0.0;    ///< CPU packages, measured (rapl()) or estimated, plus the GPUs' (gpus() > 0)
  };
  /// Collective; the sums are meaningful on rank 0.
  Sample sample();

  /// CPU core-seconds of all ranks before the meter was made (rank 0).
  double setup_cpu_core_s() const { return m_setup_cpu_s; }
  /// Every node's package counters are read: energy is measured, not estimated.
  bool rapl() const { return m_rapl; }
  /// NVIDIA GPUs whose energy NVML measures, on all nodes (0: none, or their counters were lost).
  int gpus() const { return m_gpu_lost ? 0 : m_gpus; }
  /// "rapl" or "estimate", with "+nvml" when GPU energy is in the sum, and what the figure
  /// covers, for summary.json and the report.
  std::string energy_source() const;
  std::string energy_note() const;
  double watts_per_core() const { return m_watts_per_core; }

 private:
  MPI_Comm m_comm;
  double m_watts_per_core;
  double m_last_cpu_s = 0.0;
  double m_setup_cpu_s = 0.0;
  bool m_rapl = false;
  int m_nodes = 1;
  std::vector<RaplCounter> m_counters;  // on each node's first rank
  NvmlEnergy m_nvml;                     // on each node's first rank
  int m_gpus = 0, m_gpu_nodes = 0;
  bool m_gpu_lost = false;  // a GPU counter failed mid-run: GPU energy is counted up to then
};

/// This process's user + system CPU time [s].
double process_cpu_seconds();

}  // namespace twin::detail
