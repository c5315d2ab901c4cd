#include "solvers/halo.hpp"

#include <array>
#include <string>

#include "ground/check.hpp"
#include "twin/error.hpp"

namespace twin::solvers {
long face_cells(const LocalGrid& g, int axis) {
  long n = 1;
  for (int d = 0; d < 3; ++d)
    if (d != axis) n *= g.cells[d];
  return n;
}

HaloExchange::HaloExchange(const Decomposition& decomposition, int members)
    : m_decomposition(&decomposition), m_members(members) {
  const LocalGrid& g = decomposition.local();
  for (int axis = 0; axis < 3; ++axis) {
    for (int side = 0; side < 2; ++side) {
      const long n = axis < g.dims ? face_cells(g, axis) * members : 0;
      const std::string tag = "halo_" + std::to_string(axis) + (side ? "_high" : "_low");
      m_send.emplace_back(Kokkos::ViewAllocateWithoutInitializing(tag + "_send"), n);
      m_recv.emplace_back(Kokkos::ViewAllocateWithoutInitializing(tag + "_recv"), n);
    }
  }
}

void HaloExchange::exchange(const Field& u) {
  TWIN_REQUIRE(static_cast<int>(u.extent(0)) <= m_members, Error, "halo exchange of more members than its buffers hold");
  const Decomposition& dec = *m_decomposition;
  const LocalGrid g = dec.local();
  for (int axis = 0; axis < g.dims; ++axis) {
    const long nf = face_cells(g, axis);
    const long total = nf * static_cast<long>(u.extent(0));  // u may be a block of the members
    std::array<MPI_Request, 4> requests{MPI_REQUEST_NULL, MPI_REQUEST_NULL, MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    for (int side = 0; side < 2; ++side) {
      const int peer = dec.neighbor(axis, side);
      if (peer == MPI_PROC_NULL) continue;
      auto send = m_send[2 * axis + side];
      // Low side sends its first interior layer, high side its last.
      const int layer = side == 0 ? g.ghost[axis] : g.ghost[axis] + g.cells[axis] - 1;
      Kokkos::parallel_for(
          "twin::halo_pack", Kokkos::RangePolicy<>(0, total), KOKKOS_LAMBDA(const long n) {
            const long m = n / nf, f = n % nf;
            send(n) = u(m, g.face_index(axis, layer, f));
          });
    }
    Kokkos::fence();
    for (int side = 0; side < 2; ++side) {
      const int peer = dec.neighbor(axis, side);
      if (peer == MPI_PROC_NULL) continue;
      const int count = static_cast<int>(total);
      // Tag by the direction of travel so low/high messages between two ranks never mix.
      TWIN_MPI_CHECK(MPI_Irecv(m_recv[2 * axis + side].data(), count, MPI_DOUBLE, peer, 2 * axis + (1 - side),
                               dec.comm(), &requests[2 * side]));
      TWIN_MPI_CHECK(MPI_Isend(m_send[2 * axis + side].data(), count, MPI_DOUBLE, peer, 2 * axis + side, dec.comm(),
                               &requests[2 * side + 1]));
    }
    TWIN_MPI_CHECK(MPI_Waitall(4, requests.data(), MPI_STATUSES_IGNORE));
    for (int side = 0; side < 2; ++side) {
      if (dec.neighbor(axis, side) == MPI_PROC_NULL) continue;
      auto recv = m_recv[2 * axis + side];
      const int layer = side == 0 ? 0 : g.ghost[axis] + g.cells[axis];
      Kokkos::parallel_for(
          "twin::halo_unpack", Kokkos::RangePolicy<>(0, total), KOKKOS_LAMBDA(const long n) {
            const long m = n / nf, f = n % nf;
            u(m, g.face_index(axis, layer, f)) = recv(n);
          });
    }
    Kokkos::fence();
  }
}

}  // namespace twin::solvers
