#include "io/hdf5.hpp"

#include <cstring>

#include "io/hdf5_version.hpp"

#include <sstream>

#include "twin/error.hpp"

namespace twin::io {
namespace detail {

void throw_hdf5_error(const char* expr, const char* file, int line) {
  std::ostringstream out;
  out << "HDF5 call " << expr << " failed (" << file << ":" << line << ")";
  throw Hdf5Error(out.str());
}

}  // namespace detail

void Hdf5Close::operator()(hid_t id) const noexcept {
  if (id < 0) return;
  switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_ATTR: H5Aclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    default: break;
  }
}

std::string hdf5_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release) + " (parallel)";
}

std::string superblock_problem(const unsigned char* b, std::size_t size) {
  static const unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  if (size < 16 || std::memcmp(b, signature, 8) != 0) return "no HDF5 signature at the start";
  const unsigned version = b[8];
  if (version > 1) return {};  // versions 2 and 3 are checksummed: libhdf5 checks them
  const unsigned offsets = b[13], lengths = b[14];
  if (offsets != 8 || lengths != 8) return "a superblock with " + std::to_string(offsets) + "-byte addresses";
  const std::size_t driver_at = version == 0 ? 48 : 52;  // base, free space, end of file, driver info
  if (size < driver_at + 8) return "a superblock cut short";
  for (std::size_t i = 0; i < 8; ++i)
    if (b[driver_at + i] != 0xff) return "a superblock that points at a driver information block";
  return {};
}

bool stored_whole(hid_t dataset) {
  Hdf5Id file(H5Iget_file_id(dataset));
  Hdf5Id space(H5Dget_space(dataset));
  Hdf5Id type(H5Dget_type(dataset));
  Hdf5Id dcpl(H5Dget_create_plist(dataset));
  hsize_t file_bytes = 0;
  if (file.get() < 0 || space.get() < 0 || type.get() < 0 || dcpl.get() < 0 ||
      H5Fget_filesize(file.get(), &file_bytes) < 0)
    return false;
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  const std::size_t size = H5Tget_size(type.get());
  if (points < 0 || size == 0) return false;
  const auto n = static_cast<unsigned long long>(points);
  if (n > file_bytes / size) return false;  // more than the whole file (and no overflow below)
  const unsigned long long bytes = n * size;
  if (bytes == 0) return true;
  if (H5Dget_storage_size(dataset) < bytes) return false;
  switch (H5Pget_layout(dcpl.get())) {
    case H5D_CONTIGUOUS: {
      const haddr_t offset = H5Dget_offset(dataset);
      return offset != HADDR_UNDEF && offset <= file_bytes && bytes <= file_bytes - offset;
    }
    case H5D_COMPACT:
    case H5D_CHUNKED: return true;
    default: return false;
  }
}

}  // namespace twin::io
