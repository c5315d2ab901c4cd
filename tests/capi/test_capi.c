/* The C API's contract, from C (no C++ in this file): errors are statuses with messages that say
 * what and where, never an abort; a closed loop on a small twin runs and keeps its controls in
 * the envelope; a snapshot taken mid-run and restored into a fresh handle continues with the same
 * controls as the uninterrupted run; the sensors' stated uncertainty counts the grid check's error.
 * On 1 or 2 ranks (MPI_COMM_WORLD as a Fortran handle).
 *
 *   test_capi CONFIG.yaml SCRATCH_DIR
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/twin.h"

static int failures = 0;
static int rank = 0;

#define CHECK(cond, ...)                                      \
  do {                                                        \
    if (!(cond)) {                                            \
      ++failures;                                             \
      fprintf(stderr, "rank %d: %s:%d: check failed: %s: ", rank, __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                           \
      fprintf(stderr, "\n");                                  \
    }                                                         \
  } while (0)

/* A lumped stand-in for the facility: each sensor relaxes towards 293.15 K plus what the heaters add. */
static void facility_readings(int cycle, double period, int sensors, const double* controls, int n_controls,
                              double* times, int* index, double* values) {
  double heat = 0.0;
  for (int j = 0; j < n_controls; ++j) heat += controls[j];
  for (int s = 0; s < sensors; ++s) {
    times[s] = (cycle + 1) * period;
    index[s] = s;
    values[s] = 293.15 + 2.0 * heat + 0.1 * s + 0.05 * sin(0.3 * cycle + s);
  }
}

/* Runs `cycles` steps from the handle's state; the controls of the last step go to `last`. */
static int run_loop(twin_runtime* t, int first, int cycles, double* last) {
  const int S = twin_sensor_count(t), C = twin_control_count(t);
  double times[64], values[64], controls[16];
  int index[64];
  for (int j = 0; j < C; ++j) controls[j] = 0.6;
  for (int c = first; c < first + cycles; ++c) {
    facility_readings(c, twin_control_period(t), S, controls, C, times, index, values);
    if (twin_ingest(t, rank == 0 ? (size_t)S : 0, times, index, values) != TWIN_OK) return 0;
    twin_mode mode = TWIN_MODE_SAFE_HOLD;
    char reason[256];
    const twin_status st = twin_step(t, 5000.0, controls, 16, &mode, reason, sizeof reason);
    CHECK(st == TWIN_OK, "twin_step at cycle %d: %s", c, twin_errmsg(t));
    if (st != TWIN_OK) return 0;
    CHECK(mode == TWIN_MODE_ADVISOR_OFF, "mode %s (%s)", twin_mode_name(mode), reason);
    for (int j = 0; j < C; ++j) CHECK(controls[j] >= 0.0 && controls[j] <= 1.5, "control %d = %g", j, controls[j]);
  }
  for (int j = 0; j < C; ++j) last[j] = controls[j];
  return 1;
}

/* The whole of a file, NUL-terminated (NULL if it cannot be read); free() it. */
static char* read_text(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  char* text = NULL;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
      (text = (char*)malloc((size_t)size + 1)) != NULL) {
    const size_t got = fread(text, 1, (size_t)size, f);
    text[got] = '\0';
  }
  fclose(f);
  return text;
}

