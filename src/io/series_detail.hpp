#pragma once
// What the series.h5 writer (its resume) and reader share: opening a file for SWMR reading and
// reading a names dataset. Inside src/io only.

#include <string>
#include <vector>

#include "io/hdf5.hpp"

namespace twin::io::detail {

/// Opens series.h5 read-only (SWMR). @throws DataError naming the file when it cannot.
Hdf5Id open_series(const std::string& path);
/// A fixed-length string dataset as strings.
std::vector<std::string> read_names(hid_t file, const char* name);

}  // namespace twin::io::detail
