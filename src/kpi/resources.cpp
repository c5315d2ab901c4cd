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

ResourceMeter::ResourceMeter(MPI_Comm comm, double watts_per_core, const std::string& powercap_root)
    : m_comm(comm), m_watts_per_core(watts_per_core) {
  m_last_cpu_s = process_cpu_seconds();
  TWIN_MPI_CHECK(MPI_Reduce(&m_last_cpu_s, &m_setup_cpu_s, 1, MPI_DOUBLE, MPI_SUM, 0, comm));
  MPI_Comm node;
  TWIN_MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  int node_rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(node, &node_rank));
  TWIN_MPI_CHECK(MPI_Comm_free(&node));
  int leader = node_rank == 0 ? 1 : 0, readable = 1;
  if (leader) {
    m_counters = open_rapl(powercap_root);
    readable = m_counters.empty() ? 0 : 1;
  }
  int all_readable = 0;
  TWIN_MPI_CHECK(MPI_Allreduce(&readable, &all_readable, 1, MPI_INT, MPI_MIN, comm));
  TWIN_MPI_CHECK(MPI_Allreduce(&leader, &m_nodes, 1, MPI_INT, MPI_SUM, comm));
  m_rapl = all_readable == 1;
}

ResourceMeter::Sample ResourceMeter::sample() {
  const double cpu = process_cpu_seconds();
  // [cpu seconds, joules, 1 where a node's counters failed]
  double mine[3] = {cpu - m_last_cpu_s, 0.0, 0.0}, sum[3] = {0.0, 0.0, 0.0};
  m_last_cpu_s = cpu;
  if (m_rapl && !m_counters.empty()) {
    const double j = read_rapl_joules(m_counters);
    if (std::isfinite(j)) mine[1] = j;
    else mine[2] = 1.0;
  }
  TWIN_MPI_CHECK(MPI_Allreduce(mine, sum, 3, MPI_DOUBLE, MPI_SUM, m_comm));
  if (sum[2] > 0.0) m_rapl = false;  // a counter went away: estimate from here on, everywhere
  Sample s;
  s.cpu_core_s = sum[0];
  s.energy_j = m_rapl ? sum[1] : m_watts_per_core * sum[0];
  return s;
}

std::string ResourceMeter::energy_source() const { return m_rapl ? "rapl" : "estimate"; }

std::string ResourceMeter::energy_note() const {
  if (m_rapl)
    return "measured: RAPL package counters of " + std::to_string(m_nodes) +
           " node(s), whole packages (other processes on them included)";
  char note[200];
  std::snprintf(note, sizeof note,
                "estimate: outputs.watts_per_core (%g W) x CPU core-seconds; no readable RAPL counters on every node",
                m_watts_per_core);
  return note;
}

}  // namespace twin::detail
