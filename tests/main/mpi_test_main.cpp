// The main of every twinrt test executable: an environment that owns MPI and Kokkos, and a
// listener that prints on rank 0 only, with the failures of every other rank gathered there.
// Works on one process without mpirun, and under mpirun at any rank count.
//
// Each test job gets its own fresh scratch folder as TMPDIR (std::filesystem::temp_directory_path
// reads it), shared by its ranks: tests name their files after the process id, and a recycled id
// must not find an earlier job's registry there. The folder is removed when every test passed and
// kept, with its path printed, when one failed.
#include <gtest/gtest.h>
#include <mpi.h>
#include <stdlib.h>

#include <Kokkos_Core.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

class MpiFailureListener final : public ::testing::EmptyTestEventListener {
 public:
  MpiFailureListener(std::unique_ptr<::testing::TestEventListener> printer, int rank, int size)
      : m_printer(std::move(printer)), m_rank(rank), m_size(size) {}

  void OnTestProgramStart(const ::testing::UnitTest& u) override { if (m_rank == 0) m_printer->OnTestProgramStart(u); }
  void OnTestIterationStart(const ::testing::UnitTest& u, int i) override { if (m_rank == 0) m_printer->OnTestIterationStart(u, i); }
  void OnEnvironmentsSetUpStart(const ::testing::UnitTest& u) override { if (m_rank == 0) m_printer->OnEnvironmentsSetUpStart(u); }
  void OnEnvironmentsSetUpEnd(const ::testing::UnitTest& u) override { if (m_rank == 0) m_printer->OnEnvironmentsSetUpEnd(u); }
  void OnTestSuiteStart(const ::testing::TestSuite& s) override { if (m_rank == 0) m_printer->OnTestSuiteStart(s); }
  void OnTestStart(const ::testing::TestInfo& t) override { if (m_rank == 0) m_printer->OnTestStart(t); }
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::ostringstream out;
    out << (r.file_name() ? r.file_name() : "?") << ":" << r.line_number() << ": " << r.summary() << "\n";
    m_failures += out.str();
    if (m_rank == 0) m_printer->OnTestPartResult(r);
  }
  void OnTestEnd(const ::testing::TestInfo& t) override {
    // Gather the other ranks' failure text onto rank 0 (a collective: every rank runs every test).
    const int len = static_cast<int>(m_failures.size());
    std::vector<int> lens(m_size), offsets(m_size);
    MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
    int total = 0;
    for (int r = 0; r < m_size; ++r) offsets[r] = total, total += lens[r];
    std::string all(static_cast<std::size_t>(total), '\0');
    MPI_Gatherv(m_failures.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD);
    if (m_rank == 0) {
      for (int r = 1; r < m_size; ++r) {
        if (lens[r] == 0) continue;
        std::printf("[  FAILED  ] %s.%s on rank %d:\n%s", t.test_suite_name(), t.name(), r,
                    all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(lens[r])).c_str());
      }
      m_printer->OnTestEnd(t);
    }
    m_failures.clear();
  }
  void OnTestSuiteEnd(const ::testing::TestSuite& s) override { if (m_rank == 0) m_printer->OnTestSuiteEnd(s); }
  void OnEnvironmentsTearDownStart(const ::testing::UnitTest& u) override { if (m_rank == 0) m_printer->OnEnvironmentsTearDownStart(u); }
  void OnEnvironmentsTearDownEnd(const ::testing::UnitTest& u) override { if (m_rank == 0) m_printer->OnEnvironmentsTearDownEnd(u); }
  void OnTestIterationEnd(const ::testing::UnitTest& u, int i) override { if (m_rank == 0) m_printer->OnTestIterationEnd(u, i); }
  void OnTestProgramEnd(const ::testing::UnitTest& u) override { if (m_rank == 0) m_printer->OnTestProgramEnd(u); }

 private:
  std::unique_ptr<::testing::TestEventListener> m_printer;
  int m_rank;
  int m_size;
  std::string m_failures;
};

/// rank 0 makes the folder under the caller's TMPDIR (or /tmp); every rank takes it as its TMPDIR.
std::string fresh_scratch(int rank) {
  char name[4096] = {0};
  if (rank == 0) {
    const char* parent = std::getenv("TMPDIR");
    std::string pattern = std::string(parent && *parent ? parent : "/tmp") + "/twin_test_XXXXXX";
    if (pattern.size() < sizeof(name) && ::mkdtemp(pattern.data()) != nullptr) std::strcpy(name, pattern.c_str());
    else std::fprintf(stderr, "test main: no scratch folder under %s (%s); using the caller's TMPDIR\n",
                      parent && *parent ? parent : "/tmp", std::strerror(errno));
  }
  MPI_Bcast(name, sizeof(name), MPI_CHAR, 0, MPI_COMM_WORLD);
  if (name[0] != '\0') ::setenv("TMPDIR", name, 1);
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const std::string scratch = fresh_scratch(rank);
  ::testing::InitGoogleTest(&argc, argv);
  int result = 0;
  {
    Kokkos::ScopeGuard kokkos(argc, argv);
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    std::unique_ptr<::testing::TestEventListener> printer(listeners.Release(listeners.default_result_printer()));
    listeners.Append(new MpiFailureListener(std::move(printer), rank, size));
    result = RUN_ALL_TESTS();
  }
  // Every rank ends with the same verdict, so the job fails when any rank failed; after it no rank
  // uses the scratch folder.
  int worst = 0;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0 && !scratch.empty()) {
    std::error_code ec;
    if (worst == 0) std::filesystem::remove_all(scratch, ec);
    else std::printf("test main: the failed job's files are kept in %s\n", scratch.c_str());
  }
  MPI_Finalize();
  return worst;
}
