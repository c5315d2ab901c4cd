// The stream's reading of lines: any bytes through LineInput (a regular file here: the same
// framing as a FIFO, without the waiting) with a small line cap, each line through
// parse_stream_line. Refusal of a line must be a DataError; no line may exceed the cap.
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "fuzz_common.hpp"
#include "sources/line_input.hpp"
#include "sources/reading_formats.hpp"
#include "twin/error.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  twin::fuzz::quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t cap = 512;
  const int fd = ::memfd_create("fuzz_stream", MFD_CLOEXEC);
  if (fd < 0) twin::fuzz::violated("memfd_create failed");
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) twin::fuzz::violated("cannot fill the memfd");
    done += static_cast<std::size_t>(n);
  }
  ::lseek(fd, 0, SEEK_SET);
  twin::detail::LineInput input(fd, true, cap);
  std::string line;
  std::size_t lines = 0;
  for (;;) {
    const auto status = input.next(line, twin::detail::LineInput::Clock::now() + std::chrono::seconds(5));
    if (status == twin::detail::LineInput::Status::eof) break;
    if (status == twin::detail::LineInput::Status::too_long) continue;
    if (status != twin::detail::LineInput::Status::line) twin::fuzz::violated("a regular file timed out or stopped");
    if (line.size() > cap) twin::fuzz::violated("a line longer than the cap came through");
    if (++lines > size + 1) twin::fuzz::violated("more lines than bytes");
    try {
      (void)twin::detail::parse_stream_line(line);
    } catch (const twin::DataError&) {
    }
  }
  return 0;
}
