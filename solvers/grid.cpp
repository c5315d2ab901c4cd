#include "solvers/grid.hpp"

#include <string>

#include "twin/error.hpp"

namespace twin::solvers {

Decomposition::Decomposition(const GridConfig& grid, MPI_Comm comm) {
  const int dims = static_cast<int>(grid.cells.size());
  TWIN_MPI_CHECK(MPI_Comm_size(comm, &m_size));

  std::array<int, 3> procs{0, 0, 0};
  if (!grid.ranks.empty()) {
    long product = 1;
    for (int d = 0; d < dims; ++d) product *= grid.ranks[d];
    if (product != m_size)
      throw ConfigError({"", 0, 0, "grid.ranks"}, "process grid has " + std::to_string(product) +
                                                      " ranks but the job runs on " + std::to_string(m_size) +
                                                      "; fix grid.ranks or remove it to let MPI choose");
    for (int d = 0; d < dims; ++d) procs[d] = grid.ranks[d];
  } else {
    TWIN_MPI_CHECK(MPI_Dims_create(m_size, dims, procs.data()));
  }
  std::array<int, 3> periods{0, 0, 0};
  MPI_Comm cart = MPI_COMM_NULL;
  TWIN_MPI_CHECK(MPI_Cart_create(comm, dims, procs.data(), periods.data(), 0, &cart));
  m_cart = UniqueComm(cart);
  TWIN_MPI_CHECK(MPI_Comm_set_errhandler(cart, MPI_ERRORS_RETURN));
  TWIN_MPI_CHECK(MPI_Comm_rank(cart, &m_rank));
  std::array<int, 3> coords{0, 0, 0};
  TWIN_MPI_CHECK(MPI_Cart_coords(cart, m_rank, dims, coords.data()));

  m_coords = coords;
  m_local.dims = dims;
  for (int d = 0; d < 3; ++d) {
    m_procs[d] = d < dims ? procs[d] : 1;
    m_neighbors[d] = {MPI_PROC_NULL, MPI_PROC_NULL};
    if (d >= dims) {
      m_local.ghost[d] = 0;
      continue;
    }
    const int n = grid.cells[d];
    const int p = procs[d];
    const int base = n / p, extra = n % p;
    m_local.global[d] = n;
    m_local.cells[d] = base + (coords[d] < extra ? 1 : 0);
    m_local.offset[d] = coords[d] * base + std::min(coords[d], extra);
    m_local.ghost[d] = 1;
    m_local.dx[d] = grid.extent_m[d] / n;
    // base is the smallest share: every rank reaches the same verdict (one rank throwing while
    // the others go on into collectives would hang the job).
    if (base < 2)
      throw ConfigError({"", 0, 0, "grid.cells"}, "axis " + std::to_string(d) + " has " + std::to_string(n) +
                                                      " cells split over " + std::to_string(p) +
                                                      " ranks: each rank needs at least 2; use fewer ranks");
    TWIN_MPI_CHECK(MPI_Cart_shift(cart, d, 1, &m_neighbors[d][0], &m_neighbors[d][1]));
  }
}

InterpolationStencil interpolation_stencil(int dims, const Kokkos::Array<int, 3>& global,
                                           const Kokkos::Array<double, 3>& dx, const std::vector<double>& position_m) {
  int lo[3] = {0, 0, 0};
  double w[3] = {0, 0, 0};
  for (int d = 0; d < dims; ++d) {
    const double at = (d < static_cast<int>(position_m.size()) ? position_m[d] : 0.0) / dx[d] - 0.5;
    const double clamped = std::min(std::max(at, 0.0), global[d] - 1.0);
    lo[d] = std::max(0, std::min(static_cast<int>(std::floor(clamped)), global[d] - 2));
    w[d] = clamped - lo[d];
  }
  InterpolationStencil s;
  for (int corner = 0; corner < (1 << dims); ++corner) {
    double weight = 1.0;
    for (int d = 0; d < dims; ++d) {
      const int bit = (corner >> d) & 1;
      weight *= bit ? w[d] : 1.0 - w[d];
      s.cell[s.count][d] = lo[d] + bit;
    }
    s.weight[s.count++] = weight;
  }
  return s;
}

std::vector<std::pair<long, double>> global_interpolation(const GridConfig& grid, const std::vector<double>& position_m) {
  const int dims = static_cast<int>(grid.cells.size());
  Kokkos::Array<int, 3> global{{1, 1, 1}};
  Kokkos::Array<double, 3> dx{{1, 1, 1}};
  for (int d = 0; d < dims; ++d) {
    global[d] = grid.cells[d];
    dx[d] = grid.extent_m[d] / grid.cells[d];
  }
  return global_interpolation(dims, global, dx, position_m);
}

std::vector<std::pair<long, double>> global_interpolation(int dims, const Kokkos::Array<int, 3>& global,
                                                          const Kokkos::Array<double, 3>& dx,
                                                          const std::vector<double>& position_m) {
  const InterpolationStencil s = interpolation_stencil(dims, global, dx, position_m);
  std::vector<std::pair<long, double>> out;
  for (int k = 0; k < s.count; ++k) {
    long index = 0, stride = 1;
    for (int d = 0; d < dims; ++d) {
      index += stride * s.cell[k][d];
      stride *= global[d];
    }
    out.push_back({index, s.weight[k]});
  }
  return out;
}

}  // namespace twin::solvers
