#pragma once
// MPI helpers shared by every twinrt library: the check macro, the process-wide environment
// guard, rank 0's values to every rank, and an owning communicator handle.

#include <mpi.h>

#include <string>
#include <vector>

#include "ground/handle.hpp"

/// Checks an MPI return code at the call site; throws twin::MpiError naming the call.
#define TWIN_MPI_CHECK(expr)                                                        \
  do {                                                                              \
    const int twin_mpi_rc_ = (expr);                                                \
    if (twin_mpi_rc_ != MPI_SUCCESS)                                                \
      ::twin::detail::throw_mpi_error(twin_mpi_rc_, #expr, __FILE__, __LINE__);     \
  } while (false)

namespace twin {
namespace detail {
[[noreturn]] void throw_mpi_error(int code, const char* expr, const char* file, int line);
}  // namespace detail

/// Owns MPI for the process: initialises it (MPI_THREAD_FUNNELED) unless already initialised,
/// makes MPI_COMM_WORLD return error codes instead of aborting, installs the terminate handler,
/// and finalises MPI on destruction if it initialised it. Exactly one, in main.
class MpiEnvironment {
 public:
  MpiEnvironment(int* argc, char*** argv);
  ~MpiEnvironment();
  MpiEnvironment(const MpiEnvironment&) = delete;
  MpiEnvironment& operator=(const MpiEnvironment&) = delete;

 private:
  bool m_owns = false;
};

/// Rank 0's value on every rank of `comm`, sizes included (collective).
void broadcast(std::string& text, MPI_Comm comm);
void broadcast(std::vector<double>& numbers, MPI_Comm comm);
void broadcast(std::vector<std::string>& strings, MPI_Comm comm);

/// Rank and size in MPI_COMM_WORLD; 0 and 1 when MPI is not running.
int world_rank();
int world_size();

/// True between MPI_Init and MPI_Finalize.
bool mpi_running();

/// Logs `why` and ends the whole job at once: MPI_Abort with `code` when MPI runs on more
/// than one rank, else std::exit(code). Used when an error on one rank could hang the others.
[[noreturn]] void abort_job(int code, const std::string& why);

/// std::terminate handler: logs the pending exception with the rank and aborts the MPI job,
/// so one rank's uncaught error never leaves the others waiting in a collective.
void install_terminate_handler();

/// The MPI library's own version string (callable before MPI_Init).
std::string mpi_library_version();

/// Frees a communicator (never MPI_COMM_WORLD or MPI_COMM_SELF, and not after MPI_Finalize).
struct CommFree {
  static MPI_Comm null() noexcept { return MPI_COMM_NULL; }
  void operator()(MPI_Comm comm) const noexcept;
};
/// An owned communicator (freed on destruction); movable, not copyable.
using UniqueComm = UniqueHandle<MPI_Comm, CommFree>;

}  // namespace twin
