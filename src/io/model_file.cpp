#include "io/model_file.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "ground/atomic_write.hpp"
#include "ground/sha256.hpp"
#include "io/hdf5.hpp"
#include "twin/error.hpp"

namespace twin::io {

namespace fs = std::filesystem;
using advisor::ModelPackage;

namespace {

template <class T>
hid_t native_type();
template <>
hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <>
hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <>
hid_t native_type<std::uint8_t>() { return H5T_NATIVE_UINT8; }

template <class T>
void write_array(hid_t parent, const std::string& name, const std::vector<T>& values, std::vector<hsize_t> dims = {}) {
  if (dims.empty()) dims = {static_cast<hsize_t>(values.size())};
  Hdf5Id space(TWIN_HDF5_CHECK(values.empty() ? H5Screate(H5S_NULL)
                                              : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr)));
  Hdf5Id set(TWIN_HDF5_CHECK(
      H5Dcreate2(parent, name.c_str(), native_type<T>(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  if (!values.empty()) TWIN_HDF5_CHECK(H5Dwrite(set.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()));
}

void write_text(hid_t parent, const char* name, const std::string& text) {
  Hdf5Id type(TWIN_HDF5_CHECK(H5Tcopy(H5T_C_S1)));
  TWIN_HDF5_CHECK(H5Tset_size(type.get(), std::max<std::size_t>(1, text.size())));
  Hdf5Id space(TWIN_HDF5_CHECK(H5Screate(H5S_SCALAR)));
  Hdf5Id set(TWIN_HDF5_CHECK(H5Dcreate2(parent, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  std::string buffer = text.empty() ? std::string(1, '\0') : text;
  TWIN_HDF5_CHECK(H5Dwrite(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()));
}

// Reading: every failure says which file and which part.
class ModelReader {
 public:
  explicit ModelReader(const std::string& path) : m_path(path) {
    if (!fs::exists(path)) throw DataError(path + ": no such model file");
    // Only a regular file: a FIFO would hang the reader, a device or folder makes no sense.
    if (!fs::is_regular_file(path)) throw DataError(path + ": not a regular file (a FIFO, device or folder?)");
    {
      unsigned char head[64] = {0};
      std::ifstream in(path, std::ios::binary);
      in.read(reinterpret_cast<char*>(head), sizeof head);
      const std::string problem = superblock_problem(head, static_cast<std::size_t>(in.gcount()));
      if (!problem.empty()) throw DataError(path + ": not a twinrt model file (" + problem + ")");
    }
    // Strong close: a corrupt file must not leave objects open behind the exception.
    Hdf5Id fapl(TWIN_HDF5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
    TWIN_HDF5_CHECK(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG));
    H5E_BEGIN_TRY { m_file = Hdf5Id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get())); }
    H5E_END_TRY;
    if (m_file.get() < 0) throw DataError(path + ": not a readable HDF5 model file (truncated or corrupt?)");
  }

  bool exists(const std::string& name) const {
    htri_t ok = -1;
    H5E_BEGIN_TRY { ok = H5Lexists(m_file.get(), name.c_str(), H5P_DEFAULT); }
    H5E_END_TRY;
    return ok > 0;
  }

  template <class T>
  std::vector<T> array(const std::string& name, std::vector<hsize_t>* dims_out = nullptr) const {
    Hdf5Id set = open(name);
    Hdf5Id type(H5Dget_type(set.get()));
    const H5T_class_t kind = type.get() < 0 ? H5T_NO_CLASS : H5Tget_class(type.get());
    if ((kind != H5T_FLOAT && kind != H5T_INTEGER) || H5Tget_size(type.get()) > 16) broken(name);
    Hdf5Id space(H5Dget_space(set.get()));
    const int rank = space.get() < 0 ? -1 : H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) broken(name);
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0) broken(name);
    // No more values than the file holds (the product checked as it grows: no overflow).
    hsize_t n = rank > 0 ? 1 : 0;
    for (auto d : dims) {
      if (d != 0 && n > ~hsize_t{0} / d) broken(name);
      n *= d;
    }
    if (!stored_whole(set.get()) || n > (std::size_t{1} << 31)) broken(name);
    std::vector<T> out(n);
    herr_t rc = 0;
    H5E_BEGIN_TRY {
      if (n) rc = H5Dread(set.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
    }
    H5E_END_TRY;
    if (rc < 0) broken(name);
    if (dims_out) *dims_out = dims;
    return out;
  }

  std::string text(const std::string& name) const {
    Hdf5Id set = open(name);
    Hdf5Id type(H5Dget_type(set.get()));
    if (type.get() < 0 || H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) != 0) broken(name);
    Hdf5Id space(H5Dget_space(set.get()));
    if (space.get() < 0 || H5Sget_simple_extent_npoints(space.get()) != 1) broken(name);
    const std::size_t size = H5Tget_size(type.get());
    if (!stored_whole(set.get())) broken(name);
    std::string out(size, '\0');
    herr_t rc = -1;
    H5E_BEGIN_TRY { rc = H5Dread(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()); }
    H5E_END_TRY;
    if (rc < 0) broken(name);
    out.resize(strnlen(out.data(), out.size()));
    return out;
  }

  [[noreturn]] void broken(const std::string& name) const {
    throw DataError(m_path + ": cannot read '" + name + "' (truncated or corrupt model file?)");
  }

 private:
  Hdf5Id open(const std::string& name) const {
    if (!exists(name)) throw DataError(m_path + ": not a twinrt model file: '" + name + "' is missing");
    hid_t id = -1;
    H5E_BEGIN_TRY { id = H5Dopen2(m_file.get(), name.c_str(), H5P_DEFAULT); }
    H5E_END_TRY;
    if (id < 0) broken(name);
    return Hdf5Id(id);
  }

  std::string m_path;
  Hdf5Id m_file;
};

}  // namespace

void write_model(const std::string& path, const ModelPackage& p) {
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  atomic_replace(target, [&](const fs::path& tmp_path) {
    const std::string tmp = tmp_path.string();
    Hdf5Id file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
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
  const ModelReader r(path);
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
