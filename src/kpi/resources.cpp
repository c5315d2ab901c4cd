// CPU time and energy of a run (kpi/resources.hpp).
#include "kpi/resources.hpp"

#include <sys/resource.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>

#include "ground/mpi.hpp"

namespace twin::detail {

namespace {

bool read_number(const std::string& path, double& out) {
  std::ifstream in(path);
  long long v = 0;
  if (!(in >> v) || v < 0) return false;
  out = static_cast<double>(v);
  return true;
}

}  // namespace

double process_cpu_seconds() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0.0;
  const auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
  return s(u.ru_utime) + s(u.ru_stime);
}

std::vector<RaplCounter> open_rapl(const std::string& root) {
  namespace fs = std::filesystem;
  std::vector<RaplCounter> out;
  std::error_code ec;
  // Package domains only (intel-rapl:N): their sub-domains (intel-rapl:N:M, cores, uncore,
  // dram on some parts) are already inside the package's count.
  const std::regex package("intel-rapl:[0-9]+");
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!std::regex_match(name, package)) continue;
    RaplCounter c;
    c.energy_file = (it->path() / "energy_uj").string();
    if (!read_number((it->path() / "max_energy_range_uj").string(), c.range_uj) || c.range_uj <= 0.0 ||
        !read_number(c.energy_file, c.last_uj))
      return {};  // one package we cannot read would make the sum a part of the node
    out.push_back(c);
  }
  return out;
}

double read_rapl_joules(std::vector<RaplCounter>& counters) {
  double uj = 0.0;
  for (RaplCounter& c : counters) {
    double now = 0.0;
    if (!read_number(c.energy_file, now)) return std::nan("");
    uj += now >= c.last_uj ? now - c.last_uj : now + c.range_uj - c.last_uj;
    c.last_uj = now;
  }
  return uj * 1e-6;
}

ResourceMeter::ResourceMeter(MPI_Comm comm, double watts_per_core, const std::string& powercap_root,
                             const std::string& nvml_library)
    : m_comm(comm), m_watts_per_core(watts_per_core) {
  m_last_cpu_s = process_cpu_seconds();
  TWIN_MPI_CHECK(MPI_Reduce(&m_last_cpu_s, &m_setup_cpu_s, 1, MPI_DOUBLE, MPI_SUM, 0, comm));
  MPI_Comm node;
  TWIN_MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  int node_rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(node, &node_rank));
  TWIN_MPI_CHECK(MPI_Comm_free(&node));
  int leader = node_rank == 0 ? 1 : 0, readable = 1;
  // [nodes, GPUs, nodes with GPUs]: a node without NVML has no GPU energy to add, so, unlike
  // RAPL, the GPUs are counted where they are.
  int mine[3] = {leader, 0, 0}, sums[3] = {0, 0, 0};
  if (leader) {
    m_counters = open_rapl(powercap_root);
    readable = m_counters.empty() ? 0 : 1;
    if (!nvml_library.empty() && m_nvml.open(nvml_library)) {
      mine[1] = m_nvml.devices();
      mine[2] = 1;
    }
  }
  int all_readable = 0;
  TWIN_MPI_CHECK(MPI_Allreduce(&readable, &all_readable, 1, MPI_INT, MPI_MIN, comm));
  TWIN_MPI_CHECK(MPI_Allreduce(mine, sums, 3, MPI_INT, MPI_SUM, comm));
  m_nodes = sums[0];
  m_gpus = sums[1];
  m_gpu_nodes = sums[2];
  m_rapl = all_readable == 1;
}

ResourceMeter::Sample ResourceMeter::sample() {
  const double cpu = process_cpu_seconds();
  // [cpu seconds, package joules, 1 where a node's package counters failed, GPU joules,
  //  1 where a node's GPU counters failed]
  double mine[5] = {cpu - m_last_cpu_s, 0.0, 0.0, 0.0, 0.0}, sum[5] = {0.0, 0.0, 0.0, 0.0, 0.0};
  m_last_cpu_s = cpu;
  if (m_rapl && !m_counters.empty()) {
    const double j = read_rapl_joules(m_counters);
    if (std::isfinite(j)) mine[1] = j;
    else mine[2] = 1.0;
  }
  if (!m_gpu_lost && m_nvml.is_open()) {
    const double j = m_nvml.joules();
    if (std::isfinite(j)) mine[3] = j;
    else mine[4] = 1.0;
  }
  TWIN_MPI_CHECK(MPI_Allreduce(mine, sum, 5, MPI_DOUBLE, MPI_SUM, m_comm));
  if (sum[2] > 0.0) m_rapl = false;  // a counter went away: estimate from here on, everywhere
  if (sum[4] > 0.0) m_gpu_lost = true;
  Sample s;
  s.cpu_core_s = sum[0];
  s.energy_j = (m_rapl ? sum[1] : m_watts_per_core * sum[0]) + (m_gpu_lost ? 0.0 : sum[3]);
  return s;
}

std::string ResourceMeter::energy_source() const {
  return std::string(m_rapl ? "rapl" : "estimate") + (m_gpus > 0 ? "+nvml" : "");
}

std::string ResourceMeter::energy_note() const {
  std::string note;
  if (m_rapl) {
    note = "measured: RAPL package counters of " + std::to_string(m_nodes) +
           " node(s), whole packages (other processes on them included)";
  } else {
    char text[200];
    std::snprintf(text, sizeof text,
                  "estimate: outputs.watts_per_core (%g W) x CPU core-seconds; no readable RAPL counters on every node",
                  m_watts_per_core);
    note = text;
  }
  if (m_gpus > 0)
    note += "; plus measured: NVML energy of " + std::to_string(m_gpus) + " GPU(s) on " + std::to_string(m_gpu_nodes) +
            " node(s), whole devices (other processes on them included)" +
            (m_gpu_lost ? ", up to the cycle a GPU counter could no longer be read" : "");
  return note;
}

}  // namespace twin::detail
