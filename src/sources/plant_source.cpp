// source.type plant: the built-in plant emulator plays the facility (sources/plant.hpp). With an
// advisor, a second plant driven by the safe default controller alone runs beside it as the
// baseline of the `control` KPIs: same plant, same events, same noise.
#include <cmath>

#include "advisor/gates.hpp"
#include "advisor/safe_default.hpp"
#include "ground/mpi.hpp"
#include "sources/observation_source.hpp"
#include "sources/plant.hpp"
#include "twin/error.hpp"

namespace twin::detail {
namespace {

class PlantSource final : public ObservationSource, public GroundTruth {
 public:
  explicit PlantSource(const SourceContext& context)
      : m_config(context.config),
        m_comm(context.comm),
        m_plant(context.config, context.comm),
        m_safe_default(advisor::SafeDefault::create(context.config)),
        m_envelope(advisor::Envelope::from(context.config.controls)) {
    if (m_config.advisor) m_baseline = std::make_unique<PlantEmulator>(m_config, m_comm);
    for (const auto& c : m_config.controls) m_baseline_applied.push_back(c.initial);
  }

  std::vector<Observation> readings(long cycle, double t0_s, double period_s, const std::vector<double>& controls) override {
    std::vector<Observation> out = m_plant.advance(t0_s, period_s, controls, cycle);
    if (m_baseline) advance_baseline(cycle, t0_s, period_s);
    return out;
  }

  bool ended(bool) override { return false; }
  const GroundTruth* truth() const override { return this; }

  std::vector<double> field() const override { return m_plant.truth_on_twin_grid(); }
  solvers::ParameterSet parameters_at(double t_s) const override { return m_plant.parameters_at(t_s); }
  bool sensor_faulty(int sensor, double t_s, double period_s) const override {
    return m_plant.sensor_faulty(sensor, t_s, period_s);
  }
  bool has_baseline() const override { return m_baseline != nullptr; }
  std::vector<double> baseline_field() const override { return m_baseline->truth_on_twin_grid(); }
  const std::vector<double>& baseline_controls() const override { return m_baseline_used; }

  void save(io::StateArchive& a) const override {
    m_plant.save(a, "source.plant.");
    if (!m_baseline) return;
    m_baseline->save(a, "source.baseline.");
    a.put("source.baseline.applied", m_baseline_applied);
    a.put("source.baseline.used", m_baseline_used);
  }

  void restore(const io::StateParts& parts) override {
    m_plant.restore(parts, "source.plant.");
    if (!m_baseline) return;
    const io::StateArchive& a = parts.part(0);
    if (!a.has("source.baseline.applied"))
      throw DataError(a.origin() + ": the snapshot's run had no safe-default baseline plant (no advisor)");
    m_baseline->restore(parts, "source.baseline.");
    m_baseline_applied = a.doubles("source.baseline.applied", m_baseline_applied.size());
    m_baseline_used = a.doubles("source.baseline.used");
  }

 private:
  // The safe default sees the baseline plant's readings and ramps inside the envelope, as the
  // advisor's fallback would; rank 0's decision goes to every rank.
  void advance_baseline(long cycle, double t0_s, double period_s) {
    const std::size_t S = m_config.sensors.size();
    std::vector<double> seen(S, std::nan(""));
    for (const auto& r : m_baseline->advance(t0_s, period_s, m_baseline_applied, cycle))
      for (std::size_t s = 0; s < S; ++s)
        if (m_config.sensors[s].name == r.sensor) seen[s] = r.value;
    m_baseline_used = m_baseline_applied;
    m_baseline_applied = m_envelope.ramp_towards(m_safe_default->target(seen), m_baseline_applied, period_s);
    TWIN_MPI_CHECK(MPI_Bcast(m_baseline_applied.data(), static_cast<int>(m_baseline_applied.size()), MPI_DOUBLE, 0, m_comm));
  }

  const Config m_config;  // a copy: the source may outlive the caller's config
  MPI_Comm m_comm;
  PlantEmulator m_plant;
  std::unique_ptr<PlantEmulator> m_baseline;
  std::unique_ptr<advisor::SafeDefault> m_safe_default;
  advisor::Envelope m_envelope;
  std::vector<double> m_baseline_applied, m_baseline_used;
};

TWIN_REGISTER_TYPE(ObservationSource, "plant",
                   [](const SourceContext& c) { return std::make_unique<PlantSource>(c); });

}  // namespace
}  // namespace twin::detail
