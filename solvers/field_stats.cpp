// ExplicitSolver's field statistics and health check: one pass over every member's interior
// (min, max, mean, non-finite count), reduced over the ranks.
#include <algorithm>
#include <cmath>

#include "ground/check.hpp"
#include "solvers/detail/backend.hpp"
#include "solvers/explicit_solver.hpp"

namespace twin::solvers {

namespace {

// min, max, sum of finite values and count of non-finite ones, in one pass.
struct Tally {
  double min, max, sum, non_finite;
};

struct TallyReducer {
  using reducer = TallyReducer;
  using value_type = Tally;
  using result_view_type = Kokkos::View<Tally, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>;
  result_view_type result;

  explicit TallyReducer(Tally& t) : result(&t) {}
  KOKKOS_INLINE_FUNCTION void join(Tally& dst, const Tally& src) const {
    if (src.min < dst.min) dst.min = src.min;
    if (src.max > dst.max) dst.max = src.max;
    dst.sum += src.sum;
    dst.non_finite += src.non_finite;
  }
  KOKKOS_INLINE_FUNCTION void join(volatile Tally& dst, const volatile Tally& src) const {
    if (src.min < dst.min) dst.min = src.min;
    if (src.max > dst.max) dst.max = src.max;
    dst.sum += src.sum;
    dst.non_finite += src.non_finite;
  }
  KOKKOS_INLINE_FUNCTION void init(Tally& t) const {
    t.min = Kokkos::reduction_identity<double>::min();
    t.max = Kokkos::reduction_identity<double>::max();
    t.sum = 0.0;
    t.non_finite = 0.0;
  }
  KOKKOS_INLINE_FUNCTION Tally& reference() const { return *result.data(); }
  KOKKOS_INLINE_FUNCTION result_view_type view() const { return result; }
  KOKKOS_INLINE_FUNCTION bool references_scalar() const { return true; }
};

}  // namespace

FieldStats ExplicitSolver::stats(const Field& u) const {
  const LocalGrid g = grid();
  const long n_int = g.interior_size();
  Tally local{};
  if constexpr (detail::host_backend) {
    // A grid row per work item: the inner loop is contiguous and free of index arithmetic.
    const int rows = g.cells[1] * g.cells[2];
    Kokkos::parallel_reduce(
        "twin::field_stats", Kokkos::RangePolicy<>(0, static_cast<long>(rows) * m_members),
        KOKKOS_LAMBDA(const long r, Tally& acc) {
          const long m = r / rows, row = r % rows;
          const double* v = &u(m, g.index(0, static_cast<int>(row % g.cells[1]), static_cast<int>(row / g.cells[1])));
          double lo = acc.min, hi = acc.max, sum = 0.0, bad = 0.0;
          for (int i = 0; i < g.cells[0]; ++i) {
            const double x = v[i];
            if (!detail::is_finite(x)) {
              bad += 1.0;
              continue;
            }
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
            sum += x;
          }
          acc.min = lo;
          acc.max = hi;
          acc.sum += sum;
          acc.non_finite += bad;
        },
        TallyReducer(local));
  } else {
    Kokkos::parallel_reduce(
        "twin::field_stats", Kokkos::RangePolicy<>(0, n_int * m_members),
        KOKKOS_LAMBDA(const long n, Tally& acc) {
          const long m = n / n_int, c = n % n_int;
          const int i = static_cast<int>(c % g.cells[0]);
          const int j = static_cast<int>((c / g.cells[0]) % g.cells[1]);
          const int k = static_cast<int>(c / (1L * g.cells[0] * g.cells[1]));
          const double v = u(m, g.index(i, j, k));
          if (!detail::is_finite(v)) {
            acc.non_finite += 1.0;
            return;
          }
          if (v < acc.min) acc.min = v;
          if (v > acc.max) acc.max = v;
          acc.sum += v;
        },
        TallyReducer(local));
  }

  // Two reductions: {min, -max} with MPI_MIN, {sum, non-finite, cells} with MPI_SUM.
  const MPI_Comm comm = m_decomposition->comm();
  double extremes[2] = {local.min, -local.max}, global_extremes[2] = {0, 0};
  double totals[3] = {local.sum, local.non_finite, static_cast<double>(n_int * m_members)}, global_totals[3] = {0, 0, 0};
  TWIN_MPI_CHECK(MPI_Allreduce(extremes, global_extremes, 2, MPI_DOUBLE, MPI_MIN, comm));
  TWIN_MPI_CHECK(MPI_Allreduce(totals, global_totals, 3, MPI_DOUBLE, MPI_SUM, comm));
  FieldStats s;
  s.min = global_extremes[0];
  s.max = -global_extremes[1];
  s.non_finite = static_cast<long>(global_totals[1]);
  s.mean = global_totals[0] / std::max(1.0, global_totals[2] - global_totals[1]);
  return s;
}

SolveStatus ExplicitSolver::health(const Field& u) const {
  const FieldStats s = stats(u);
  if (s.non_finite > 0) return SolveStatus::non_finite;
  if (std::max(std::abs(s.min), std::abs(s.max)) > m_blow_up_bound) return SolveStatus::blow_up;
  return SolveStatus::ok;
}

}  // namespace twin::solvers
