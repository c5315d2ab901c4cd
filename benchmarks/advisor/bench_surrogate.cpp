// The surrogate against the solver it replaces, on the same what-if question ("the sensors after
// each lead time for this state and these controls"), in one run:
//   accuracy: the ensemble mean on held-out cases the solver generated with other draws than the
//             training data (relative error, rmse, max error, 2-sigma coverage of its spread);
//   speed:    a one-member solver advancing the longest lead from a warm state, against one
//             predict_moments call for one row (and per row in a batch of 64);
//   baselines: linear response models fitted by least squares on the data twin train generates
//             (issue 16, part 5): for fixed parameters the PDE is linear in state and controls,
//             so the sensors' changes are nearly linear in the surrogate's inputs; "linear" takes
//             the inputs as they are, "bilinear" adds each parameter times each state and control
//             input (the first-order dependence of that linear map on the parameters). Their error
//             on the same held-out cases, and their time per case.
//
//   solver baselines: the twin's own solver on coarser grids and with large implicit steps, on
//             cases drawn as twin train draws them (advisor/solver_baselines.hpp); the summary
//             names the fastest baseline whose error is at most the surrogate's, and the
//             surrogate's speedup against it (null when no baseline is that accurate); for a
//             response_ensemble surrogate (itself a least-squares response model) also the
//             fastest baseline of another family than its own; and the most accurate baseline
//             of all, for when none is as accurate as the surrogate.
//   build/bin/bench_surrogate [--config configs/plate.yaml] [--registry DIR] [--summary FILE]
//                             [--baseline-sequences N (default training.control_sequences)]
//                             [--solver-cases N (default 8)]
// Exits 77 (with the `twin train` command to run) when the registry has no active surrogate.
#include <cmath>
#include <cstdlib>

#include "advisor/model.hpp"
#include "advisor/version.hpp"
#include "advisor_bench.hpp"
#include "solver_baselines.hpp"
#include "assimilation/enkf.hpp"
#include "ground/log.hpp"
#include "solvers/solver.hpp"
#include "twin/error.hpp"

namespace {

using namespace twin;
using bench::Clock;

// A linear response model: y = W f(x), f the features (1, the inputs, and with `bilinear` each
// parameter times each state and control input), W by ridge-regularised least squares on
// standardised features (normal equations, Cholesky).
class LinearResponse {
 public:
  LinearResponse(const detail::SurrogateLayout& layout, bool bilinear) : m_layout(layout), m_bilinear(bilinear) {}

  void features(const double* x, std::vector<double>& f) const {
    const int lin = m_layout.theta0(), P = m_layout.parameters;
    f.assign(1, 1.0);
    f.insert(f.end(), x, x + lin + P);
    if (m_bilinear)
      for (int k = 0; k < P; ++k)
        for (int j = 0; j < lin; ++j) f.push_back(x[lin + k] * x[j]);
  }

  void fit(const advisor::Dataset& d) {
    std::vector<double> f;
    features(d.x.data(), f);
    const int F = static_cast<int>(f.size()), O = d.outputs;
    const long rows = d.rows();
    m_mean.assign(F, 0.0);
    m_scale.assign(F, 0.0);
    std::vector<std::vector<double>> all(static_cast<std::size_t>(rows));
    for (long r = 0; r < rows; ++r) {
      features(d.x.data() + r * d.inputs, all[r]);
      for (int i = 0; i < F; ++i) m_mean[i] += all[r][i] / static_cast<double>(rows);
    }
    for (long r = 0; r < rows; ++r)
      for (int i = 0; i < F; ++i) m_scale[i] += (all[r][i] - m_mean[i]) * (all[r][i] - m_mean[i]) / static_cast<double>(rows);
    for (int i = 0; i < F; ++i) m_scale[i] = m_scale[i] > 1e-24 ? std::sqrt(m_scale[i]) : 0.0;  // 0: the constant
    const auto z = [&](const std::vector<double>& g, int i) { return m_scale[i] > 0.0 ? (g[i] - m_mean[i]) / m_scale[i] : 1.0; };
    std::vector<double> a(static_cast<std::size_t>(F) * F, 0.0), b(static_cast<std::size_t>(F) * O, 0.0);
    for (long r = 0; r < rows; ++r)
      for (int i = 0; i < F; ++i) {
        const double zi = z(all[r], i);
        for (int j = 0; j <= i; ++j) a[i * F + j] += zi * z(all[r], j);
        for (int o = 0; o < O; ++o) b[i * O + o] += zi * d.y[r * O + o];
      }
    for (int i = 0; i < F; ++i) {
      for (int j = 0; j < i; ++j) a[j * F + i] = a[i * F + j];
      a[i * F + i] += 1e-8 * static_cast<double>(rows);  // ridge: keeps collinear features solvable
    }
    if (!detail::cholesky(a, F)) throw Error("linear response baseline: the normal equations are not positive definite");
    m_w.assign(static_cast<std::size_t>(F) * O, 0.0);
    std::vector<double> v(F);
    for (int o = 0; o < O; ++o) {
      for (int i = 0; i < F; ++i) v[i] = b[i * O + o];
      detail::cholesky_solve(a, F, v.data());
      for (int i = 0; i < F; ++i) m_w[i * O + o] = v[i];
    }
    m_outputs = O;
  }

