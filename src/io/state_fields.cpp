#include "io/state_fields.hpp"

#include <algorithm>

#include "twin/error.hpp"

namespace twin::io {

void save_field(StateArchive& archive, const std::string& name, const solvers::Field& u, const solvers::LocalGrid& g,
                int first_member) {
  auto h = Kokkos::create_mirror_view(u);
  Kokkos::deep_copy(h, u);
  const long members = static_cast<long>(u.extent(0));
  std::vector<double> values;
  values.reserve(static_cast<std::size_t>(members * g.interior_size()));
  for (long m = 0; m < members; ++m)
    for (int k = 0; k < g.cells[2]; ++k)
      for (int j = 0; j < g.cells[1]; ++j)
        for (int i = 0; i < g.cells[0]; ++i) values.push_back(h(m, g.index(i, j, k)));
  archive.put(name, std::move(values));
  archive.put(name + ".layout", std::vector<long long>{first_member, members, g.offset[0], g.offset[1], g.offset[2],
                                                       g.cells[0], g.cells[1], g.cells[2], g.global[0], g.global[1],
                                                       g.global[2]});
}

void restore_field(const StateParts& parts, const std::string& name, const solvers::Field& u,
                   const solvers::LocalGrid& g, int first_member) {
  auto h = Kokkos::create_mirror_view(u);
  Kokkos::deep_copy(h, u);
  const long members = static_cast<long>(u.extent(0));
  long covered = 0;
  const auto take = [&](const StateArchive& a) {
    if (!a.has(name)) return;
    const std::vector<long long>& l = a.ints(name + ".layout");
    if (l.size() != 11) throw DataError(a.origin() + ": '" + name + ".layout' is malformed");
    for (int d = 0; d < 3; ++d)
      if (l[8 + d] != g.global[d])
        throw DataError(a.origin() + ": '" + name + "' was written for a grid of another size");
    const long pm0 = l[0], pm = l[1];
    const long cells = l[5] * l[6] * l[7];
    if (pm < 0 || l[5] < 0 || l[6] < 0 || l[7] < 0) throw DataError(a.origin() + ": '" + name + ".layout' is malformed");
    const std::vector<double>& v = a.doubles(name, static_cast<std::size_t>(pm * cells));
    const long m_lo = std::max<long>(pm0, first_member), m_hi = std::min<long>(pm0 + pm, first_member + members);
    long lo[3], hi[3];
    for (int d = 0; d < 3; ++d) {
      lo[d] = std::max<long>(l[2 + d], g.offset[d]);
      hi[d] = std::min<long>(l[2 + d] + l[5 + d], g.offset[d] + g.cells[d]);
    }
    for (long m = m_lo; m < m_hi; ++m)
      for (long k = lo[2]; k < hi[2]; ++k)
        for (long j = lo[1]; j < hi[1]; ++j)
          for (long i = lo[0]; i < hi[0]; ++i) {
            const long src = (m - pm0) * cells + (i - l[2]) + l[5] * ((j - l[3]) + l[6] * (k - l[4]));
            h(m - first_member, g.index(static_cast<int>(i - g.offset[0]), static_cast<int>(j - g.offset[1]),
                                        static_cast<int>(k - g.offset[2]))) = v[static_cast<std::size_t>(src)];
            ++covered;
          }
  };
  bool done = false;
  if (parts.own_rank >= 0 && parts.own_rank < parts.count) {
    take(parts.part(parts.own_rank));
    done = covered == members * g.interior_size();
  }
  if (!done) {
    covered = 0;
    for (int r = 0; r < parts.count; ++r) take(parts.part(r));
  }
  if (covered != members * g.interior_size())
    throw DataError("the snapshot's parts do not hold '" + name + "' for every member and cell exactly once (" +
                    std::to_string(covered) + " of " + std::to_string(members * g.interior_size()) + " values)");
  Kokkos::deep_copy(u, h);
}

void save_observations(StateArchive& a, const std::string& name, const std::vector<Observation>& readings) {
  std::vector<double> t, v;
  std::vector<std::string> sensors;
  for (const Observation& o : readings) {
    t.push_back(o.t_s);
    v.push_back(o.value);
    sensors.push_back(o.sensor);
  }
  a.put(name + ".t", std::move(t));
  a.put(name + ".value", std::move(v));
  a.put(name + ".sensor", std::move(sensors));
}

std::vector<Observation> restore_observations(const StateArchive& a, const std::string& name) {
  const auto& t = a.doubles(name + ".t");
  const auto& v = a.doubles(name + ".value", t.size());
  const auto& sensors = a.strings(name + ".sensor");
  if (sensors.size() != t.size()) throw DataError(a.origin() + ": the readings in '" + name + "' are malformed");
  std::vector<Observation> out;
  for (std::size_t i = 0; i < t.size(); ++i) out.push_back({t[i], sensors[i], v[i]});
  return out;
}

}  // namespace twin::io
