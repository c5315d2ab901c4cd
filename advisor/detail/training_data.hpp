#pragma once
// What the trainers of every model kind share (training.cpp: networks; response_training.cpp:
// response models), in plain C++: the split into training and validation rows, the training
// statistics, the normalisation and the package's head. Collective over `comm` where it says so.

#include <mpi.h>

#include <vector>

#include "advisor/training.hpp"

namespace twin::advisor::detail {

/// Sums v over the ranks, in place.
void allreduce_sum(std::vector<double>& v, MPI_Comm comm);

/// Global column means and sample standard deviations of rows (n columns); `count`: rows over
/// the ranks. Collective.
void column_moments(const std::vector<double>& rows, int n, MPI_Comm comm, std::vector<double>& mean,
                    std::vector<double>& sd, double& count);

/// The statistics of the union of two data sets from theirs (pooled mean and covariance); the
/// histogram is the newer set's.
FeatureStatistics pooled(const FeatureStatistics& a, const FeatureStatistics& b);

/// @throws Error unless the data have the inputs and outputs the spec declares.
void check_shapes(const Dataset& shard, const TrainSpec& spec);

/// A deterministic split of this rank's rows into training and validation (whole groups where
/// the rows have them). Collective.
void split_rows(const Dataset& shard, const TrainSpec& spec, MPI_Comm comm, Dataset& train, Dataset& valid);

/// What every trained package starts with: names, kind, the statistics of all of `shard`
/// (pooled with `start`'s), the normalisation of the training rows. `count`: the training rows
/// over the ranks. Collective.
/// @throws Error on fewer than 2 training rows.
ModelPackage package_head(const Dataset& shard, const Dataset& train, const TrainSpec& spec, const char* kind,
                          const ModelPackage* start, MPI_Comm comm, double& count);

}  // namespace twin::advisor::detail
