#pragma once
// The inside of twin::Runtime: its state, and the stages of the cycle. src/cycle/runtime.cpp runs
// the cycle; runtime_advise.cpp is its advise stage (diagnose, propose, physics check, decide);
// runtime_state.cpp saves and restores it (restart snapshots). Inside src/cycle only.

#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "assimilation/assimilator.hpp"
#include "cycle/grid_check.hpp"
#include "assimilation/model_error.hpp"
#include "assimilation/parameter_walk.hpp"
#include "cycle/observation_operator.hpp"
#include "cycle/snapshots.hpp"
#include "decision/decider.hpp"
#include "io/audit.hpp"
#include "io/series.hpp"
#include "io/state_archive.hpp"
#include "qc/qc.hpp"
#include "solvers/ensemble.hpp"
#include "solvers/solver.hpp"
#include "twin/runtime.hpp"

namespace twin {

namespace detail {
using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
}  // namespace detail

struct Runtime::Impl {
  Config config;
  MPI_Comm comm;
  int rank = 0;
  solvers::EnsembleLayout layout;
  solvers::Decomposition decomposition;
  std::unique_ptr<solvers::Solver> solver;
  solvers::Field x, x_good;
  std::vector<double> hx_good;  // H x_good: the last cycle's final state at the sensors, so a restore need not observe again
  std::string logged_solver_status = "ok";  // the solver status last logged: a change is logged once
  bool logged_deadline_skip = false;        // assimilation is being skipped for the deadline (logged once)
  bool last_persistent = false;             // the last analysis found a persistent departure (logged at its start)
  std::unique_ptr<solvers::Solver> free_solver;  // group 0 only
  solvers::Field free_x;
  int N, S, P;
  std::vector<int> estimated;   // solvers::Parameter index of each estimated parameter
  std::vector<double> theta;    // [member][estimated parameter], identical on every rank
  std::vector<double> theta_good;  // theta as the last cycle left it (before this cycle's spreading)
  detail::QualityControl qc;
  std::unique_ptr<detail::Assimilator> filter;
  std::vector<Observation> queue;
  long readings_dropped = 0;  // beyond max_queued_per_sensor, rank 0
  static constexpr std::size_t max_queued_per_sensor = 1024;
  static constexpr std::size_t max_sensor_name = 1024;  // the longest name a config may give (docs/config.md)
  std::unordered_map<std::string, std::size_t> sensor_slots;  // sensor name -> index (rank 0, for ingest)
  std::unique_ptr<detail::ObservationOperator> observation;  // H
  std::vector<SensorEstimate> estimates;
  std::vector<ParameterEstimate> parameter_estimates;
  /// Per parameter, how far its mean has moved recently (assimilation.parameter_movement_cycles).
  std::vector<double> parameter_movement;
  /// The readings' last disagreement with the twin's physics (a failed consistency test or a
  /// persistent departure), while unconfirmed: per parameter, its mean before the disagreement
  /// began (empty: none open) and its shift while the readings disagreed; the consistent
  /// analyses since (a disagreement is confirmed after assimilation.parameter_movement_cycles of
  /// them).
  std::vector<double> disagreement_anchor, disagreement_shift;
  int disagreement_confirming = 0;
  /// The parameters' means before each of the last assimilation.innovation_persistence_cycles
  /// analyses (this one included, after the filter's spin-up), oldest first: the persistence
  /// test's running means span about that many, so its disagreement is anchored at the oldest.
  std::deque<std::vector<double>> recent_means;
  /// The parameters' adaptive walk (assimilation.parameter_walk_cycles): their increments' sum
  /// and its expected variance.
  detail::ParameterWalk parameter_walk;
  double t = 0.0;
  int cycle = 0;
  double last_assimilate_ms = 0.0;
  detail::ParameterGateHold gate_hold;       // the parameter gate's recent test weights
  detail::ModelErrorVariance model_error;    // q^2, the estimated model error per period
  std::unique_ptr<detail::ModelErrorNoise> model_error_noise;  // with assimilation.model_error_gain > 0
  bool recording = false;                    // a run directory was given (same on every rank)
  std::filesystem::path run_dir;
  bool outputs_open = false;                 // series.h5 and audit.jsonl created or continued
  std::string source_down;                   // the next step's source problem (report_source_down)
  int series_failed_at = -1;                 // the cycle series.h5 could not be written, or -1
  std::optional<std::string> audit_key;      // the facility's key for audit.jsonl (rank 0)
  nlohmann::json audit_anchor;                // the previous run's chain head, for the first record (rank 0)
  std::unique_ptr<io::SeriesWriter> series;  // rank 0 writes it
  std::unique_ptr<detail::Decider> decider;  // every rank holds the controls; rank 0 decides
  std::unique_ptr<io::AuditLog> audit;       // rank 0, with a run directory
  std::unique_ptr<solvers::Solver> check_solver;  // group 0: the physics check of proposals
  solvers::Field check_x;

