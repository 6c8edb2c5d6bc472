// Output helpers for model files and .npz: CRC-32 and little-endian codes (the files themselves
// are written through softreg::AtomicFile).
#pragma once

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace softreg::detail {

/// zlib's CRC-32 (the one zip, PNG and gzip use) over any length; zlib takes 32-bit lengths.
inline std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n) {
  const auto* p = static_cast<const Bytef*>(data);
  uLong c = crc;
  while (n > 0) {
    const std::size_t chunk = std::min<std::size_t>(n, std::size_t{1} << 30);
    c = crc32(c, p, static_cast<uInt>(chunk));
    p += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(c);
}

/// Appends the low `bytes` bytes of v, least significant first.
inline void append_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

inline void append_f64(std::string& out, double v) {
  append_le(out, std::bit_cast<std::uint64_t>(v), 8);
}

/// The little-endian bytes of a float64 array. On a big-endian machine the values are swapped
/// in place first, which is why the vector is taken by non-const reference.
inline std::span<const unsigned char> little_endian_bytes(std::vector<double>& v) {
  if constexpr (std::endian::native == std::endian::big) {
    for (auto& x : v) {
      const auto u = std::bit_cast<std::uint64_t>(x);
      std::uint64_t swapped = 0;
      for (int i = 0; i < 8; ++i) swapped |= ((u >> (8 * i)) & 0xffu) << (56 - 8 * i);
      x = std::bit_cast<double>(swapped);
    }
  }
  return {reinterpret_cast<const unsigned char*>(v.data()), v.size() * sizeof(double)};
}

}  // namespace softreg::detail
