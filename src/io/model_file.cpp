#include "io/model_file.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "ground/atomic_write.hpp"
#include "ground/sha256.hpp"
#include "io/hdf5.hpp"
#include "io/hdf5_package.hpp"
#include "twin/error.hpp"

namespace twin::io {

namespace fs = std::filesystem;
using advisor::ModelPackage;
using package::PackageReader;
using package::write_array;
using package::write_text;

void write_model(const std::string& path, const ModelPackage& p) {
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  atomic_replace(target, [&](const fs::path& tmp_path) {
    const std::string tmp = tmp_path.string();
    Hdf5Id file(package::create_checksummed_file(tmp));
    if (file.get() < 0) throw DataError(tmp + ": cannot create model file");
    nlohmann::json meta;
    meta["format"] = "twinrt-model-1";
    meta["name"] = p.name;
    meta["version"] = p.version;
    meta["kind"] = p.kind;
    meta["role"] = p.role;
    meta["inputs"] = p.inputs;
    meta["outputs"] = p.outputs;
    meta["ensemble"] = p.ensemble;
    meta["hidden"] = p.hidden;
    meta["metrics"] = p.metrics;
    meta["attributes"] = p.attributes;
    meta["libtorch_version"] = p.libtorch_version;
    meta["weights_sha256"] = p.weights_sha256;
    meta["package_sha256"] = p.package_sha256;
    meta["signature"] = p.signature;
    meta["training_samples"] = p.training.samples;
    meta["histogram_bins"] = p.training.bins;
    meta["lineage"] = {{"parent_version", p.lineage.parent_version}, {"data_sha256", p.lineage.data_sha256},
                       {"config_sha256", p.lineage.config_sha256}, {"seed", p.lineage.seed},
                       {"ranks", p.lineage.ranks},                 {"created_utc", p.lineage.created_utc},
                       {"twinrt_version", p.lineage.twinrt_version}};
    std::vector<std::string> names;
    for (const auto& w : p.weights) names.push_back(w.name);
    meta["weights"] = names;
    write_text(file.get(), "metadata", meta.dump(2));
    Hdf5Id norm(TWIN_HDF5_CHECK(H5Gcreate2(file.get(), "normalization", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
    write_array(norm.get(), "input_mean", p.input_mean);
    write_array(norm.get(), "input_scale", p.input_scale);
    write_array(norm.get(), "output_mean", p.output_mean);
    write_array(norm.get(), "output_scale", p.output_scale);
    Hdf5Id stats(TWIN_HDF5_CHECK(H5Gcreate2(file.get(), "training_statistics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
    const hsize_t n = p.training.mean.size(), bins = static_cast<hsize_t>(p.training.bins);
    write_array(stats.get(), "mean", p.training.mean);
    write_array(stats.get(), "std", p.training.std);
    write_array(stats.get(), "covariance", p.training.covariance, {n, n});
    write_array(stats.get(), "histogram_edges", p.training.edges, {n, bins + 1});
    write_array(stats.get(), "histogram_fractions", p.training.fractions, {n, bins});
    Hdf5Id weights(TWIN_HDF5_CHECK(H5Gcreate2(file.get(), "weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
    for (const auto& w : p.weights)
      write_array(weights.get(), w.name, w.values, std::vector<hsize_t>(w.shape.begin(), w.shape.end()));
    if (!p.script.empty()) write_array(file.get(), "script", p.script);
    TWIN_HDF5_CHECK(H5Fflush(file.get(), H5F_SCOPE_GLOBAL));
  });
}

ModelPackage read_model(const std::string& path) {
  const PackageReader r(path, "model file");
  ModelPackage p;
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(r.text("metadata"));
    if (meta.value("format", "") != "twinrt-model-1") throw DataError(path + ": unknown model format");
    p.name = meta.at("name").get<std::string>();
    p.version = meta.at("version").get<int>();
    p.kind = meta.at("kind").get<std::string>();
    p.role = meta.at("role").get<std::string>();
    p.inputs = meta.at("inputs").get<std::vector<std::string>>();
    p.outputs = meta.at("outputs").get<std::vector<std::string>>();
    p.ensemble = meta.at("ensemble").get<int>();
    p.hidden = meta.at("hidden").get<std::vector<int>>();
    p.metrics = meta.at("metrics").get<std::map<std::string, double>>();
    p.attributes = meta.at("attributes").get<std::map<std::string, std::string>>();
    p.libtorch_version = meta.at("libtorch_version").get<std::string>();
    p.weights_sha256 = meta.at("weights_sha256").get<std::string>();
    p.package_sha256 = meta.value("package_sha256", std::string());
    p.signature = meta.value("signature", std::string());
    p.training.samples = meta.at("training_samples").get<long>();
    p.training.bins = meta.at("histogram_bins").get<int>();
    const auto& l = meta.at("lineage");
    p.lineage = {l.at("parent_version").get<int>(), l.at("data_sha256").get<std::string>(),
                 l.at("config_sha256").get<std::string>(), l.at("seed").get<unsigned>(), l.at("ranks").get<int>(),
                 l.at("created_utc").get<std::string>(), l.at("twinrt_version").get<std::string>()};
    for (const auto& name : meta.at("weights").get<std::vector<std::string>>()) {
      std::vector<hsize_t> dims;
      advisor::NamedTensor t;
      t.name = name;
      t.values = r.array<float>("weights/" + name, &dims);
      t.shape.assign(dims.begin(), dims.end());
      p.weights.push_back(std::move(t));
    }
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path + ": model metadata is malformed: " + e.what());
  }
  p.input_mean = r.array<double>("normalization/input_mean");
  p.input_scale = r.array<double>("normalization/input_scale");
  p.output_mean = r.array<double>("normalization/output_mean");
  p.output_scale = r.array<double>("normalization/output_scale");
  p.training.mean = r.array<double>("training_statistics/mean");
  p.training.std = r.array<double>("training_statistics/std");
  p.training.covariance = r.array<double>("training_statistics/covariance");
  p.training.edges = r.array<double>("training_statistics/histogram_edges");
  p.training.fractions = r.array<double>("training_statistics/histogram_fractions");
  if (p.kind == advisor::kind_torchscript) p.script = r.array<std::uint8_t>("script");
  return p;
}

}  // namespace twin::io