/* text with `insert` written after the first `after` (which text must hold); free() it. */
static char* with_key(const char* text, const char* after, const char* insert) {
  const size_t at = (size_t)(strstr(text, after) - text) + strlen(after);
  char* out = (char*)malloc(strlen(text) + strlen(insert) + 1);
  if (!out) return NULL;
  memcpy(out, text, at);
  strcpy(out + at, insert);
  strcat(out, text + at);
  return out;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (argc < 3) {
    fprintf(stderr, "usage: test_capi CONFIG.yaml SCRATCH_DIR\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  const char* config = argv[1];
  char state[1024];
  snprintf(state, sizeof state, "%s/capi_state", argv[2]);
  MPI_Fint world = MPI_Comm_c2f(MPI_COMM_WORLD);

  /* versions: the header's and the library's agree */
  int major = -1, minor = -1, patch = -1;
  twin_version(&major, &minor, &patch);
  CHECK(major == TWIN_VERSION_MAJOR && minor == TWIN_VERSION_MINOR && patch == TWIN_VERSION_PATCH, "library %d.%d.%d",
        major, minor, patch);
  CHECK(strcmp(twin_version_string(), TWIN_VERSION_STRING) == 0, "version string %s", twin_version_string());

  /* failures of create: a status and a message naming the file, the key or the line; no handle */
  twin_runtime* t = (twin_runtime*)1;
  CHECK(twin_create("/nonexistent/twin.yaml", &world, NULL, &t) == TWIN_ERROR_CONFIG, "missing file: %s",
        twin_last_error());
  CHECK(t == NULL, "a failed create leaves *out NULL");
  CHECK(strstr(twin_last_error(), "/nonexistent/twin.yaml") != NULL, "the message names the file: %s",
        twin_last_error());
  CHECK(twin_create_from_yaml("twin: {name: x, cycles: -3}\n", &world, NULL, &t) == TWIN_ERROR_CONFIG, "bad yaml");
  CHECK(strstr(twin_last_error(), "cycles") != NULL, "the message names the key: %s", twin_last_error());
  CHECK(twin_create(NULL, &world, NULL, &t) == TWIN_ERROR_ARGUMENT, "NULL path");
  CHECK(twin_create(config, &world, NULL, NULL) == TWIN_ERROR_ARGUMENT, "NULL out");
  CHECK(twin_step(NULL, 100.0, NULL, 0, NULL, NULL, 0) == TWIN_ERROR_ARGUMENT, "NULL handle");
  CHECK(strstr(twin_last_error(), "NULL") != NULL, "NULL handle message: %s", twin_last_error());

  /* a closed loop */
  CHECK(twin_create(config, &world, NULL, &t) == TWIN_OK, "create: %s", twin_last_error());
  if (!t) {
    MPI_Finalize();
    return 1;
  }
  const int S = twin_sensor_count(t), C = twin_control_count(t), P = twin_parameter_count(t);
  CHECK(S == 6 && C == 2 && P == 2, "shape %d sensors, %d controls, %d parameters", S, C, P);
  CHECK(strcmp(twin_sensor_name(t, 2), "S3") == 0 && twin_sensor_name(t, S) == NULL, "sensor names");
  CHECK(twin_sensor_index(t, "S4") == 3 && twin_sensor_index(t, "nope") == -1, "sensor index");
  CHECK(strcmp(twin_control_name(t, 1), "H2") == 0, "control name");
  CHECK(strcmp(twin_parameter_name(t, 0), "diffusivity_factor") == 0, "parameter name");

  /* argument errors on a handle: a status, its message, nothing changed */
  double tt[1] = {10.0}, vv[1] = {300.0}, small[1];
  int bad[1] = {S};
  CHECK(twin_ingest(t, 1, tt, bad, vv) == TWIN_ERROR_ARGUMENT, "index out of range");
  CHECK(strstr(twin_errmsg(t), "sensor index 6") != NULL, "message: %s", twin_errmsg(t));
  CHECK(twin_step(t, 1000.0, small, 1, NULL, NULL, 0) == TWIN_ERROR_ARGUMENT, "room for 1 control");
  CHECK(strstr(twin_errmsg(t), "room for 1 controls, the twin has 2") != NULL, "message: %s", twin_errmsg(t));
  CHECK(twin_cycle(t) == 0, "no step was run: cycle %d", twin_cycle(t));
  double nan_controls[2] = {NAN, 0.5};
  CHECK(twin_apply_controls(t, 2, nan_controls) == TWIN_ERROR_DATA, "non-finite controls");
  CHECK(twin_step_info(t, NULL, NULL, NULL, NULL, NULL) == TWIN_ERROR_ARGUMENT, "info before a step");
  const char* names[2] = {"S1", "no_such_sensor"};
  double t2[2] = {10.0, 10.0}, v2[2] = {294.0, 1.0};
  CHECK(twin_ingest_named(t, rank == 0 ? 2 : 0, t2, names, v2) == TWIN_OK, "named readings: %s", twin_errmsg(t));
  CHECK(strcmp(twin_errmsg(t), "") == 0, "a success clears the message");

  double first[16], second[16], restored[16];
  CHECK(run_loop(t, 0, 6, first), "the first 6 cycles");
  int accepted = -1, rejected = -1, missed = -1;
  double total_ms = -1.0;
  CHECK(twin_step_info(t, &accepted, &rejected, &missed, &total_ms, NULL) == TWIN_OK, "info: %s", twin_errmsg(t));
  /* every reading is accounted for (the toy's near-constant readings may be rejected as stuck) */
  CHECK(rank != 0 || (accepted > 0 && accepted + rejected == S), "accepted %d, rejected %d of %d", accepted, rejected, S);
  CHECK(missed == 0 && total_ms > 0.0, "deadline missed %d, %g ms", missed, total_ms);
  double mean[8], spread[8], pmean[4], pspread[4];
  CHECK(twin_sensor_estimates(t, 8, mean, spread) == TWIN_OK, "estimates: %s", twin_errmsg(t));
  CHECK(fabs(mean[0] - 293.15) < 20.0 && spread[0] >= 0.0, "S1 %g +- %g", mean[0], spread[0]);
  CHECK(twin_parameter_estimates(t, 4, pmean, pspread) == TWIN_OK, "parameters: %s", twin_errmsg(t));
  CHECK(pmean[0] > 0.3 && pmean[0] < 3.0 && pspread[0] > 0.0, "diffusivity %g +- %g", pmean[0], pspread[0]);

  /* a snapshot after 6 cycles, then 4 more; a fresh handle restored from it runs the same 4 */
  CHECK(twin_save_snapshot(t, state) == TWIN_OK, "snapshot: %s", twin_errmsg(t));
  CHECK(run_loop(t, 6, 4, second), "4 more cycles");
  twin_destroy(t);

  twin_runtime* r = NULL;
  CHECK(twin_create(config, &world, NULL, &r) == TWIN_OK, "create again: %s", twin_last_error());
  CHECK(twin_restore(r, "/nonexistent/state") == TWIN_ERROR_DATA, "no snapshot there: %s", twin_errmsg(r));
  CHECK(twin_restore(r, state) == TWIN_OK, "restore: %s", twin_errmsg(r));
  CHECK(twin_cycle(r) == 6, "restored at cycle %d", twin_cycle(r));
  /* the controls in force come back from the snapshot */
  CHECK(run_loop(r, 6, 4, restored), "4 cycles after the restore");
  for (int j = 0; j < C; ++j)
    CHECK(fabs(restored[j] - second[j]) < 1e-9, "control %d: %.12g after the restore, %.12g without", j, restored[j],
          second[j]);
  twin_destroy(r);
  twin_destroy(NULL);

  /* the sensors' stated uncertainty counts the grid check's error (assimilation.grid_check_cycles):
   * the same twin without the check has the same means and a smaller uncertainty at some sensor */
  char* text = read_text(config);
  CHECK(text != NULL && strstr(text, "assimilation: {") != NULL, "%s has an 'assimilation: {' line", config);
  if (text && strstr(text, "assimilation: {")) {
    char* unchecked = with_key(text, "assimilation: {", "grid_check_cycles: 0, ");
    double m_on[8], s_on[8], m_off[8], s_off[8], ignored[16];
    twin_runtime *on = NULL, *off = NULL;
    CHECK(twin_create_from_yaml(text, &world, NULL, &on) == TWIN_OK, "create: %s", twin_last_error());
    CHECK(twin_create_from_yaml(unchecked, &world, NULL, &off) == TWIN_OK, "create unchecked: %s", twin_last_error());
    const int ran = on && off && run_loop(on, 0, 3, ignored) && run_loop(off, 0, 3, ignored);
    CHECK(ran, "the twins with and without the grid check did not run 3 cycles: %s",
          on ? twin_errmsg(on) : "no handle");
    if (ran) {
      CHECK(twin_sensor_estimates(on, 8, m_on, s_on) == TWIN_OK, "estimates: %s", twin_errmsg(on));
      CHECK(twin_sensor_estimates(off, 8, m_off, s_off) == TWIN_OK, "estimates: %s", twin_errmsg(off));
      int wider = 0;
      for (int s = 0; s < S; ++s) {
        CHECK(fabs(m_on[s] - m_off[s]) < 1e-9, "sensor %d: mean %.12g with the check, %.12g without", s, m_on[s],
              m_off[s]);
        CHECK(s_on[s] >= s_off[s] - 1e-12, "sensor %d: %g with the check, %g without", s, s_on[s], s_off[s]);
        if (s_on[s] > s_off[s] * (1.0 + 1e-6)) ++wider;
      }
      CHECK(wider > 0, "the grid check widens no sensor's stated uncertainty");
    }
    twin_destroy(on);
    twin_destroy(off);
    free(unchecked);
  }
  free(text);

  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) printf("test_capi: %s (%d failed checks)\n", total == 0 ? "passed" : "FAILED", total);
  MPI_Finalize();
  return total == 0 ? 0 : 1;
}
