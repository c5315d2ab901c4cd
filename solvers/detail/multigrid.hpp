#pragma once
// Geometric multigrid for the cell-centred DMDA of the implicit solver (PETSc PCMG).
//
// PETSc's own DMDA coarsening assumes vertex-centred grids (2^k m + 1 points) and so does not
// coarsen the twin's cell-centred grids (2^k m cells). This builds the hierarchy itself: each
// level halves every axis whose cells split evenly on every rank, the interpolation is the
// cell-centred (bi/tri)linear one (weights 3/4 and 1/4 per axis, constant next to a wall), the
// restriction its transpose and the coarse operators Galerkin products (P^T A P), so the levels
// stay symmetric for CG and follow any coefficients and wall conditions of the fine matrix.

#include <petscdmda.h>
#include <petscksp.h>

#include <array>
#include <vector>

namespace twin::solvers::detail {

/// One axis split over the processes: the cells each process coordinate owns.
using AxisOwnership = std::vector<PetscInt>;

/// The levels of a cell-centred hierarchy, finest first: per level, the cells per axis and
/// their ownership. Coarsening stops at `max_levels` (0: no limit), when the coarsest level has
/// at most `coarsest_cells` cells, or when no axis halves evenly on every process.
struct CellHierarchy {
  int dims = 2;
  std::vector<std::array<AxisOwnership, 3>> levels;
};

/// Cells of one level (the product over the grid's axes).
PetscInt cells(int dims, const std::array<AxisOwnership, 3>& level);

/// The largest coarsest level the implicit solver accepts for its direct coarse solve.
constexpr PetscInt max_coarsest_cells = 4096;

CellHierarchy plan_cell_hierarchy(int dims, const std::array<AxisOwnership, 3>& fine, int max_levels,
                                  PetscInt coarsest_cells = 64);

/// Makes `pc` a PCMG over `fine` (the DMDA of the implicit solver, one unknown per cell) with the
/// levels of `hierarchy`: interpolations set, coarse operators by the Galerkin process.
/// Options (-mg_levels_*, -mg_coarse_*) still apply through KSPSetFromOptions afterwards.
void set_cell_multigrid(PC pc, DM fine, const CellHierarchy& hierarchy);

}  // namespace twin::solvers::detail
