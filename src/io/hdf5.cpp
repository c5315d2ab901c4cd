#include "io/hdf5.hpp"

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

void Hdf5Id::reset() {
  if (m_id < 0) return;
  switch (H5Iget_type(m_id)) {
    case H5I_FILE: H5Fclose(m_id); break;
    case H5I_GROUP: H5Gclose(m_id); break;
    case H5I_DATASET: H5Dclose(m_id); break;
    case H5I_DATASPACE: H5Sclose(m_id); break;
    case H5I_DATATYPE: H5Tclose(m_id); break;
    case H5I_ATTR: H5Aclose(m_id); break;
    case H5I_GENPROP_LST: H5Pclose(m_id); break;
    default: break;
  }
  m_id = H5I_INVALID_HID;
}

std::string hdf5_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release) + " (parallel)";
}

}  // namespace twin::io
