/* The C API's cost over the runtime: for each cycle of a closed loop on a twin, the wall time of
 * twin_step minus the time Runtime::step measured inside it (twin_step_info's total_ms), and the
 * wall time of twin_ingest. Prints one JSON object (figures in microseconds and as a share of
 * the cycle). Issue 17's target: under 1 % of a cycle.
 *
 *   build/bin/bench_capi [CONFIG.yaml] [CYCLES]      (default tests/data/small_plate.yaml, 50)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "twin/twin.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

static int by_value(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  const char* config = argc > 1 ? argv[1] : "tests/data/small_plate.yaml";
  const int cycles = argc > 2 ? atoi(argv[2]) : 50;
  twin_runtime* t = NULL;
  if (twin_create(config, NULL, NULL, &t) != TWIN_OK) {
    fprintf(stderr, "bench_capi: %s\n", twin_last_error());
    return 1;
  }
  const int S = twin_sensor_count(t), C = twin_control_count(t);
  double* times = calloc((size_t)S, sizeof(double));
  double* values = calloc((size_t)S, sizeof(double));
  int* index = calloc((size_t)S, sizeof(int));
  double* controls = calloc((size_t)C + 1, sizeof(double));
  double* overhead = calloc((size_t)cycles, sizeof(double));
  double* ingest = calloc((size_t)cycles, sizeof(double));
  double step_sum = 0.0;
  for (int c = 0; c < cycles; ++c) {
    double heat = 0.0;
    for (int j = 0; j < C; ++j) heat += controls[j];
    for (int s = 0; s < S; ++s)
      times[s] = (c + 1) * twin_control_period(t), index[s] = s, values[s] = 293.15 + 2.0 * heat + 0.3 * sin(0.2 * c + s);
    double t0 = now_us();
    if (twin_ingest(t, (size_t)S, times, index, values) != TWIN_OK) return 1;
    ingest[c] = now_us() - t0;
    twin_mode mode;
    char reason[256];
    t0 = now_us();
    if (twin_step(t, 1e6, controls, (size_t)C, &mode, reason, sizeof reason) != TWIN_OK) {
      fprintf(stderr, "bench_capi: %s\n", twin_errmsg(t));
      return 1;
    }
    const double wall = now_us() - t0;
    double inside_ms = 0.0;
    twin_step_info(t, NULL, NULL, NULL, &inside_ms, NULL);
    overhead[c] = wall - 1000.0 * inside_ms;
    step_sum += wall;
  }
  qsort(overhead, (size_t)cycles, sizeof(double), by_value);
  qsort(ingest, (size_t)cycles, sizeof(double), by_value);
  double mean = 0.0;
  for (int c = 0; c < cycles; ++c) mean += overhead[c] / cycles;
  const double step_mean = step_sum / cycles;
  printf("{\"benchmark\": \"bench_capi\", \"config\": \"%s\", \"cycles\": %d, \"twinrt\": \"%s\",\n"
         " \"step_us_mean\": %.1f, \"capi_overhead_us\": {\"mean\": %.2f, \"p50\": %.2f, \"p99\": %.2f},\n"
         " \"ingest_us\": {\"p50\": %.2f, \"p99\": %.2f}, \"overhead_share_of_step\": %.6f, \"target_share\": 0.01}\n",
         config, cycles, twin_version_string(), step_mean, mean, overhead[cycles / 2], overhead[(cycles * 99) / 100],
         ingest[cycles / 2], ingest[(cycles * 99) / 100], mean / step_mean);
  twin_destroy(t);
  free(times), free(values), free(index), free(controls), free(overhead), free(ingest);
  return 0;
}
