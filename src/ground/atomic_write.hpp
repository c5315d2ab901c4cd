#pragma once
/// @file
/// Files that readers never see half-written: write beside the target, flush to disk, rename
/// over it, flush the directory. After a crash the target holds either the old or the new
/// content, never a mix (POSIX rename is atomic within a file system).

#include <filesystem>
#include <functional>
#include <string_view>

namespace twin {

/// Replaces `path` with `bytes` atomically and durably (fsync of the file and its directory).
/// @throws Error naming the path when any step fails; the target is then unchanged and the
///         temporary file removed.
void atomic_write(const std::filesystem::path& path, std::string_view bytes);

/// The same for files written by a library that wants a file name (HDF5): `write(tmp)` creates
/// and closes `tmp`, then it is flushed and renamed over `path`.
/// @throws whatever `write` throws (the temporary is removed), or Error for the file steps.
void atomic_replace(const std::filesystem::path& path, const std::function<void(const std::filesystem::path& tmp)>& write);

}  // namespace twin
