/* A C program on the installed C API alone (twinrt::c, or pkg-config twinrt): a twin from YAML
 * text on a single process (the library starts MPI), two cycles, and a refused config. */
#include <stdio.h>
#include <string.h>

#include "twin/twin.h"

static const char* yaml =
    "twin: {name: consumer, cycles: 2, control_period_s: 10, deadline_ms: 2000}\n"
    "grid: {cells: [16, 12], extent_m: [0.4, 0.3]}\n"
    "controls: [{name: H1, center_m: [0.2, 0.15], size_m: [0.05, 0.05], gain: 0.1, initial: 0.5, max: 1.0}]\n"
    "sensors: [{name: S1, position_m: [0.2, 0.15]}, {name: S2, position_m: [0.1, 0.1]}]\n"
    "ensemble: {members: 4}\n"
    "outputs: {progress: false}\n"
    "logging: {level: warn}\n";

int main(void) {
  twin_runtime* t = NULL;
  if (twin_create_from_yaml("grid: {cels: [8, 8]}\n", NULL, NULL, &t) != TWIN_ERROR_CONFIG || t) return 1;
  printf("rejected as expected: %s\n", twin_last_error());
  if (twin_create_from_yaml(yaml, NULL, NULL, &t) != TWIN_OK) {
    printf("create failed: %s\n", twin_last_error());
    return 1;
  }
  double controls[1], times[2] = {10.0, 10.0}, values[2] = {294.0, 293.5};
  int sensors[2] = {0, 1};
  twin_mode mode = TWIN_MODE_SAFE_HOLD;
  for (int c = 0; c < 2; ++c) {
    times[0] = times[1] = 10.0 * (c + 1);
    if (twin_ingest(t, 2, times, sensors, values) != TWIN_OK ||
        twin_step(t, 2000.0, controls, 1, &mode, NULL, 0) != TWIN_OK) {
      printf("cycle %d failed: %s\n", c + 1, twin_errmsg(t));
      return 1;
    }
  }
  printf("C consumer: twinrt %s, cycle %d mode=%s H1=%.2f\n", twin_version_string(), twin_cycle(t), twin_mode_name(mode),
         controls[0]);
  twin_destroy(t);
  return 0;
}
