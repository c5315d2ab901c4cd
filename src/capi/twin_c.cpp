// The C API (include/twin/twin.h) over twin::Runtime: every entry point catches, maps the
// exception to a status and keeps the message on the handle (or, for create, in a thread-local).
#include "twin/twin.h"

#include <Kokkos_Core.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "config/load.hpp"
#include "ground/log.hpp"
#include "ground/mpi.hpp"
#include "twin/config.hpp"
#include "twin/error.hpp"
#include "twin/runtime.hpp"
#include "twin/version.hpp"

struct twin_runtime {
  twin::Config config;
  std::unique_ptr<twin::Runtime> runtime;
  std::string error;
  twin::CycleOutcome last;
  bool stepped = false;
};

namespace {

thread_local std::string last_error;
std::atomic<int> live_handles{0};

twin_status status_of(const std::exception_ptr& e, std::string& message) {
  try {
    std::rethrow_exception(e);
  } catch (const twin::ConfigError& x) {
    message = x.what();
    return TWIN_ERROR_CONFIG;
  } catch (const twin::DataError& x) {
    message = x.what();
    return TWIN_ERROR_DATA;
  } catch (const twin::MpiError& x) {
    message = x.what();
    return TWIN_ERROR_MPI;
  } catch (const std::bad_alloc&) {
    message = "out of memory";
    return TWIN_ERROR_MEMORY;
  } catch (const std::exception& x) {
    message = x.what();
    return TWIN_ERROR_RUNTIME;
  } catch (...) {
    message = "unknown failure";
    return TWIN_ERROR_RUNTIME;
  }
}

/// Runs f on a handle: its failure goes to the handle's message (or the thread's, without one).
template <class F>
twin_status guarded(const twin_runtime* t, F&& f) {
  std::string message;
  twin_status status = TWIN_OK;
  try {
    status = f(message);
  } catch (...) {
    status = status_of(std::current_exception(), message);
  }
  if (t)
    const_cast<twin_runtime*>(t)->error = status == TWIN_OK ? std::string() : message;
  else if (status != TWIN_OK)
    last_error = message;
  return status;
}

twin_status argument(std::string& message, const std::string& what) {
  message = what;
  return TWIN_ERROR_ARGUMENT;
}

// Kokkos is finalised when MPI is (an attribute on MPI_COMM_SELF is deleted first thing in
// MPI_Finalize), unless a handle is still alive: then it is left to the process's end.
int finalize_kokkos(MPI_Comm, int, void*, void*) {
  if (Kokkos::is_initialized() && live_handles.load() == 0) Kokkos::finalize();
  return MPI_SUCCESS;
}

void finalize_mpi_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

/// MPI (when comm is NULL and nobody started it) and Kokkos, once per process.
void ensure_process(bool want_mpi) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized) throw twin::MpiError("MPI has been finalised in this process: a twin cannot be created after MPI_Finalize");
  if (!initialized) {
    if (!want_mpi)
      throw twin::MpiError("MPI is not initialised but a communicator was given: call MPI_Init first, or pass NULL");
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      throw twin::MpiError("MPI_Init_thread failed");
    std::atexit(finalize_mpi_at_exit);
  }
  if (!Kokkos::is_initialized()) {
    Kokkos::initialize();
    int key = MPI_KEYVAL_INVALID;
    TWIN_MPI_CHECK(MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, finalize_kokkos, &key, nullptr));
    TWIN_MPI_CHECK(MPI_Comm_set_attr(MPI_COMM_SELF, key, nullptr));
  }
}

