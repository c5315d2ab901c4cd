#include "io/hdf5.hpp"

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

}  // namespace twin::io
