// export_npz: the folded weights, intercept and classes as an uncompressed zip of .npy arrays.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/binary_out.hpp"
#include "softreg/atomic_file.hpp"
#include "softreg/error.hpp"
#include "softreg/model_io.hpp"

namespace softreg {
namespace {

using detail::append_le;

// Python's zipfile writes 2.0 as "version needed" for stored members; numpy.load reads through
// zipfile, so matching it keeps every reader on a path it is known to take.
constexpr std::uint64_t kZipVersion = 20;
// Made by Unix (3), so unzip applies the mode bits in the external attributes: rw-r--r--.
constexpr std::uint64_t kZipMadeBy = (3 << 8) | kZipVersion;
constexpr std::uint64_t kZipFileMode = 0100644;
// 1980-01-01 00:00, the earliest DOS date: a fixed stamp makes the output a function of the
// model alone.
constexpr std::uint64_t kDosDate = (0 << 9) | (1 << 5) | 1;
constexpr std::uint64_t kDosTime = 0;
constexpr std::uint64_t kLocalHeaderSize = 30;
constexpr std::uint64_t kCentralHeaderSize = 46;
constexpr std::uint64_t kEndRecordSize = 22;
// numpy aligns the data of a .npy file to 64 bytes (numpy.lib.format.ARRAY_ALIGN).
constexpr std::size_t kNpyAlign = 64;

struct Member {
  std::string name;
  std::string npy_header;
  std::span<const unsigned char> data;
  std::uint32_t crc = 0;
  std::uint64_t offset = 0;  // of the local header

