#pragma once
// PETSc helpers (solvers/ only): the check macro and the process-wide PETSc session.

#include <petscdm.h>
#include <petscksp.h>
#include <petscmat.h>
#include <petscsys.h>
#include <petscvec.h>

#include "ground/handle.hpp"

/// Checks a PETSc return code at the call site; throws twin::PetscError naming the call.
#define TWIN_PETSC_CHECK(expr)                                                         \
  do {                                                                                 \
    const PetscErrorCode twin_petsc_rc_ = (expr);                                      \
    if (twin_petsc_rc_ != 0) ::twin::solvers::detail::throw_petsc_error(twin_petsc_rc_, #expr, __FILE__, __LINE__); \
  } while (false)

namespace twin::solvers::detail {

[[noreturn]] void throw_petsc_error(PetscErrorCode code, const char* expr, const char* file, int line);

/// Initialises PETSc on MPI_COMM_WORLD once per process (MPI must be running), quietly: errors
/// come back as codes, PETSc installs no signal handlers. PETSc is finalised at MPI_Finalize,
/// through an attribute on MPI_COMM_SELF, after every solver has been destroyed.
void ensure_petsc();

/// Destroys a PETSc object (its reference, that is: PETSc counts them).
template <class T, PetscErrorCode (*Destroy)(T*)>
struct PetscDestroy {
  static T null() noexcept { return nullptr; }
  void operator()(T object) const noexcept { Destroy(&object); }  // a code here has nowhere to go
};
using UniqueDM = UniqueHandle<DM, PetscDestroy<DM, DMDestroy>>;
using UniqueMat = UniqueHandle<Mat, PetscDestroy<Mat, MatDestroy>>;
using UniqueVec = UniqueHandle<Vec, PetscDestroy<Vec, VecDestroy>>;
using UniqueKSP = UniqueHandle<KSP, PetscDestroy<KSP, KSPDestroy>>;

}  // namespace twin::solvers::detail
