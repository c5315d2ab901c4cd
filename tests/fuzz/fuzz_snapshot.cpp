// The snapshot readers. The first byte picks one:
//   even: the rest is one rank's part (an HDF5 file image) for StateArchive::decode; what it
//         accepts must encode and decode again to the same arrays;
//   odd:  the rest is a snapshot manifest (snapshot.json) beside a part, listed, verified and
//         read as `twin run --resume` does.
// Refusal must be a DataError (or a snapshot listed as unusable, with its problem).
#include <filesystem>
#include <fstream>

#include "fuzz_common.hpp"
#include "io/snapshot_store.hpp"
#include "io/state_archive.hpp"
#include "twin/error.hpp"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  twin::fuzz::quiet();
  return 0;
}

namespace {

void part(const std::string& image) {
  twin::io::StateArchive a;
  try {
    a = twin::io::StateArchive::decode(image, "fuzz.h5");
  } catch (const twin::DataError&) {
    return;
  }
  const std::string again = a.encode();
  const twin::io::StateArchive b = twin::io::StateArchive::decode(again, "again.h5");
  if (b.encode() != again) twin::fuzz::violated("a decoded part does not encode the same twice");
}

void manifest(const std::string& text) {
  const char* tmp = std::getenv("TMPDIR");
  const fs::path dir = fs::path(tmp && *tmp ? tmp : "/tmp") / ("twin_fuzz_state_" + std::to_string(::getpid()));
  const fs::path snap = dir / "cycle-00000007";
  std::error_code ec;
  fs::create_directories(snap, ec);
  std::ofstream(snap / "snapshot.json", std::ios::binary | std::ios::trunc) << text;
  std::ofstream(snap / "part-00000.h5", std::ios::binary | std::ios::trunc) << "not a part";
  const twin::io::SnapshotStore store(dir);
  try {
    for (const auto& s : store.list(true))
      if (s.committed && s.problem.empty()) (void)store.read_part(s, 0);
    (void)store.newest_usable();
  } catch (const twin::DataError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) part(rest);
  else manifest(rest);
  return 0;
}
