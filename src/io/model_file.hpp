#pragma once
// Model packages as HDF5 files (the registry that holds them: io/model_registry.hpp).
//
// File layout (h5dump shows it all):
//   /metadata                  JSON string: names, kind, role, lineage, metrics, versions, hashes
//   /normalization/{input_mean, input_scale, output_mean, output_scale}
//   /training_statistics/{mean, std, covariance, histogram_edges, histogram_fractions}
//   /weights/layer0.weight ... float32 [ensemble, in, out] (mlp_ensemble)
//   /script                    uint8, the TorchScript module (torchscript)

#include <string>
#include <vector>

#include "advisor/model_package.hpp"

namespace twin::io {

/// Writes a package; the file appears complete or not at all (written beside, then renamed).
void write_model(const std::string& path, const advisor::ModelPackage& package);

/// Reads a package. Does not verify it (advisor::validate does, before anything runs it).
/// @throws DataError naming the path when the file is missing, truncated, not HDF5 or lacks
///         a part of the layout above.
advisor::ModelPackage read_model(const std::string& path);

}  // namespace twin::io
