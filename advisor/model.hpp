#pragma once
// A runnable model: a deep ensemble of networks in LibTorch, answering in raw units. The torch
// types stay inside advisor/ (pimpl); callers pass plain arrays.
//
// Thread-safety: a Model is used by one thread at a time. Inference runs without autograd
// except where gradients are asked for (proposal optimisation, attribution).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "advisor/model_package.hpp"

namespace twin::advisor {

class Model {
 public:
  /// Verifies the package (validate(): hash before any deserialisation, shapes, versions) and
  /// builds the networks.
  /// @throws AdvisorError on any problem, naming the model and what is wrong.
  explicit Model(ModelPackage package);
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  const ModelPackage& package() const;
  int inputs() const;
  int outputs() const;
  int members() const;

  /// Runs every member on `batch` rows of inputs (raw units, row-major batch x inputs).
  /// `members_out` receives members x batch x outputs in raw units.
  /// @throws AdvisorError when the model fails at run time (shape or dtype mismatch inside a
  ///         TorchScript module); never returns non-finite values silently: the caller gates them.
  void predict(const double* x, int batch, std::vector<double>& members_out) const;

  /// Ensemble mean and standard deviation (batch x outputs); the standard deviation includes
  /// the kind's noise term where it has one (response_ensemble).
  void predict_moments(const double* x, int batch, std::vector<double>& mean, std::vector<double>& std) const;

  /// d(ensemble mean of output `output`)/d(input), in raw units, for one row of inputs.
  std::vector<double> input_gradient(const double* x, int output) const;

  /// Runs the networks once on typical inputs so the first real cycle is not slow.
  void warm_up() const;

  struct Impl;
  const Impl& impl() const { return *m_impl; }

 private:
  std::unique_ptr<Impl> m_impl;
};

/// The control problem a proposal solves through the surrogate.
///   minimise  sum_(targets) w (y_now + dy(u) - target)^2 + limit_weight * sum (y_now + dy(u) - max)_+^2
///             + energy_weight * sum_j u_j
///   over      lower <= u <= upper (bounds and rate limits intersected)
/// where dy(u) is the surrogate's ensemble mean with the inputs `features` and u written into
/// `control_inputs`. Outputs are indexed as the surrogate's outputs; `base` gives y_now for each.
struct ProposalProblem {
  std::vector<double> features;            ///< surrogate inputs (the control slots are overwritten)
  std::vector<int> control_inputs;         ///< input index of each control
  std::vector<double> lower, upper;        ///< per control
  std::vector<double> start;               ///< per control: one candidate starts here (e.g. the safe default)
  std::vector<double> base;                ///< per output: the value its prediction is added to
  std::vector<double> target, target_weight; ///< per output (weight 0: not tracked)
  std::vector<double> limit;               ///< per output (+inf: none)
  double energy_weight = 0.0;
  double limit_weight = 100.0;
  int candidates = 8;
  int iterations = 25;
  unsigned seed = 1;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct ProposalResult {
  std::vector<double> controls;            ///< the best candidate
  std::vector<double> mean, std;           ///< the surrogate's outputs there (raw)
  double cost = 0.0;
  int iterations = 0;                      ///< done before the deadline
  bool complete = false;                   ///< all iterations done in time
};

/// Projected-gradient descent from `candidates` starts (the start point, the box centre, random
/// points), batched in one forward per iteration; stops early at `deadline`.
/// @throws AdvisorError when the surrogate fails at run time.
ProposalResult propose(const Model& surrogate, const ProposalProblem& problem);

}  // namespace twin::advisor
