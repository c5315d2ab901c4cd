// Explicit stencil throughput against the memory system's limit, measured in the same process:
// the solver's forward-Euler step (the kernel of every SSPRK stage), a plain C++ loop doing the
// same 5-point update, and a STREAM triad over arrays of the same size.
//
// Bytes are counted alike on both sides, write-allocate included: 24 B per stencil update
// (read u, write u', allocate u'), 32 B per triad element (read b, c, write a, allocate a).
//
//   build/bin/bench_stencil [--size 8192] [--summary FILE] [Google Benchmark flags]
// The default 8192^2 grid (512 MiB per field) is far larger than the 300 MiB last-level cache.
#include <algorithm>
#include <vector>

#include "common/bench_main.hpp"
#include "solvers/explicit_solver.hpp"
#include "twin/config.hpp"

namespace {

int g_n = 8192;

std::string config_text(int n) {
  return "grid: {cells: [" + std::to_string(n) + ", " + std::to_string(n) + "], extent_m: [1.0, 1.0]}\n"
         "physics: {diffusivity_m2_s: 1.0e-3, initial_value: 1.0}\n";
}

benchmark::IterationCount iterations(long cells) { return std::clamp<long>(1'000'000'000L / cells, 10, 100'000); }

void BM_KokkosStencil(benchmark::State& state) {
  const twin::Config config = twin::parse_config(config_text(g_n));
  twin::solvers::Decomposition dec(config.grid, MPI_COMM_SELF);
  twin::solvers::ExplicitSolver solver(twin::solvers::SolverConfig::from(config), dec, 1);
  auto u = solver.make_field("bench::u");
  auto v = solver.make_field("bench::v");
  const double dt = 0.5 * solver.stable_dt();
  for (auto _ : state) {
    solver.euler_step(u, v, dt);
    std::swap(u, v);
  }
  state.counters["updates_per_s"] = benchmark::Counter(static_cast<double>(g_n) * g_n, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_PlainLoopStencil(benchmark::State& state) {
  const long p = g_n + 2;
  std::vector<double> u(static_cast<std::size_t>(p * p), 1.0), v(u.size(), 1.0);
  const double c = 0.2;  // k dt / dx^2, stable
  for (auto _ : state) {
    for (long j = 1; j <= g_n; ++j) {
      const double* in = u.data() + j * p;
      double* out = v.data() + j * p;
      for (long i = 1; i <= g_n; ++i)
        out[i] = in[i] + c * (in[i - 1] + in[i + 1] + in[i - p] + in[i + p] - 4.0 * in[i]);
    }
    std::swap(u, v);
    benchmark::ClobberMemory();
  }
  state.counters["updates_per_s"] = benchmark::Counter(static_cast<double>(g_n) * g_n, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_StreamTriad(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(g_n) * g_n;
  std::vector<double> a(n, 0.0), b(n, 1.0), c(n, 2.0);
  const double s = 3.0;
  for (auto _ : state) {
    double* pa = a.data();
    const double* pb = b.data();
    const double* pc = c.data();
    for (std::size_t i = 0; i < n; ++i) pa[i] = pb[i] + s * pc[i];
    benchmark::ClobberMemory();
  }
  state.counters["elements_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  return twin::bench::run_benchmarks(argc, argv, [](int& argc_, char** argv_) {
    g_n = std::stoi(twin::bench::take_option(argc_, argv_, "size", "8192"));
    const auto cells = static_cast<long>(g_n) * g_n;
    benchmark::RegisterBenchmark("stream_triad", BM_StreamTriad)->Iterations(iterations(cells))->UseRealTime();
    benchmark::RegisterBenchmark("plain_loop_stencil", BM_PlainLoopStencil)->Iterations(iterations(cells))->UseRealTime();
    benchmark::RegisterBenchmark("kokkos_stencil", BM_KokkosStencil)->Iterations(iterations(cells))->UseRealTime();
    return [](const twin::bench::KeepingReporter& reporter) {
      const double kokkos = reporter.rate("kokkos_stencil", "updates_per_s");
      const double plain = reporter.rate("plain_loop_stencil", "updates_per_s");
      const double triad = reporter.rate("stream_triad", "elements_per_s");
      const double bandwidth = kokkos * 24.0 / 1e9, stream = triad * 32.0 / 1e9;
      return nlohmann::json{{"benchmark", "bench_stencil"},
                            {"grid", {g_n, g_n}},
                            {"bytes_per_update", 24},
                            {"bytes_per_triad_element", 32},
                            {"mlups", kokkos / 1e6},
                            {"bandwidth_gbs", bandwidth},
                            {"stream_triad_gbs", stream},
                            {"fraction_of_stream", stream > 0 ? bandwidth / stream : 0.0},
                            {"plain_loop_mlups", plain / 1e6},
                            {"plain_loop_fraction_of_stream", stream > 0 ? plain * 24.0 / 1e9 / stream : 0.0},
                            {"fraction_of_plain_loop", plain > 0 ? kokkos / plain : 0.0},
                            {"context", twin::bench::context(config_text(g_n))}};
    };
  });
}