  void predict(const double* x, std::vector<double>& f, double* y) const {
    features(x, f);
    for (int o = 0; o < m_outputs; ++o) y[o] = 0.0;
    for (std::size_t i = 0; i < f.size(); ++i) {
      const double zi = m_scale[i] > 0.0 ? (f[i] - m_mean[i]) / m_scale[i] : 1.0;
      for (int o = 0; o < m_outputs; ++o) y[o] += zi * m_w[i * m_outputs + o];
    }
  }
  int features_count() const { return static_cast<int>(m_mean.size()); }

 private:
  detail::SurrogateLayout m_layout;
  bool m_bilinear;
  std::vector<double> m_mean, m_scale, m_w;
  int m_outputs = 0;
};

// Fits both baselines on `training` and measures them on the held-out `data`.
nlohmann::json baselines(const detail::SurrogateLayout& layout, const advisor::Dataset& training, const advisor::Dataset& data) {
  nlohmann::json out = nlohmann::json::array();
  for (const bool bilinear : {false, true}) {
    LinearResponse lr(layout, bilinear);
    lr.fit(training);
    const int o = data.outputs;
    std::vector<double> f, y(static_cast<std::size_t>(o));
    double err2 = 0.0, ref2 = 0.0;
    for (long r = 0; r < data.rows(); ++r) {
      lr.predict(data.x.data() + r * data.inputs, f, y.data());
      for (int k = 0; k < o; ++k) {
        const double e = y[k] - data.y[r * o + k];
        err2 += e * e, ref2 += data.y[r * o + k] * data.y[r * o + k];
      }
    }
    std::vector<double> us;
    for (int c = -100; c < 2000; ++c) {
      const auto t0 = Clock::now();
      lr.predict(data.x.data() + (static_cast<long>(c + 100) % data.rows()) * data.inputs, f, y.data());
      if (c >= 0) us.push_back(bench::us_since(t0));
    }
    out.push_back({{"model", bilinear ? "bilinear" : "linear"},
                   {"features", lr.features_count()},
                   {"training_rows", training.rows()},
                   {"relative_error", std::sqrt(err2 / ref2)},
                   {"us_per_case", bench::quantile(us, 0.5)}});
    std::fprintf(stderr, "bench_surrogate: %s response (%d features, %ld training rows): relative error %.4f, %.2f us per case\n",
                 bilinear ? "bilinear" : "linear", lr.features_count(), training.rows(), std::sqrt(err2 / ref2),
                 bench::quantile(us, 0.5));
  }
  return out;
}

nlohmann::json run(const bench::SurrogateSetup& s, int baseline_sequences, int solver_cases) {
  const int calls = 2000;
  const Config& config = s.config;
  const detail::SurrogateLayout layout = detail::surrogate_layout(config);
  const advisor::Model model(io::read_model(s.path));
  if (model.package().inputs != layout.inputs || model.package().outputs != layout.outputs)
    throw Error(advisor::label(model.package()) + " does not match the config's sensors, controls and lead times; train it again");
  const int n = model.inputs(), o = model.outputs();
  const int L = static_cast<int>(layout.lead_cycles.size());

  // Accuracy on held-out cases: all rows in one call.
  auto t0 = Clock::now();
  const advisor::Dataset data = bench::held_out(config, 2, 4, 4);
  const long rows = data.rows();
  std::fprintf(stderr, "bench_surrogate: %ld held-out cases from the solver in %.1f s\n", rows, bench::us_since(t0) / 1e6);
  std::vector<double> mean, sd;
  model.predict_moments(data.x.data(), static_cast<int>(rows), mean, sd);
  double err2 = 0.0, ref2 = 0.0, max_abs = 0.0;
  long covered = 0;
  std::vector<double> lead_err2(L, 0.0), lead_ref2(L, 0.0);
  for (long r = 0; r < rows; ++r)
    for (int k = 0; k < o; ++k) {
      const std::size_t i = static_cast<std::size_t>(r * o + k);
      const double e = mean[i] - data.y[i];
      err2 += e * e, ref2 += data.y[i] * data.y[i];
      lead_err2[k / layout.sensors] += e * e, lead_ref2[k / layout.sensors] += data.y[i] * data.y[i];
      max_abs = std::max(max_abs, std::abs(e));
      covered += std::abs(e) <= 2.0 * sd[i];
    }
  std::vector<double> lead_s, lead_rel;
  for (int l = 0; l < L; ++l) {
    lead_s.push_back(layout.lead_cycles[l] * config.twin.control_period_s);
    lead_rel.push_back(std::sqrt(lead_err2[l] / lead_ref2[l]));
  }

  // The solver's answer to one case: one member over the longest lead, from a warm state, with
  // the first held-out case's parameters and controls.
  Config local = config;
  local.grid.ranks.clear();
  const solvers::Decomposition dec(local.grid, MPI_COMM_SELF);
  auto solver = solvers::make_solver(solvers::SolverConfig::from(local), dec, 1);
  solvers::ParameterSet p = solvers::configured_parameters(config.physics);
  for (int k = 0; k < layout.parameters; ++k)
    p[solvers::parameter_index(config.ensemble.parameters[k].name)] = data.x[layout.theta0() + k];
  solver->set_parameters({p});
  solver->set_controls(std::vector<double>(data.x.begin() + layout.u0(), data.x.begin() + layout.u0() + layout.controls));
  solvers::Field u = solver->make_field("bench::u"), warm = solver->make_field("bench::warm");
  const double period = config.twin.control_period_s, lead = layout.lead_cycles.back() * period;
  solver->advance(warm, 0.0, 3 * period);  // warm state, and every kernel run once
  std::vector<double> solver_ms;
  solvers::StepReport report;
  for (int rep = 0; rep < 7; ++rep) {
    Kokkos::deep_copy(u, warm);
    Kokkos::fence();
    t0 = Clock::now();
    report = solver->advance(u, 3 * period, lead);
    Kokkos::fence();  // advance may return before the device has finished
    solver_ms.push_back(bench::us_since(t0) / 1e3);
  }

  // The surrogate's answer to one case (rows taken in turn), and per case in a batch of 64.
  std::vector<double> one_us, batch_us, batch(static_cast<std::size_t>(64) * n);
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i] = data.x[i % data.x.size()];
  for (int c = -100; c < calls; ++c) {  // the first 100 warm up
    const double* x = data.x.data() + (static_cast<long>(c + 100) % rows) * n;
    t0 = Clock::now();
    model.predict_moments(x, 1, mean, sd);
    if (c >= 0) one_us.push_back(bench::us_since(t0));
  }
  for (int c = -10; c < calls / 10; ++c) {
    t0 = Clock::now();
    model.predict_moments(batch.data(), 64, mean, sd);
    if (c >= 0) batch_us.push_back(bench::us_since(t0) / 64);
  }

