#pragma once
/// @file
/// The typed configuration of a twin, as parsed from one YAML file.
///
/// Every struct holds its defaults in member initialisers; the reference of every key, its unit
/// and its default is docs/config.md. A `Config` returned by `load_config` or `parse_config` has
/// passed every check (types, ranges, cross-field consistency), so components may rely on it.
///
/// Thread-safety: the functions here are reentrant; they share no state.

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "twin/logging_config.hpp"

namespace twin {

/// `twin:` — the run as a whole.
struct RunConfig {
  std::string name = "twin";          ///< used in log lines and output files
  int cycles = 100;                   ///< control periods to run
  double control_period_s = 1.0;      ///< facility time per cycle [s]
  double deadline_ms = 1000.0;        ///< wall-clock budget per cycle [ms]
  std::optional<std::string> run_dir; ///< output directory; default "runs/<name>"
  /// A rank that has not reached the cycle's collectives this long after the others stops the
  /// job (exit 4) [s]; default max(30 s, 10 deadlines).
  std::optional<double> watchdog_s;
  /// The watchdog's limit in seconds, the default filled in.
  double watchdog_limit_s() const { return watchdog_s.value_or(std::max(30.0, 10.0 * deadline_ms / 1000.0)); }
};

/// `grid:` — a structured Cartesian grid of cell centres, 2D or 3D.
struct GridConfig {
  std::vector<int> cells;             ///< cells per axis (2 or 3 entries), required
  std::vector<double> extent_m;       ///< physical size per axis [m], required
  std::vector<int> ranks;             ///< MPI ranks per axis; empty: MPI_Dims_create decides
};

/// Kind of a boundary condition on one face.
enum class BoundaryType { dirichlet, neumann, robin };

/// One face's boundary condition, in the units of the transported quantity `u`.
/// dirichlet: u = value. neumann: k du/dn = flux (outward normal, positive flux heats).
/// robin: -k du/dn = transfer_m_s * (u - value) (convective cooling towards `value`).
struct BoundaryConfig {
  BoundaryType type = BoundaryType::neumann;
  double value = 0.0;        ///< dirichlet value, or robin ambient value [u]
  double flux = 0.0;         ///< neumann flux [u·m/s]
  double transfer_m_s = 0.0; ///< robin transfer coefficient h/(rho c) [m/s]
};

/// `physics.boundaries:` — faces x_low, x_high, y_low, y_high, z_low, z_high. A face that is not
/// listed takes `default`.
struct BoundariesConfig {
  BoundaryConfig default_face;
  std::array<std::optional<BoundaryConfig>, 6> faces; ///< x_low, x_high, y_low, y_high, z_low, z_high

