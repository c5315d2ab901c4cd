#include "decision/broadcast.hpp"

#include <cmath>
#include <cstring>

#include "ground/mpi.hpp"
#include "twin/error.hpp"

namespace twin::detail {
namespace {

// One list of fields per type, walked by the packer on rank 0 and by the unpacker on every
// rank, so the two sides cannot disagree on the layout.
class Packer {
 public:
  void operator()(double& v) { m_bytes.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void operator()(int& v) { number(v); }
  void operator()(bool& v) { number(v); }
  void operator()(Mode& v) { number(v); }
  void operator()(std::string& s) {
    double n = static_cast<double>(s.size());
    (*this)(n);
    m_bytes += s;
  }
  template <class T>
  void operator()(std::vector<T>& v) {
    double n = static_cast<double>(v.size());
    (*this)(n);
    for (auto& x : v) (*this)(x);
  }
  void operator()(ControlValue& c) {
    (*this)(c.name);
    (*this)(c.value);
    (*this)(c.unit);
  }
  std::string& bytes() { return m_bytes; }

 private:
  template <class T>
  void number(T& v) {
    double d = static_cast<double>(v);
    (*this)(d);
  }
  std::string m_bytes;
};

class Unpacker {
 public:
  explicit Unpacker(const std::string& bytes) : m_bytes(bytes) {}
  void operator()(double& v) {
    need(sizeof v);
    std::memcpy(&v, m_bytes.data() + m_at, sizeof v);
    m_at += sizeof v;
  }
  void operator()(int& v) { v = static_cast<int>(number()); }
  void operator()(bool& v) { v = number() != 0.0; }
  void operator()(Mode& v) { v = static_cast<Mode>(static_cast<int>(number())); }
  void operator()(std::string& s) {
    const auto n = static_cast<std::size_t>(number());
    need(n);
    s = m_bytes.substr(m_at, n);
    m_at += n;
  }
  template <class T>
  void operator()(std::vector<T>& v) {
    v.resize(static_cast<std::size_t>(number()));
    for (auto& x : v) (*this)(x);
  }
  void operator()(ControlValue& c) {
    (*this)(c.name);
    (*this)(c.value);
    (*this)(c.unit);
  }

 private:
  double number() {
    double v = 0.0;
    (*this)(v);
    return v;
  }
  void need(std::size_t n) const {
    if (m_at + n > m_bytes.size()) throw MpiError("broadcast: a packed decision ended early (ranks disagree on its layout)");
  }
  const std::string& m_bytes;
  std::size_t m_at = 0;
};

template <class IO>
void fields(IO& io, Decision& d) {
  io(d.advice.cycle);
  io(d.advice.t_s);
  io(d.advice.mode);
  io(d.advice.reason);
  io(d.advice.controls);
  AdvisorReport& r = d.report;
  io(r.consulted);
  io(r.accepted);
  io(r.gate);
  io(r.proposal);
  io(r.spread);
  io(r.ood);
  io(r.cost);
  io(r.latency_ms);
  io(r.physics_error);
  io(r.model);
}

template <class IO>
void fields(IO& io, AnomalyReport& r) {
  io(r.consulted);
  io(r.flagged);
  io(r.fault_class);
  io(r.confidence);
  io(r.sensors);
  io(r.attribution);
  io(r.model);
  io(r.reason);
}

// Rank 0 packs, one broadcast moves the bytes, every rank unpacks (rank 0 too: all ranks then
// hold exactly the same values).
template <class T>
void broadcast_fields(T& value, MPI_Comm comm) {
  Packer out;
  fields(out, value);
  twin::broadcast(out.bytes(), comm);
  Unpacker in(out.bytes());
  fields(in, value);
}

}  // namespace

void broadcast(Decision& d, std::size_t controls, MPI_Comm comm) {
  d.report.proposal.resize(controls, std::nan(""));
  broadcast_fields(d, comm);
}

void broadcast(AnomalyReport& r, MPI_Comm comm) { broadcast_fields(r, comm); }

}  // namespace twin::detail