  // The linear baselines, fitted on the training generator's data (training.seed).
  t0 = Clock::now();
  Config tc = config;
  tc.training.control_sequences = baseline_sequences > 0 ? baseline_sequences : config.training.control_sequences;
  const advisor::Dataset training = detail::generate_surrogate_data(tc, layout, 0, 1, false);
  std::fprintf(stderr, "bench_surrogate: %ld training rows for the linear baselines in %.1f s\n", training.rows(),
               bench::us_since(t0) / 1e6);
  const nlohmann::json linear = baselines(layout, training, data);

  // The twin's solver made cheaper: coarser grids, large implicit steps (solver_baselines.hpp).
  t0 = Clock::now();
  const nlohmann::json cheap_solvers = bench::solver_baselines(config, layout.lead_cycles, solver_cases, config.training.seed + 2000);
  std::fprintf(stderr, "bench_surrogate: solver baselines on %d cases in %.1f s\n", solver_cases, bench::us_since(t0) / 1e6);

  // The best baseline at the surrogate's accuracy: the fastest whose error is no larger. A
  // response_ensemble surrogate is itself a least-squares response model (of order 1 or 2 in the
  // parameters): the linear and bilinear baselines are then fits of its own family, and the best
  // baseline of another family is reported beside the best of all.
  const double surrogate_error = std::sqrt(err2 / ref2);
  const bool response_surrogate = model.package().kind == advisor::kind_response_ensemble;
  nlohmann::json best, best_other, most_accurate;  // most_accurate: of any family, whatever its error
  const auto consider = [&](const std::string& name, double error, double us, bool same_family) {
    const nlohmann::json entry{{"baseline", name}, {"relative_error", error}, {"us_per_case", us}};
    if (most_accurate.is_null() || error < most_accurate["relative_error"].get<double>()) most_accurate = entry;
    if (error > surrogate_error) return;
    if (best.is_null() || us < best["us_per_case"].get<double>()) best = entry;
    if (!same_family && (best_other.is_null() || us < best_other["us_per_case"].get<double>())) best_other = entry;
  };
  for (const auto& b : linear)
    consider(b["model"].get<std::string>() + " response", b["relative_error"], b["us_per_case"], response_surrogate);
  for (const auto& b : cheap_solvers["baselines"]) consider(b["baseline"], b["relative_error"], 1e3 * b["ms"].get<double>(), false);