  Impl(const Config& c, MPI_Comm world, const RuntimeOptions& options);

  std::filesystem::path series_path() const { return run_dir / "series.h5"; }
  std::filesystem::path audit_path() const { return run_dir / "audit.jsonl"; }

  // A recording that cannot go on (a full disk) must not stop the advice: series.h5 is given up,
  // once, loudly, closed intact when it still can be (HDF5 1.10 cannot close a file whose writes
  // failed: then it is let go), and the cycles go on.
  void stop_recording(const std::string& why);

  void open_new_outputs();

  void save(io::StateArchive& a) const;

  void restore(detail::SnapshotParts& parts);

  std::vector<solvers::ParameterSet> member_parameters() const;


  void summarise_parameters();
  /// The floor the parameters' recent movement sets on their spread (empty with the floor off).
  std::vector<double> movement_floor() const;
  /// At start-up, on this member group's own grid (the same in every group): the grid check
  /// (assimilation.grid_check_cycles) fills `grid`, the controls' signatures `control_signature`.
  void run_start_up_checks();
  /// What the grid check found (its `skipped` says why when it did not run, "off" when not asked).
  detail::GridCheck grid;
  /// The controls' signatures at the sensors (grid_check.hpp, control_signatures), which the
  /// filter splits the innovation along for the anomaly diagnosis; empty without assimilation.
  std::vector<std::vector<double>> control_signature;
  /// A sensor's stated uncertainty: the members' spread with the grid's error there.
  double stated_sensor_std(int s, double spread) const;
  /// After the analysis: the movement's decayed sum and the estimates summarised anew.
  void update_parameter_estimates();
  /// Opens, measures or confirms the readings' disagreement (above) after an analysis that
  /// passed the consistency test or not (`consistent`) and found a persistent departure or not.
  void track_disagreement(bool consistent, bool persistent);
  /// After an analysis, the model error's estimate from its innovations (`fmean`, `fstd`: the
  /// forecast at each configured sensor); rank 0 logs the start of a persistent departure.
  /// Whether the persistence test found one (CycleOutcome::model_error_persistent).
  bool estimate_model_error(const detail::ObservationSet& obs, const std::vector<double>& fmean,
                            const std::vector<double>& fstd, const detail::AnalysisReport& analysis);
  /// Rank 0 warns that the twin is blind (qc.blind_cycles), prefixed by `when` ("cycle 12").
  void warn_blind(const std::string& when) const;

  // Ensemble mean (and std) over the whole grid on world rank 0, which is group 0's root;
  // empty elsewhere. Collective.
  std::pair<std::vector<double>, std::vector<double>> gathered_moments(bool with_spread) const;

  // The sensors after each of training.lead_cycles with controls u held, run by the real solver
  // from the ensemble mean at the mean parameters (group 0 runs it; every rank gets the values).
  std::vector<double> physics_check(const std::vector<double>& u);

  CycleOutcome step(std::chrono::milliseconds deadline);

  // The cycle's row (and, every field_every cycles, the fields) into series.h5; a recording
  // that fails stops, the cycle does not. Collective when fields are due.
  void record(const CycleOutcome& out);

  // diagnose -> propose -> check -> decide (DESIGN.md, "advise" and "gate"): rank 0 decides
  // with the MPI-free Decider; the physics check is the one collective solver run in between;
  // one broadcast carries the decision, and its audit record is written once.
  void advise(const detail::DecisionInputs& in, CycleOutcome& out);

  void apply_controls(const std::vector<double>& values);

  void ingest(const std::vector<Observation>& observations);
};

}  // namespace twin
