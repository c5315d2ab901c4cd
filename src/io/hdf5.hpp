#pragma once
// HDF5 helpers: the check macro and an owning id handle. Only src/io includes <hdf5.h>.

#include <hdf5.h>

#include <string>

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

/// An owned HDF5 identifier, closed with the right H5*close on destruction.
class Hdf5Id {
 public:
  Hdf5Id() = default;
  explicit Hdf5Id(hid_t id) : m_id(id) {}
  ~Hdf5Id() { reset(); }
  Hdf5Id(Hdf5Id&& o) noexcept : m_id(o.m_id) { o.m_id = H5I_INVALID_HID; }
  Hdf5Id& operator=(Hdf5Id&& o) noexcept {
    if (this != &o) {
      reset();
      m_id = o.m_id;
      o.m_id = H5I_INVALID_HID;
    }
    return *this;
  }
  Hdf5Id(const Hdf5Id&) = delete;
  Hdf5Id& operator=(const Hdf5Id&) = delete;

  hid_t get() const { return m_id; }
  void reset();

 private:
  hid_t m_id = H5I_INVALID_HID;
};

/// "1.10.8".
std::string hdf5_version();

}  // namespace twin::io
