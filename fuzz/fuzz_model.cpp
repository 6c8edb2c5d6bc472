// Fuzz target: the model file reader (load_model), as given and with its CRC-32 made to match.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "softreg/model_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace softreg;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  const auto& dir = fuzz::scratch();
  fuzz::expect_clean([&] { load_model(dir.write("model.srm", bytes)); });
  // Almost every mutation breaks the checksum, which load_model checks after the structure;
  // the checks behind it (repeated labels, non-finite values, the model's own invariants) are
  // reached only when the last four bytes are the CRC-32 of the rest.
  if (size >= 4) {
    const uLong crc = crc32(0, data, static_cast<uInt>(size - 4));
    for (int i = 0; i < 4; ++i) bytes[size - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
    fuzz::expect_clean([&] { load_model(dir.write("model.srm", bytes)); });
  }
  return 0;
}
