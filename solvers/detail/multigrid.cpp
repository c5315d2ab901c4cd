#include "solvers/detail/multigrid.hpp"

#include <numeric>

#include "solvers/detail/petsc.hpp"

namespace twin::solvers::detail {

namespace {

PetscInt total(const AxisOwnership& axis) { return std::accumulate(axis.begin(), axis.end(), PetscInt{0}); }

// The coarse cells a fine cell interpolates from along one axis, and their weights: the parent
// (3/4) and the parent's neighbour on the fine cell's side (1/4); the parent alone next to a wall
// or where the axis is not coarsened.
int weights_1d(PetscInt i, bool halved, PetscInt coarse_cells, PetscInt index[2], PetscScalar weight[2]) {
  if (!halved) {
    index[0] = i;
    weight[0] = 1.0;
    return 1;
  }
  const PetscInt parent = i / 2;
  const PetscInt neighbour = i % 2 == 0 ? parent - 1 : parent + 1;
  index[0] = parent;
  if (neighbour < 0 || neighbour >= coarse_cells) {
    weight[0] = 1.0;
    return 1;
  }
  index[1] = neighbour;
  weight[0] = 0.75;
  weight[1] = 0.25;
  return 2;
}

struct Box {
  PetscInt start[3] = {0, 0, 0};
  PetscInt size[3] = {1, 1, 1};
  PetscInt local(const PetscInt i[3]) const {
    return (i[0] - start[0]) + size[0] * ((i[1] - start[1]) + size[1] * (i[2] - start[2]));
  }
};

Box owned(DM da) {
  Box b;
  TWIN_PETSC_CHECK(DMDAGetCorners(da, &b.start[0], &b.start[1], &b.start[2], &b.size[0], &b.size[1], &b.size[2]));
  return b;
}

Box ghosted(DM da) {
  Box b;
  TWIN_PETSC_CHECK(
      DMDAGetGhostCorners(da, &b.start[0], &b.start[1], &b.start[2], &b.size[0], &b.size[1], &b.size[2]));
  return b;
}

std::array<PetscInt, 3> global_cells(DM da) {
  std::array<PetscInt, 3> n{1, 1, 1};
  TWIN_PETSC_CHECK(DMDAGetInfo(da, nullptr, &n[0], &n[1], &n[2], nullptr, nullptr, nullptr, nullptr, nullptr,
                               nullptr, nullptr, nullptr, nullptr));
  return n;
}

// Interpolation from `coarse` to `fine` (rows: fine cells, columns: coarse cells, both in the
// DMDAs' global ordering). Every coarse cell a rank needs lies in its coarse ghost box, because
// a rank's fine block is the refinement of its coarse block.
UniqueMat interpolation(DM coarse, DM fine, int dims) {
  MPI_Comm comm = MPI_COMM_NULL;
  TWIN_PETSC_CHECK(PetscObjectGetComm(reinterpret_cast<PetscObject>(fine), &comm));
  const Box f_owned = owned(fine), f_ghosted = ghosted(fine);
  const Box c_owned = owned(coarse), c_ghosted = ghosted(coarse);
  const auto nf = global_cells(fine), nc = global_cells(coarse);
  UniqueMat p;
  const int max_entries = 1 << dims;
  TWIN_PETSC_CHECK(MatCreateAIJ(comm, f_owned.size[0] * f_owned.size[1] * f_owned.size[2],
                                c_owned.size[0] * c_owned.size[1] * c_owned.size[2], PETSC_DETERMINE, PETSC_DETERMINE,
                                max_entries, nullptr, max_entries, nullptr, p.out()));
  {
    ISLocalToGlobalMapping f_map = nullptr, c_map = nullptr;
    TWIN_PETSC_CHECK(DMGetLocalToGlobalMapping(fine, &f_map));
    TWIN_PETSC_CHECK(DMGetLocalToGlobalMapping(coarse, &c_map));
    TWIN_PETSC_CHECK(MatSetLocalToGlobalMapping(p.get(), f_map, c_map));
    PetscInt index[3][2] = {};
    PetscScalar weight[3][2] = {};
    int count[3] = {1, 1, 1};
    PetscInt columns[8];
    PetscScalar values[8];
    PetscInt i[3];
    for (i[2] = f_owned.start[2]; i[2] < f_owned.start[2] + f_owned.size[2]; ++i[2])
      for (i[1] = f_owned.start[1]; i[1] < f_owned.start[1] + f_owned.size[1]; ++i[1])
        for (i[0] = f_owned.start[0]; i[0] < f_owned.start[0] + f_owned.size[0]; ++i[0]) {
          for (int d = 0; d < 3; ++d) count[d] = weights_1d(i[d], nf[d] != nc[d], nc[d], index[d], weight[d]);
          int n = 0;
          for (int c = 0; c < count[2]; ++c)
            for (int b = 0; b < count[1]; ++b)
              for (int a = 0; a < count[0]; ++a, ++n) {
                const PetscInt ci[3] = {index[0][a], index[1][b], index[2][c]};
                columns[n] = c_ghosted.local(ci);
                values[n] = weight[0][a] * weight[1][b] * weight[2][c];
              }
          const PetscInt row = f_ghosted.local(i);
          TWIN_PETSC_CHECK(MatSetValuesLocal(p.get(), 1, &row, n, columns, values, INSERT_VALUES));
        }
    TWIN_PETSC_CHECK(MatAssemblyBegin(p.get(), MAT_FINAL_ASSEMBLY));
    TWIN_PETSC_CHECK(MatAssemblyEnd(p.get(), MAT_FINAL_ASSEMBLY));
  }
  return p;
}

UniqueDM make_level(MPI_Comm comm, int dims, const std::array<AxisOwnership, 3>& level) {
  UniqueDM da;
  const auto& [lx, ly, lz] = level;
  const auto px = static_cast<PetscInt>(lx.size()), py = static_cast<PetscInt>(ly.size());
  // A box stencil: the interpolation reaches the diagonal neighbours of a coarse block.
  if (dims == 2) {
    TWIN_PETSC_CHECK(DMDACreate2d(comm, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_BOX, total(lx), total(ly),
                                  px, py, 1, 1, lx.data(), ly.data(), da.out()));
  } else {
    TWIN_PETSC_CHECK(DMDACreate3d(comm, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_BOX,
                                  total(lx), total(ly), total(lz), px, py, static_cast<PetscInt>(lz.size()), 1, 1,
                                  lx.data(), ly.data(), lz.data(), da.out()));
  }
  TWIN_PETSC_CHECK(DMSetUp(da.get()));
  return da;
}

}  // namespace

PetscInt cells(int dims, const std::array<AxisOwnership, 3>& level) {
  PetscInt n = 1;
  for (int d = 0; d < dims; ++d) n *= total(level[static_cast<std::size_t>(d)]);
  return n;
}

CellHierarchy plan_cell_hierarchy(int dims, const std::array<AxisOwnership, 3>& fine, int max_levels,
                                  PetscInt coarsest_cells) {
  CellHierarchy h;
  h.dims = dims;
  h.levels.push_back(fine);
  if (dims == 2) h.levels.back()[2] = {1};
  while ((max_levels <= 0 || static_cast<int>(h.levels.size()) < max_levels) &&
         cells(dims, h.levels.back()) > coarsest_cells) {
    auto next = h.levels.back();
    bool halved = false;
    for (int d = 0; d < dims; ++d) {
      auto& axis = next[static_cast<std::size_t>(d)];
      bool even = true;
      for (PetscInt n : axis) even = even && n % 2 == 0;
      if (!even) continue;
      for (PetscInt& n : axis) n /= 2;
      halved = true;
    }
    if (!halved) break;
    h.levels.push_back(std::move(next));
  }
  return h;
}

void set_cell_multigrid(PC pc, DM fine, const CellHierarchy& hierarchy) {
  const auto levels = static_cast<PetscInt>(hierarchy.levels.size());
  TWIN_PETSC_CHECK(PCSetType(pc, PCMG));
  TWIN_PETSC_CHECK(PCMGSetLevels(pc, levels, nullptr));
  TWIN_PETSC_CHECK(PCMGSetGalerkin(pc, PC_MG_GALERKIN_BOTH));
  MPI_Comm comm = MPI_COMM_NULL;
  TWIN_PETSC_CHECK(PetscObjectGetComm(reinterpret_cast<PetscObject>(fine), &comm));
  // The coarse DMDAs live until the hierarchy is set (PCMG keeps its own references to the
  // interpolations, not to these).
  std::vector<UniqueDM> coarse;
  coarse.reserve(static_cast<std::size_t>(levels));
  DM finer = fine;
  // Hierarchy level l (0 finest) is PCMG level levels-1-l (0 coarsest); the interpolation into
  // PCMG level m comes from level m-1.
  for (PetscInt l = 1; l < levels; ++l) {
    coarse.push_back(make_level(comm, hierarchy.dims, hierarchy.levels[static_cast<std::size_t>(l)]));
    const UniqueMat p = interpolation(coarse.back().get(), finer, hierarchy.dims);  // PCMG takes its own reference
    TWIN_PETSC_CHECK(PCMGSetInterpolation(pc, levels - l, p.get()));
    finer = coarse.back().get();
  }
  // One symmetric SOR sweep before and after each coarse-grid correction (Richardson): the
  // V-cycle stays symmetric for CG, and on the benchmark's grids it needed 4 CG iterations from
  // 128^2 to 1024^2 at rtol 1e-8, as few as PETSc's default (two Chebyshev steps) in about half
  // the time. -mg_levels_ksp_type and -mg_levels_pc_type override it.
  for (PetscInt l = 1; l < levels; ++l) {
    KSP smoother = nullptr;
    PC smoother_pc = nullptr;
    TWIN_PETSC_CHECK(PCMGGetSmoother(pc, l, &smoother));
    TWIN_PETSC_CHECK(KSPSetType(smoother, KSPRICHARDSON));
    TWIN_PETSC_CHECK(KSPSetTolerances(smoother, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, 1));
    TWIN_PETSC_CHECK(KSPGetPC(smoother, &smoother_pc));
    TWIN_PETSC_CHECK(PCSetType(smoother_pc, PCSOR));
  }
}

}  // namespace twin::solvers::detail
