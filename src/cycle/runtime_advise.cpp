// The advise stage of twin::Runtime (DESIGN.md, "advise" and "gate"): diagnose, propose, the
// physics check of a proposal by the real solver, decide; and the facility's own controls.
#include "cycle/runtime_impl.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <optional>

#include "decision/broadcast.hpp"
#include "decision/decider.hpp"
#include "ground/mpi.hpp"
#include "solvers/ensemble.hpp"
#include "solvers/solver.hpp"
#include "twin/error.hpp"

namespace twin {

using detail::Clock;
using detail::DecisionInputs;
using detail::ms_since;

std::vector<double> Runtime::Impl::physics_check(const std::vector<double>& u) {
  const std::vector<int>& leads = config.training.lead_cycles;
  const solvers::EnsembleMoments mo = solvers::ensemble_moments(layout, x, false);
  std::vector<double> local(leads.size() * static_cast<std::size_t>(S), 0.0), all(local.size(), 0.0);
  if (layout.group() == 0) {
    if (!check_solver) {
      check_solver = solvers::make_solver(solvers::SolverConfig::from(config), decomposition, 1);
      check_x = check_solver->make_field("twin::physics_check");
    }
    solvers::ParameterSet p = solvers::configured_parameters(config.physics);
    for (int q = 0; q < P; ++q) p[estimated[q]] = parameter_estimates[q].mean;
    check_solver->set_parameters({p});
    check_solver->set_controls(u);
    auto h = Kokkos::create_mirror_view(check_x);
    for (std::size_t c = 0; c < mo.mean.size(); ++c) h(0, c) = mo.mean[c];
    Kokkos::deep_copy(check_x, h);
    double t0 = t;
    int done = 0;
    for (std::size_t l = 0; l < leads.size(); ++l) {
      const solvers::StepReport r = check_solver->advance(check_x, t0, (leads[l] - done) * config.twin.control_period_s);
      t0 += (leads[l] - done) * config.twin.control_period_s;
      done = leads[l];
      Kokkos::deep_copy(h, check_x);
      const std::vector<double> share = observation->local_share(h, 0);  // summed over the ranks below
      for (int s = 0; s < S; ++s) local[l * S + s] = r.status == solvers::SolveStatus::ok ? share[s] : std::nan("");
    }
  }
  TWIN_MPI_CHECK(MPI_Allreduce(local.data(), all.data(), static_cast<int>(local.size()), MPI_DOUBLE, MPI_SUM, comm));
  return all;
}

void Runtime::Impl::advise(const DecisionInputs& in, CycleOutcome& out) {
  if (rank == 0) out.anomaly = decider->diagnose(in, estimates);
  detail::broadcast(out.anomaly, comm);
  detail::Proposal proposal;
  if (rank == 0) proposal = decider->propose(in);
  int check = proposal.check ? 1 : 0;
  TWIN_MPI_CHECK(MPI_Bcast(&check, 1, MPI_INT, 0, comm));
  std::optional<std::vector<double>> checked;  // the real solver's sensors for the proposal
  if (check) {
    std::vector<double> controls = proposal.report.proposal;
    controls.resize(decider->controls().size());
    TWIN_MPI_CHECK(MPI_Bcast(controls.data(), static_cast<int>(controls.size()), MPI_DOUBLE, 0, comm));
    const auto start = Clock::now();
    checked = physics_check(controls);
    decider->record_check_cost(ms_since(start));
  }
  detail::Decision decision;
  if (rank == 0) {
    decision = decider->decide(in, proposal, checked);
    out.drift = decider->watch_drift(in, proposal, decision, out.anomaly, estimates);
    out.lifecycle = decider->run_lifecycle(in, proposal, decision, out.drift);
    out.surrogate_error = decider->realised_error();
    if (audit) {
      try {
        audit->append(decider->audit_record(in, proposal, decision, out.anomaly));
      } catch (const std::exception& e) {
        spdlog::error("audit record of cycle {} not written: {}", in.cycle, e.what());
      }
    }
  }
  detail::broadcast(decision, decider->controls().size(), comm);
  decider->adopt(decision);
  out.advice = std::move(decision.advice);
  out.advisor = std::move(decision.report);
}

void Runtime::Impl::apply_controls(const std::vector<double>& values) {
  std::string problem = rank == 0 ? decider->controls_problem(values) : std::string();
  broadcast(problem, comm);
  if (!problem.empty()) throw DataError(problem);
  std::vector<double> u = values;
  u.resize(decider->controls().size());  // only rank 0's values count, whatever the others passed
  TWIN_MPI_CHECK(MPI_Bcast(u.data(), static_cast<int>(u.size()), MPI_DOUBLE, 0, comm));
  decider->override_controls(u);
}

}  // namespace twin