twin_status create(const char* path, const char* yaml, const MPI_Fint* comm, const char* run_dir, twin_runtime** out) {
  if (out) *out = nullptr;
  return guarded(nullptr, [&](std::string& message) {
    if (!out) return argument(message, "twin_create: out is NULL");
    if (!path && !yaml) return argument(message, "twin_create: the configuration (its path or its YAML text) is NULL");
    ensure_process(comm == nullptr);
    const MPI_Comm c = comm ? MPI_Comm_f2c(*comm) : MPI_COMM_SELF;
    if (c == MPI_COMM_NULL) return argument(message, "twin_create: the communicator is MPI_COMM_NULL");
    auto t = std::make_unique<twin_runtime>();
    try {
      t->config = path ? twin::detail::load_config_on_all_ranks(path, c) : twin::parse_config(yaml, "<yaml text>");
    } catch (const twin::ConfigError& e) {
      twin::ConfigLocation where = e.where();
      if (where.file.empty()) where.file = path ? path : "<yaml text>";
      throw twin::ConfigError(where, e.message());
    }
    twin::RuntimeOptions options;
    if (run_dir) options.run_dir = run_dir;
    t->runtime = std::make_unique<twin::Runtime>(t->config, c, options);
    ++live_handles;
    *out = t.release();
    return TWIN_OK;
  });
}

twin_mode mode_of(twin::Mode m) {
  switch (m) {
    case twin::Mode::nominal: return TWIN_MODE_NOMINAL;
    case twin::Mode::fallback: return TWIN_MODE_FALLBACK;
    case twin::Mode::advisor_off: return TWIN_MODE_ADVISOR_OFF;
    case twin::Mode::safe_hold: return TWIN_MODE_SAFE_HOLD;
  }
  return TWIN_MODE_SAFE_HOLD;
}

/// Estimates (mean, stated uncertainty) after the last step into the caller's arrays: `count` of them.
template <class Get>
twin_status estimates(const twin_runtime* t, size_t n, double* mean, double* spread, const char* call, const char* what,
                      std::size_t count, Get get) {
  return guarded(t, [&](std::string& message) {
    if (!t) return argument(message, std::string(call) + ": the handle is NULL");
    if (n < count || (count > 0 && !mean))
      return argument(message, std::string(call) + ": room for " + std::to_string(n) + " " + what + ", the twin has " +
                                   std::to_string(count));
    const auto values = get(*t->runtime);
    if (values.size() < count) return argument(message, std::string(call) + ": no step has run yet");
    for (std::size_t k = 0; k < count; ++k) {
      mean[k] = values[k].first;
      if (spread) spread[k] = values[k].second;
    }
    return TWIN_OK;
  });
}

/// A snapshot call: save or restore, in state_dir.
twin_status with_state_dir(twin_runtime* t, const char* state_dir, const char* call,
                           void (twin::Runtime::*f)(const std::string&)) {
  return guarded(t, [&](std::string& message) {
    if (!t) return argument(message, std::string(call) + ": the handle is NULL");
    if (!state_dir) return argument(message, std::string(call) + ": state_dir is NULL");
    ((*t->runtime).*f)(state_dir);
    return TWIN_OK;
  });
}

template <class T, class Name>
const char* name_at(const twin_runtime* t, int i, const std::vector<T>& items, Name name) {
  if (!t || i < 0 || i >= static_cast<int>(items.size())) return nullptr;
  return name(items[static_cast<std::size_t>(i)]).c_str();
}

}  // namespace

