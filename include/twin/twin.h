/* twinrt's C API: the twin cycle for control loops written in C, Fortran (twinrt.f90, iso_c_binding)
 * and Python (twinrt.py, ctypes). C99; no C++ in it. docs/embedding.md is the contract in one page.
 *
 *   twin_runtime* t = NULL;
 *   if (twin_create("plate.yaml", NULL, NULL, &t) != TWIN_OK) { puts(twin_last_error()); return 1; }
 *   for (;;) {
 *     twin_ingest(t, n, times, sensors, values);          // this period's readings
 *     twin_step(t, 500.0, controls, n_controls, &mode, reason, sizeof reason);
 *     apply(controls);                                    // always inside each control's [min, max]
 *   }
 *   twin_destroy(t);
 *
 * Errors: every function that can fail returns a twin_status; TWIN_OK is 0. On a failure the
 * handle's twin_errmsg says what and where (the failures of twin_create, which has no handle yet,
 * are in the calling thread's twin_last_error). Nothing here aborts the process or lets a C++
 * exception out. A handle whose step failed with TWIN_ERROR_RUNTIME may be left in an
 * unspecified state: destroy it (or restore a snapshot).
 *
 * Collective (every rank of the handle's communicator calls it, in the same order): twin_create*,
 * twin_ingest*, twin_apply_controls, twin_step, twin_save_snapshot, twin_restore, twin_destroy.
 * The queries (counts, names, estimates, step info, cycle, time, messages) are local. Only rank
 * 0's readings and controls count (they are broadcast): the other ranks call twin_ingest with
 * n = 0. Every rank gets the same advice back. Make the same collective call, with valid
 * arguments, on every rank: an argument error is found on the rank that made it, and a rank that
 * returns early leaves the others waiting in the collective.
 *
 * Threads: a handle is driven by one thread at a time (no call on a handle may overlap another on
 * the same handle). Different handles may be used from different threads only if MPI was
 * initialised with MPI_THREAD_MULTIPLE. twin_last_error and the version queries are thread-safe.
 *
 * Process set-up: twin_create initialises Kokkos when the process has not, and MPI when it is not
 * running and comm is NULL (then MPI_Finalize runs at exit). Kokkos is finalised when MPI is: destroy
 * every handle before MPI_Finalize.
 */
#ifndef TWIN_TWIN_H
#define TWIN_TWIN_H

#include <mpi.h>
#include <stddef.h>

#define TWIN_VERSION_MAJOR 0
#define TWIN_VERSION_MINOR 1
#define TWIN_VERSION_PATCH 0
#define TWIN_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/** A twin: an opaque handle, from twin_create, released by twin_destroy. */
typedef struct twin_runtime twin_runtime;

typedef enum twin_status {
  TWIN_OK = 0,
  TWIN_ERROR_ARGUMENT = 1, /* a null pointer, a count or index out of range, a buffer too small */
  TWIN_ERROR_CONFIG = 2,   /* the configuration is invalid: the message names the key and line */
  TWIN_ERROR_DATA = 3,     /* bad input data: a snapshot, a model file, non-finite controls */
  TWIN_ERROR_MPI = 4,      /* an MPI call failed, or the communicator is not usable */
  TWIN_ERROR_RUNTIME = 5,  /* anything else: the solver, HDF5, the file system */
  TWIN_ERROR_MEMORY = 6    /* out of memory */
} twin_status;

/** The operating mode of a cycle's advice (docs/architecture.md, degraded modes). */
typedef enum twin_mode {
  TWIN_MODE_NOMINAL = 0,     /* the advisor's proposal, gated */
  TWIN_MODE_FALLBACK = 1,    /* the safe default: the advisor was unsure, late, out of domain or broken */
  TWIN_MODE_ADVISOR_OFF = 2, /* the safe default: no advisor configured, paused or not armed yet */
  TWIN_MODE_SAFE_HOLD = 3    /* the safe default: the twin itself is unhealthy */
} twin_mode;

/* --- versions (thread-safe) ---------------------------------------------------------------- */

/** The library's version; compare with TWIN_VERSION_* to catch a header/library mismatch. */
void twin_version(int* major, int* minor, int* patch);
const char* twin_version_string(void);
/** A short name of a status ("TWIN_ERROR_CONFIG"). */
const char* twin_status_name(twin_status status);
const char* twin_mode_name(twin_mode mode);

/* --- life cycle ------------------------------------------------------------------------------ */

/** Creates a twin from a YAML configuration file (docs/config.md). Collective.
 *  comm: a Fortran handle of the communicator (MPI_Comm_c2f(MPI_COMM_WORLD) in C,
 *  MPI_COMM_WORLD in Fortran), or NULL for a single process (MPI_COMM_SELF).
 *  run_dir: a directory for series.h5, metrics.prom and snapshots, or NULL for no files.
 *  On failure *out is NULL and twin_last_error() says why. */
