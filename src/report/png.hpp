// Grayscale PNG encoding and base64, for images embedded in the HTML report as data: URIs.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace softreg::detail {

/// A PNG (8-bit grayscale, no interlace, zlib level 9) of height x width pixels, row-major,
/// 0 black .. 255 white.
std::string png_gray(std::span<const unsigned char> pixels, std::size_t height, std::size_t width);

/// RFC 4648 base64 with padding.
std::string base64(std::string_view bytes);

}  // namespace softreg::detail