extern "C" {

void twin_version(int* major, int* minor, int* patch) {
  if (major) *major = TWIN_VERSION_MAJOR;
  if (minor) *minor = TWIN_VERSION_MINOR;
  if (patch) *patch = TWIN_VERSION_PATCH;
}

const char* twin_version_string(void) { return twin::version(); }

const char* twin_status_name(twin_status status) {
  switch (status) {
    case TWIN_OK: return "TWIN_OK";
    case TWIN_ERROR_ARGUMENT: return "TWIN_ERROR_ARGUMENT";
    case TWIN_ERROR_CONFIG: return "TWIN_ERROR_CONFIG";
    case TWIN_ERROR_DATA: return "TWIN_ERROR_DATA";
    case TWIN_ERROR_MPI: return "TWIN_ERROR_MPI";
    case TWIN_ERROR_RUNTIME: return "TWIN_ERROR_RUNTIME";
    case TWIN_ERROR_MEMORY: return "TWIN_ERROR_MEMORY";
  }
  return "TWIN_ERROR_UNKNOWN";
}

const char* twin_mode_name(twin_mode mode) {
  switch (mode) {
    case TWIN_MODE_NOMINAL: return "nominal";
    case TWIN_MODE_FALLBACK: return "fallback";
    case TWIN_MODE_ADVISOR_OFF: return "advisor_off";
    case TWIN_MODE_SAFE_HOLD: return "safe_hold";
  }
  return "unknown";
}

twin_status twin_create(const char* config_path, const MPI_Fint* comm, const char* run_dir, twin_runtime** out) {
  return create(config_path, nullptr, comm, run_dir, out);
}

twin_status twin_create_from_yaml(const char* yaml, const MPI_Fint* comm, const char* run_dir, twin_runtime** out) {
  return create(nullptr, yaml, comm, run_dir, out);
}

void twin_destroy(twin_runtime* twin) {
  if (!twin) return;
  try {
    twin->runtime.reset();
  } catch (...) {
    // a destructor that failed: the handle goes anyway
  }
  delete twin;
  --live_handles;
}

const char* twin_errmsg(const twin_runtime* twin) { return twin ? twin->error.c_str() : "twin_errmsg: the handle is NULL"; }

const char* twin_last_error(void) { return last_error.c_str(); }

int twin_sensor_count(const twin_runtime* t) { return t ? static_cast<int>(t->config.sensors.size()) : 0; }
int twin_control_count(const twin_runtime* t) { return t ? static_cast<int>(t->config.controls.size()) : 0; }
int twin_parameter_count(const twin_runtime* t) { return t ? static_cast<int>(t->config.ensemble.parameters.size()) : 0; }

const char* twin_sensor_name(const twin_runtime* t, int i) {
  return t ? name_at(t, i, t->config.sensors, [](const twin::SensorConfig& s) -> const std::string& { return s.name; })
           : nullptr;
}
const char* twin_control_name(const twin_runtime* t, int i) {
  return t ? name_at(t, i, t->config.controls, [](const twin::ControlConfig& c) -> const std::string& { return c.name; })
           : nullptr;
}
const char* twin_parameter_name(const twin_runtime* t, int i) {
  return t ? name_at(t, i, t->config.ensemble.parameters,
                     [](const twin::EstimatedParameterConfig& p) -> const std::string& { return p.name; })
           : nullptr;
}

int twin_sensor_index(const twin_runtime* t, const char* name) {
  if (!t || !name) return -1;
  for (std::size_t s = 0; s < t->config.sensors.size(); ++s)
    if (t->config.sensors[s].name == name) return static_cast<int>(s);
  return -1;
}

double twin_control_period(const twin_runtime* t) { return t ? t->config.twin.control_period_s : std::nan(""); }
double twin_deadline_ms(const twin_runtime* t) { return t ? t->config.twin.deadline_ms : std::nan(""); }
int twin_cycle(const twin_runtime* t) { return t ? t->runtime->cycle() : -1; }
double twin_time(const twin_runtime* t) { return t ? t->runtime->time_s() : std::nan(""); }

twin_status twin_ingest(twin_runtime* t, size_t n, const double* time_s, const int* sensor, const double* value) {
  return guarded(t, [&](std::string& message) {
    if (!t) return argument(message, "twin_ingest: the handle is NULL");
    if (n > 0 && (!time_s || !sensor || !value)) return argument(message, "twin_ingest: an array is NULL");
    const int S = static_cast<int>(t->config.sensors.size());
    std::vector<twin::Observation> readings;
    readings.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (sensor[i] < 0 || sensor[i] >= S) {
        t->runtime->ingest({});  // still take part in the broadcast the other ranks are in
        return argument(message, "twin_ingest: reading " + std::to_string(i) + " names sensor index " +
                                     std::to_string(sensor[i]) + ", outside 0.." + std::to_string(S - 1) +
                                     " (nothing was queued)");
      }
      readings.push_back({time_s[i], t->config.sensors[static_cast<std::size_t>(sensor[i])].name, value[i]});
    }
    t->runtime->ingest(readings);
    return TWIN_OK;
  });
}

twin_status twin_ingest_named(twin_runtime* t, size_t n, const double* time_s, const char* const* sensor,
                              const double* value) {
  return guarded(t, [&](std::string& message) {
    if (!t) return argument(message, "twin_ingest_named: the handle is NULL");
    if (n > 0 && (!time_s || !sensor || !value)) return argument(message, "twin_ingest_named: an array is NULL");
    std::vector<twin::Observation> readings;
    readings.reserve(n);
    for (size_t i = 0; i < n; ++i) readings.push_back({time_s[i], sensor[i] ? sensor[i] : "", value[i]});
    t->runtime->ingest(readings);
    return TWIN_OK;
  });
}

