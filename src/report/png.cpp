// Grayscale PNG encoding (signature, IHDR, one zlib IDAT, IEND) and base64.
#include "report/png.hpp"

#include <zlib.h>

#include <cstdint>
#include <vector>

#include "softreg/error.hpp"

namespace softreg::detail {
namespace {

void put_be32(std::string& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((v >> s) & 0xff);
}

/// length, type, data, CRC-32 of type and data.
void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  put_be32(out, static_cast<std::uint32_t>(
                    crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
}

}  // namespace

std::string png_gray(std::span<const unsigned char> pixels, std::size_t height, std::size_t width) {
  if (pixels.size() != height * width || height == 0 || width == 0 || height > 1u << 15 ||
      width > 1u << 15) {
    throw InvalidArgument("softreg::png_gray: " + std::to_string(pixels.size()) +
                          " pixels for an image of " + std::to_string(height) + " x " +
                          std::to_string(width));
  }
  // Each scanline starts with its filter type, 0 (none).
  std::string raw;
  raw.reserve(height * (width + 1));
  for (std::size_t r = 0; r < height; ++r) {
    raw += '\0';
    raw.append(reinterpret_cast<const char*>(pixels.data() + r * width), width);
  }
  uLongf packed_size = compressBound(uLong(raw.size()));
  std::vector<Bytef> packed(packed_size);
  if (compress2(packed.data(), &packed_size, reinterpret_cast<const Bytef*>(raw.data()),
                uLong(raw.size()), 9) != Z_OK) {
    throw Error("softreg::png_gray: zlib could not compress the image");
  }
  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_be32(ihdr, std::uint32_t(width));
  put_be32(ihdr, std::uint32_t(height));
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);  // 8 bits, grayscale, deflate, filter 0, none
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", std::string(reinterpret_cast<const char*>(packed.data()), packed_size));
  put_chunk(out, "IEND", "");
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = std::uint32_t(std::uint8_t(bytes[i])) << 16 |
                            std::uint32_t(std::uint8_t(bytes[i + 1])) << 8 |
                            std::uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint32_t(std::uint8_t(bytes[i])) << 16;
    if (rest == 2) v |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace softreg::detail
