// What the trainers of every model kind share: splits, statistics, normalisation, package head.
#include "advisor/detail/training_data.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "advisor/version.hpp"
#include "ground/check.hpp"
#include "ground/mpi.hpp"
#include "twin/error.hpp"

namespace twin::advisor::detail {

namespace {

FeatureStatistics statistics(const Dataset& d, int bins, MPI_Comm comm) {
  FeatureStatistics s;
  const int n = d.inputs;
  double count = 0.0;
  column_moments(d.x, n, comm, s.mean, s.std, count);
  s.samples = static_cast<long>(count);
  const long r = d.rows();
  s.covariance.assign(static_cast<std::size_t>(n) * n, 0.0);
  for (long i = 0; i < r; ++i)
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b)
        s.covariance[a * n + b] += (d.x[i * n + a] - s.mean[a]) * (d.x[i * n + b] - s.mean[b]);
  allreduce_sum(s.covariance, comm);
  for (double& c : s.covariance) c = count > 1 ? c / (count - 1) : 0.0;
  std::vector<double> lo(n, std::numeric_limits<double>::infinity()), hi(n, -std::numeric_limits<double>::infinity());
  for (long i = 0; i < r; ++i)
    for (int j = 0; j < n; ++j) lo[j] = std::min(lo[j], d.x[i * n + j]), hi[j] = std::max(hi[j], d.x[i * n + j]);
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, lo.data(), n, MPI_DOUBLE, MPI_MIN, comm));
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, hi.data(), n, MPI_DOUBLE, MPI_MAX, comm));
  s.bins = bins;
  s.edges.assign(static_cast<std::size_t>(n) * (bins + 1), 0.0);
  s.fractions.assign(static_cast<std::size_t>(n) * bins, 0.0);
  for (int j = 0; j < n; ++j) {
    const double a = std::isfinite(lo[j]) ? lo[j] : 0.0, b = std::isfinite(hi[j]) && hi[j] > a ? hi[j] : a + 1.0;
    for (int k = 0; k <= bins; ++k) s.edges[j * (bins + 1) + k] = a + (b - a) * k / bins;
    for (long i = 0; i < r; ++i) {
      const int k = std::min(bins - 1, std::max(0, static_cast<int>((d.x[i * n + j] - a) / (b - a) * bins)));
      s.fractions[j * bins + k] += 1.0;
    }
  }
  allreduce_sum(s.fractions, comm);
  for (double& f : s.fractions) f = count > 0 ? f / count : 0.0;
  return s;
}

}  // namespace

void allreduce_sum(std::vector<double>& v, MPI_Comm comm) {
  if (!v.empty()) TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, comm));
}

// Global column means and standard deviations of rows (n columns).
void column_moments(const std::vector<double>& rows, int n, MPI_Comm comm, std::vector<double>& mean,
                    std::vector<double>& sd, double& count) {
  std::vector<double> acc(2 * n + 1, 0.0);
  const long r = n ? static_cast<long>(rows.size()) / n : 0;
  for (long i = 0; i < r; ++i)
    for (int j = 0; j < n; ++j) acc[j] += rows[i * n + j];
  acc[2 * n] = static_cast<double>(r);
  allreduce_sum(acc, comm);
  count = acc[2 * n];
  mean.assign(n, 0.0);
  for (int j = 0; j < n; ++j) mean[j] = count > 0 ? acc[j] / count : 0.0;
  std::vector<double> var(n, 0.0);
  for (long i = 0; i < r; ++i)
    for (int j = 0; j < n; ++j) var[j] += (rows[i * n + j] - mean[j]) * (rows[i * n + j] - mean[j]);
  allreduce_sum(var, comm);
  sd.assign(n, 1.0);
  for (int j = 0; j < n; ++j) sd[j] = count > 1 ? std::sqrt(var[j] / (count - 1)) : 0.0;
}


// The statistics of the union of two data sets from theirs (pooled mean and covariance); the
// histogram is the newer set's. A fine-tuned model keeps what its start model knew: its OOD
// score covers both.
FeatureStatistics pooled(const FeatureStatistics& a, const FeatureStatistics& b) {
  if (a.mean.size() != b.mean.size() || a.covariance.size() != b.covariance.size() || a.samples < 2) return b;
  const std::size_t n = b.mean.size();
  const double na = static_cast<double>(a.samples), nb = static_cast<double>(b.samples), total = na + nb;
  FeatureStatistics s = b;
  s.samples = a.samples + b.samples;
  for (std::size_t i = 0; i < n; ++i) s.mean[i] = (na * a.mean[i] + nb * b.mean[i]) / total;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      const double shift = (a.mean[i] - b.mean[i]) * (a.mean[j] - b.mean[j]) * na * nb / total;
      s.covariance[i * n + j] =
          ((na - 1.0) * a.covariance[i * n + j] + (nb - 1.0) * b.covariance[i * n + j] + shift) / (total - 1.0);
    }
  for (std::size_t i = 0; i < n; ++i) s.std[i] = std::sqrt(std::max(0.0, s.covariance[i * n + i]));
  return s;
}