twin_status twin_create(const char* config_path, const MPI_Fint* comm, const char* run_dir, twin_runtime** out);
/** As twin_create, from the configuration's text (relative paths in it are relative to the
 *  working directory). */
twin_status twin_create_from_yaml(const char* yaml, const MPI_Fint* comm, const char* run_dir, twin_runtime** out);
/** Releases a twin (NULL is ignored). Collective. */
void twin_destroy(twin_runtime* twin);

/** The last failure on this handle (empty when none); valid until the next call on it. */
const char* twin_errmsg(const twin_runtime* twin);
/** The calling thread's last failure of a twin_create* (or of a call given a NULL handle). */
const char* twin_last_error(void);

/* --- the twin's shape (local) --------------------------------------------------------------- */

int twin_sensor_count(const twin_runtime* twin);
int twin_control_count(const twin_runtime* twin);
int twin_parameter_count(const twin_runtime* twin);
/** Names in configuration order (NULL when i is out of range); valid while the handle lives. */
const char* twin_sensor_name(const twin_runtime* twin, int i);
const char* twin_control_name(const twin_runtime* twin, int i);
const char* twin_parameter_name(const twin_runtime* twin, int i);
/** The index of a sensor by name, -1 when there is none. */
int twin_sensor_index(const twin_runtime* twin, const char* name);
/** The control period [s] and the deadline the configuration gives [ms]. */
double twin_control_period(const twin_runtime* twin);
double twin_deadline_ms(const twin_runtime* twin);
/** Cycles done, and the facility time of the current state [s]. */
int twin_cycle(const twin_runtime* twin);
double twin_time(const twin_runtime* twin);

/* --- the cycle -------------------------------------------------------------------------------- */

/** Queues n readings for the next step: facility time [s], sensor index (configuration order),
 *  value. Bad values (non-finite, out of range, stale) are not errors: QC rejects them with a
 *  reason. An index out of range is TWIN_ERROR_ARGUMENT and nothing is queued (the call still
 *  takes part in the broadcast). Collective: rank 0's readings go to every rank; the others pass
 *  n = 0. */
twin_status twin_ingest(twin_runtime* twin, size_t n, const double* time_s, const int* sensor, const double* value);
/** As twin_ingest, by sensor name; an unknown name is counted by QC (unknown_sensor), not an error. */
twin_status twin_ingest_named(twin_runtime* twin, size_t n, const double* time_s, const char* const* sensor,
                              const double* value);
/** The facility applies these controls (configuration order) instead of the last advice, e.g. an
 *  operator's override. n must be twin_control_count. Collective: rank 0's values count. */
twin_status twin_apply_controls(twin_runtime* twin, size_t n, const double* controls);
/** Runs one cycle within deadline_ms and writes the advice: n_controls values (at least
 *  twin_control_count) into controls, the mode into *mode and why into reason (NUL-terminated,
 *  truncated to reason_size; mode and reason may be NULL). Collective. */
twin_status twin_step(twin_runtime* twin, double deadline_ms, double* controls, size_t n_controls, twin_mode* mode,
                      char* reason, size_t reason_size);
/** The last step's figures: readings assimilated and rejected, whether its deadline was missed,
 *  its wall-clock time [ms], and whether the anomaly diagnosis flagged a fault (any pointer may be
 *  NULL). Local. */
twin_status twin_step_info(const twin_runtime* twin, int* accepted, int* rejected, int* deadline_missed,
                           double* total_ms, int* anomaly_flagged);

/* --- estimates (local; rank 0's are the ones to use) ------------------------------------------ */

/** The analysis at each sensor after the last step: mean and stated uncertainty (1 sigma: the
 *  members' spread with the error the twin's grid makes at that sensor, docs/twin-cycle.md, "The
 *  grid check"), n at least twin_sensor_count (spread may be NULL). */
twin_status twin_sensor_estimates(const twin_runtime* twin, size_t n, double* mean, double* spread);
/** The estimated parameters (ensemble.parameters order): mean and stated uncertainty (1 sigma:
 *  the members' spread with any shift a plant fault made that is not yet confirmed and the
 *  error the twin's grid makes, docs/twin-cycle.md, "The unconfirmed shift", "The grid check"). */
twin_status twin_parameter_estimates(const twin_runtime* twin, size_t n, double* mean, double* spread);

/* --- snapshots (collective) ------------------------------------------------------------------ */

/** Writes a restart snapshot into state_dir (a folder of snapshot folders) and returns once it
 *  is committed (docs/operations.md). */
twin_status twin_save_snapshot(twin_runtime* twin, const char* state_dir);
/** Continues from the newest committed snapshot in state_dir, written by a twin of the same
 *  configuration; call it before the first step. TWIN_ERROR_DATA when there is none usable. */
twin_status twin_restore(twin_runtime* twin, const char* state_dir);

#ifdef __cplusplus
}
#endif

#endif /* TWIN_TWIN_H */
