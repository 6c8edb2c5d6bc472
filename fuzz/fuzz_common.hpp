// What every fuzz target shares: the input as a file on disk (plain or gzip), the optional
// labels part, and the rule that only a softreg::Error may leave a reader.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "softreg/error.hpp"

// Built twice: plain (fuzz_<format>) and with SOFTREG_FUZZ_GZIP=1 (fuzz_<format>_gz).
#ifndef SOFTREG_FUZZ_GZIP
#define SOFTREG_FUZZ_GZIP 0
#endif

namespace softreg::fuzz {

inline constexpr bool kGzip = SOFTREG_FUZZ_GZIP != 0;

/// A private directory for this process's input files, removed at exit. The readers take a
/// path, and a regular file (not a pipe or /dev/fd) keeps their size checks against the file
/// in play, as for a user's file.
class ScratchDir {
 public:
  ScratchDir() {
    // Memory (/dev/shm) unless TMPDIR says otherwise: on ext4, truncating a file that is
    // rewritten for every input flushes it to disk, a third of the time of a small input.
    const char* tmp = std::getenv("TMPDIR");
    std::error_code ec;
    const std::string base = tmp != nullptr && *tmp != '\0'                  ? tmp
                             : std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm"
                                                                             : "/tmp";
    std::string pattern = base + "/softreg-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("softreg fuzz: mkdtemp");
      std::abort();
    }
    dir_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  /// Writes `bytes` to the file `name` in the directory and returns its path.
  std::string write(const std::string& name, std::string_view bytes) const {
    const std::string path = dir_ + "/" + name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() ||
        std::fclose(f) != 0) {
      std::perror(("softreg fuzz: writing " + path).c_str());
      std::abort();
    }
    return path;
  }

 private:
  std::string dir_;
};

inline const ScratchDir& scratch() {
  static const ScratchDir dir;
  return dir;
}

/// A gzip member holding `plain` (zlib's deflate with a gzip wrapper, default level).
inline std::string gzip(std::string_view plain) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    std::abort();
  }
  std::string out(deflateBound(&z, static_cast<uLong>(plain.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = static_cast<uInt>(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

/// The bytes a target stores for one file. Plain targets store the input as it is. Gzip targets
/// store an input that starts with the gzip magic (1f 8b) as it is, so the fuzzer mutates real
/// gzip framing (truncation, bad checksums, several members, trailing bytes), and compress any
/// other input first, so that mutations of the content reach the reader through zlib.
inline std::string stored(std::string_view input) {
  if (!kGzip) return std::string(input);
  if (input.size() >= 2 && static_cast<unsigned char>(input[0]) == 0x1f &&
      static_cast<unsigned char>(input[1]) == 0x8b) {
    return std::string(input);
  }
  return gzip(input);
}

/// "" or ".gz", for file names that say what they hold (labels files are told apart by name).
inline const char* gz_suffix() {
  return kGzip ? ".gz" : "";
}

/// An input is a data file, optionally followed by kLabelsMark and a separate labels file
/// (ReadOptions::labels_path) for the targets whose format takes one.
inline constexpr std::string_view kLabelsMark = "\n==labels==\n";

struct Parts {
  std::string_view data;
  std::string_view labels;
  bool has_labels = false;
};

inline Parts split_labels(std::string_view input) {
  const auto at = input.find(kLabelsMark);
  if (at == std::string_view::npos) return {input, {}, false};
  return {input.substr(0, at), input.substr(at + kLabelsMark.size()), true};
}

/// One of n option sets for this input, the same every time the input is run. A target reads
/// each input with its defaults and with one variant picked so, rather than with every variant:
/// each text read costs two 4 MiB line buffers (src/io/line_reader.cpp), which dominate the
/// time of a small input under AddressSanitizer.
inline std::size_t pick(std::string_view input, std::size_t n) {
  std::uint64_t h = 1469598103934665603u;  // FNV-1a
  for (const char c : input) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211u;
  return static_cast<std::size_t>(h % n);
}

/// SOFTREG_FUZZ_VERBOSE=1 prints the outcome of every read (to check seeds and findings).
inline bool verbose() {
  static const bool on = [] {
    const char* v = std::getenv("SOFTREG_FUZZ_VERBOSE");
    return v != nullptr && *v != '\0' && *v != '0';
  }();
  return on;
}

/// Runs one read. A softreg::Error (ParseError, IoError, InvalidArgument) is the documented
/// answer to bad input; anything else escapes, and libFuzzer reports it as a crash.
template <class F>
void expect_clean(F&& read) {
  try {
    read();
    if (verbose()) std::fprintf(stderr, "  read: ok\n");
  } catch (const softreg::Error& e) {
    if (verbose()) std::fprintf(stderr, "  read: softreg::Error: %s\n", e.what());
  }
}

}  // namespace softreg::fuzz
