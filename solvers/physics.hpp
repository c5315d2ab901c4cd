#pragma once
// The configured physics on this rank's block: coefficient fields (diffusivity, velocity), the
// shapes of fixed and controllable sources, and the named parameters ensemble members carry.
// Built on the host once; the kernels in explicit_solver.cpp read the device copies.

#include <Kokkos_Core.hpp>

#include <array>
#include <string>
#include <vector>

#include "solvers/grid.hpp"
#include "solvers/solver_config.hpp"
#include "twin/config.hpp"

namespace twin::solvers {

/// The named physical parameters an ensemble member carries; the filter may estimate them.
enum class Parameter : int { diffusivity_factor = 0, cooling_factor = 1 };
inline constexpr int parameter_count = 2;
/// "diffusivity_factor", "cooling_factor".
const char* parameter_name(int index);
/// Index of a parameter name, or -1.
int parameter_index(const std::string& name);
/// One member's parameter values, indexed by Parameter.
using ParameterSet = std::array<double, parameter_count>;
/// The values physics.parameters configures.
ParameterSet configured_parameters(const PhysicsConfig& physics);

/// Weight in [0, 1] of `region` at point x (dims entries) [m].
double region_weight(const ShapeConfig& region, const double* x, int dims);

/// Coefficients of du/dt + v.grad u = div(k grad u) - r (u - u_ref) + q on the padded grid.
/// Face arrays hold the value at the *low* face of a cell along each axis, so the high face of
/// cell c is the low face of c + stride; at a wall the face carries the wall cell's own value.
/// Units: k_face is k / dx^2 [1/s], velocity is v / dx [1/s] at cell centres.
class PhysicsFields {
 public:
  using Array2 = Kokkos::View<double**, Kokkos::LayoutRight>;  // (axis or shape, padded cell)

  PhysicsFields(const SolverConfig& config, const LocalGrid& grid);

  /// True when k and v are uniform and no sources or controls are configured: the solver then
  /// uses folded scalar weights instead of reading coefficient arrays (memory-bound fast path).
  bool uniform() const { return m_uniform; }
  /// True when k and v are uniform (no diffusivity regions, no vortex), sources or not: the
  /// operator folds into scalar weights and only the source array q is read per cell.
  bool uniform_operator() const { return m_uniform_operator; }
  double base_k() const { return m_base_k; }
  const std::vector<double>& uniform_velocity() const { return m_uniform_v; }

  /// Device arrays (empty views when uniform()).
  const Array2& k_face() const { return m_k_face; }
  const Array2& velocity() const { return m_velocity; }
  /// q(c) = uniform source + active fixed sources + sum_j p_j gain_j b_j(c), as last updated.
  const Kokkos::View<double*>& source() const { return m_source; }
  /// Host copy of k_face (the implicit solver assembles its matrix from it).
  const Array2::HostMirror& k_face_host() const { return m_k_face_host; }

  /// Recomputes q for facility time t and controls p (one per config.controls entry). Cheap
  /// when nothing changed. @throws Error when p has the wrong size or a non-finite entry.
  void update_source(double t_s, const std::vector<double>& controls);

  /// Largest sum over axes of k_face(c) + k_face(c + stride) [1/s] and of |v|/dx [1/s] over the
  /// rank's cells (global maxima need an MPI reduction; the solver does it).
  double max_diffusion_rate() const { return m_max_diffusion_rate; }
  double max_advection_rate() const { return m_max_advection_rate; }
  /// Per axis, the largest half cell Péclet number |v| dx / (2 k) over this rank's cells, with
  /// k the smaller of a cell's two face diffusivities at diffusivity_factor 1 (0 without flow
  /// along the axis, infinite where k is 0): a member advects centrally along axis d when this,
  /// over all ranks, is at most its diffusivity_factor (detail::AdrCoefficients).
  const std::array<double, 3>& max_half_peclet() const { return m_max_half_peclet; }
  /// Largest |q| this configuration can produce, controls at their extremes [u/s].
  double max_source() const { return m_max_source; }

 private:
  bool m_uniform = true;
  bool m_uniform_operator = true;
  double m_base_k = 0.0;
  double m_uniform_source = 0.0;
  std::vector<double> m_uniform_v;
  Array2 m_k_face, m_velocity;
  Array2::HostMirror m_k_face_host;
  Kokkos::View<double*> m_source;
  Array2 m_source_shapes, m_control_shapes;  // (entry, padded cell), weights times rate or gain
  std::vector<SourceConfig> m_sources;
  std::vector<int> m_active;                 // last active set of fixed sources
  std::vector<double> m_controls;            // last controls
  bool m_source_valid = false;
  double m_max_diffusion_rate = 0.0;
  double m_max_advection_rate = 0.0;
  std::array<double, 3> m_max_half_peclet{0.0, 0.0, 0.0};
  double m_max_source = 0.0;
};

}  // namespace twin::solvers
