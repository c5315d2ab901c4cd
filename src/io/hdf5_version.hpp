#pragma once
// The HDF5 library's version, for `twin --version`, without <hdf5.h> (only src/io includes it).

#include <string>

namespace twin::io {

/// "1.10.8 (parallel)".
std::string hdf5_version();

}  // namespace twin::io
