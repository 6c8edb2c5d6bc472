// The header of a NumPy .npy file: magic, version, and the Python dict describing the array.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/byte_source.hpp"

namespace softreg::detail {

struct NpyHeader {
  std::string descr;  // as written, e.g. "<f4"
  char kind = 0;      // 'f' float, 'i' signed integer, 'u' unsigned integer
  std::size_t item_size = 0;
  bool swap_bytes = false;  // the file's byte order differs from this machine's
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
  std::uint64_t count = 1;  // product of shape, saturated
  std::uint64_t data_offset = 0;
  bool to_end = true;  // the payload read ends the file (false for a shard before the last)
  // Byte offsets of the values in the file, for error messages.
  std::uint64_t descr_offset = 0;
  std::uint64_t shape_offset = 0;

  std::string shape_text() const;  // Python's spelling: (3, 4) or (5,)
};

/// Reads and validates the header, leaving `src` at the first data byte. Versions 1.0, 2.0 and
/// 3.0; dtypes 'f' (4, 8 bytes), 'i' and 'u' (1, 2, 4, 8 bytes) in either byte order. Throws
/// ParseError at the offending byte, or when the data cannot fit the file.
NpyHeader read_npy_header(ByteSource& src);

}  // namespace softreg::detail
