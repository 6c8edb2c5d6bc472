// Fuzz target: the readers on standard input, a pipe that is read once, front to back: no
// size to check a header against and no rewind, so every format takes its growing-buffer
// path (byte_source.hpp). The first byte of the input picks the format (csv, libsvm, npy,
// idx); the rest is what the pipe holds, plain or gzip.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "softreg/data.hpp"

namespace {

/// Standard input replaced by a pipe holding `bytes` (written at once: the pipe is sized to
/// hold them, and longer inputs are cut to its size), until destroyed.
class PipedStdin {
 public:
  explicit PipedStdin(std::string_view bytes) {
    int fds[2];
    saved_ = ::dup(STDIN_FILENO);
    if (saved_ < 0 || ::pipe(fds) != 0) fail("pipe");
    // Up to 1 MiB (Linux's default pipe-max-size); the pipe's own size where that is refused.
    const auto want = int(std::clamp<std::size_t>(bytes.size(), 1, std::size_t{1} << 20));
    int capacity = ::fcntl(fds[1], F_SETPIPE_SZ, want);
    if (capacity < 0) capacity = ::fcntl(fds[1], F_GETPIPE_SZ);
    if (capacity < 0) fail("fcntl");
    bytes = bytes.substr(0, std::min(bytes.size(), std::size_t(capacity)));
    for (std::size_t at = 0; at < bytes.size();) {
      const ssize_t n = ::write(fds[1], bytes.data() + at, bytes.size() - at);
      if (n <= 0) fail("write");
      at += std::size_t(n);
    }
    ::close(fds[1]);
    if (::dup2(fds[0], STDIN_FILENO) < 0) fail("dup2");
    ::close(fds[0]);
  }
  ~PipedStdin() {
    ::dup2(saved_, STDIN_FILENO);
    ::close(saved_);
  }
  PipedStdin(const PipedStdin&) = delete;
  PipedStdin& operator=(const PipedStdin&) = delete;

 private:
  [[noreturn]] static void fail(const char* what) {
    std::perror((std::string("softreg fuzz: ") + what).c_str());
    std::abort();
  }
  int saved_ = -1;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace softreg;
  if (size == 0) return 0;
  constexpr DataFormat kFormats[] = {DataFormat::csv, DataFormat::libsvm, DataFormat::npy,
                                     DataFormat::idx};
  ReadOptions options;
  options.format = kFormats[data[0] % 4];
  const PipedStdin in({reinterpret_cast<const char*>(data) + 1, size - 1});
  fuzz::expect_clean([&] { read_dataset<float>("-", options); });
  return 0;
}
