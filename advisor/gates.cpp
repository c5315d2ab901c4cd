#include "advisor/gates.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "twin/error.hpp"

namespace twin::advisor {

const char* to_string(FallbackReason r) {
  switch (r) {
    case FallbackReason::none: return "none";
    case FallbackReason::no_advisor: return "no_advisor";
    case FallbackReason::model_unavailable: return "model_unavailable";
    case FallbackReason::inference_error: return "inference_error";
    case FallbackReason::non_finite: return "non_finite";
    case FallbackReason::late: return "late";
    case FallbackReason::uncertain: return "uncertain";
    case FallbackReason::out_of_distribution: return "out_of_distribution";
    case FallbackReason::outside_envelope: return "outside_envelope";
    case FallbackReason::physics_check: return "physics_check";
    case FallbackReason::breaker_open: return "breaker_open";
    case FallbackReason::twin_unhealthy: return "twin_unhealthy";
    case FallbackReason::source_down: return "source_down";
    case FallbackReason::paused: return "paused";
  }
  return "?";
}

Envelope Envelope::from(const std::vector<ControlConfig>& controls) {
  Envelope e;
  for (const auto& c : controls) {
    e.min.push_back(c.min);
    e.max.push_back(c.max);
    e.rate_per_s.push_back(c.rate_limit_per_s ? *c.rate_limit_per_s : std::numeric_limits<double>::infinity());
  }
  return e;
}

void Envelope::box(const std::vector<double>& previous, double dt_s, std::vector<double>& lower,
                   std::vector<double>& upper) const {
  lower = min;
  upper = max;
  for (std::size_t j = 0; j < size(); ++j) {
    if (!std::isfinite(rate_per_s[j]) || j >= previous.size() || !std::isfinite(previous[j])) continue;
    const double step = rate_per_s[j] * dt_s;
    lower[j] = std::min(max[j], std::max(min[j], previous[j] - step));
    upper[j] = std::max(lower[j], std::min(max[j], previous[j] + step));
  }
}

bool Envelope::contains(const std::vector<double>& p, const std::vector<double>& previous, double dt_s) const {
  if (p.size() != size()) return false;
  std::vector<double> lo, hi;
  box(previous, dt_s, lo, hi);
  for (std::size_t j = 0; j < size(); ++j) {
    const double tol = 1e-9 * std::max(1.0, std::abs(max[j] - min[j]));
    if (!std::isfinite(p[j]) || p[j] < lo[j] - tol || p[j] > hi[j] + tol) return false;
  }
  return true;
}

std::vector<double> Envelope::ramp_towards(const std::vector<double>& target, const std::vector<double>& previous,
                                           double dt_s) const {
  std::vector<double> lo, hi;
  box(previous, dt_s, lo, hi);
  std::vector<double> out(size());
  for (std::size_t j = 0; j < size(); ++j) {
    double t = j < target.size() ? target[j] : std::numeric_limits<double>::quiet_NaN();
    if (!std::isfinite(t)) t = j < previous.size() && std::isfinite(previous[j]) ? previous[j] : min[j];
    out[j] = std::min(hi[j], std::max(lo[j], t));
  }
  return out;
}

GateOutcome gate(const Proposal& p, const Envelope& envelope, const std::vector<double>& previous, double dt_s,
                 const GatesConfig& g) {
  const auto reject = [](FallbackReason r, std::string detail) { return GateOutcome{false, r, std::move(detail)}; };
  bool finite = std::isfinite(p.spread) && std::isfinite(p.ood) && p.controls.size() == envelope.size();
  for (double v : p.controls) finite = finite && std::isfinite(v);
  if (!finite) return reject(FallbackReason::non_finite, "the proposal or its scores are not finite");
  if (!(p.latency_ms <= g.latency_budget_ms))
    return reject(FallbackReason::late, "advise took " + std::to_string(p.latency_ms) + " ms, budget " +
                                            std::to_string(g.latency_budget_ms) + " ms");
  if (!envelope.contains(p.controls, previous, dt_s)) {
    std::vector<double> lo, hi;
    envelope.box(previous, dt_s, lo, hi);
    std::size_t j = 0;
    while (j + 1 < p.controls.size() && p.controls[j] >= lo[j] && p.controls[j] <= hi[j]) ++j;
    return reject(FallbackReason::outside_envelope, "control " + std::to_string(j) + " = " + std::to_string(p.controls[j]) +
                                                        " outside [" + std::to_string(lo[j]) + ", " +
                                                        std::to_string(hi[j]) + "] (bounds and rate limit)");
  }
  if (!(p.spread <= g.max_spread))
    return reject(FallbackReason::uncertain, "ensemble spread " + std::to_string(p.spread) + " > " + std::to_string(g.max_spread));
  if (!(p.ood <= g.max_ood))
    return reject(FallbackReason::out_of_distribution, "OOD score " + std::to_string(p.ood) + " > " + std::to_string(g.max_ood));
  return GateOutcome{true, FallbackReason::none, "accepted"};
}

void Breaker::record(bool accepted) {
  if (m_state == State::closed) {
    m_failures = accepted ? 0 : m_failures + 1;
    if (m_failures >= m_config.failures) {
      m_state = State::open;
      m_cooldown = m_config.cooldown_cycles;
    }
  } else if (m_state == State::half_open) {
    if (!accepted) {
      m_state = State::open;
      m_cooldown = m_config.cooldown_cycles;
      m_clean = 0;
    } else if (++m_clean >= m_config.clean_cycles) {
      m_state = State::closed;
      m_failures = 0;
      m_clean = 0;
    }
  }
}

void Breaker::skip() {
  if (m_state == State::open && --m_cooldown <= 0) m_state = State::half_open;
}

std::string Breaker::describe() const {
  switch (m_state) {
    case State::closed: return "closed";
    case State::open: return "open (" + std::to_string(m_cooldown) + " cycles of cooldown left)";
    case State::half_open: return "probing (" + std::to_string(m_clean) + "/" + std::to_string(m_config.clean_cycles) + " clean)";
  }
  return "?";
}

}  // namespace twin::advisor