  /// The condition on face `f` (0..5 as above): its own or the default.
  const BoundaryConfig& face(int f) const { return faces.at(f) ? *faces.at(f) : default_face; }
};

/// How a region weighs the cells it covers.
/// box: 1 for cell centres inside the box, else 0. gaussian: exp(-|x - c|^2 / 2 sigma^2) per
/// axis, 1 at the centre.
enum class ShapeKind { box, gaussian };

/// A region of the domain, used by diffusivity regions, sources and controls.
struct ShapeConfig {
  ShapeKind shape = ShapeKind::box;
  std::vector<double> center_m;       ///< centre [m], one entry per axis, required
  std::vector<double> size_m;         ///< box: side lengths [m]; gaussian: sigma per axis [m]
};

/// `physics.diffusivity_regions[]` — a region with its own diffusivity (later entries win).
/// Gaussian regions blend: k = k0 + (k_region - k0) * weight.
struct DiffusivityRegionConfig {
  ShapeConfig region;
  double diffusivity_m2_s = 0.0;      ///< k inside the region [m^2/s]
};

/// `physics.sources[]` — a fixed source s(x, t): `rate` inside its region, between start_s and
/// end_s of facility time.
struct SourceConfig {
  std::string name;
  ShapeConfig region;
  double rate = 0.0;                  ///< [u/s] at weight 1
  double start_s = 0.0;               ///< facility time it switches on [s]
  std::optional<double> end_s;        ///< facility time it switches off [s]; empty: never
};

/// `physics.vortex:` — a solid-body rotation added to the uniform velocity (about the z axis in
/// 3D): v += omega x (x - center).
struct VortexConfig {
  std::vector<double> center_m;       ///< centre of rotation [m] (x, y), required
  double angular_velocity_rad_s = 0.0;///< omega, counter-clockwise positive [rad/s]
};

/// `physics.parameters:` — the named physical parameters the twin may estimate (state
/// augmentation in the ensemble filter). Each scales coefficients given elsewhere, so 1 means
/// "as configured".
struct ParametersConfig {
  double diffusivity_factor = 1.0;    ///< multiplies the diffusivity everywhere
  double cooling_factor = 1.0;        ///< multiplies the robin transfer coefficients and the reaction rate
};

/// `physics:` — du/dt + v·grad u = div(k grad u) - r (u - u_ref) + s(x, t) + sum_j p_j b_j(x).
struct PhysicsConfig {
  double diffusivity_m2_s = 1.0e-4;   ///< k outside any region [m^2/s]
  std::vector<DiffusivityRegionConfig> diffusivity_regions;
  std::vector<double> velocity_m_s;   ///< uniform part of v [m/s], one entry per axis; empty: 0
  std::optional<VortexConfig> vortex; ///< rotating part of v
  double reaction_per_s = 0.0;        ///< r [1/s], >= 0
  double reaction_reference = 0.0;    ///< u_ref [u], e.g. ambient temperature for face cooling
  double source = 0.0;                ///< uniform volumetric source [u/s]
  std::vector<SourceConfig> sources;  ///< fixed sources s(x, t)
  double initial_value = 0.0;         ///< u at t = 0 [u]
  ParametersConfig parameters;
  BoundariesConfig boundaries;
};

/// `controls[]` — a controllable source b_j(x) (a heater, an injector) driven by the control
/// parameter p_j: it adds p_j * gain * weight(x) to du/dt.
struct ControlConfig {
  std::string name;                   ///< e.g. "H1"
  ShapeConfig region;
  double gain = 0.0;                  ///< [u/s per unit of p] at weight 1
  std::string unit = "1";             ///< unit of p, for output labels
  double initial = 0.0;               ///< p at t = 0
  double min = 0.0;                   ///< lowest allowed p
  double max = 1.0;                   ///< highest allowed p
  std::optional<double> rate_limit_per_s; ///< largest |change of p| per second of facility time; empty: none
  std::optional<double> safe;         ///< the safe default p (base of the proportional rule); empty: initial
  std::string sensor;                 ///< the sensor this control mainly drives (proportional safe default)
};

/// `time.implicit:` — the linear solves of the implicit integrators (PETSc KSP).
struct ImplicitConfig {
  std::string ksp_type = "cg";        ///< any PETSc KSPType
  std::string pc_type = "mg";         ///< mg (geometric multigrid on the grid) or any PETSc PCType
  std::optional<int> mg_levels;       ///< levels of pc_type mg (>= 2); empty: halve the grid down to <= 64 cells
  double rtol = 1.0e-10;              ///< relative residual tolerance
  int max_iterations = 500;
  std::string petsc_options;          ///< extra PETSc options, e.g. "-pc_gamg_threshold 0.02"
};

/// `time:` — how the solver advances one control period. Integrators: ssprk2/ssprk3 are
/// explicit; backward_euler and crank_nicolson treat diffusion and reaction implicitly (PETSc
/// KSP) and advection explicitly.
struct TimeConfig {
  std::string integrator = "ssprk3";  ///< a registered time integrator: ssprk2, ssprk3, backward_euler, crank_nicolson
  double cfl = 0.8;                   ///< fraction of the stable explicit step, in (0, 1]
  std::optional<double> max_dt_s;     ///< upper bound on the step [s]
  ImplicitConfig implicit;
};

/// `sensors[]` — a point sensor of the facility, read every control period.
struct SensorConfig {
  std::string name;                   ///< e.g. "T07"; observations refer to it by name
  std::vector<double> position_m;     ///< location [m], one entry per axis, required
  double noise_std = 0.1;             ///< measurement noise, 1 sigma [u]
  std::optional<double> min;          ///< plausible range [u]; QC rejects values outside; empty: unbounded
  std::optional<double> max;
};

/// `ensemble.parameters[]` — a named physical parameter the filter estimates (state augmentation).
struct EstimatedParameterConfig {
  std::string name;                   ///< diffusivity_factor or cooling_factor
  double prior_mean = 1.0;
  double prior_std = 0.1;
  double min = 0.05;                  ///< estimates are clipped to [min, max]
  double max = 20.0;
  double min_spread = 0.005;          ///< ensemble std never falls below this (keeps the filter learning)
  /// Facility time over which the plant's effective value may wander by prior_std (a random
  /// walk of the members each cycle, centred: the spread says the value can move). 0 (the
  /// default): a constant parameter, whose spread collapses to min_spread. docs/twin-cycle.md
  /// says why it is not on by default yet.
  double wander_s = 0.0;
};

/// `ensemble:` — the members the twin advances and how they start.
struct EnsembleConfig {
  int members = 16;
  std::optional<int> member_groups;   ///< MPI rank groups the members are spread over; empty: automatic
  unsigned seed = 1;                  ///< all random draws derive from it (reproducible on any rank count)
  double initial_spread = 1.0;        ///< std of the smooth initial perturbation [u]
  /// Its correlation length [m]; not given: half the localization length (initial_length()).
  std::optional<double> initial_length_m;
  std::vector<EstimatedParameterConfig> parameters;
};

/// `assimilation:` — the ensemble Kalman filter (stochastic EnKF with perturbed observations).
struct AssimilationConfig {
  bool enabled = true;
  std::string type = "enkf";          ///< a registered assimilator: enkf
  /// Gaspari-Cohn half-width c [m]; zero correlation beyond 2c. Not given: from the sensors'
  /// layout (localization_length()).
  std::optional<double> localization_m;
  double inflation = 1.02;            ///< multiplicative prior inflation of state anomalies
  double parameter_inflation = 1.0;   ///< the same for parameter anomalies
  /// Relaxation to prior spread of the state: each cell's analysis spread is moved this share
  /// of the way back to its forecast spread (0: off, 1: the update leaves the spread as it was).
  double relaxation = 0.0;
  double representation_std = 0.0;    ///< added to each sensor's noise in R [u]
  /// Probability that a cycle whose readings agree with the ensemble still exceeds the
  /// innovation consistency test; a cycle beyond it (the plant departs from the twin's physics,
  /// e.g. a failed heater) moves the parameters by (threshold / statistic)^2 of the update. 0: off.
  double parameter_gate = 0.001;
  /// After a cycle fails that test, the parameters move by at most its weight for this many
  /// cycles (the twin's state catches up with a plant recovering from a fault meanwhile).
  int parameter_gate_hold_cycles = 8;
  /// Sampling-error correction of the parameter update: each parameter-reading covariance is
  /// shrunk by how much of its sample correlation the ensemble size could produce by chance
  /// (sampling_error_factor), so that a parameter the readings barely see is not pushed about,
  /// and made sure of itself, by spurious correlations. Off by default: the anomaly diagnosis
  /// reads the parameters' moves and is not yet calibrated on the corrected filter.
  bool parameter_sampling_correction = false;
  /// Adaptive additive inflation (assimilation/model_error.hpp): each forecast adds smooth random
  /// fields of variance q^2 to the members, and q^2 moves this share of its estimated deficit
  /// (squared innovations beyond the predicted spread and noise) each cycle it grows in, and the
  /// parameters wait while it is large. 0: off (docs/twin-cycle.md, "Model error").
  double model_error_gain = 0.3;
  /// Each parameter's spread is kept at no less than half of how far its mean has moved
  /// recently (at most its prior_std): the exponentially weighted sum of its updates with this
  /// memory [cycles]. 0: off, min_spread alone (docs/twin-cycle.md, "The parameters' spread
  /// follows their movement").
  int parameter_movement_cycles = 40;
  /// The parameters' adaptive random walk: the memory [cycles] over which each parameter's
  /// analysis increments are summed (exponentially weighted) and compared with what a filter
  /// whose spread is right would make of them; a displacement beyond that becomes the variance of
  /// a random walk of the members each cycle (assimilation/parameter_walk.hpp, docs/twin-cycle.md,
  /// "The adaptive walk"). 0: off (the walk is `wander_s` alone).
  int parameter_walk_cycles = 40;
  /// Share of each analysis's parameter update the members take (1: all of it). Below 1 the
  /// parameters close on what the readings say over a few cycles instead of in one: the update
  /// is a linear regression on the members, and where the readings respond nonlinearly to a
  /// wide parameter spread it overshoots (Hendricks Franssen & Kinzelbach 2008).
  double parameter_damping = 0.75;
  /// The filter's spin-up [cycles]: in its first cycles a parameter moves only by the share of
  /// its update that stands out of what chance correlations of the members with the readings
  /// would give 19 times in 20 (docs/twin-cycle.md, "The spin-up test"). While the states spin
  /// up, their spread dominates what the readings show, and a parameter the readings cannot yet
  /// see was pushed the wrong way and made sure of it. 0: off, the default (20 is the anomaly
  /// diagnosis's warm-up; why it is not yet on by default: docs/twin-cycle.md).
  int parameter_spin_up_cycles = 0;
  /// The model error's persistence test [analyses] (docs/twin-cycle.md, "Persistent
  /// innovations"): each sensor's normalised innovation is averaged over about this many
  /// analyses, and a mean beyond chance (at `parameter_gate`'s level, over the sensors read) is a
  /// departure from the twin's physics even in cycles that pass the consistency test: a failed
  /// heater the state update absorbs cycle by cycle moves the readings a little, the same way,
  /// every cycle. 0: off (the model error grows only in cycles that fail the test).
  int innovation_persistence_cycles = 8;
  /// The grid check's length in control periods (cycle/grid_check.hpp): at start-up the twin's
  /// physics runs this long on its grid and on one twice as fine, and the error the twin's grid
  /// makes (in the parameters' best fit and at the sensors) counts in the stated uncertainty of
  /// the estimates; the ensemble is not touched. 0: off.
  int grid_check_cycles = 60;
};

/// `qc:` — checks on every reading before it may be assimilated.
struct QcConfig {
  double max_age_s = 60.0;            ///< a reading older than this at its cycle is stale
  double max_future_s = 60.0;         ///< a reading stamped more than this after its cycle's end is rejected (future)
  int stuck_cycles = 2;               ///< this many consecutive unchanged readings: stuck
  /// "unchanged" means |change| <= this [u]. Not given: a millionth of the sensor's noise_std,
  /// so that a twin in any unit (kelvin, pascal, mol/m^3) tells a repeated value from noise.
  std::optional<double> stuck_tolerance;
  double innovation_sigma = 5.0;      ///< reject when |y - forecast| > this * sqrt(spread^2 + noise^2)
  double innovation_floor = 0.0;      ///< added to that bound [u]
  /// Buddy check: a reading failing the innovation test is kept when a sensor within this
  /// radius [m] departs the same way (below). Not given: 1.25 times the largest distance from a
  /// sensor to its nearest other sensor, so that every sensor has a buddy whatever the asset's size.
  std::optional<double> buddy_radius_m;
  double buddy_sigma = 2.0;           ///< when a sensor within the radius departs the same way by
                                      ///< more than buddy_sigma of its own spread: a physical change,
                                      ///< not a sensor fault. 0 disables the buddy check.
  /// The buddy check's memory: a buddy also counts by its recent lean, the exponentially
  /// weighted mean of its departures (in its own spread) with this share carried from one
  /// cycle to the next, scaled so that white departures give it unit spread. 0: this cycle's
  /// departure only. A local plant change at one sensor shows first, and most, at that sensor;
  /// the filter then pulls its neighbours' forecasts along, so that they no longer depart now
  /// but did in the cycles before.
  double buddy_memory = 0.7;
  /// A twin blinded by its own innovation test: when every reading that passed the other checks
  /// has failed the innovation test for this many consecutive cycles, the twin has drifted from
  /// the plant (a wrong parameter, a plant fault a one-sensor twin has no buddy for) or every
  /// sensor went wrong at once. Either way its state is unverified: the runtime warns, the
  /// facility gets the safe default (mode safe_hold) until a reading passes again, and the
  /// cycles are counted (summary.json qc.blind_cycles). 0: never; never either without
  /// assimilation (a free run is not corrected by its readings by design).
  int blind_cycles = 10;
  /// The largest blind_cycles accepted; QC's count of consecutive all-rejected cycles stops there
  /// (and a snapshot holding more is refused).
  static constexpr int max_blind_cycles = 1000000;
};

/// Kind of a scheduled plant event.
enum class EventKind { sensor_stuck, sensor_dropout, sensor_spike, sensor_drift, sensor_bias, heater_failure,
                       heat_source, cooling_degradation, parameter_drift, heater_decay };

/// True for the slow changes of the plant (parameter_drift, heater_decay): drifts the anomaly
/// model is not meant to name, which the drift monitors are there to notice.
inline bool is_drift_event(EventKind k) { return k == EventKind::parameter_drift || k == EventKind::heater_decay; }

/// True for the events that corrupt one sensor's readings (the sensor_* kinds).
inline bool is_sensor_event(EventKind k) {
  return k == EventKind::sensor_stuck || k == EventKind::sensor_dropout || k == EventKind::sensor_spike ||
         k == EventKind::sensor_drift || k == EventKind::sensor_bias;
}

/// `source.plant.events[]` — something that happens to the emulated facility.
struct PlantEventConfig {
  EventKind type = EventKind::sensor_bias;
  double start_s = 0.0;
  std::optional<double> end_s;        ///< empty: lasts to the end
  std::string target;                 ///< sensor or control name (sensor_* and heater_failure)
  double magnitude = 0.0;             ///< spike/bias: offset [u]; drift: rate [u/s]; heater_failure:
                                      ///< remaining fraction; cooling_degradation: cooling factor multiplier;
                                      ///< heat_source: rate [u/s]; parameter_drift, heater_decay: the
                                      ///< factor reached at end_s (from 1 at start_s, linearly; kept after)
  std::vector<double> center_m;       ///< heat_source: where
  std::vector<double> size_m;         ///< heat_source: extent (gaussian sigma)
};

/// `source.plant:` — the built-in plant emulator: a finer truth simulation with hidden parameters.
struct PlantConfig {
  int refine = 2;                     ///< truth cells per twin cell along each axis
  unsigned seed = 7;                  ///< sensor noise draws
  double initial_offset = 0.0;        ///< truth initial value minus the twin's [u]
  ParametersConfig parameters;        ///< the hidden truth
  std::vector<PlantEventConfig> events;
};

/// `source:` — where readings come from.
struct ObservationSourceConfig {
  std::string type = "plant";         ///< a registered ObservationSource type: plant, replay, stream
  PlantConfig plant;
  std::string replay_file;            ///< replay: CSV (t,sensor,value) or a run's series.h5
  std::string stream_input = "-";     ///< stream: JSON lines; "-" is stdin, else a file or FIFO
  std::string advice_output = "-";    ///< stream: advice as JSON lines; "-" is stdout
  /// stream: wait at most this long for a cycle's readings [s] (wall clock), then run the cycle
  /// on what has arrived (the twin forecasts; the advice says the source is silent); default
  /// the control period.
  std::optional<double> silence_s;
};

/// `outputs:` — what the run directory receives.
struct OutputConfig {
  int field_every = 10;               ///< write fields to series.h5 every this many cycles (0: never)
  int flush_every = 5;                ///< flush series.h5 and rewrite metrics.prom every this many cycles
  bool progress = true;               ///< a progress line when stdout is a terminal
  /// Power drawn per busy CPU core [W], for summary.json's energy where the machine has no
  /// readable RAPL counters: the energy is then an estimate and says so.
  double watts_per_core = 10.0;
  /// The facility's secret for a keyed audit log (HMAC-SHA-256); the environment variable
  /// TWIN_AUDIT_KEY_FILE overrides it. Empty: an unkeyed SHA-256 chain.
  std::optional<std::string> audit_key_file;
};

/// `snapshots:` — restart snapshots under state/ of the run directory (docs/operations.md).
struct SnapshotConfig {
  int every = 10;                     ///< a snapshot every this many cycles (0: only at shutdown)
  int keep = 3;                       ///< committed snapshots kept, newest first
};

/// `objectives.targets[]` — a sensor value the operation should hold.
struct TargetConfig {
  std::string sensor;
  double value = 0.0;                 ///< [u]
  double weight = 1.0;                ///< relative weight in the tracking cost
};

/// `objectives.limits[]` — a sensor value the operation must not exceed.
struct LimitConfig {
  std::string sensor;
  double max = 0.0;                   ///< [u]
};

/// `objectives:` — what good operation of the facility means: targets to track, limits to keep,
/// with least energy. The advisor's proposals optimise it; the run's `control` KPIs measure it.
struct ObjectivesConfig {
  std::vector<TargetConfig> targets;
  std::vector<LimitConfig> limits;
  double energy_weight = 0.0;         ///< cost per unit of sum_j p_j, against K^2 of tracking error
  double limit_weight = 100.0;        ///< cost per (u above a limit)^2
};

/// `advisor.safe_default:` — the rule of the safe default controller, emitted whenever advice
/// cannot be trusted; a registered advisor::SafeDefault type. fixed: p_j = controls[j].safe.
/// proportional: p_j = safe_j + gain * (target - analysis) at controls[j].sensor (a sensor with
/// a target), clipped to [min, max].
struct SafeDefaultConfig {
  std::string type = "fixed";
  double gain = 0.05;                 ///< proportional: [p per u]
};

/// `advisor.gates:` — what a proposal must pass to reach the facility.
struct GatesConfig {
  double latency_budget_ms = 50.0;    ///< wall-clock budget of the whole advise step [ms]
  double max_spread = 1.0;            ///< largest ensemble std of the predicted sensors [u]
  double max_ood = 6.0;               ///< largest out-of-distribution score (RMS z-score of the features)
  bool physics_check = true;          ///< check the proposal with the real solver when the deadline allows
  double physics_tolerance = 1.5;     ///< largest |surrogate - solver| at the sensors over the horizon [u]
};

/// `advisor.breaker:` — the circuit breaker between nominal and advisor_off.
struct BreakerConfig {
  int failures = 5;                   ///< consecutive gate failures that open it (advisor_off)
  int cooldown_cycles = 10;           ///< cycles in advisor_off before probing again
  int clean_cycles = 3;               ///< clean probe cycles to close it (nominal)
};

/// `advisor:` — the embedded LibTorch advisor: models from a registry, proposal optimisation,
/// anomaly diagnosis, gates and the safe fallback. Absent: safe defaults (mode advisor_off).
struct AdvisorConfig {
  std::optional<std::string> registry; ///< model registry directory; default "models/<twin.name>"
  std::string surrogate = "surrogate"; ///< name of the surrogate model in the registry
  std::optional<std::string> anomaly = "anomaly"; ///< name of the anomaly model; empty (~): no diagnosis
  int candidates = 8;                 ///< starting points of the proposal optimisation
  int iterations = 25;                ///< projected-gradient iterations per proposal
  /// Flag when a fault class's probability reaches this. Empty: the threshold `twin train` chose
  /// on its validation scenarios (stored with the model), or 0.8 for a model without one.
  std::optional<double> anomaly_threshold;
  int anomaly_warmup_cycles = 20;     ///< diagnosis starts after this many cycles (the filter's spin-up)
  int threads = 1;                    ///< LibTorch intra-op threads (set once at start)
  int reprobe_cycles = 20;            ///< advisor_off because of a model problem: reload every this many cycles
  /// The facility's model key (32-4096 secret bytes): `twin train` and `models import` sign the
  /// packages they store (HMAC-SHA-256 of the package digest), the runtime checks signatures.
  /// TWIN_MODEL_KEY_FILE overrides it.
  std::optional<std::string> model_key_file;
  bool require_signed_models = false; ///< refuse a model without a signature that verifies
  SafeDefaultConfig safe_default;
  GatesConfig gates;
  BreakerConfig breaker;
};

/// `training:` — how `twin train` generates data with the solver and fits the models.
struct TrainingConfig {
  unsigned seed = 11;                 ///< all draws derive from it (same models for the same seed and ranks)
  int ensemble = 5;                   ///< networks per model (deep ensemble)
  /// The surrogate's kind: response_ensemble (least-squares response models linear in the
  /// sensors and controls, polynomial in the parameters; the default) or mlp_ensemble
  /// (networks; `hidden`, `epochs`, `learning_rate`).
  std::string surrogate_kind = "response_ensemble";
  std::vector<int> hidden = {64, 64}; ///< hidden layer widths
  int epochs = 400;
  double learning_rate = 3.0e-3;
  double validation_fraction = 0.2;   ///< control sequences / fault scenarios held out for validation
  double test_fraction = 0.2;         ///< held out for the test metrics stored with the model
  double anomaly_false_alarm_rate = 0.01;  ///< budget the anomaly threshold is chosen to on the
                                           ///< validation scenarios: flags per fault-free cycle
  std::vector<int> lead_cycles = {3, 6, 12}; ///< surrogate horizon: cycles ahead it predicts
  int control_sequences = 8;          ///< independent control sequences, spread over the ranks
  int members_per_solver = 4;         ///< members (parameter draws) per control sequence
  int segments = 12;                  ///< constant-control segments per solver
  bool transient_samples = true;      ///< a surrogate sample at every cycle of a segment's first
                                      ///< horizon, not only at its start and end
  int warmup_cycles = 30;             ///< cycles of random operation before the first sample
  double parameter_spread = 2.0;      ///< parameters drawn within prior_mean +- this * prior_std
  int anomaly_scenarios = 64;         ///< fault scenarios for the anomaly model, spread over the ranks
  int anomaly_cycles = 100;           ///< cycles per fault scenario (warm-up included)
  std::vector<int> anomaly_hidden = {64, 64}; ///< hidden layer widths of the anomaly model
  int anomaly_epochs = 40;            ///< few passes: more would fit the scenarios' noise
  int anomaly_ensemble = 20;          ///< networks of the anomaly model (their mean probability is smoother)
};

/// `drift.monitors[]` — a drift detector over one of the twin's signals.
struct DriftMonitorConfig {
  std::string signal;                 ///< surrogate_error, ood, innovation, anomaly_rate or parameters
  std::string type = "cusum";         ///< cusum, page_hinkley or adwin
  double shift = 1.0;                 ///< the mean shift it detects fastest [reference standard deviations]
};

/// `drift:` — drift monitoring of the advisor and the filter (docs/advisor.md). Absent: off.
struct DriftConfig {
  double false_alarm_cycles = 5000.0; ///< expected cycles between false alarms of one monitor on drift-free data
  int warmup_cycles = 100;            ///< values of each signal left out at the start (the twin settling)
  int reference_cycles = 40;          ///< values of a signal that set its reference level before it is watched
  double tighten = 0.5;               ///< factor on gates.max_ood and gates.max_spread after a drift of the
                                      ///< advisor's inputs or errors
  int tighten_cycles = 100;           ///< cycles the gates stay tightened after such a drift (or until
                                      ///< another surrogate version is in use)
  std::vector<DriftMonitorConfig> monitors;  ///< empty: one cusum per signal
};

/// `lifecycle.retrain` — the data and training of a retraining inside the run.
struct RetrainConfig {
  int control_sequences = 2;          ///< solver runs around the twin's current estimates
  int segments = 3;                   ///< control changes per run (two samples each)
  int members_per_solver = 3;
  int warmup_cycles = 2;              ///< cycles of random operation before a run's first row (runs start
                                      ///< from the twin's current state)
  double parameter_spread = 0.5;      ///< parameters drawn within the estimate +- this * prior_std
  int captured_weight = 2;            ///< each captured row counts as this many rows
  int epochs = 40;                    ///< fine-tuning passes from the active model
  double learning_rate = 5e-4;
};

/// `lifecycle:` — the advisor's model lifecycle inside the run (docs/lifecycle.md). Absent: off.
struct LifecycleConfig {
  int window_cycles = 50;             ///< captured rows per data window (data/<sha256>.h5)
  int keep_windows = 4;               ///< the latest windows kept for retraining (the plant as it is now)
  double capture_tolerance = 1.0;     ///< a row is captured only if the emitted controls stayed within this
                                      ///< fraction of their range until its longest lead (1: every row)
  std::vector<std::string> retrain_on = {"surrogate_error", "ood", "innovation"};  ///< drift signals that trigger a retraining
  int retrain_every_cycles = 0;       ///< and a schedule (0: none)
  double slice = 0.7;                 ///< retraining works until this fraction of twin.deadline_ms into a cycle
  RetrainConfig retrain;
  int shadow_cycles = 30;             ///< a shadow version is judged after every this many scored cycles
  int shadow_max_cycles = 150;        ///< a shadow not promoted by then is rejected
  double promotion_margin = 0.05;     ///< its realised error must be below (1 - margin) x the active one's
  double promotion_z = 3.0;           ///< with a paired block t-statistic of the squared errors at least this
  double degraded_factor = 1.2;       ///< and the active one's at least this x its reference level (its first
                                      ///< reference_cycles scored cycles): a version that still does as it did stays
  int reference_cycles = 100;         ///< scored cycles after the warm-up that set an active version's reference level
  double min_gate_pass = 0.9;         ///< and its proposals must pass the gates this often
  int watch_cycles = 60;              ///< after a promotion, compared with the version it replaced
  int watch_min_cycles = 10;          ///< scored cycles before a rollback can be decided
  double rollback_factor = 1.2;       ///< roll back when its realised error exceeds this x the replaced one's
};

/// The whole twin.
struct Config {
  RunConfig twin;
  GridConfig grid;
  PhysicsConfig physics;
  TimeConfig time;
  std::vector<ControlConfig> controls;
  std::vector<SensorConfig> sensors;
  EnsembleConfig ensemble;
  AssimilationConfig assimilation;
  QcConfig qc;
  ObservationSourceConfig source;
  ObjectivesConfig objectives;
  std::optional<AdvisorConfig> advisor;
  std::optional<DriftConfig> drift;
  std::optional<LifecycleConfig> lifecycle;
  TrainingConfig training;
  OutputConfig outputs;
  SnapshotConfig snapshots;
  LoggingConfig logging;