  std::uint64_t size() const { return npy_header.size() + data.size(); }
};

/// A .npy version 1.0 header: magic, version, length, then the dict numpy.save writes, padded
/// with spaces and a newline so the data starts on a 64-byte boundary.
std::string npy_header(const std::string& descr, const std::string& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((kNpyAlign - unpadded % kNpyAlign) % kNpyAlign, ' ');
  dict += '\n';
  std::string h("\x93NUMPY\x01\x00", 8);
  append_le(h, dict.size(), 2);
  return h + dict;
}

/// The label as an int64 if it is one in canonical spelling ("7", "-3"; not "07" or "+7"), so
/// that str(classes[i]) gives back exactly the label.
std::optional<std::int64_t> canonical_int(const std::string& s) {
  std::int64_t v = 0;
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || ptr != end || std::to_string(v) != s) return {};
  return v;
}

/// Strict UTF-8 decoding: no overlong forms, surrogates or code points past U+10FFFF.
std::u32string decode_utf8(const std::string& s, std::size_t label) {
  std::u32string out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;  // 0: a continuation or invalid lead byte
    char32_t cp = 0;
    if (lead < 0x80) {
      len = 1;
      cp = lead;
    } else if (lead >= 0xc0 && lead < 0xe0) {
      len = 2;
      cp = lead & 0x1fu;
    } else if (lead >= 0xe0 && lead < 0xf0) {
      len = 3;
      cp = lead & 0x0fu;
    } else if (lead >= 0xf0 && lead < 0xf8) {
      len = 4;
      cp = lead & 0x07u;
    }
    bool ok = len != 0 && i + len <= s.size();
    for (std::size_t j = 1; ok && j < len; ++j) {
      const auto cont = static_cast<unsigned char>(s[i + j]);
      ok = (cont & 0xc0) == 0x80;
      cp = (cp << 6) | (cont & 0x3f);
    }
    static constexpr char32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (!ok || cp < kMinimum[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      throw InvalidArgument("softreg::export_npz: class label " + std::to_string(label) +
                            " is not valid UTF-8 (byte " + std::to_string(i) +
                            "); numpy's unicode arrays need text");
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

/// classes.npy's descr and data: int64 when every label is an integer, else UTF-32LE code
/// points in fixed-width cells of the longest label's length (at least 1, as numpy makes it).
std::string class_array(const std::vector<std::string>& classes, std::string& descr) {
  std::string data;
  const bool integers = std::all_of(classes.begin(), classes.end(),
                                    [](const std::string& s) { return canonical_int(s); });
  if (integers) {
    descr = "<i8";
    for (const auto& s : classes) append_le(data, static_cast<std::uint64_t>(*canonical_int(s)), 8);
    return data;
  }
  std::vector<std::u32string> decoded;
  std::size_t width = 1;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    decoded.push_back(decode_utf8(classes[c], c));
    width = std::max(width, decoded.back().size());
  }
  descr = "<U" + std::to_string(width);
  for (const auto& label : decoded) {
    for (std::size_t i = 0; i < width; ++i) append_le(data, i < label.size() ? label[i] : 0, 4);
  }
  return data;
}

std::span<const unsigned char> bytes_of(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// The fields the local and the central headers share, from "version needed" to the extra
// field's length.
void append_member_fields(std::string& h, const Member& m) {
  append_le(h, kZipVersion, 2);
  append_le(h, 0, 2);  // flags
  append_le(h, 0, 2);  // method: stored
  append_le(h, kDosTime, 2);
  append_le(h, kDosDate, 2);
  append_le(h, m.crc, 4);
  append_le(h, m.size(), 4);  // compressed
  append_le(h, m.size(), 4);  // uncompressed
  append_le(h, m.name.size(), 2);
  append_le(h, 0, 2);  // extra field length
}

std::string local_header(const Member& m) {
  std::string h;
  append_le(h, 0x04034b50, 4);
  append_member_fields(h, m);
  return h + m.name;
}

void append_central_header(std::string& directory, const Member& m) {
  append_le(directory, 0x02014b50, 4);
  append_le(directory, kZipMadeBy, 2);
  append_member_fields(directory, m);
  append_le(directory, 0, 2);  // comment length
  append_le(directory, 0, 2);  // disk number
  append_le(directory, 0, 2);  // internal attributes
  append_le(directory, kZipFileMode << 16, 4);
  append_le(directory, m.offset, 4);
  directory += m.name;
}

// Each member's CRC; refuses an archive past 4 GiB (without zip64 every size and offset is a
// 32-bit field) rather than wrap around.
template <std::size_t N>
void seal_members(std::array<Member, N>& members, const std::string& path) {
  std::uint64_t total = kEndRecordSize;
  for (auto& m : members) {
    m.crc = detail::crc32_update(0, m.npy_header.data(), m.npy_header.size());
    m.crc = detail::crc32_update(m.crc, m.data.data(), m.data.size());
    total += kLocalHeaderSize + kCentralHeaderSize + 2 * m.name.size() + m.size();
  }
  if (total > UINT32_MAX) {
    throw InvalidArgument("softreg::export_npz: " + path + ": the archive would take " +
                          std::to_string(total) +
                          " bytes; .npz files are written without zip64, so up to 4 GiB");
  }
}

// The members, the central directory and its end record, committed as one file.
template <std::size_t N>
void write_zip(std::array<Member, N>& members, const std::string& path) {
  AtomicFile file(path);
  for (auto& m : members) {
    m.offset = file.size();
    file.write(local_header(m) + m.npy_header);
    file.write(m.data);
  }
  const std::uint64_t directory_at = file.size();
  std::string directory;
  for (const auto& m : members) append_central_header(directory, m);
  const std::uint64_t directory_size = directory.size();
  append_le(directory, 0x06054b50, 4);
  append_le(directory, 0, 2);  // this disk
  append_le(directory, 0, 2);  // disk with the directory
  append_le(directory, members.size(), 2);
  append_le(directory, members.size(), 2);
  append_le(directory, directory_size, 4);
  append_le(directory, directory_at, 4);
  append_le(directory, 0, 2);  // comment length
  file.write(directory);
  file.commit();
}

}  // namespace

void export_npz(const SoftmaxRegression& model, const std::string& path) {
  const std::size_t d = model.n_features();
  const std::size_t k = model.n_classes();
  if (k == 0) {
    throw InvalidArgument("softreg::export_npz: " + path +
                          ": the model is empty (no classes); fit or assemble one first");
  }
  std::vector<double> w_raw, intercept;
  model.folded_weights(w_raw, intercept);
  std::vector<double> coef(k * d);  // (K, d): W transposed, as scikit-learn's coef_
  for (std::size_t j = 0; j < d; ++j) {
    for (std::size_t c = 0; c < k; ++c) coef[c * d + j] = w_raw[j * k + c];
  }
  std::string class_descr;
  const std::string class_data = class_array(model.classes(), class_descr);
  const std::string ks = std::to_string(k);

  std::array<Member, 3> members = {
      Member{"coef.npy", npy_header("<f8", "(" + ks + ", " + std::to_string(d) + ")"),
             detail::little_endian_bytes(coef)},
      Member{"intercept.npy", npy_header("<f8", "(" + ks + ",)"),
             detail::little_endian_bytes(intercept)},
      Member{"classes.npy", npy_header(class_descr, "(" + ks + ",)"), bytes_of(class_data)}};
  seal_members(members, path);
  write_zip(members, path);
}

}  // namespace softreg
