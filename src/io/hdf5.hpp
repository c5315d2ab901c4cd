#pragma once
// HDF5 helpers: the check macro and an owning id handle. Only src/io includes <hdf5.h>.

#include <hdf5.h>

#include <string>

#include "ground/handle.hpp"

/// Checks an HDF5 return value (negative means failure); throws twin::Hdf5Error naming the call.
#define TWIN_HDF5_CHECK(expr)                                                       \
  ([&]() {                                                                          \
    auto twin_h5_rc_ = (expr);                                                      \
    if (twin_h5_rc_ < 0) ::twin::io::detail::throw_hdf5_error(#expr, __FILE__, __LINE__); \
    return twin_h5_rc_;                                                             \
  }())

namespace twin::io {
namespace detail {
[[noreturn]] void throw_hdf5_error(const char* expr, const char* file, int line);
}

/// Closes an HDF5 identifier with the H5*close its type needs.
struct Hdf5Close {
  static hid_t null() noexcept { return H5I_INVALID_HID; }
  void operator()(hid_t id) const noexcept;
};
/// An owned HDF5 identifier (file, group, dataset, dataspace, datatype, attribute, property list).
using Hdf5Id = UniqueHandle<hid_t, Hdf5Close>;

/// Whether all the values `dataset` declares are stored in its file. twinrt writes its datasets
/// uncompressed, so none of them declares more data than is stored, or than the file holds. A
/// reader checks this before it allocates or reads for a damaged or hostile file's shape:
/// libhdf5 1.10 trusts a layout message that disagrees with the dataspace and reads past its
/// buffers (a compact dataset of 0 stored bytes that declares 1350, found by tests/fuzz).
bool stored_whole(hid_t dataset);

/// Why the first bytes of an HDF5 file (at least 64, or all of a shorter file) are not a plain
/// superblock as twinrt writes it, or empty. Version 0 and 1 superblocks carry no checksum;
/// one that points at a driver information block (twinrt's files, written with the default
/// driver, have none) made libhdf5 1.10 allocate 3.3 GB before refusing the file (tests/fuzz).
std::string superblock_problem(const unsigned char* bytes, std::size_t size);


}  // namespace twin::io
