/* Embedding twinrt in a C control loop through the C API (include/twin/twin.h): read sensors,
 * ingest, step, apply the advice. The "facility" is a toy lumped model so the example runs
 * anywhere; replace read_sensors() and apply() with your plant's I/O. Built and run by the tests
 * (example_control_loop_c).
 *
 *   mpirun -n 2 build/bin/example_control_loop_c tests/data/small_plate.yaml 10
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "twin/twin.h"

enum { max_sensors = 256, max_controls = 64 };

static double temperature[max_sensors];

static void read_sensors(int sensors, double t, double* times, int* index, double* values) {
  for (int s = 0; s < sensors; ++s) times[s] = t, index[s] = s, values[s] = temperature[s];
}

static void run_period(int sensors, const double* controls, int n_controls, double period) {
  double heat = 0.0;
  for (int j = 0; j < n_controls; ++j) heat += controls[j];
  for (int s = 0; s < sensors; ++s) temperature[s] += period * (0.02 * heat - 1e-3 * (temperature[s] - 293.15));
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (argc < 2) {
    if (rank == 0) fprintf(stderr, "usage: example_control_loop_c CONFIG.yaml [CYCLES]\n");
    MPI_Finalize();
    return 2;
  }
  const int cycles = argc > 2 ? atoi(argv[2]) : 10;
  const MPI_Fint world = MPI_Comm_c2f(MPI_COMM_WORLD);
  twin_runtime* twin = NULL;
  if (twin_create(argv[1], &world, NULL, &twin) != TWIN_OK) {
    fprintf(stderr, "example_control_loop_c: %s\n", twin_last_error());
    MPI_Finalize();
    return 1;
  }
  const int S = twin_sensor_count(twin), C = twin_control_count(twin);
  if (S > max_sensors || C > max_controls) {
    fprintf(stderr, "example_control_loop_c: this example handles at most %d sensors and %d controls\n", max_sensors,
            max_controls);
    twin_destroy(twin);
    MPI_Finalize();
    return 1;
  }
  for (int s = 0; s < S; ++s) temperature[s] = 294.15;
  double controls[max_controls], times[max_sensors], values[max_sensors];
  int index[max_sensors];
  for (int j = 0; j < C; ++j) controls[j] = 0.0;
  int code = 0;
  for (int c = 0; c < cycles && code == 0; ++c) {
    run_period(S, controls, C, twin_control_period(twin));
    read_sensors(S, twin_time(twin) + twin_control_period(twin), times, index, values);
    /* only rank 0's readings are used: the other ranks pass none */
    twin_mode mode;
    char reason[256];
    if (twin_ingest(twin, rank == 0 ? (size_t)S : 0, times, index, values) != TWIN_OK ||
        twin_step(twin, twin_deadline_ms(twin), controls, max_controls, &mode, reason, sizeof reason) != TWIN_OK) {
      fprintf(stderr, "example_control_loop_c: cycle %d: %s\n", c + 1, twin_errmsg(twin));
      code = 1;
      break;
    }
    double mean[max_sensors], spread[max_sensors];
    twin_sensor_estimates(twin, max_sensors, mean, spread);
    if (rank == 0)
      printf("cycle %d t=%.0f s mode=%s %s=%.3f first sensor %.2f +- %.2f\n", twin_cycle(twin), twin_time(twin),
             twin_mode_name(mode), twin_control_name(twin, 0), controls[0], mean[0], spread[0]);
  }
  twin_destroy(twin);
  MPI_Finalize();
  return code;
}