  const double solver_med = bench::quantile(solver_ms, 0.5), one_med = bench::quantile(one_us, 0.5);
  const auto& metrics = model.package().metrics;
  std::fprintf(stderr, "bench_surrogate: %s relative error %.4f on %ld held-out cases; solver %.2f ms (%d steps) vs surrogate %.1f us: %.0fx\n",
               advisor::label(model.package()).c_str(), std::sqrt(err2 / ref2), rows, solver_med, report.steps, one_med,
               solver_med * 1e3 / one_med);
  return {{"benchmark", "bench_surrogate"},
          {"model", advisor::label(model.package())},
          {"model_path", s.path},
          {"ensemble", model.members()},
          {"inputs", n},
          {"outputs", o},
          {"cases", rows},
          {"relative_error", std::sqrt(err2 / ref2)},
          {"rmse", std::sqrt(err2 / static_cast<double>(rows * o))},
          {"max_abs_error", max_abs},
          {"coverage_2sigma", static_cast<double>(covered) / static_cast<double>(rows * o)},
          {"lead_s", lead_s},
          {"relative_error_by_lead", lead_rel},
          {"training_validation_relative_error",
           metrics.count("validation_relative_error") ? metrics.at("validation_relative_error") : -1.0},
          {"solver_ms", solver_med},
          {"solver_ms_min", *std::min_element(solver_ms.begin(), solver_ms.end())},
          {"solver_repetitions", solver_ms.size()},
          {"solver_steps", report.steps},
          {"solver_dt_s", report.dt_s},
          {"solver_lead_s", lead},
          {"integrator", config.time.integrator},
          {"grid", config.grid.cells},
          {"surrogate_us", one_med},
          {"surrogate_p99_us", bench::quantile(one_us, 0.99)},
          {"surrogate_calls", one_us.size()},
          {"surrogate_batch_us_per_case", bench::quantile(batch_us, 0.5)},
          {"batch", 64},
          {"speedup", solver_med * 1e3 / one_med},
          {"linear_baselines", linear},
          {"solver_baselines", cheap_solvers},
          {"surrogate_kind", model.package().kind},
          {"best_baseline_at_surrogate_error", best},
          {"speedup_vs_best_baseline",
           best.is_null() ? nlohmann::json() : nlohmann::json(best["us_per_case"].get<double>() / one_med)},
          {"best_other_family_baseline_at_surrogate_error", best_other},
          {"speedup_vs_best_other_family_baseline",
           best_other.is_null() ? nlohmann::json() : nlohmann::json(best_other["us_per_case"].get<double>() / one_med)},
          {"most_accurate_baseline", most_accurate},
          {"speedup_vs_most_accurate_baseline",
           most_accurate.is_null() ? nlohmann::json() : nlohmann::json(most_accurate["us_per_case"].get<double>() / one_med)},
          {"context", bench::context(to_yaml(config))}};
}

}  // namespace

int main(int argc, char** argv) {
  bench::SurrogateSetup setup;
  if (const int code = bench::find_surrogate(argc, argv, "bench_surrogate", setup)) return code;
  const std::string summary = bench::take_option(argc, argv, "summary", "");
  const int sequences = std::atoi(bench::take_option(argc, argv, "baseline-sequences", "0").c_str());
  const int solver_cases = std::max(1, std::atoi(bench::take_option(argc, argv, "solver-cases", "8").c_str()));
  return bench::run_main(argc, argv, "bench_surrogate", summary, [&] { return run(setup, sequences, solver_cases); });
}