void check_shapes(const Dataset& shard, const TrainSpec& spec) {
  TWIN_REQUIRE(shard.inputs == static_cast<int>(spec.inputs.size()) && shard.outputs == static_cast<int>(spec.outputs.size()),
               Error,
               "training data has " + std::to_string(shard.inputs) + " inputs and " + std::to_string(shard.outputs) +
                   " outputs, the model declares " + std::to_string(spec.inputs.size()) + " and " +
                   std::to_string(spec.outputs.size()));
}

// A deterministic split of this rank's rows into training and validation: whole groups where
// the rows have them (spec.validation_group, else a seeded draw per group), rows otherwise.
void split_rows(const Dataset& shard, const TrainSpec& spec, MPI_Comm comm, Dataset& train, Dataset& valid) {
  int rank = 0;
  TWIN_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  const int n_in = shard.inputs, n_out = shard.outputs;
  const long rows = shard.rows();
  std::mt19937_64 split_rng(static_cast<std::uint64_t>(spec.seed) * 7919u + static_cast<std::uint64_t>(rank));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  train = Dataset{n_in, n_out, {}, {}, {}};
  valid = Dataset{n_in, n_out, {}, {}, {}};
  const bool grouped = static_cast<long>(shard.group.size()) == rows;
  const auto add = [&](Dataset& d, long i) {
    const std::vector<double> xi(shard.x.begin() + i * n_in, shard.x.begin() + (i + 1) * n_in);
    const std::vector<double> yi(shard.y.begin() + i * n_out, shard.y.begin() + (i + 1) * n_out);
    d.add(xi, yi, grouped ? shard.group[i] : -1);
  };
  std::map<long, bool> held_out;  // group -> validation
  for (long i = 0; i < rows; ++i) {
    bool validation = false;
    if (grouped) {
      const auto it = held_out.find(shard.group[i]);
      validation = it != held_out.end() ? it->second
                   : (held_out[shard.group[i]] = spec.validation_group ? spec.validation_group(shard.group[i])
                                                                       : unit(split_rng) < spec.validation_fraction);
    } else {
      validation = unit(split_rng) < spec.validation_fraction;
    }
    add(validation ? valid : train, i);
  }
  // Few groups may all land in training: then every k-th group (k = 1 / fraction) is held out.
  long held = valid.rows();
  TWIN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &held, 1, MPI_LONG, MPI_SUM, comm));
  if (grouped && held == 0 && spec.validation_fraction > 0 && !spec.validation_group) {
    const long every = std::max(2L, std::lround(1.0 / spec.validation_fraction));
    train = Dataset{n_in, n_out, {}, {}, {}};
    for (long i = 0; i < rows; ++i) add(shard.group[i] % every == every - 1 ? valid : train, i);
  }
}

// What every trained package starts with: names, kind, the statistics of all of `shard` (pooled
// with `start`'s), the normalisation of the training rows (a constant input keeps scale 1;
// classification outputs are logits, unscaled). `count`: the training rows over the ranks.
ModelPackage package_head(const Dataset& shard, const Dataset& train, const TrainSpec& spec, const char* kind,
                          const ModelPackage* start, MPI_Comm comm, double& count) {
  ModelPackage p;
  p.name = spec.name;
  p.role = spec.role;
  p.kind = kind;
  p.inputs = spec.inputs;
  p.outputs = spec.outputs;
  p.libtorch_version = libtorch_version();
  p.training = statistics(shard, spec.histogram_bins, comm);
  if (start) p.training = pooled(start->training, p.training);
  const int n_in = shard.inputs, n_out = shard.outputs;
  column_moments(train.x, n_in, comm, p.input_mean, p.input_scale, count);
  TWIN_REQUIRE(count >= 2, Error, "too little training data for model '" + spec.name + "' (" + std::to_string(count) + " rows)");
  for (int j = 0; j < n_in; ++j)
    if (!(p.input_scale[j] > 1e-12 * std::max(1.0, std::abs(p.input_mean[j])))) p.input_scale[j] = 1.0;  // a constant input
  if (spec.loss == Loss::regression) {
    double ignored = 0.0;
    column_moments(train.y, n_out, comm, p.output_mean, p.output_scale, ignored);
    for (int j = 0; j < n_out; ++j)
      if (!(p.output_scale[j] > 1e-12)) p.output_scale[j] = 1.0;
  } else {
    p.output_mean.assign(n_out, 0.0);  // logits
    p.output_scale.assign(n_out, 1.0);
  }
  return p;
}

}  // namespace twin::advisor::detail
