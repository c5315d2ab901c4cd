// Fault injection: rank 1 throws an exception nobody catches while rank 0 waits in a barrier.
// The terminate handler must end the whole job with a message naming the rank; without it
// rank 0 would wait forever.
#include <Kokkos_Core.hpp>
#include <stdexcept>

#include "ground/log.hpp"
#include "ground/mpi.hpp"

int main(int argc, char** argv) {
  twin::MpiEnvironment mpi(&argc, &argv);
  twin::log::init_default();
  Kokkos::ScopeGuard kokkos(argc, argv);
  if (twin::world_rank() == 1) throw std::runtime_error("injected fault: sensor bus lost");
  MPI_Barrier(MPI_COMM_WORLD);
  return 0;
}
