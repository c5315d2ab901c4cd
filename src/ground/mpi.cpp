#include "ground/mpi.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <exception>
#include <sstream>

#include "twin/error.hpp"

namespace twin {
namespace detail {

void throw_mpi_error(int code, const char* expr, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) std::snprintf(text, sizeof text, "code %d", code);
  std::ostringstream out;
  out << "MPI call " << expr << " failed: " << text << " (" << file << ":" << line << ")";
  throw MpiError(out.str());
}

}  // namespace detail

void broadcast(std::string& text, MPI_Comm comm) {
  long n = static_cast<long>(text.size());
  TWIN_MPI_CHECK(MPI_Bcast(&n, 1, MPI_LONG, 0, comm));
  text.resize(static_cast<std::size_t>(n));
  TWIN_MPI_CHECK(MPI_Bcast(text.data(), static_cast<int>(n), MPI_CHAR, 0, comm));
}

void broadcast(std::vector<double>& numbers, MPI_Comm comm) {
  long n = static_cast<long>(numbers.size());
  TWIN_MPI_CHECK(MPI_Bcast(&n, 1, MPI_LONG, 0, comm));
  numbers.resize(static_cast<std::size_t>(n));
  TWIN_MPI_CHECK(MPI_Bcast(numbers.data(), static_cast<int>(n), MPI_DOUBLE, 0, comm));
}

void broadcast(std::vector<std::string>& strings, MPI_Comm comm) {
  long count = static_cast<long>(strings.size());
  TWIN_MPI_CHECK(MPI_Bcast(&count, 1, MPI_LONG, 0, comm));
  std::vector<long> lengths;
  std::string text;
  for (const auto& s : strings) {
    lengths.push_back(static_cast<long>(s.size()));
    text += s;
  }
  lengths.resize(static_cast<std::size_t>(count));
  TWIN_MPI_CHECK(MPI_Bcast(lengths.data(), static_cast<int>(count), MPI_LONG, 0, comm));
  long total = 0;
  for (long n : lengths) total += n;
  text.resize(static_cast<std::size_t>(total));
  TWIN_MPI_CHECK(MPI_Bcast(text.data(), static_cast<int>(total), MPI_CHAR, 0, comm));
  strings.clear();
  std::size_t pos = 0;
  for (long n : lengths) {
    strings.push_back(text.substr(pos, static_cast<std::size_t>(n)));
    pos += static_cast<std::size_t>(n);
  }
}

MpiEnvironment::MpiEnvironment(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    TWIN_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    m_owns = true;
  }
  TWIN_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  install_terminate_handler();
}

MpiEnvironment::~MpiEnvironment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (m_owns && !finalized) MPI_Finalize();
}

bool mpi_running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

int world_rank() {
  int rank = 0;
  if (mpi_running()) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  int size = 1;
  if (mpi_running()) MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

void abort_job(int code, const std::string& why) {
  spdlog::critical("{}", why);
  spdlog::default_logger()->flush();
  if (mpi_running() && world_size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

namespace {
void on_terminate() {
  std::string what = "unknown exception";
  if (auto pending = std::current_exception()) {
    try {
      std::rethrow_exception(pending);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
  } else {
    what = "std::terminate called without an exception";
  }
  spdlog::critical("fatal: uncaught error on rank {}: {}; ending the job", world_rank(), what);
  spdlog::default_logger()->flush();
  if (mpi_running()) MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}
}  // namespace

void install_terminate_handler() { std::set_terminate(on_terminate); }

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string v(text, static_cast<std::size_t>(len));
  // Open MPI prints a long banner; its first line is the version.
  if (auto nl = v.find_first_of(",\n"); nl != std::string::npos) v.resize(nl);
  while (!v.empty() && (v.back() == '\0' || v.back() == ' ')) v.pop_back();
  return v;
}

void CommFree::operator()(MPI_Comm comm) const noexcept {
  if (comm != MPI_COMM_WORLD && comm != MPI_COMM_SELF && mpi_running()) MPI_Comm_free(&comm);
}

}  // namespace twin