twin_status twin_apply_controls(twin_runtime* t, size_t n, const double* controls) {
  return guarded(t, [&](std::string& message) {
    if (!t) return argument(message, "twin_apply_controls: the handle is NULL");
    if (n > 0 && !controls) return argument(message, "twin_apply_controls: controls is NULL");
    t->runtime->apply_controls(std::vector<double>(controls, controls + n));
    return TWIN_OK;
  });
}

twin_status twin_step(twin_runtime* t, double deadline_ms, double* controls, size_t n_controls, twin_mode* mode,
                      char* reason, size_t reason_size) {
  return guarded(t, [&](std::string& message) {
    if (!t) return argument(message, "twin_step: the handle is NULL");
    const std::size_t C = t->config.controls.size();
    if (n_controls < C || (C > 0 && !controls))
      return argument(message, "twin_step: room for " + std::to_string(n_controls) + " controls, the twin has " +
                                   std::to_string(C) + " (no step was run)");
    if (!(deadline_ms > 0.0) || !std::isfinite(deadline_ms))
      return argument(message, "twin_step: the deadline must be a positive number of milliseconds (no step was run)");
    t->last = t->runtime->step(std::chrono::milliseconds(static_cast<long>(std::ceil(deadline_ms))));
    t->stepped = true;
    const twin::Advice& advice = t->last.advice;
    for (std::size_t j = 0; j < C && j < advice.controls.size(); ++j) controls[j] = advice.controls[j].value;
    if (mode) *mode = mode_of(advice.mode);
    if (reason && reason_size > 0) {
      const std::size_t k = std::min(reason_size - 1, advice.reason.size());
      std::memcpy(reason, advice.reason.data(), k);
      reason[k] = '\0';
    }
    return TWIN_OK;
  });
}

twin_status twin_step_info(const twin_runtime* t, int* accepted, int* rejected, int* deadline_missed, double* total_ms,
                           int* anomaly_flagged) {
  return guarded(t, [&](std::string& message) {
    if (!t) return argument(message, "twin_step_info: the handle is NULL");
    if (!t->stepped) return argument(message, "twin_step_info: no step has run yet");
    if (accepted) *accepted = t->last.accepted;
    if (rejected) *rejected = t->last.rejected;
    if (deadline_missed) *deadline_missed = t->last.deadline_missed ? 1 : 0;
    if (total_ms) *total_ms = t->last.timings.total_ms;
    if (anomaly_flagged) *anomaly_flagged = t->last.anomaly.flagged ? 1 : 0;
    return TWIN_OK;
  });
}

twin_status twin_sensor_estimates(const twin_runtime* t, size_t n, double* mean, double* spread) {
  return estimates(t, n, mean, spread, "twin_sensor_estimates", "sensors",
                   t ? t->config.sensors.size() : 0, [](const twin::Runtime& r) {
    std::vector<std::pair<double, double>> out;
    for (const auto& e : r.sensor_estimates()) out.emplace_back(e.analysis, e.std);
    return out;
  });
}

twin_status twin_parameter_estimates(const twin_runtime* t, size_t n, double* mean, double* spread) {
  return estimates(t, n, mean, spread, "twin_parameter_estimates", "parameters",
                   t ? t->config.ensemble.parameters.size() : 0, [](const twin::Runtime& r) {
    std::vector<std::pair<double, double>> out;
    for (const auto& e : r.parameter_estimates()) out.emplace_back(e.mean, e.std);
    return out;
  });
}

twin_status twin_save_snapshot(twin_runtime* t, const char* state_dir) {
  return with_state_dir(t, state_dir, "twin_save_snapshot", &twin::Runtime::save_snapshot);
}

twin_status twin_restore(twin_runtime* t, const char* state_dir) {
  return with_state_dir(t, state_dir, "twin_restore", &twin::Runtime::restore);
}

}  // extern "C"
