#include "io/state_archive.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>

#include "io/hdf5.hpp"
#include "twin/error.hpp"

// libhdf5's metadata checksum (Jenkins lookup3), exported but not declared by its public headers.
extern "C" std::uint32_t H5_checksum_metadata(const void* data, std::size_t len, std::uint32_t initval);

namespace twin::io {

namespace {

// HDF5 names each in-memory file; two open at once must not share a name.
std::string image_name() {
  static std::atomic<long> counter{0};
  return "twin-state-image-" + std::to_string(counter++);
}

// Error stacks off while decoding untrusted bytes: the DataError says what is wrong.
struct QuietHdf5 {
  H5E_auto2_t func = nullptr;
  void* data = nullptr;
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, func, data); }
  QuietHdf5(const QuietHdf5&) = delete;
  QuietHdf5& operator=(const QuietHdf5&) = delete;
};

void write_dataset(hid_t file, const std::string& name, hid_t file_type, hid_t mem_type, hsize_t n, const void* data) {
  Hdf5Id space(TWIN_HDF5_CHECK(n ? H5Screate_simple(1, &n, nullptr) : H5Screate(H5S_NULL)));
  // No modification times: the same state encodes to the same bytes (and the same SHA-256).
  Hdf5Id dcpl(TWIN_HDF5_CHECK(H5Pcreate(H5P_DATASET_CREATE)));
  TWIN_HDF5_CHECK(H5Pset_obj_track_times(dcpl.get(), false));
  Hdf5Id set(TWIN_HDF5_CHECK(H5Dcreate2(file, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT)));
  if (n) TWIN_HDF5_CHECK(H5Dwrite(set.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
  return 0;
}

}  // namespace

void StateArchive::put(const std::string& name, std::vector<double> values) {
  Entry& e = m_entries[name] = Entry{};
  e.kind = Entry::Kind::f64;
  e.f = std::move(values);
}
void StateArchive::put(const std::string& name, std::vector<long long> values) {
  Entry& e = m_entries[name] = Entry{};
  e.kind = Entry::Kind::i64;
  e.i = std::move(values);
}
void StateArchive::put(const std::string& name, std::vector<std::string> values) {
  Entry& e = m_entries[name] = Entry{};
  e.kind = Entry::Kind::str;
  e.s = std::move(values);
}

const StateArchive::Entry& StateArchive::find(const std::string& name, Entry::Kind kind) const {
  const auto it = m_entries.find(name);
  if (it == m_entries.end()) throw DataError(m_origin + ": snapshot has no '" + name + "'");
  if (it->second.kind != kind) throw DataError(m_origin + ": snapshot entry '" + name + "' has the wrong type");
  return it->second;
}

const std::vector<double>& StateArchive::doubles(const std::string& name) const { return find(name, Entry::Kind::f64).f; }
const std::vector<long long>& StateArchive::ints(const std::string& name) const { return find(name, Entry::Kind::i64).i; }
const std::vector<std::string>& StateArchive::strings(const std::string& name) const {
  return find(name, Entry::Kind::str).s;
}

const std::vector<double>& StateArchive::doubles(const std::string& name, std::size_t size) const {
  const auto& v = doubles(name);
  if (v.size() != size)
    throw DataError(m_origin + ": snapshot entry '" + name + "' has " + std::to_string(v.size()) + " values, " +
                    std::to_string(size) + " expected");
  return v;
}

double StateArchive::get_double(const std::string& name) const { return doubles(name, 1)[0]; }

long long StateArchive::get_int(const std::string& name) const {
  const auto& v = ints(name);
  if (v.size() != 1) throw DataError(m_origin + ": snapshot entry '" + name + "' is not one integer");
  return v[0];
}

const std::string& StateArchive::get_string(const std::string& name) const {
  const auto& v = strings(name);
  if (v.size() != 1) throw DataError(m_origin + ": snapshot entry '" + name + "' is not one string");
  return v[0];
}

std::size_t StateArchive::size_bytes() const {
  std::size_t n = 0;
  for (const auto& [name, e] : m_entries) {
    n += name.size() + e.f.size() * sizeof(double) + e.i.size() * sizeof(long long);
    for (const auto& s : e.s) n += s.size();
  }
  return n;
}

std::string StateArchive::encode() const {
  Hdf5Id fapl(TWIN_HDF5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  TWIN_HDF5_CHECK(H5Pset_fapl_core(fapl.get(), std::max<std::size_t>(size_bytes() + 65536, 1 << 16), 0));
  // The 1.8 file format: a version 2 superblock and object headers and link indexes that carry
  // checksums, so that a damaged part is refused by libhdf5's checks rather than walked (the
  // 1.6 format's unchecksummed group B-tree made libhdf5 1.10 read through a null pointer on a
  // part found by tests/fuzz). Not later than 1.8: the image is taken while the file is open,
  // and a 1.10 superblock would record it as open for writing (what h5clear -s clears).
  TWIN_HDF5_CHECK(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18));
  // No times in the root group's object header either (the 1.8 format stores them by default):
  // the same state encodes to the same bytes whenever it is encoded. tests/fuzz found two
  // encodings a second apart that differed.
  Hdf5Id fcpl(TWIN_HDF5_CHECK(H5Pcreate(H5P_FILE_CREATE)));
  TWIN_HDF5_CHECK(H5Pset_obj_track_times(fcpl.get(), false));
  Hdf5Id file(TWIN_HDF5_CHECK(H5Fcreate(image_name().c_str(), H5F_ACC_EXCL, fcpl.get(), fapl.get())));
  for (const auto& [name, e] : m_entries) {
    if (name.empty() || name.find('/') != std::string::npos || name == ".")
      throw Error("snapshot entry name '" + name + "' is not a plain dataset name");
    switch (e.kind) {
      case Entry::Kind::f64:
        write_dataset(file.get(), name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, e.f.size(), e.f.data());
        break;
      case Entry::Kind::i64:
        write_dataset(file.get(), name, H5T_STD_I64LE, H5T_NATIVE_LLONG, e.i.size(), e.i.data());
        break;
      case Entry::Kind::str: {
        std::size_t width = 1;
        for (const auto& s : e.s) width = std::max(width, s.size() + 1);
        std::vector<char> buffer(e.s.size() * width, '\0');
        for (std::size_t k = 0; k < e.s.size(); ++k) e.s[k].copy(&buffer[k * width], e.s[k].size());
        Hdf5Id type(TWIN_HDF5_CHECK(H5Tcopy(H5T_C_S1)));
        TWIN_HDF5_CHECK(H5Tset_size(type.get(), width));
        write_dataset(file.get(), name, type.get(), type.get(), e.s.size(), buffer.data());
        break;
      }
    }
  }
  TWIN_HDF5_CHECK(H5Fflush(file.get(), H5F_SCOPE_GLOBAL));
  const ssize_t size = TWIN_HDF5_CHECK(H5Fget_file_image(file.get(), nullptr, 0));
  std::string image(static_cast<std::size_t>(size), '\0');
  TWIN_HDF5_CHECK(H5Fget_file_image(file.get(), image.data(), image.size()));
  // libhdf5 1.10 patches the end-of-file address into the image's version 2 superblock without
  // updating its checksum: seal it again (superblock: 12 bytes, four addresses, the checksum).
  if (image.size() >= 64 && static_cast<unsigned char>(image[8]) == 2) {
    const std::size_t at = 12 + 4 * static_cast<std::size_t>(static_cast<unsigned char>(image[9]));
    if (at + 4 <= image.size()) {
      const std::uint32_t sum = H5_checksum_metadata(image.data(), at, 0);
      std::memcpy(&image[at], &sum, sizeof sum);  // little-endian, as HDF5 stores it (x86, arm64)
    }
  }
  return image;
}

StateArchive StateArchive::decode(const std::string& image, const std::string& origin) {
  StateArchive a;
  a.m_origin = origin;
  const QuietHdf5 quiet;
  const auto bad = [&](const std::string& why) { return DataError(origin + ": not a readable snapshot part (" + why + ")"); };
  if (image.size() < 8 || std::memcmp(image.data(), "\211HDF\r\n\032\n", 8) != 0) throw bad("no HDF5 signature");
  if (const std::string problem = superblock_problem(reinterpret_cast<const unsigned char*>(image.data()), image.size());
      !problem.empty())
    throw bad(problem);
  // Parts are written in the checksummed format (encode): an unchecksummed one is not walked.
  if (image.size() <= 8 || static_cast<unsigned char>(image[8]) < 2)
    throw bad("superblock version " + std::to_string(image.size() > 8 ? static_cast<unsigned char>(image[8]) : 0) +
              ", not the checksummed format twinrt writes (a part of snapshot format 2 or older, or damaged)");
  Hdf5Id fapl(TWIN_HDF5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  TWIN_HDF5_CHECK(H5Pset_fapl_core(fapl.get(), 1 << 16, 0));
  std::string copy = image;  // HDF5 may not write into the caller's buffer, but asks for a non-const one
  if (H5Pset_file_image(fapl.get(), copy.data(), copy.size()) < 0) throw bad("image refused");
  const hid_t f = H5Fopen(image_name().c_str(), H5F_ACC_RDONLY, fapl.get());
  if (f < 0) throw bad("HDF5 cannot open it");
  Hdf5Id file(f);
  std::vector<std::string> names;
  if (H5Literate(file.get(), H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, collect_name, &names) < 0) throw bad("cannot list it");
  for (const std::string& name : names) {
    const hid_t d = H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT);
    if (d < 0) throw bad("'" + name + "' is not a dataset");
    Hdf5Id set(d);
    Hdf5Id type(H5Dget_type(set.get()));
    Hdf5Id space(H5Dget_space(set.get()));
    if (type.get() < 0 || space.get() < 0) throw bad("'" + name + "' has no type or shape");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (rank > 1 || n < 0) throw bad("'" + name + "' has an unexpected shape");
    const std::size_t count = static_cast<std::size_t>(n);
    // Parts are written uncompressed: no dataset declares more values than the image holds.
    if (count > image.size() / sizeof(double) || !stored_whole(set.get()))
      throw bad("'" + name + "' declares more values than the part holds");
    herr_t rc = 0;
    const H5T_class_t kind = H5Tget_class(type.get());
    // Numbers as twinrt writes them: 8 bytes (a hostile type size would size HDF5's conversion buffer).
    if ((kind == H5T_FLOAT || kind == H5T_INTEGER) && H5Tget_size(type.get()) != 8)
      throw bad("'" + name + "' holds numbers of an unexpected size");
    switch (kind) {
      case H5T_FLOAT: {
        std::vector<double> v(count);
        if (count) rc = H5Dread(set.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
        a.put(name, std::move(v));
        break;
      }
      case H5T_INTEGER: {
        std::vector<long long> v(count);
        if (count) rc = H5Dread(set.get(), H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
        a.put(name, std::move(v));
        break;
      }
      case H5T_STRING: {
        const std::size_t width = H5Tget_size(type.get());
        if (width == 0 || H5Tis_variable_str(type.get()) != 0 || count > image.size() / width)
          throw bad("'" + name + "' is not a fixed-length string list the part can hold");
        std::vector<char> buffer(count * width);
        if (count) rc = H5Dread(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data());
        std::vector<std::string> v;
        for (std::size_t k = 0; k < count; ++k) v.emplace_back(&buffer[k * width], strnlen(&buffer[k * width], width));
        a.put(name, std::move(v));
        break;
      }
      default: throw bad("'" + name + "' has an unexpected type");
    }
    if (rc < 0) throw bad("'" + name + "' cannot be read");
  }
  return a;
}

}  // namespace twin::io
