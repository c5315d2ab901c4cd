#pragma once
// One cell's work for the advection-diffusion-reaction operator. Drivers live in
// explicit_solver.cpp; the plain serial reference the tests compare with is in tests/unit/solvers.

#include <Kokkos_Core.hpp>

namespace twin::solvers::detail {

/// True for finite values (NaN and Inf give NaN when subtracted from themselves); portable
/// across Kokkos versions whose math functions moved namespaces.
KOKKOS_INLINE_FUNCTION bool is_finite(double v) { return v - v == 0.0; }

/// One member's coefficients of du/dt = k lap(u) - v.grad(u) - r (u - u_ref) + s, its named
/// parameters applied. Advection is differenced by the hybrid scheme (Spalding 1972; Patankar
/// 1980, §5.2), chosen per member and axis: central where the cell Péclet number |v| dx / k is
/// at most 2 in every cell along that axis, which keeps every weight of the stencil non-negative
/// and is second order; first-order upwind otherwise. Upwind alone adds a numerical diffusivity
/// |v| dx / 2, which on a twin's coarse grid is a large share of the physical one (half of it on
/// the channel twin) and unlike the plant's finer grid's. One choice per axis, not per cell,
/// keeps the variable-coefficient kernel as cheap as the upwind one. With uniform physics k, v and s are these
/// scalars; otherwise the arrays of PhysicsFields carry k, v and s and only k_factor, reaction and
/// reference are used. Inactive axes carry zeros.
struct AdrCoefficients {
  Kokkos::Array<double, 3> k_over_dx2{{0, 0, 0}};  // k / dx^2 per axis [1/s]
  Kokkos::Array<double, 3> v_pos{{0, 0, 0}};       // max(v, 0) / dx per axis [1/s]
  Kokkos::Array<double, 3> v_neg{{0, 0, 0}};       // min(v, 0) / dx per axis [1/s]
  Kokkos::Array<long, 3> stride{{1, 0, 0}};        // padded flat-index stride per axis
  double reaction = 0.0;                           // r [1/s]
  double reference = 0.0;                          // u_ref [u]
  double source = 0.0;                             // s [u/s]
  double k_factor = 1.0;                           // multiplies the k_face array (variable physics)
  Kokkos::Array<int, 3> central{{0, 0, 0}};        // 1: central advection on that axis, 0: upwind
};

/// One SSPRK stage, b * (u + dt L(u)), with L folded into per-neighbour weights: advection
/// (hybrid), diffusion, reaction and source become
///   y = sum_d (lo[d] u[c - s_d] + hi[d] u[c + s_d]) + center u[c] + constant,
/// about 10 flops per cell in 2D instead of 25, which keeps the kernel memory-bound.
struct StageWeights {
  Kokkos::Array<double, 3> lo{{0, 0, 0}};
  Kokkos::Array<double, 3> hi{{0, 0, 0}};
  Kokkos::Array<long, 3> stride{{1, 0, 0}};
  double center = 1.0;
  double constant = 0.0;
};

/// Weights of b * (u + dt L(u)). With implicit_share = theta > 0, diffusion and reaction enter
/// only with (1 - theta): the explicit half of a theta-scheme (the implicit solver adds the rest).
/// Advection is central on the axes `central` marks, upwind on the others, whatever theta: every
/// integrator differences the same operator. With theta = 0 every weight is non-negative;
/// with theta > 0 the explicit central part is not, but the step stays stable: the implicit
/// solver's steps keep dt sum_d |v_d| / dx_d <= 1, and with a cell Péclet number <= 2 on each
/// central axis the implicit diffusion damps every Fourier mode at least as much as the explicit
/// advection can grow it ((sum_d C_d sin t_d)^2 <= sum_d 4 C_d s_d^2 <= sum_d 8 D_d s_d^2, with
/// C_d = |v_d| dt / dx_d, D_d = k dt / dx_d^2, s_d = sin(t_d / 2)).
KOKKOS_INLINE_FUNCTION StageWeights stage_weights(const AdrCoefficients& a, int dims, double b, double dt,
                                                  double implicit_share = 0.0) {
  const double e = 1.0 - implicit_share;
  StageWeights w;
  double center_rate = -e * a.reaction;
  for (int d = 0; d < dims; ++d) {
    const double kd = e * a.k_over_dx2[d], v = a.v_pos[d] + a.v_neg[d];  // v / dx, signed
    if (a.central[d]) {
      w.lo[d] = b * dt * (kd + 0.5 * v);
      w.hi[d] = b * dt * (kd - 0.5 * v);
      center_rate += -2.0 * kd;
    } else {
      w.lo[d] = b * dt * (kd + a.v_pos[d]);
      w.hi[d] = b * dt * (kd - a.v_neg[d]);
      center_rate += -2.0 * kd - a.v_pos[d] + a.v_neg[d];
    }
    w.stride[d] = a.stride[d];
  }
  w.center = b * (1.0 + dt * center_rate);
  w.constant = b * dt * (a.source + a.reaction * a.reference);
  return w;
}

/// b * (u + dt L(u)) at padded flat index c of the member slice `u`.
template <int Dims>
KOKKOS_INLINE_FUNCTION double stage_value(const double* u, long c, const StageWeights& w) {
  double y = w.center * u[c] + w.constant;
  for (int d = 0; d < Dims; ++d) y += w.lo[d] * u[c - w.stride[d]] + w.hi[d] * u[c + w.stride[d]];
  return y;
}

/// b * (u + dt L(u)) at padded flat index c with coefficient arrays: k_face(d, c) is k/dx^2 at
/// the low face of c, velocity(d, c) is v/dx at c, q(c) the source. Diffusion and reaction enter
/// with the explicit share e = 1 - theta, and advection is hybrid, as in stage_weights.
template <int Dims, class Array2, class Array1>
KOKKOS_INLINE_FUNCTION double variable_stage_value(const double* u, long c, const AdrCoefficients& a,
                                                   const Array2& k_face, const Array2& velocity, const Array1& q,
                                                   double b, double dt, double e) {
  const double uc = u[c];
  double diffusion = 0.0, advection = 0.0;
  for (int d = 0; d < Dims; ++d) {
    const long s = a.stride[d];
    const double ul = u[c - s], uh = u[c + s];
    diffusion += k_face(d, c) * (ul - uc) + k_face(d, c + s) * (uh - uc);
    const double v = velocity(d, c);
    advection += a.central[d] ? 0.5 * v * (uh - ul) : v > 0.0 ? v * (uc - ul) : v * (uh - uc);
  }
  const double rate = e * (a.k_factor * diffusion - a.reaction * uc) - advection + a.reaction * a.reference + q(c);
  return b * (uc + dt * rate);
}

/// Ghost value across a wall from the adjacent interior value `inner`, for the cell-centred
/// face between them. kind: 0 dirichlet (value), 1 neumann (k du/dn = flux), 2 robin
/// (-k du/dn = h (u_face - value)).
struct WallCondition {
  int kind = 1;
  double value = 0.0;
  double flux = 0.0;
  double transfer = 0.0;  // h [m/s]
  double k_over_dx = 0.0; // k / dx normal to the wall [m/s]
  double dx = 1.0;        // cell size normal to the wall [m]
  double k = 0.0;         // diffusivity [m^2/s]
};

/// The ghost value is affine in the interior value: ghost = alpha * inner + beta. The implicit
/// solver folds the same alpha and beta into its matrix, so both paths share one definition.
struct WallAffine {
  double alpha;
  double beta;
};

KOKKOS_INLINE_FUNCTION WallAffine wall_affine(const WallCondition& w) {
  if (w.kind == 0) return {-1.0, 2.0 * w.value};
  if (w.kind == 1) return {1.0, w.k > 0.0 ? w.flux * w.dx / w.k : 0.0};
  // robin: -k (g - inner)/dx = h ((g + inner)/2 - value)
  const double denom = w.k_over_dx + 0.5 * w.transfer;
  if (denom <= 0.0) return {1.0, 0.0};
  return {(w.k_over_dx - 0.5 * w.transfer) / denom, w.transfer * w.value / denom};
}

}  // namespace twin::solvers::detail
