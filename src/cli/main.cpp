// The `twin` command. Exit codes: 0 success, 2 bad input (config, data, usage), 1 runtime failure.
#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <string>
#include <vector>
#include <spdlog/spdlog.h>

#include "config/load.hpp"
#include "ground/log.hpp"
#include "ground/mpi.hpp"
#include "advisor/version.hpp"
#include "cli/audit_command.hpp"
#include "cli/faults_command.hpp"
#include "cli/models_command.hpp"
#include "cli/train_launch.hpp"
#include "driver/operator_commands.hpp"
#include "io/model_registry.hpp"
#include "io/series.hpp"
#include "report/report.hpp"
#include "train/train.hpp"
#include "driver/twin_run.hpp"
#include "twin/error.hpp"
#include "twin/version.hpp"

namespace {

namespace fs = std::filesystem;

constexpr int exit_ok = 0;
constexpr int exit_runtime_failure = 1;
constexpr int exit_bad_input = 2;

void print_versions(std::ostream& out) {
  out << "twinrt " << twin::version() << "\n";
  for (const auto& [name, v] : twin::library_versions()) out << "  " << name << std::string(10 - name.size(), ' ') << v << "\n";
}

std::string describe(const twin::Config& c) {
  std::string grid;
  for (std::size_t d = 0; d < c.grid.cells.size(); ++d) grid += (d ? "x" : "") + std::to_string(c.grid.cells[d]);
  return std::to_string(c.dims()) + "D grid " + grid + ", " + std::to_string(c.twin.cycles) + " cycles of " +
         fmt::format("{:g}", c.twin.control_period_s) + " s";
}


int run_cli(int argc, char** argv) {
  const int rank = twin::world_rank();
  // Counts and versions: whole numbers from 1, told as such (PositiveNumber printed the range of a double).
  const CLI::Range positive_int(1, std::numeric_limits<int>::max());
  CLI::App app{"twinrt: an operational digital-twin runtime with an embedded AI advisor.\n"
               "A Kokkos/PETSc solver keeps a simulated copy of an asset in step with its sensors;\n"
               "launch it on many ranks with: mpirun -n 4 twin run configs/plate.yaml",
               "twin"};
  app.footer("Exit codes: 0 success, 2 bad input (config, data, command line, a run directory in use),\n"
             "1 runtime failure, 128+N stopped cleanly by signal N (143 SIGTERM, 130 SIGINT).\n"
             "Documentation: README.md and docs/ (docs/config.md is the configuration reference).");
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print twinrt's version and those of the libraries it runs with");

  std::string config_path;
  bool print_effective = false;
  auto* validate = app.add_subcommand("validate", "Check a configuration file and report the first problem");
  validate->add_option("config", config_path, "YAML configuration file")->required();
  validate->add_flag("--print", print_effective, "Print the effective configuration (defaults filled in)");

  auto* faults = app.add_subcommand(
      "faults", "How soon each scheduled plant fault shows in the sensors' readings (the plant emulator only)");
  faults->add_option("config", config_path, "YAML configuration file with source.plant.events")->required();

  twin::detail::RunOptions run_options;
  auto* run = app.add_subcommand("run", "Run a twin described by a configuration file");
  run->add_option("config", config_path, "YAML configuration file")->required();
  run->add_option("--run-dir", run_options.run_dir, "Output directory (default: twin.run_dir, else runs/<name>)");
  run->add_option("--cycles", run_options.cycles, "Number of control periods (default: twin.cycles)")
      ->check(positive_int);
  run->add_flag("--no-assimilation", run_options.no_assimilation,
                "Run the same twin without assimilation (the free-run baseline)");
  run->add_option("--registry", run_options.registry, "Model registry directory (default: advisor.registry, else models/<name>)");
  run->add_flag("--no-advisor", run_options.no_advisor, "Run with the safe default controller only (the advisor's baseline)");
  run->add_flag("--overwrite", run_options.overwrite,
                "Replace an earlier run's outputs in the run directory (refused otherwise)");
  run->add_option("--resume", run_options.resume,
                  "Continue the run in RUN_DIR from its newest committed snapshot (state/), appending to its outputs")
      ->excludes(run->get_option("--run-dir"))
      ->excludes(run->get_option("--overwrite"));
  run->add_flag("--no-faults", run_options.no_faults,
                "Run the plant emulator without its scheduled events (the fault-free reference of the anomaly diagnosis)");
  run->add_option_function<std::string>(
         "--pace", [&](const std::string& s) { run_options.pace = s == "real-time" ? 1.0 : std::stod(s); },
         "Run each cycle at its facility time, as a twin attached to a plant does: real-time, or N for N times "
         "faster (plant and replay sources; default: as fast as the twin goes)")
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            if (s == "real-time") return {};
            try {
              std::size_t end = 0;
              const double v = std::stod(s, &end);
              if (end == s.size() && v > 0.0 && std::isfinite(v)) return {};
            } catch (const std::exception&) {
            }
            return "expected real-time or a positive number N (N times faster than real time), got '" + s + "'";
          },
          "real-time|N"));

  bool run_report = false;
  run->add_flag("--report", run_report, "Write report.html into the run directory at the end (as twin report does)");

  std::string report_dir;
  auto* report = app.add_subcommand(
      "report", "Write RUN_DIR/report.html: the run's sensors, parameters, controls, faults, latency and KPIs as charts");
  report->add_option("run_dir", report_dir, "A run directory (also one left by a killed run)")->required();

  twin::detail::TrainOptions train_options;
  auto* train = app.add_subcommand("train", "Generate data with the solver and train the advisor's models (MPI data-parallel)");
  train->add_option("config", config_path, "YAML configuration file")->required();
  train->add_option("--model", train_options.only, "Train only this model (advisor.surrogate or advisor.anomaly)");
  train->add_option("--registry", train_options.registry, "Model registry directory (default: advisor.registry, else models/<name>)");
  int train_ranks = 0;  // read (and removed) before MPI starts: train_on_every_core
  train->add_option("--ranks", train_ranks,
                    "Processes to train on when started without mpirun (default: every core; training re-launches "
                    "itself under mpirun)");

  twin::cli::ModelsRequest models_request;
  std::string& registry_dir = models_request.registry;
  std::string& model_name = models_request.name;
  int& model_version = models_request.version;
  auto* models = app.add_subcommand("models", "List, promote, roll back, import or trace model versions in a registry");
  models->require_subcommand(1);
  auto* models_list = models->add_subcommand("list", "List the model versions of a registry, with their metrics");
  models_list->add_option("registry", registry_dir, "Registry directory (e.g. models/plate)")->required();
  auto* models_promote = models->add_subcommand("promote", "Make a model version the active one");
  models_promote->add_option("registry", registry_dir, "Registry directory")->required();
  models_promote->add_option("name", model_name, "Model name (e.g. surrogate)")->required();
  models_promote->add_option("version", model_version, "Version number")->required()->check(positive_int);
  auto* models_rollback = models->add_subcommand("rollback", "Make the active version's parent active again");
  models_rollback->add_option("registry", registry_dir, "Registry directory")->required();
  models_rollback->add_option("name", model_name, "Model name")->required();
  for (auto* verb : {models_promote, models_rollback})
    verb->add_option("--reason", models_request.reason, "Why (kept in the model's history)");
  auto* models_lineage = models->add_subcommand(
      "lineage", "Show where a version came from: its parents, data (and captured windows), config and code");
  models_lineage->add_option("registry", registry_dir, "Registry directory")->required();
  models_lineage->add_option("name", model_name, "Model name")->required();
  models_lineage->add_option("version", model_version, "Version number (default: the active one)")->check(positive_int);
  twin::detail::ImportOptions import_options;
  auto* models_import = models->add_subcommand(
      "import", "Add a TorchScript module (torch.jit.save) as a new model version; it takes the twin's raw inputs");
  models_import->add_option("registry", import_options.registry, "Registry directory")->required();
  models_import->add_option("file", import_options.file, "TorchScript file (.pt)")->required()->check(CLI::ExistingFile);
  models_import->add_option("--config", config_path, "The twin's YAML configuration (fixes inputs and outputs)")->required();
  models_import->add_option("--name", import_options.name, "Model name in the registry (default: the role)");
  models_import->add_option("--role", import_options.role, "surrogate or anomaly")->check(CLI::IsMember({"surrogate", "anomaly"}));
  models_import->add_option("--statistics-from", import_options.statistics_from,
                            "Model whose training statistics the OOD score uses (default: the active version of --name)");
  models_import->add_flag("--activate", import_options.activate, "Make the new version active (default: promote it later)");

  // --- twin command RUN_DIR VERB [VERSION]: an operator's command to a running twin ---
  std::string command_dir, command_verb;
  twin::OperatorCommand operator_command;
  auto* command = app.add_subcommand(
      "command", "Tell a running twin (its run directory) to promote, roll back, pause or resume its advisor, or retrain");
  command->add_option("run_dir", command_dir, "The run directory of the running twin (e.g. runs/plate_drift)")->required()->check(CLI::ExistingDirectory);
  command->add_option("verb", command_verb, "promote, rollback, pause, resume or retrain")
      ->required()
      ->check(CLI::IsMember({"promote", "rollback", "pause", "resume", "retrain"}));
  command->add_option("version", operator_command.version, "promote: the surrogate version (default: the one in shadow)")
      ->check(positive_int);
  command->add_option("--reason", operator_command.reason, "Who and why (kept in the audit log and the model's history)");

  std::string inspect_path;
  auto* inspect = app.add_subcommand("inspect", "List what a series.h5 holds (readable while a run writes it)");
  inspect->add_option("file", inspect_path, "series.h5 of a run directory")->required();

  // --- twin audit verify FILE ---
  std::string audit_path;
  auto* audit = app.add_subcommand("audit", "Tools for a run's audit log (audit.jsonl)");
  audit->require_subcommand(1);
  auto* audit_verify = audit->add_subcommand("verify", "Check an audit log's hash chain and report the first broken line");
  audit_verify->add_option("file", audit_path, "audit.jsonl of a run directory")->required();
  std::string audit_key_file, audit_summary, audit_anchored_in;
  audit_verify->add_option("--key", audit_key_file, "The facility's audit key file (default: TWIN_AUDIT_KEY_FILE)");
  audit_verify->add_option("--summary", audit_summary,
                           "summary.json whose chain head to compare (default: the one beside the log, if any)");
  audit_verify->add_option("--anchored-in", audit_anchored_in,
                           "audit.jsonl of a later run of the twin, whose first record anchors this log's chain head");
  // --- end twin audit verify ---

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    const int code = app.exit(e, out, err);
    if (rank == 0) std::cout << out.str() << std::flush, std::cerr << err.str() << std::flush;
    return code == 0 ? exit_ok : exit_bad_input;
  }

  if (show_version) {
    if (rank == 0) print_versions(std::cout);
    return exit_ok;
  }
  if (*inspect) {
    if (rank != 0) return exit_ok;
    try {
      std::cout << twin::io::describe_series(inspect_path);
      return exit_ok;
    } catch (const twin::DataError& e) {
      std::cerr << "twin: " << e.what() << std::endl;
      return exit_bad_input;
    } catch (const std::exception& e) {
      std::cerr << "twin: " << inspect_path << ": " << e.what() << std::endl;
      return exit_bad_input;
    }
  }
  if (*command) {
    if (rank != 0) return exit_ok;
    try {
      operator_command.kind = twin::detail::parse_command("{\"command\": \"" + command_verb + "\"}").kind;
      const auto file = twin::detail::post_command(fs::path(command_dir) / "commands", operator_command);
      std::cout << command_verb << " posted as " << file.string()
                << "; the twin applies it at its next cycle and records the outcome in audit.jsonl (the file is renamed "
                   ".done, or .refused)\n";
      return exit_ok;
    } catch (const std::exception& e) {
      std::cerr << "twin: " << e.what() << std::endl;
      return exit_bad_input;
    }
  }
  if (*report) {
    if (rank != 0) return exit_ok;
    try {
      const std::string written = twin::detail::write_report(report_dir);
      std::cout << "report written: " << written << "\n";
      return exit_ok;
    } catch (const twin::ConfigError& e) {
      std::cerr << "twin: " << report_dir << ": its effective.yaml is not a valid configuration: " << e.what() << std::endl;
      return exit_bad_input;
    } catch (const std::exception& e) {
      std::cerr << "twin: " << e.what() << std::endl;
      return exit_bad_input;
    }
  }
  if (*audit_verify) return rank == 0 ? twin::cli::verify_audit_file(audit_path, audit_key_file, audit_summary, audit_anchored_in) : exit_ok;
  if (*faults) {
    if (rank != 0) return exit_ok;
    try {
      return twin::cli::show_fault_evidence(twin::load_config(config_path), std::cout) == 0 ? exit_ok : exit_bad_input;
    } catch (const twin::ConfigError& e) {
      std::cerr << "twin: invalid configuration: " << e.what() << std::endl;
      return exit_bad_input;
    } catch (const std::exception& e) {
      std::cerr << "twin: " << e.what() << std::endl;
      return exit_runtime_failure;
    }
  }
  if (*models_import) {
    if (rank != 0) return exit_ok;
    try {
      if (import_options.name.empty()) import_options.name = import_options.role;
      const twin::Config config = twin::load_config(config_path);
      const int v = twin::detail::import_torchscript(config, import_options);
      std::cout << import_options.name << " v" << v << " imported into " << import_options.registry
                << (import_options.activate ? " and made active" : "; make it active with: twin models promote " +
                                                                       import_options.registry + " " + import_options.name +
                                                                       " " + std::to_string(v))
                << "\n";
      return exit_ok;
    } catch (const twin::ConfigError& e) {
      std::cerr << "twin: invalid configuration: " << e.what() << std::endl;
      return exit_bad_input;
    } catch (const std::exception& e) {
      std::cerr << "twin: " << e.what() << std::endl;
      return exit_bad_input;
    }
  }
  if (*models) {
    using Verb = twin::cli::ModelsRequest::Verb;
    models_request.verb = models_list->parsed()      ? Verb::list
                          : models_promote->parsed() ? Verb::promote
                          : models_lineage->parsed() ? Verb::lineage
                                                     : Verb::rollback;
    return rank == 0 ? twin::cli::models_command(models_request) : exit_ok;
  }
  if (!*validate && !*run && !*train) {
    if (rank == 0) std::cout << app.help() << std::flush;
    return exit_bad_input;
  }

  // Loading is collective and deterministic: every rank accepts or rejects the same bytes, so a
  // config error ends every rank cleanly with exit code 2.
  twin::Config config;
  try {
    config = twin::detail::load_config_on_all_ranks(config_path, MPI_COMM_WORLD);
  } catch (const twin::ConfigError& e) {
    if (rank == 0) std::cerr << "twin: invalid configuration: " << e.what() << std::endl;
    return exit_bad_input;
  }

  if (*validate) {
    if (rank == 0) {
      std::cout << config_path << ": valid (" << describe(config) << ")\n";
      if (print_effective) std::cout << twin::to_yaml(config);
    }
    return exit_ok;
  }

  // From here an error may strike one rank only: end the whole job rather than leave the others
  // waiting in a collective.
  try {
    twin::log::init(config.logging);
    if (*train) {
      twin::advisor::set_torch_threads(1, 1);  // training is data-parallel over ranks
      twin::detail::train_models(config, MPI_COMM_WORLD, train_options);
    } else {
      // Stopped by SIGTERM/SIGINT after a clean finish: 128 + the signal, as a shell reports it.
      const twin::detail::RunResult result = twin::detail::run_twin(config, run_options, MPI_COMM_WORLD);
      if (run_report && rank == 0) {
        const std::string dir = run_options.resume ? *run_options.resume : twin::detail::run_directory(config, run_options);
        try {
          spdlog::info("report written: {}", twin::detail::write_report(dir));
        } catch (const std::exception& e) {  // the run's own outputs are complete: say what is missing
          spdlog::error("report not written: {}", e.what());
          return exit_runtime_failure;
        }
      }
      if (result.stop_signal != 0) return 128 + result.stop_signal;
    }
    return exit_ok;
  } catch (const twin::ConfigError& e) {
    twin::ConfigLocation where = e.where();
    if (where.file.empty()) where.file = config_path;  // checks that need the job (ranks) know no file
    twin::abort_job(exit_bad_input, std::string("invalid configuration: ") + twin::ConfigError(where, e.message()).what());
  } catch (const twin::DataError& e) {
    twin::abort_job(exit_bad_input, std::string("bad input data: ") + e.what());
  } catch (const std::exception& e) {
    twin::abort_job(exit_runtime_failure, std::string("run failed: ") + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  twin::cli::train_on_every_core(argc, argv);  // before MPI starts: it may hand the process to mpirun
  twin::MpiEnvironment mpi(&argc, &argv);
  twin::log::init_default();
  int code = exit_runtime_failure;
  {
    // Kokkos would answer -h/--help with its own page: it gets the --kokkos-* arguments, the
    // command line the rest.
    std::vector<char*> kokkos_args{argv[0]}, cli_args{argv[0]};
    for (int i = 1; i < argc; ++i)
      (std::string(argv[i]).rfind("--kokkos-", 0) == 0 ? kokkos_args : cli_args).push_back(argv[i]);
    int kokkos_argc = static_cast<int>(kokkos_args.size());
    kokkos_args.push_back(nullptr);
    Kokkos::ScopeGuard kokkos(kokkos_argc, kokkos_args.data());
    code = run_cli(static_cast<int>(cli_args.size()), cli_args.data());  // every Kokkos View lives and dies inside
  }
  twin::log::flush();
  return code;
}
