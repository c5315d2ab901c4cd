#include "decision/broadcast.hpp"

#include <cmath>
#include <cstring>

#include "ground/mpi.hpp"
#include "twin/error.hpp"

namespace twin::detail {
namespace {

class Packer {
 public:
  void put(double v) { m_bytes.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void put(const std::string& s) {
    put(static_cast<double>(s.size()));
    m_bytes += s;
  }
  void put(const std::vector<double>& v) {
    put(static_cast<double>(v.size()));
    for (double x : v) put(x);
  }
  void put(const std::vector<std::string>& v) {
    put(static_cast<double>(v.size()));
    for (const auto& x : v) put(x);
  }
  std::string& bytes() { return m_bytes; }

 private:
  std::string m_bytes;
};

class Unpacker {
 public:
  explicit Unpacker(const std::string& bytes) : m_bytes(bytes) {}
  double number() {
    need(sizeof(double));
    double v = 0.0;
    std::memcpy(&v, m_bytes.data() + m_at, sizeof v);
    m_at += sizeof v;
    return v;
  }
  std::size_t count() { return static_cast<std::size_t>(number()); }
  std::string text() {
    const std::size_t n = count();
    need(n);
    std::string s = m_bytes.substr(m_at, n);
    m_at += n;
    return s;
  }
  std::vector<double> numbers() {
    std::vector<double> v(count());
    for (double& x : v) x = number();
    return v;
  }
  std::vector<std::string> texts() {
    std::vector<std::string> v(count());
    for (auto& x : v) x = text();
    return v;
  }

 private:
  void need(std::size_t n) const {
    if (m_at + n > m_bytes.size()) throw MpiError("broadcast: a packed decision ended early (ranks disagree on its layout)");
  }
  const std::string& m_bytes;
  std::size_t m_at = 0;
};

}  // namespace

void broadcast(Decision& d, std::size_t controls, MPI_Comm comm) {
  Advice& a = d.advice;
  AdvisorReport& r = d.report;
  r.proposal.resize(controls, std::nan(""));
  Packer out;
  out.put(a.cycle);
  out.put(a.t_s);
  out.put(static_cast<double>(a.mode));
  out.put(a.reason);
  std::vector<double> values;
  std::vector<std::string> names, units;
  for (const auto& c : a.controls) {
    values.push_back(c.value);
    names.push_back(c.name);
    units.push_back(c.unit);
  }
  out.put(values);
  out.put(names);
  out.put(units);
  out.put(r.consulted ? 1.0 : 0.0);
  out.put(r.accepted ? 1.0 : 0.0);
  out.put(r.gate);
  out.put(r.proposal);
  out.put(r.spread);
  out.put(r.ood);
  out.put(r.cost);
  out.put(r.latency_ms);
  out.put(r.physics_error);
  out.put(r.model);
  twin::broadcast(out.bytes(), comm);

  Unpacker in(out.bytes());
  a.cycle = static_cast<int>(in.number());
  a.t_s = in.number();
  a.mode = static_cast<Mode>(static_cast<int>(in.number()));
  a.reason = in.text();
  values = in.numbers();
  names = in.texts();
  units = in.texts();
  a.controls.clear();
  for (std::size_t j = 0; j < values.size(); ++j) a.controls.push_back({names.at(j), values[j], units.at(j)});
  r.consulted = in.number() != 0.0;
  r.accepted = in.number() != 0.0;
  r.gate = in.text();
  r.proposal = in.numbers();
  r.spread = in.number();
  r.ood = in.number();
  r.cost = in.number();
  r.latency_ms = in.number();
  r.physics_error = in.number();
  r.model = in.text();
}

void broadcast(AnomalyReport& r, MPI_Comm comm) {
  Packer out;
  out.put(r.consulted ? 1.0 : 0.0);
  out.put(r.flagged ? 1.0 : 0.0);
  out.put(r.fault_class);
  out.put(r.confidence);
  out.put(r.sensors);
  out.put(r.attribution);
  out.put(r.model);
  out.put(r.reason);
  twin::broadcast(out.bytes(), comm);

  Unpacker in(out.bytes());
  r.consulted = in.number() != 0.0;
  r.flagged = in.number() != 0.0;
  r.fault_class = in.text();
  r.confidence = in.number();
  r.sensors = in.texts();
  r.attribution = in.numbers();
  r.model = in.text();
  r.reason = in.text();
}

}  // namespace twin::detail
