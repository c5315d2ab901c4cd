#pragma once
// Writing and reading the small HDF5 files twinrt keeps whole (model packages, captured data
// windows): plain arrays and a JSON text, read back with every size checked against what the
// file holds. Inside src/io only.

#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/hdf5.hpp"
#include "twin/error.hpp"

namespace twin::io::package {

namespace fs = std::filesystem;

template <class T>
hid_t native_type();
template <>
inline hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <>
inline hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <>
inline hid_t native_type<std::uint8_t>() { return H5T_NATIVE_UINT8; }
template <>
inline hid_t native_type<long>() { return H5T_NATIVE_LONG; }

template <class T>
void write_array(hid_t parent, const std::string& name, const std::vector<T>& values, std::vector<hsize_t> dims = {}) {
  if (dims.empty()) dims = {static_cast<hsize_t>(values.size())};
  Hdf5Id space(TWIN_HDF5_CHECK(values.empty() ? H5Screate(H5S_NULL)
                                              : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr)));
  Hdf5Id set(TWIN_HDF5_CHECK(
      H5Dcreate2(parent, name.c_str(), native_type<T>(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  if (!values.empty()) TWIN_HDF5_CHECK(H5Dwrite(set.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()));
}

inline void write_text(hid_t parent, const char* name, const std::string& text) {
  Hdf5Id type(TWIN_HDF5_CHECK(H5Tcopy(H5T_C_S1)));
  TWIN_HDF5_CHECK(H5Tset_size(type.get(), std::max<std::size_t>(1, text.size())));
  Hdf5Id space(TWIN_HDF5_CHECK(H5Screate(H5S_SCALAR)));
  Hdf5Id set(TWIN_HDF5_CHECK(H5Dcreate2(parent, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  std::string buffer = text.empty() ? std::string(1, '\0') : text;
  TWIN_HDF5_CHECK(H5Dwrite(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()));
}

/// A new package file in HDF5's 1.8 format: a version 2 superblock and object headers and link
/// indexes that carry checksums, so that libhdf5 refuses a damaged part rather than walking it.
/// (The default 1.6 format's unchecksummed symbol tables let a damaged model file make libhdf5
/// 1.10 read through a null pointer: tests/fuzz found one. StateArchive::encode made the same
/// change for snapshots.) Files are written whole and closed, so the 1.8 bounds lose nothing.
inline Hdf5Id create_checksummed_file(const std::string& path) {
  Hdf5Id fapl(TWIN_HDF5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  TWIN_HDF5_CHECK(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18));
  return Hdf5Id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
}

// Reading: every failure says which file and which part.
class PackageReader {
 public:
  /// `kind`: what the file should be ("model file", "data window"), for the messages.
  PackageReader(const std::string& path, std::string kind) : m_path(path), m_kind(std::move(kind)) {
    if (!fs::exists(path)) throw DataError(path + ": no such " + m_kind);
    // Only a regular file: a FIFO would hang the reader, a device or folder makes no sense.
    if (!fs::is_regular_file(path)) throw DataError(path + ": not a regular file (a FIFO, device or folder?)");
    {
      unsigned char head[64] = {0};
      std::ifstream in(path, std::ios::binary);
      in.read(reinterpret_cast<char*>(head), sizeof head);
      const std::string problem = superblock_problem(head, static_cast<std::size_t>(in.gcount()));
      if (!problem.empty()) throw DataError(path + ": not a twinrt " + m_kind + " (" + problem + ")");
      // Only the checksummed format (create_checksummed_file): libhdf5 walks an unchecksummed
      // one's damaged parts unchecked. Packages of twinrt builds before 2026-12 are in it; h5repack
      // rewrites them in the checksummed one with the same content (and so the same digests).
      if (in.gcount() > 8 && head[8] < 2)
        throw DataError(path + ": a " + m_kind + " in HDF5's unchecksummed format (superblock version " +
                        std::to_string(head[8]) + "; written by an earlier twinrt build, or damaged), which twinrt " +
                        "does not read: a damaged one could crash libhdf5. If it is intact, convert it with " +
                        "`h5repack --latest " + path + " NEW.h5`");
    }
    // Strong close: a corrupt file must not leave objects open behind the exception.
    Hdf5Id fapl(TWIN_HDF5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
    TWIN_HDF5_CHECK(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG));
    H5E_BEGIN_TRY { m_file = Hdf5Id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get())); }
    H5E_END_TRY;
    if (m_file.get() < 0) throw DataError(path + ": not a readable HDF5 " + m_kind + " (truncated or corrupt?)");
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
    throw DataError(m_path + ": cannot read '" + name + "' (truncated or corrupt " + m_kind + "?)");
  }

 private:
  Hdf5Id open(const std::string& name) const {
    if (!exists(name)) throw DataError(m_path + ": not a twinrt " + m_kind + ": '" + name + "' is missing");
    hid_t id = -1;
    H5E_BEGIN_TRY { id = H5Dopen2(m_file.get(), name.c_str(), H5P_DEFAULT); }
    H5E_END_TRY;
    if (id < 0) broken(name);
    return Hdf5Id(id);
  }

  std::string m_path, m_kind;
  Hdf5Id m_file;
};


}  // namespace twin::io::package
