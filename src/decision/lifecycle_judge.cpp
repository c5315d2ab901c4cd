// The lifecycle's judgements (docs/lifecycle.md): a shadow version promoted or rejected at its
// looks (the paired block test), a promoted one kept or rolled back at the end of its watch.
#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>

#include "decision/advisor_models.hpp"
#include "decision/lifecycle.hpp"
#include "decision/lifecycle_figures.hpp"
#include "io/model_registry.hpp"

namespace twin::detail {

using lifecycle_figures::fixed;
using lifecycle_figures::rms;

/// The t-statistic of the blocks' mean (one sample, paired differences): mean / (sd / sqrt(n));
/// 0 with fewer than 3 blocks, +inf for identical positive blocks.
double paired_t(const std::vector<double>& blocks) {
  const std::size_t n = blocks.size();
  if (n < 3) return 0.0;
  double mean = 0.0;
  for (double b : blocks) mean += b;
  mean /= static_cast<double>(n);
  double var = 0.0;
  for (double b : blocks) var += (b - mean) * (b - mean);
  var /= static_cast<double>(n - 1);
  if (var <= 0.0) return mean > 0.0 ? std::numeric_limits<double>::infinity() : 0.0;
  return mean / std::sqrt(var / static_cast<double>(n));
}

void Lifecycle::judge_shadow(const LifecycleCycle& in, std::vector<LifecycleEvent>& events) {
  if (!m_shadow) return;
  const std::string label = advisor::label(m_shadow->package());
  // Judged at a few looks only (every shadow_cycles scored cycles, up to shadow_max_cycles): a
  // test repeated every cycle would promote on noise sooner or later.
  const bool last = in.cycle - m_shadow_since >= m_lc.shadow_max_cycles;
  const bool look = m_shadow_scored > 0 && m_shadow_scored != m_last_look &&
                    (m_shadow_scored % m_lc.shadow_cycles == 0 || last);
  if (look && m_ref_n >= m_lc.reference_cycles) {
    m_last_look = m_shadow_scored;
    const double rs = rms(m_shadow_sq, m_shadow_scored), ra = rms(m_active_sq, m_shadow_scored);
    const double pass = m_shadow_gated > 0 ? static_cast<double>(m_shadow_passed) / m_shadow_gated : 0.0;
    const double reference = rms(m_ref_sq, m_ref_n);
    const double t = paired_t(m_blocks);
    // Better by the margin (the size of the gain) and beyond the noise (the paired test).
    const bool better = rs <= (1.0 - m_lc.promotion_margin) * ra && t >= m_lc.promotion_z;
    // Only a degraded active version is replaced: a promotion is a risk taken for a reason.
    const bool degraded = ra >= m_lc.degraded_factor * reference;
    spdlog::info("cycle {}: lifecycle: {} in shadow: realised error {} against the active model's {} over {} cycles "
                 "(paired t {} over {} blocks; the active's reference level {}), gates passed {} %: {}",
                 in.cycle, label, fixed(rs), fixed(ra), m_shadow_scored, fixed(t), m_blocks.size(), fixed(reference),
                 fixed(100.0 * pass), better && degraded && pass >= m_lc.min_gate_pass ? "promote" : "not yet");
    if (better && degraded && pass >= m_lc.min_gate_pass) {
      const std::string why = "realised error " + fixed(rs) + " against the active model's " + fixed(ra) + " over " +
                              std::to_string(m_shadow_scored) + " cycles (paired t " + fixed(t) + " over " +
                              std::to_string(m_blocks.size()) + " blocks; its reference level " + fixed(reference) +
                              "), gates passed " + fixed(100.0 * pass) + " %";
      try {
        install(std::move(m_shadow), why, "retired", true);
        events.push_back(event(in, "promoted", label, why));
      } catch (const std::exception& e) {
        events.push_back(event(in, "refused", label, std::string("promotion: ") + e.what()));
      }
      m_shadow.reset();
      return;
    }
  }
  if (last) {
    const std::string why = "not promoted within " + std::to_string(m_lc.shadow_max_cycles) + " cycles: realised error " +
                            fixed(rms(m_shadow_sq, m_shadow_scored)) + " against the active model's " +
                            fixed(rms(m_active_sq, m_shadow_scored)) + " over " + std::to_string(m_shadow_scored) +
                            " cycles (paired t " + fixed(paired_t(m_blocks)) + " over " + std::to_string(m_blocks.size()) +
                            " blocks; its reference level " + fixed(rms(m_ref_sq, m_ref_n)) + "), gates passed " +
                            std::to_string(m_shadow_passed) + " of " + std::to_string(m_shadow_gated);
    try {
      io::ModelRegistry(io::registry_directory(m_config)).mark(m_shadow->package().name, m_shadow->package().version, "rejected", why);
    } catch (const std::exception& e) {
      spdlog::error("lifecycle: the rejection of {} could not be recorded in the registry: {}", label, e.what());
    }
    events.push_back(event(in, "rejected", label, why));
    m_shadow.reset();
  }
}

void Lifecycle::judge_watch(const LifecycleCycle& in, std::vector<LifecycleEvent>& events) {
  if (!m_replaced || m_watch_scored < m_lc.watch_min_cycles) return;
  const double rp = rms(m_watch_sq, m_watch_scored), rr = rms(m_replaced_sq, m_watch_scored);
  const std::string promoted = m_models.surrogate() ? advisor::label(m_models.surrogate()->package()) : std::string();
  const std::string figures = "realised error " + fixed(rp) + " against " + fixed(rr) + " of " +
                              advisor::label(m_replaced->package()) + " over " + std::to_string(m_watch_scored) + " cycles";
  if (rp > m_lc.rollback_factor * rr) {
    const std::string why = figures + " (more than " + fixed(m_lc.rollback_factor) + "x): back to " + advisor::label(m_replaced->package());
    try {
      install(std::move(m_replaced), why, "rolled_back", false);
      events.push_back(event(in, "rolled_back", promoted, why));
    } catch (const std::exception& e) {
      events.push_back(event(in, "refused", promoted, std::string("rollback: ") + e.what()));
    }
    m_replaced.reset();
  } else if (m_watch_scored >= m_lc.watch_cycles) {
    events.push_back(event(in, "watch_passed", promoted, figures));
    m_replaced.reset();
  }
}

}  // namespace twin::detail
