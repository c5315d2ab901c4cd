#include "ground/atomic_write.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "ground/handle.hpp"
#include "twin/error.hpp"

namespace twin {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what, const fs::path& path, int err) {
  throw Error("cannot " + what + " '" + path.string() + "': " + std::strerror(err));
}

void fsync_path(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail("open", path, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot fsync a directory (EINVAL): the rename is still atomic there.
  if (rc != 0 && !(err == EINVAL && (flags & O_DIRECTORY))) fail("flush", path, err);
}

// Unique per process, so two processes writing the same target never share a temporary.
fs::path temporary_for(const fs::path& path) { return path.string() + ".tmp." + std::to_string(::getpid()); }

void commit(const fs::path& tmp, const fs::path& path, WriteSync sync) {
  if (sync == WriteSync::durable) fsync_path(tmp, O_RDONLY);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename into place", path, errno);
  if (sync != WriteSync::durable) return;
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

void write_bytes(const fs::path& tmp, std::string_view bytes) {
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("create", tmp, errno);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      fail("write", tmp, err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) fail("close", tmp, errno);
}

}  // namespace

void atomic_write(const fs::path& path, std::string_view bytes, WriteSync sync) {
  atomic_replace(path, [&](const fs::path& tmp) { write_bytes(tmp, bytes); }, sync);
}

void FdClose::operator()(int fd) const noexcept { ::close(fd); }

void sync_file(const fs::path& path) { fsync_path(path, O_RDONLY); }

void atomic_replace(const fs::path& path, const std::function<void(const fs::path& tmp)>& write, WriteSync sync) {
  const fs::path tmp = temporary_for(path);
  try {
    write(tmp);
    commit(tmp, path, sync);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

}  // namespace twin
