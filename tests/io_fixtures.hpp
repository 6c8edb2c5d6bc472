// Shared helpers for the reader tests: a per-test temp directory, file builders, error capture.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "softreg/data.hpp"
#include "softreg/error.hpp"

namespace io_test {

/// A fresh directory under the system temp dir, unique per process and test, removed after.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "softreg_io_" + std::to_string(::getpid()) + "_" +
                       std::to_string(counter++) + "_" +
                       (info != nullptr ? std::string(info->name()) : std::string("x"));
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    dir_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  /// Writes `bytes` to `name` as is and returns the full path.
  std::string write(const std::string& name, std::string_view bytes) const {
    const std::string p = path(name);
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }

  /// Writes `bytes` gzip-compressed through zlib and returns the full path.
  std::string write_gz(const std::string& name, std::string_view bytes) const {
    const std::string p = path(name);
    gzFile f = gzopen(p.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (f == nullptr) return p;
    if (!bytes.empty()) {
      EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
                static_cast<int>(bytes.size()));
    }
    gzclose(f);
    return p;
  }

 private:
  std::filesystem::path dir_;
};

/// The message of the ParseError `f` throws, or a text that fails every expectation on it.
template <class F>
std::string parse_error(F&& f) {
  try {
    f();
  } catch (const softreg::ParseError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not a ParseError> ") + e.what();
  }
  return "<no exception>";
}

inline bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

template <class T = float>
softreg::Dataset<T> read(const std::string& path, softreg::ReadOptions options = {}) {
  return softreg::read_dataset<T>(path, options);
}

template <class T>
const softreg::DenseMatrix<T>& dense(const softreg::Dataset<T>& ds) {
  return std::get<softreg::DenseMatrix<T>>(ds.features);
}

template <class T>
const softreg::CsrMatrix<T>& csr(const softreg::Dataset<T>& ds) {
  return std::get<softreg::CsrMatrix<T>>(ds.features);
}

/// `v` as `n` bytes, most significant first (IDX) or least significant first (.npy).
inline std::string big_endian(std::uint64_t v, int n) {
  std::string s;
  for (int i = n - 1; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}
inline std::string little_endian(std::uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

/// An IDX file: magic 00 00 type ndims, big-endian dimensions, then `payload`.
inline std::string idx_bytes(unsigned type, std::initializer_list<std::uint32_t> dims,
                             std::string_view payload) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (std::uint32_t d : dims) s += big_endian(d, 4);
  s += payload;
  return s;
}

/// A .npy file of the given version with the header dict `dict` padded like numpy pads it.
inline std::string npy_bytes(const std::string& dict, std::string_view payload, int major = 1) {
  const std::size_t pre = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((pre + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += '\0';
  s += major == 1 ? little_endian(header.size(), 2) : little_endian(header.size(), 4);
  return s + header + std::string(payload);
}

/// The raw little-endian bytes of a vector of values, as numpy writes '<' dtypes.
template <class V>
std::string raw_bytes(const std::vector<V>& values) {
  return {reinterpret_cast<const char*>(values.data()), values.size() * sizeof(V)};
}

}  // namespace io_test
