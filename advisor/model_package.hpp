#pragma once
// A model version as stored in the registry: weights or a TorchScript module, the names and
// normalisation of its inputs and outputs, the statistics of the data it was trained on (for
// out-of-distribution scores now and drift later), validation metrics, lineage and hashes.
// Plain C++: src/io reads and writes it as HDF5, advisor/ turns it into a runnable Model.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace twin::advisor {

/// One named weight array (float32, row-major).
struct NamedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

/// Statistics of the training inputs, in raw units.
struct FeatureStatistics {
  long samples = 0;
  std::vector<double> mean, std;     ///< per input
  std::vector<double> covariance;    ///< inputs x inputs, row-major
  int bins = 0;                      ///< histogram bins per input
  std::vector<double> edges;         ///< inputs x (bins + 1)
  std::vector<double> fractions;     ///< inputs x bins, each row sums to 1
};

/// Where a model version came from.
struct Lineage {
  int parent_version = 0;            ///< 0: none
  std::string data_sha256;           ///< of the training data as generated
  std::string config_sha256;         ///< of the effective configuration it was trained for
  unsigned seed = 0;
  int ranks = 1;                     ///< MPI ranks that trained it (results depend on it)
  std::string created_utc;
  std::string twinrt_version;
};

/// Model kinds. mlp_ensemble: networks defined in C++ (advisor/mlp_ensemble.cpp), weights as
/// named datasets. response_ensemble: least-squares response models (advisor/response_ensemble.cpp),
/// likewise. torchscript: a module imported from PyTorch (`twin models import`).
inline constexpr const char* kind_mlp_ensemble = "mlp_ensemble";
inline constexpr const char* kind_response_ensemble = "response_ensemble";
inline constexpr const char* kind_torchscript = "torchscript";

struct ModelPackage {
  std::string name;                  ///< e.g. "surrogate"
  int version = 0;                   ///< 1, 2, ... within the registry
  std::string kind = kind_mlp_ensemble;
  std::string role;                  ///< "surrogate" or "anomaly"
  std::vector<std::string> inputs, outputs;
  std::vector<double> input_mean, input_scale;    ///< network input = (x - mean) / scale
  std::vector<double> output_mean, output_scale;  ///< y = network output * scale + mean
  int ensemble = 1;                  ///< networks in the deep ensemble
  std::vector<int> hidden;           ///< hidden widths (mlp_ensemble)
  std::vector<NamedTensor> weights;  ///< mlp_ensemble: layer{i}.weight [ensemble, in, out], layer{i}.bias [ensemble, 1, out];
                                     ///< response_ensemble: response.weight, .bias, .noise
  std::vector<std::uint8_t> script;  ///< torchscript: the serialized module
  FeatureStatistics training;
  std::map<std::string, double> metrics;
  Lineage lineage;
  std::string libtorch_version;      ///< LibTorch that wrote it, "1.13.1"
  std::string weights_sha256;        ///< sha256 of the weights (see weights_digest)
  std::string package_sha256;        ///< sha256 of everything that changes a decision (package_digest)
  std::string signature;             ///< HMAC-SHA-256 of package_sha256 under the facility's model key, or empty
  std::map<std::string, std::string> attributes;  ///< role-specific (lead times, class names, ...)
};

/// sha256 (hex) of what `weights_sha256` covers: for mlp_ensemble and response_ensemble every
/// weight's name, shape and bytes in order; for torchscript the module bytes.
std::string weights_digest(const ModelPackage& package);

/// sha256 (hex) of everything in the package that can change a decision or what the audit log
/// says about it: names, version, kind, role, inputs and outputs, architecture, attributes,
/// metrics, lineage, normalisation, training statistics and weights (or module bytes); not
/// `package_sha256` itself. The registry seals a package with it when it stores it.
std::string package_digest(const ModelPackage& package);

/// The package's signature under the facility's model key: HMAC-SHA-256 of its package_sha256.
std::string package_signature(const std::string& key, const ModelPackage& package);

/// Checks a package before anything runs it: weights hash, shapes against inputs/outputs/hidden,
/// normalisation sizes and finiteness, LibTorch major.minor against the running one.
/// @throws AdvisorError saying what is wrong and with which model.
void validate(const ModelPackage& package);

/// "name v3".
std::string label(const ModelPackage& package);

}  // namespace twin::advisor
