// Embedding twinrt in a facility's control loop: read sensors, ingest, step, apply the advice.
// The "facility" here is a toy lumped model so the example runs anywhere; replace read_sensors()
// and apply() with your plant's I/O. Built and run by the tests (example_control_loop).
//
//   mpirun -n 2 build/bin/example_control_loop configs/plate.yaml 20
#include <Kokkos_Core.hpp>
#include <mpi.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "twin/config.hpp"
#include "twin/error.hpp"
#include "twin/runtime.hpp"

namespace {

// A stand-in for the facility: each sensor relaxes towards a temperature its heaters set.
struct ToyFacility {
  std::vector<double> temperature;
  double heat = 0.0;
  explicit ToyFacility(const twin::Config& c) : temperature(c.sensors.size(), c.physics.initial_value + 1.0) {}
  std::vector<twin::Observation> read_sensors(const twin::Config& c, double t) const {
    std::vector<twin::Observation> out;
    for (std::size_t s = 0; s < c.sensors.size(); ++s) out.push_back({t, c.sensors[s].name, temperature[s]});
    return out;
  }
  void run_period(const twin::Config& c, double dt) {
    for (double& T : temperature) T += dt * (0.02 * heat - c.physics.reaction_per_s * (T - c.physics.reaction_reference));
  }
  void apply(const std::vector<twin::ControlValue>& controls) {
    heat = 0.0;
    for (const auto& cv : controls) heat += cv.value;
  }
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, code = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  {
    Kokkos::ScopeGuard kokkos(argc, argv);
    try {
      if (argc < 2) throw twin::Error("usage: example_control_loop CONFIG.yaml [CYCLES]");
      const twin::Config config = twin::load_config(argv[1]);
      const int cycles = argc > 2 ? std::stoi(argv[2]) : 10;
      twin::Runtime twin(config, MPI_COMM_WORLD);
      ToyFacility facility(config);
      const auto deadline = std::chrono::milliseconds(static_cast<long>(config.twin.deadline_ms));
      for (int c = 0; c < cycles; ++c) {
        facility.run_period(config, config.twin.control_period_s);
        // Only rank 0's readings are used; the other ranks pass an empty list.
        twin.ingest(rank == 0 ? facility.read_sensors(config, twin.time_s() + config.twin.control_period_s)
                              : std::vector<twin::Observation>{});
        const twin::CycleOutcome out = twin.step(deadline);
        facility.apply(out.advice.controls);
        if (rank == 0)
          std::printf("cycle %d t=%.0f s mode=%s accepted=%d first sensor %.2f +- %.2f (%.1f ms)\n", out.advice.cycle,
                      out.advice.t_s, twin::to_string(out.advice.mode), out.accepted,
                      out.sensors.empty() ? 0.0 : out.sensors[0].analysis,
                      out.sensors.empty() ? 0.0 : out.sensors[0].std, out.timings.total_ms);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "example_control_loop: %s\n", e.what());
      code = 1;
    }
  }
  MPI_Finalize();
  return code;
}
