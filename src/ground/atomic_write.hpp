#pragma once
/// @file
/// Files that readers never see half-written: write beside the target, flush to disk, rename
/// over it, flush the directory. After a crash the target holds either the old or the new
/// content, never a mix (POSIX rename is atomic within a file system).

#include <filesystem>
#include <functional>
#include <string_view>

namespace twin {

/// How far a write goes before it returns: `durable` flushes the file and its directory to disk
/// (summary.json, model files: what must survive a power cut); `atomic` only renames, so readers
/// never see half a file but a crash may lose the newest version (files rewritten inside the
/// twin cycle, such as series.xmf and the periodic metrics.prom: an fsync there can stall a
/// cycle for a second on a busy disk).
enum class WriteSync { durable, atomic };

/// Replaces `path` with `bytes` atomically (and durably unless `sync` is WriteSync::atomic).
/// @throws Error naming the path when any step fails; the target is then unchanged and the
///         temporary file removed.
void atomic_write(const std::filesystem::path& path, std::string_view bytes, WriteSync sync = WriteSync::durable);

/// The same for files written by a library that wants a file name (HDF5): `write(tmp)` creates
/// and closes `tmp`, then it is flushed and renamed over `path`.
/// @throws whatever `write` throws (the temporary is removed), or Error for the file steps.
void atomic_replace(const std::filesystem::path& path, const std::function<void(const std::filesystem::path& tmp)>& write,
                    WriteSync sync = WriteSync::durable);

/// fsync of a file that exists (written by another handle): its data reach the disk.
/// @throws Error when it cannot be opened or flushed.
void sync_file(const std::filesystem::path& path);

}  // namespace twin
