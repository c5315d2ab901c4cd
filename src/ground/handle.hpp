#pragma once
/// @file
/// One owning handle for every C library's resource: MPI communicators, HDF5 identifiers and
/// PETSc objects are each a `UniqueHandle<T, Close>` with their own `Close` policy.
///
/// A `Close` policy is a default-constructible type with
///   static T null() noexcept;              the value meaning "owns nothing"
///   void operator()(T handle) const noexcept;  releases a handle that is not null()
/// The handle is movable and not copyable; it never throws (a failed close is ignored: there is
/// nothing a destructor could do about it).

#include <utility>

namespace twin {

template <class T, class Close>
class UniqueHandle {
 public:
  UniqueHandle() noexcept = default;
  /// Takes ownership of `handle` (which may be null()).
  explicit UniqueHandle(T handle) noexcept : m_handle(handle) {}
  ~UniqueHandle() { reset(); }
  UniqueHandle(UniqueHandle&& other) noexcept : m_handle(other.release()) {}
  UniqueHandle& operator=(UniqueHandle&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;

  T get() const noexcept { return m_handle; }
  explicit operator bool() const noexcept { return !(m_handle == Close::null()); }
  /// Gives up ownership without closing.
  T release() noexcept { return std::exchange(m_handle, Close::null()); }
  /// Closes what it owns, then owns `handle`.
  void reset(T handle = Close::null()) noexcept {
    const T old = std::exchange(m_handle, handle);
    if (!(old == Close::null())) Close{}(old);
  }
  /// For C functions that create into a pointer (`KSPCreate(comm, ksp.out())`): closes what it
  /// owns and hands out the slot for the new handle.
  T* out() noexcept {
    reset();
    return &m_handle;
  }

 private:
  T m_handle = Close::null();
};

/// A POSIX file descriptor (-1: none), closed with close(2).
struct FdClose {
  static int null() noexcept { return -1; }
  void operator()(int fd) const noexcept;
};
using UniqueFd = UniqueHandle<int, FdClose>;

}  // namespace twin
