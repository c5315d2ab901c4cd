#include "solvers/implicit_solver.hpp"

#include <petscdmda.h>
#include <petscksp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "ground/check.hpp"
#include "solvers/detail/multigrid.hpp"
#include "solvers/detail/petsc.hpp"
#include "twin/error.hpp"

namespace twin::solvers {

// Declared in creation order, destroyed in reverse: the KSP before the objects it uses, the
// communicator last.
struct ImplicitSolver::Petsc {
  UniqueComm comm;  // the decomposition's ranks, ordered as PETSc's DMDA expects
  detail::UniqueDM da;
  detail::UniqueMat matrix;
  detail::UniqueVec x;
  detail::UniqueVec b;
  detail::UniqueKSP ksp;
};

namespace {

// Cells owned along `axis` by each process coordinate, as in Decomposition.
std::vector<PetscInt> ownership(int n, int p) {
  std::vector<PetscInt> out(static_cast<std::size_t>(p));
  for (int c = 0; c < p; ++c) out[c] = n / p + (c < n % p ? 1 : 0);
  return out;
}

}  // namespace

ImplicitSolver::ImplicitSolver(const SolverConfig& config, const Decomposition& decomposition, int members)
    : m_explicit(config, decomposition, members),
      m_decomposition(&decomposition),
      m_theta(config.time.integrator == "crank_nicolson" ? 0.5 : 1.0),
      m_cfl(config.time.cfl),
      m_max_dt(config.time.max_dt_s.value_or(std::numeric_limits<double>::infinity())),
      m_petsc_options(config.time.implicit.petsc_options),
      m_petsc(std::make_unique<Petsc>()) {
  TWIN_REQUIRE(config.time.integrator == "backward_euler" || config.time.integrator == "crank_nicolson",
               Error, "ImplicitSolver needs time.integrator backward_euler or crank_nicolson");
  detail::ensure_petsc();
  const LocalGrid& g = grid();
  const auto& procs = decomposition.process_grid();
  const auto& coords = decomposition.coords();

  // MPI_Cart numbers ranks with the last axis fastest, the DMDA with x fastest: reorder so that
  // each rank owns the same block in both.
  const int key = coords[0] + procs[0] * (coords[1] + procs[1] * coords[2]);
  TWIN_MPI_CHECK(MPI_Comm_split(decomposition.comm(), 0, key, m_petsc->comm.out()));

  const auto lx = ownership(g.global[0], procs[0]);
  const auto ly = ownership(g.global[1], procs[1]);
  if (g.dims == 2) {
    TWIN_PETSC_CHECK(DMDACreate2d(m_petsc->comm.get(), DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, g.global[0],
                                  g.global[1], procs[0], procs[1], 1, 1, lx.data(), ly.data(), m_petsc->da.out()));
  } else {
    const auto lz = ownership(g.global[2], procs[2]);
    TWIN_PETSC_CHECK(DMDACreate3d(m_petsc->comm.get(), DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE,
                                  DMDA_STENCIL_STAR, g.global[0], g.global[1], g.global[2], procs[0], procs[1],
                                  procs[2], 1, 1, lx.data(), ly.data(), lz.data(), m_petsc->da.out()));
  }
  TWIN_PETSC_CHECK(DMSetUp(m_petsc->da.get()));
  PetscInt xs = 0, ys = 0, zs = 0, xm = 0, ym = 0, zm = 0;
  TWIN_PETSC_CHECK(DMDAGetCorners(m_petsc->da.get(), &xs, &ys, &zs, &xm, &ym, &zm));
  TWIN_REQUIRE(xs == g.offset[0] && ys == g.offset[1] && xm == g.cells[0] && ym == g.cells[1] &&
                   (g.dims == 2 || (zs == g.offset[2] && zm == g.cells[2])),
               PetscError, "the PETSc DMDA does not own the same block as the twin's decomposition");

  TWIN_PETSC_CHECK(DMCreateMatrix(m_petsc->da.get(), m_petsc->matrix.out()));
  TWIN_PETSC_CHECK(DMCreateGlobalVector(m_petsc->da.get(), m_petsc->x.out()));
  TWIN_PETSC_CHECK(VecDuplicate(m_petsc->x.get(), m_petsc->b.out()));

  const ImplicitConfig& ic = config.time.implicit;
  // A name PETSc does not know is the config's fault: say which key, and exit 2 like any other.
  const auto configured = [](const char* config_key, const std::string& value, const auto& call) {
    try {
      call();
    } catch (const PetscError& e) {
      throw ConfigError(ConfigLocation{"", 0, 0, config_key},
                        "PETSc refused '" + value + "' (" + e.what() +
                            "); names as in PETSc's KSPType and PCType manual pages (cg, gmres, bcgs; mg, gamg, "
                            "jacobi, ilu, none), options as on a PETSc command line");
    }
  };
  if (!ic.petsc_options.empty())
    configured("time.implicit.petsc_options", ic.petsc_options,
               [&] { TWIN_PETSC_CHECK(PetscOptionsInsertString(nullptr, ic.petsc_options.c_str())); });
  TWIN_PETSC_CHECK(KSPCreate(m_petsc->comm.get(), m_petsc->ksp.out()));
  configured("time.implicit.ksp_type", ic.ksp_type,
             [&] { TWIN_PETSC_CHECK(KSPSetType(m_petsc->ksp.get(), ic.ksp_type.c_str())); });
  PC pc = nullptr;
  TWIN_PETSC_CHECK(KSPGetPC(m_petsc->ksp.get(), &pc));
  bool multigrid = ic.pc_type == PCMG;
  detail::CellHierarchy hierarchy;
  if (multigrid) {
    std::array<detail::AxisOwnership, 3> fine{lx, ly, {1}};
    if (g.dims == 3) fine[2] = ownership(g.global[2], procs[2]);
    hierarchy = detail::plan_cell_hierarchy(g.dims, fine, ic.mg_levels.value_or(0));
    if (ic.mg_levels && static_cast<int>(hierarchy.levels.size()) < *ic.mg_levels && decomposition.rank() == 0)
      spdlog::warn("time.implicit.mg_levels {}: the grid gives only {} levels, the finest included (coarsening stops at "
                   "64 cells or where no axis's cells halve evenly on every rank); using {}",
                   *ic.mg_levels, hierarchy.levels.size(), hierarchy.levels.size());
    // The coarsest level is solved directly (LU, on every rank in parallel): where the grid stops
    // coarsening early (odd cell counts on some rank), that would cost more than algebraic
    // multigrid. Every rank plans the same hierarchy, so every rank decides alike.
    const PetscInt coarsest = detail::cells(g.dims, hierarchy.levels.back());
    if (coarsest > detail::max_coarsest_cells) {
      multigrid = false;
      if (decomposition.rank() == 0)
        spdlog::warn("time.implicit.pc_type mg: the grid coarsens to no fewer than {} cells (an axis's cells do not halve "
                     "evenly on every rank), above the {} solved directly; using gamg",
                     coarsest, detail::max_coarsest_cells);
    }
  }
  if (multigrid) detail::set_cell_multigrid(pc, m_petsc->da.get(), hierarchy);
  else
    configured("time.implicit.pc_type", ic.pc_type,
               [&] { TWIN_PETSC_CHECK(PCSetType(pc, ic.pc_type == PCMG ? PCGAMG : ic.pc_type.c_str())); });
  TWIN_PETSC_CHECK(KSPSetTolerances(m_petsc->ksp.get(), ic.rtol, PETSC_DEFAULT, PETSC_DEFAULT, ic.max_iterations));
  TWIN_PETSC_CHECK(KSPSetInitialGuessNonzero(m_petsc->ksp.get(), PETSC_TRUE));
  configured("time.implicit.petsc_options", ic.petsc_options,
             [&] { TWIN_PETSC_CHECK(KSPSetFromOptions(m_petsc->ksp.get())); });
  // CG stops on the true residual, ||b - A x|| <= rtol ||b||, whatever the preconditioner; this
  // also spares the preconditioner application after the last iteration (a third of the time of
  // a 4-iteration multigrid solve). Decided on the type options left in force; -ksp_norm_type
  // overrides it.
  KSPType type = nullptr;
  PetscBool is_cg = PETSC_FALSE, norm_given = PETSC_FALSE;
  TWIN_PETSC_CHECK(KSPGetType(m_petsc->ksp.get(), &type));
  TWIN_PETSC_CHECK(PetscStrcmp(type, KSPCG, &is_cg));
  TWIN_PETSC_CHECK(PetscOptionsHasName(nullptr, nullptr, "-ksp_norm_type", &norm_given));
  if (is_cg && !norm_given) TWIN_PETSC_CHECK(KSPSetNormType(m_petsc->ksp.get(), KSP_NORM_UNPRECONDITIONED));

  m_rhs = Field(Kokkos::ViewAllocateWithoutInitializing("twin::implicit_rhs"), members, g.padded_size());
  m_wall_constant.assign(static_cast<std::size_t>(g.interior_size()), 0.0);
}

ImplicitSolver::~ImplicitSolver() = default;

std::string ImplicitSolver::preconditioner() const {
  PC pc = nullptr;
  PCType type = nullptr;
  TWIN_PETSC_CHECK(KSPGetPC(m_petsc->ksp.get(), &pc));
  TWIN_PETSC_CHECK(PCGetType(pc, &type));
  return type ? type : "";
}

int ImplicitSolver::multigrid_levels() const {
  if (preconditioner() != PCMG) return 0;
  PC pc = nullptr;
  PetscInt levels = 0;
  TWIN_PETSC_CHECK(KSPGetPC(m_petsc->ksp.get(), &pc));
  TWIN_PETSC_CHECK(PCMGGetLevels(pc, &levels));
  return static_cast<int>(levels);
}

void ImplicitSolver::assemble(double dt, int m) {
  const LocalGrid& g = grid();
  const auto& coef = m_explicit.coefficients(m);
  const PhysicsFields& physics = m_explicit.physics();
  const bool variable = !physics.uniform();
  const auto& k_face = physics.k_face_host();
  const double td = m_theta * dt;
  std::fill(m_wall_constant.begin(), m_wall_constant.end(), 0.0);

  long n = 0;
  for (int k = 0; k < g.cells[2]; ++k)
    for (int j = 0; j < g.cells[1]; ++j)
      for (int i = 0; i < g.cells[0]; ++i, ++n) {
        const int gidx[3] = {i + g.offset[0], j + g.offset[1], k + g.offset[2]};
        const long c = g.index(i, j, k);
        MatStencil row{};
        row.i = gidx[0];
        row.j = gidx[1];
        row.k = gidx[2];
        MatStencil cols[7];
        PetscScalar values[7];
        int count = 1;
        double diag = 1.0 + td * coef.reaction;
        for (int d = 0; d < g.dims; ++d) {
          for (int side = 0; side < 2; ++side) {
            const double kf = variable ? coef.k_factor * k_face(d, side == 0 ? c : c + g.stride(d)) : coef.k_over_dx2[d];
            const int neighbour = gidx[d] + (side == 0 ? -1 : 1);
            if (neighbour < 0 || neighbour >= g.global[d]) {
              // The ghost is alpha u + beta: alpha goes into the matrix, beta into c.
              detail::WallCondition w = m_explicit.wall(m, 2 * d + side);
              if (variable) {
                w.k = kf * g.dx[d] * g.dx[d];
                w.k_over_dx = w.k / w.dx;
              }
              const detail::WallAffine wa = detail::wall_affine(w);
              diag += td * kf * (1.0 - wa.alpha);
              m_wall_constant[static_cast<std::size_t>(n)] += kf * wa.beta;
              continue;
            }
            diag += td * kf;
            cols[count] = row;
            (d == 0 ? cols[count].i : d == 1 ? cols[count].j : cols[count].k) = neighbour;
            values[count] = -td * kf;
            ++count;
          }
        }
        cols[0] = row;
        values[0] = diag;
        TWIN_PETSC_CHECK(MatSetValuesStencil(m_petsc->matrix.get(), 1, &row, count, cols, values, INSERT_VALUES));
      }
  TWIN_PETSC_CHECK(MatAssemblyBegin(m_petsc->matrix.get(), MAT_FINAL_ASSEMBLY));
  TWIN_PETSC_CHECK(MatAssemblyEnd(m_petsc->matrix.get(), MAT_FINAL_ASSEMBLY));
  TWIN_PETSC_CHECK(KSPSetOperators(m_petsc->ksp.get(), m_petsc->matrix.get(), m_petsc->matrix.get()));
  m_assembled = {dt, m_explicit.parameters()[m]};
}

StepReport ImplicitSolver::advance(Field& u, double t0_s, double duration_s) {
  StepReport report;
  const double steps = steps_needed(duration_s, largest_step_s());
  if (!(steps <= max_steps_per_advance)) {
    report.status = SolveStatus::step_limit;
    return report;
  }
  report.steps = static_cast<int>(steps);
  report.dt_s = duration_s / report.steps;
  const double dt = report.dt_s;

  // Explicit part: u + (1 - theta) dt A u + dt E(u), A's walls through the ghosts; then
  // (I - theta dt A) u' = that + theta dt c, member by member. Members with the same parameters
  // share one assembled matrix and preconditioner.
  const LocalGrid& g = grid();
  const double wall_share = m_theta * dt;
  auto hu = Kokkos::create_mirror_view(u);
  auto hr = Kokkos::create_mirror_view(m_rhs);
  for (int step = 0; step < report.steps; ++step) {
    m_explicit.set_source_time(t0_s + step * dt);
    m_explicit.explicit_part(u, m_rhs, dt, m_theta);
    Kokkos::deep_copy(hu, u);
    Kokkos::deep_copy(hr, m_rhs);
    for (int m = 0; m < members(); ++m) {
      const Assembled key{dt, m_explicit.parameters()[m]};
      if (!(key == m_assembled)) assemble(dt, m);
      PetscScalar* xb = nullptr;
      PetscScalar* xx = nullptr;
      TWIN_PETSC_CHECK(VecGetArray(m_petsc->b.get(), &xb));
      TWIN_PETSC_CHECK(VecGetArray(m_petsc->x.get(), &xx));
      long n = 0;
      for (int k = 0; k < g.cells[2]; ++k)
        for (int j = 0; j < g.cells[1]; ++j)
          for (int i = 0; i < g.cells[0]; ++i, ++n) {
            const long c = g.index(i, j, k);
            xb[n] = hr(m, c) + wall_share * m_wall_constant[static_cast<std::size_t>(n)];
            xx[n] = hu(m, c);
          }
      TWIN_PETSC_CHECK(VecRestoreArray(m_petsc->b.get(), &xb));
      TWIN_PETSC_CHECK(VecRestoreArray(m_petsc->x.get(), &xx));
      TWIN_PETSC_CHECK(KSPSolve(m_petsc->ksp.get(), m_petsc->b.get(), m_petsc->x.get()));
      if (!m_petsc_options.empty()) report_unused_options();
      KSPConvergedReason reason = KSP_CONVERGED_ITERATING;
      PetscInt iterations = 0;
      TWIN_PETSC_CHECK(KSPGetConvergedReason(m_petsc->ksp.get(), &reason));
      TWIN_PETSC_CHECK(KSPGetIterationNumber(m_petsc->ksp.get(), &iterations));
      report.linear_iterations += iterations;
      if (reason < 0) {
        report.status = SolveStatus::not_converged;
        return report;  // every rank sees the same reason: KSP reductions are collective
      }
      const PetscScalar* xr = nullptr;
      TWIN_PETSC_CHECK(VecGetArrayRead(m_petsc->x.get(), &xr));
      n = 0;
      for (int k = 0; k < g.cells[2]; ++k)
        for (int j = 0; j < g.cells[1]; ++j)
          for (int i = 0; i < g.cells[0]; ++i, ++n) hu(m, g.index(i, j, k)) = xr[n];
      TWIN_PETSC_CHECK(VecRestoreArrayRead(m_petsc->x.get(), &xr));
    }
    Kokkos::deep_copy(u, hu);
  }
  report.status = health(u);
  return report;
}

void ImplicitSolver::report_unused_options() {
  // A misspelt option ("-pc_gamg_treshold") or one for another solver than this one's is
  // accepted by PETSc without a word and does nothing: say so, once per process and option.
  static std::vector<std::string> reported;
  PetscInt n = 0;
  char** names = nullptr;
  char** values = nullptr;
  TWIN_PETSC_CHECK(PetscOptionsLeftGet(nullptr, &n, &names, &values));
  std::vector<std::string> unused;
  for (PetscInt i = 0; i < n; ++i) unused.emplace_back(names[i] ? names[i] : "");
  TWIN_PETSC_CHECK(PetscOptionsLeftRestore(nullptr, &n, &names, &values));
  KSPType type = nullptr;
  TWIN_PETSC_CHECK(KSPGetType(m_petsc->ksp.get(), &type));
  std::istringstream words(m_petsc_options);
  for (std::string word; words >> word;) {
    if (word.size() < 2 || word[0] != '-' || !std::isalpha(static_cast<unsigned char>(word[1]))) continue;  // a value
    const std::string name = word.substr(1);
    if (std::find(unused.begin(), unused.end(), name) == unused.end() ||
        std::find(reported.begin(), reported.end(), name) != reported.end())
      continue;
    reported.push_back(name);
    if (m_decomposition->rank() == 0)
      spdlog::warn("time.implicit.petsc_options: PETSc did not use '{}' (misspelt, or an option of another solver or "
                   "preconditioner than {} with {}); it has no effect",
                   word, type ? type : "?", preconditioner());
  }
  m_petsc_options.clear();
}

TWIN_REGISTER_TYPE(Solver, "backward_euler", [](const SolverConfig& c, const Decomposition& d, int members) {
  return std::make_unique<ImplicitSolver>(c, d, members);
});
TWIN_REGISTER_TYPE(Solver, "crank_nicolson", [](const SolverConfig& c, const Decomposition& d, int members) {
  return std::make_unique<ImplicitSolver>(c, d, members);
});

}  // namespace twin::solvers
