#include "solvers/physics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ground/check.hpp"
#include "twin/error.hpp"

namespace twin::solvers {

namespace {
constexpr const char* names[parameter_count] = {"diffusivity_factor", "cooling_factor"};
}  // namespace

const char* parameter_name(int index) { return index >= 0 && index < parameter_count ? names[index] : "?"; }

int parameter_index(const std::string& name) {
  for (int i = 0; i < parameter_count; ++i)
    if (name == names[i]) return i;
  return -1;
}

ParameterSet configured_parameters(const PhysicsConfig& physics) {
  ParameterSet p{};
  p[static_cast<int>(Parameter::diffusivity_factor)] = physics.parameters.diffusivity_factor;
  p[static_cast<int>(Parameter::cooling_factor)] = physics.parameters.cooling_factor;
  return p;
}

double region_weight(const ShapeConfig& region, const double* x, int dims) {
  if (region.shape == ShapeKind::box) {
    for (int d = 0; d < dims; ++d)
      if (std::abs(x[d] - region.center_m[d]) > 0.5 * region.size_m[d]) return 0.0;
    return 1.0;
  }
  double e = 0.0;
  for (int d = 0; d < dims; ++d) {
    const double z = (x[d] - region.center_m[d]) / region.size_m[d];
    e += 0.5 * z * z;
  }
  return std::exp(-e);
}

namespace {

// |v| dx / (2 k) from v / dx and k / dx^2: 0 without flow, infinite without diffusion.
double half_peclet(double v_over_dx, double k_over_dx2) {
  if (v_over_dx == 0.0) return 0.0;
  return k_over_dx2 > 0.0 ? v_over_dx / (2.0 * k_over_dx2) : std::numeric_limits<double>::infinity();
}

// k at a point: the base value, blended towards each region's value by its weight.
double diffusivity_at(const PhysicsConfig& p, const double* x, int dims) {
  double k = p.diffusivity_m2_s;
  for (const auto& r : p.diffusivity_regions) k += (r.diffusivity_m2_s - k) * region_weight(r.region, x, dims);
  return k;
}

// Centre [m] of the cell with global index q.
std::array<double, 3> centre(const LocalGrid& g, const std::array<int, 3>& q) {
  std::array<double, 3> x{0, 0, 0};
  for (int d = 0; d < g.dims; ++d) x[d] = (q[d] + 0.5) * g.dx[d];
  return x;
}

}  // namespace

PhysicsFields::PhysicsFields(const SolverConfig& config, const LocalGrid& g)
    : m_base_k(config.physics.diffusivity_m2_s),
      m_uniform_source(config.physics.source),
      m_sources(config.physics.sources) {
  const PhysicsConfig& p = config.physics;
  m_uniform_v.assign(3, 0.0);
  for (int d = 0; d < g.dims && !p.velocity_m_s.empty(); ++d) m_uniform_v[d] = p.velocity_m_s[d];
  m_uniform_operator = p.diffusivity_regions.empty() && !p.vortex;
  m_uniform = m_uniform_operator && p.sources.empty() && config.controls.empty();

  m_max_source = std::abs(p.source);
  for (const auto& s : p.sources) m_max_source += std::abs(s.rate);
  for (const auto& c : config.controls) m_max_source += std::abs(c.gain) * std::max(std::abs(c.min), std::abs(c.max));
  if (m_uniform) {
    for (int d = 0; d < g.dims; ++d) {
      m_max_diffusion_rate += 2.0 * m_base_k / (g.dx[d] * g.dx[d]);
      m_max_advection_rate += std::abs(m_uniform_v[d]) / g.dx[d];
      m_max_half_peclet[d] = half_peclet(std::abs(m_uniform_v[d]) / g.dx[d], m_base_k / (g.dx[d] * g.dx[d]));
    }
    return;
  }

  const long n = g.padded_size();
  m_k_face = Array2("twin::k_face", 3, n);
  m_velocity = Array2("twin::velocity", 3, n);
  m_source = Kokkos::View<double*>("twin::source", n);
  m_source_shapes = Array2("twin::source_shapes", std::max<std::size_t>(1, p.sources.size()), n);
  m_control_shapes = Array2("twin::control_shapes", std::max<std::size_t>(1, config.controls.size()), n);
  m_k_face_host = Kokkos::create_mirror_view(m_k_face);
  auto v = Kokkos::create_mirror_view(m_velocity);
  auto ss = Kokkos::create_mirror_view(m_source_shapes);
  auto cs = Kokkos::create_mirror_view(m_control_shapes);
  Kokkos::deep_copy(m_k_face_host, 0.0);
  Kokkos::deep_copy(v, 0.0);
  Kokkos::deep_copy(ss, 0.0);
  Kokkos::deep_copy(cs, 0.0);

  for (int k = 0; k < g.cells[2]; ++k)
    for (int j = 0; j < g.cells[1]; ++j)
      for (int i = 0; i < g.cells[0]; ++i) {
        const std::array<int, 3> q{i + g.offset[0], j + g.offset[1], k + g.offset[2]};
        const auto x = centre(g, q);
        const long c = g.index(i, j, k);
        const double kc = diffusivity_at(p, x.data(), g.dims);
        double diffusion_rate = 0.0, advection_rate = 0.0;
        for (int d = 0; d < g.dims; ++d) {
          const double dx2 = g.dx[d] * g.dx[d];
          // Low face: harmonic mean with the neighbour (a flux-continuous interface), or the
          // cell's own value at the wall. The high face at a wall likewise.
          double k_low = kc;
          if (q[d] > 0) {
            auto qn = q;
            qn[d] -= 1;
            const auto xn = centre(g, qn);
            const double kn = diffusivity_at(p, xn.data(), g.dims);
            k_low = kc + kn > 0.0 ? 2.0 * kc * kn / (kc + kn) : 0.0;
          }
          m_k_face_host(d, c) = k_low / dx2;
          double k_high = kc;
          if (q[d] + 1 < g.global[d]) {
            auto qn = q;
            qn[d] += 1;
            const auto xn = centre(g, qn);
            const double kn = diffusivity_at(p, xn.data(), g.dims);
            k_high = kc + kn > 0.0 ? 2.0 * kc * kn / (kc + kn) : 0.0;
          }
          if (q[d] + 1 == g.global[d] || (d == 0 ? i : d == 1 ? j : k) + 1 == g.cells[d])
            m_k_face_host(d, c + g.stride(d)) = k_high / dx2;  // ghost slot: wall or neighbour's face
          diffusion_rate += (k_low + k_high) / dx2;

          double vel = m_uniform_v[d];
          if (p.vortex && d < 2) {
            const double w = p.vortex->angular_velocity_rad_s;
            vel += d == 0 ? -w * (x[1] - p.vortex->center_m[1]) : w * (x[0] - p.vortex->center_m[0]);
          }
          v(d, c) = vel / g.dx[d];
          advection_rate += std::abs(vel) / g.dx[d];
          m_max_half_peclet[d] =
              std::max(m_max_half_peclet[d], half_peclet(std::abs(vel) / g.dx[d], std::min(k_low, k_high) / dx2));
        }
        m_max_diffusion_rate = std::max(m_max_diffusion_rate, diffusion_rate);
        m_max_advection_rate = std::max(m_max_advection_rate, advection_rate);
        for (std::size_t s = 0; s < p.sources.size(); ++s)
          ss(s, c) = p.sources[s].rate * region_weight(p.sources[s].region, x.data(), g.dims);
        for (std::size_t s = 0; s < config.controls.size(); ++s)
          cs(s, c) = config.controls[s].gain * region_weight(config.controls[s].region, x.data(), g.dims);
      }
  Kokkos::deep_copy(m_k_face, m_k_face_host);
  Kokkos::deep_copy(m_velocity, v);
  Kokkos::deep_copy(m_source_shapes, ss);
  Kokkos::deep_copy(m_control_shapes, cs);
  m_controls.assign(config.controls.size(), 0.0);
  for (std::size_t s = 0; s < config.controls.size(); ++s) m_controls[s] = config.controls[s].initial;
  update_source(0.0, m_controls);
}

void PhysicsFields::update_source(double t_s, const std::vector<double>& controls) {
  if (m_uniform) {
    TWIN_REQUIRE(controls.empty(), Error, "controls given but none are configured");
    return;
  }
  TWIN_REQUIRE(controls.size() == m_controls.size(), Error,
               "expected " + std::to_string(m_controls.size()) + " control values, got " + std::to_string(controls.size()));
  for (double c : controls) TWIN_REQUIRE(std::isfinite(c), Error, "a control value is not finite");
  // Called every step: decide "unchanged" without allocating.
  bool changed = !m_source_valid || controls != m_controls;
  m_active.resize(m_sources.size(), -1);
  for (std::size_t s = 0; s < m_sources.size(); ++s) {
    const int on = t_s >= m_sources[s].start_s && (!m_sources[s].end_s || t_s < *m_sources[s].end_s) ? 1 : 0;
    changed = changed || on != m_active[s];
    m_active[s] = on;
  }
  if (!changed) return;
  const std::vector<int>& active = m_active;
  m_controls = controls;
  m_source_valid = true;

  const int ns = static_cast<int>(m_sources.size()), nc = static_cast<int>(controls.size());
  Kokkos::View<double*> weights("twin::source_weights", ns + nc + 1);
  auto w = Kokkos::create_mirror_view(weights);
  for (int s = 0; s < ns; ++s) w(s) = active[s];
  for (int s = 0; s < nc; ++s) w(ns + s) = controls[s];
  Kokkos::deep_copy(weights, w);
  const auto q = m_source;
  const auto sources = m_source_shapes;
  const auto shapes = m_control_shapes;
  const double base = m_uniform_source;
  Kokkos::parallel_for(
      "twin::update_source", Kokkos::RangePolicy<>(0, static_cast<long>(q.extent(0))), KOKKOS_LAMBDA(const long c) {
        double value = base;
        for (int s = 0; s < ns; ++s) value += weights(s) * sources(s, c);
        for (int s = 0; s < nc; ++s) value += weights(ns + s) * shapes(s, c);
        q(c) = value;
      });
  Kokkos::fence();
}

}  // namespace twin::solvers