  std::string source_name;            ///< the file it came from, or "<string>"

  /// Number of space dimensions (2 or 3).
  int dims() const { return static_cast<int>(grid.cells.size()); }
};

/// Largest configuration file accepted, in bytes.
inline constexpr std::size_t max_config_bytes = 1u << 20;

/// Parses and validates a configuration file.
/// @throws ConfigError (file:line:column, key path, message) on any problem, including an
///         unreadable file. Never crashes or hangs on hostile input: the file size is capped
///         (`max_config_bytes`), nesting depth is capped, and YAML aliases, anchors, duplicate
///         keys, non-finite numbers and non-map roots are rejected.
Config load_config(const std::string& path);

/// As `load_config`, from text; `source_name` is used in error messages.
Config parse_config(const std::string& text, const std::string& source_name = "<string>");

/// The effective configuration: every key with its value, defaults filled in, as YAML that
/// `parse_config` accepts and that yields an equal `Config`.
std::string to_yaml(const Config& config);

/// The filter's spin-up [cycles]: `advisor.anomaly_warmup_cycles`, also without an advisor.
/// The KPIs leave these cycles out, and the model error's persistence test finds nothing in them.
inline int filter_spin_up_cycles(const Config& config) {
  return config.advisor ? config.advisor->anomaly_warmup_cycles : AdvisorConfig{}.anomaly_warmup_cycles;
}

/// The distance between two sensors [m].
double sensor_distance(const SensorConfig& a, const SensorConfig& b);

/// The largest distance from a sensor to its nearest other sensor [m]; 0 with fewer than two.
/// The scale the asset's own layout gives to what is "near": QC's buddy radius, the filter's
/// localization and the initial ensemble's length derive from it when not given.
double widest_sensor_gap(const std::vector<SensorConfig>& sensors);

/// assimilation.localization_m, or, not given, the widest sensor gap (each cell within reach
/// of its nearest sensors, at any scale); with fewer than two sensors the grid's largest extent.
double localization_length(const Config& config);

/// ensemble.initial_length_m, or, not given, half of localization_length().
double initial_length(const Config& config);

/// Position of the sensor named `name` in config.sensors; empty when there is none.
inline std::optional<std::size_t> sensor_index(const Config& config, const std::string& name) {
  for (std::size_t s = 0; s < config.sensors.size(); ++s)
    if (config.sensors[s].name == name) return s;
  return std::nullopt;
}

/// Names of enum values as they appear in YAML.
const char* to_string(BoundaryType v);
const char* to_string(ShapeKind v);
const char* to_string(EventKind v);

}  // namespace twin
