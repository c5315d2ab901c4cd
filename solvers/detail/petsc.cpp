#include "solvers/detail/petsc.hpp"

#include <sstream>

#include "ground/mpi.hpp"
#include "twin/error.hpp"

namespace twin::solvers::detail {

void throw_petsc_error(PetscErrorCode code, const char* expr, const char* file, int line) {
  const char* text = nullptr;
  PetscErrorMessage(code, &text, nullptr);
  std::ostringstream out;
  out << "PETSc call " << expr << " failed: " << (text ? text : "unknown error") << " (code " << code << ", " << file
      << ":" << line << ")";
  throw PetscError(out.str());
}

namespace {
int finalize_petsc(MPI_Comm, int, void*, void*) {
  PetscBool finalized = PETSC_FALSE;
  PetscFinalized(&finalized);
  if (!finalized) PetscFinalize();
  return MPI_SUCCESS;
}
}  // namespace

void ensure_petsc() {
  PetscBool initialized = PETSC_FALSE;
  TWIN_PETSC_CHECK(PetscInitialized(&initialized));
  if (initialized) return;
  TWIN_PETSC_CHECK(PetscOptionsSetValue(nullptr, "-no_signal_handler", nullptr));
  TWIN_PETSC_CHECK(PetscInitializeNoArguments());
  TWIN_PETSC_CHECK(PetscPushErrorHandler(PetscReturnErrorHandler, nullptr));
  int key = MPI_KEYVAL_INVALID;
  TWIN_MPI_CHECK(MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, finalize_petsc, &key, nullptr));
  TWIN_MPI_CHECK(MPI_Comm_set_attr(MPI_COMM_SELF, key, nullptr));
}

}  // namespace twin::solvers::detail
