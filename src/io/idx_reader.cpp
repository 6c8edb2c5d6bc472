// IDX (MNIST, Fashion-MNIST) images and labels, streamed from plain or gzip files into place.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/thread_pool.hpp"
#include "io/byte_source.hpp"
#include "io/readers.hpp"
#include "softreg/error.hpp"
#include "softreg/threads.hpp"

namespace softreg::detail {
namespace {

enum IdxType : std::uint8_t {
  kUbyte = 0x08,
  kSbyte = 0x09,
  kShort = 0x0B,
  kInt = 0x0C,
  kFloat = 0x0D,
  kDouble = 0x0E,
};

// Converting through a small buffer keeps peak memory at the final matrix alone (read_idx's
// threaded unsigned-byte path stages the whole payload instead, see there).
constexpr std::size_t kChunkBytes = 256 * 1024;

std::size_t item_size(std::uint8_t type) {
  switch (type) {
    case kUbyte:
    case kSbyte:
      return 1;
    case kShort:
      return 2;
    case kInt:
    case kFloat:
      return 4;
    case kDouble:
      return 8;
    default:
      return 0;
  }
}

const char* type_name(std::uint8_t type) {
  switch (type) {
    case kUbyte:
      return "unsigned byte";
    case kSbyte:
      return "signed byte";
    case kShort:
      return "short";
    case kInt:
      return "int";
    case kFloat:
      return "float";
    case kDouble:
      return "double";
    default:
      return "unknown";
  }
}

std::string hex_byte(unsigned v) {
  static constexpr char kHex[] = "0123456789abcdef";
  return {kHex[(v >> 4) & 15], kHex[v & 15]};
}

std::uint32_t load_be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

std::uint64_t load_be64(const unsigned char* p) {
  return (std::uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}

struct IdxHeader {
  std::uint8_t type = 0;
  std::size_t item = 1;  // bytes per item, >= 1 once the type is validated
  std::vector<std::uint64_t> dims;
  std::uint64_t data_offset = 0;
  std::uint64_t count = 1;  // product of dims
  bool to_end = true;       // the payload read ends the file (false for a shard before the last)
};

// How messages name the payload.
const char* payload_noun(std::uint8_t type, bool labels) {
  return labels ? "label bytes" : type == kUbyte ? "pixel bytes" : "data bytes";
}

IdxHeader read_header(ByteSource& src, bool labels) {
  const std::string& path = src.path();
  std::array<unsigned char, 4> magic{};
  const std::size_t got = src.read(magic.data(), magic.size());
  if (got == 0) {
    throw_at_byte(path, 0, "file is empty; expected an IDX header (00 00 <type> <dimensions>)");
  }
  if (got < magic.size()) {
    throw_at_byte(path, 0, "file ends after " + std::to_string(got) + " of 4 IDX magic bytes");
  }
  if (magic[0] != 0 || magic[1] != 0) {
    std::string found;
    for (unsigned char b : magic) {
      if (!found.empty()) found += ' ';
      found += hex_byte(b);
    }
    throw_at_byte(path, 0, "expected the IDX magic 00 00 <type> <dimensions>, found " + found);
  }
  IdxHeader h;
  h.type = magic[2];
  h.item = item_size(h.type);
  if (h.item == 0) {
    throw_at_byte(path, 2,
                  "unknown IDX type 0x" + hex_byte(h.type) +
                      "; expected 0x08 (ubyte), 0x09, 0x0b, 0x0c, 0x0d or 0x0e");
  }
  const unsigned ndims = magic[3];
  if (ndims == 0) throw_at_byte(path, 3, "expected at least 1 dimension, found 0");
  std::vector<unsigned char> raw(4 * std::size_t{ndims});
  src.read_exact(raw.data(), raw.size(), "dimension bytes");
  const std::uint64_t limit = src.max_data_size();
  for (unsigned i = 0; i < ndims; ++i) {
    const std::uint64_t d = load_be32(raw.data() + 4 * i);
    h.dims.push_back(d);
    // Saturate: a corrupt header must not wrap around to a small, plausible size.
    h.count = (d != 0 && h.count > UINT64_MAX / d) ? UINT64_MAX : h.count * d;
  }
  h.data_offset = 4 + raw.size();
  const std::uint64_t bytes = h.count > UINT64_MAX / h.item ? UINT64_MAX : h.count * h.item;
  if (bytes > limit || bytes > SIZE_MAX) {
    if (!src.compressed()) {
      const std::uint64_t have = limit > h.data_offset ? limit - h.data_offset : 0;
      throw_at_byte(path, h.data_offset,
                    "file ends after " + std::to_string(std::min(have, bytes)) + " of " +
                        std::to_string(bytes) + " " + payload_noun(h.type, labels));
    }
    throw_at_byte(path, 4,
                  "the dimensions claim " + std::to_string(bytes) +
                      " data bytes, more than this gzip file can hold");
  }
  return h;
}

std::string dims_text(const std::vector<std::uint64_t>& dims, std::size_t from) {
  std::string s;
  for (std::size_t i = from; i < dims.size(); ++i) {
    if (i > from) s += " x ";
    s += std::to_string(dims[i]);
  }
  return s;
}

// The payload read before anything is allocated for it when the header's size is not to be
// believed yet (ByteSource::holds): memory then follows the bytes that really arrive.
std::vector<unsigned char> read_unbelieved(ByteSource& src, const IdxHeader& h, bool labels) {
  const std::uint64_t bytes = h.count * h.item;
  if (src.holds(bytes)) return {};
  return src.read_growing(bytes, h.data_offset, payload_noun(h.type, labels));
}

// Calls convert(bytes, first_item, n_items) for consecutive runs of the payload; a short file
// names the whole payload in its message, not the chunk. With `whole` (h.count * h.item bytes)
// the payload is read into it rather than through a chunk buffer; with a non-empty `preread`
// (read_unbelieved) it comes from there.
template <class Convert>
void stream_payload(ByteSource& src, const IdxHeader& h, bool labels, Convert&& convert,
                    unsigned char* whole = nullptr,
                    const std::vector<unsigned char>& preread = {}) {
  const char* what = payload_noun(h.type, labels);
  const std::size_t item = h.item;
  const std::size_t total = static_cast<std::size_t>(h.count);
  std::vector<unsigned char> chunk(whole == nullptr && preread.empty() ? kChunkBytes : 0);
  for (std::size_t done = 0; done < total;) {
    const std::size_t n = std::min(kChunkBytes / item, total - done);
    if (!preread.empty()) {
      convert(preread.data() + done * item, done, n);
      done += n;
      continue;
    }
    unsigned char* buf = whole == nullptr ? chunk.data() : whole + done * item;
    const std::size_t got = src.read(buf, n * item);
    if (got != n * item) {
      throw_at_byte(src.path(), h.data_offset,
                    "file ends after " + std::to_string(done * item + got) + " of " +
                        std::to_string(total * item) + " " + what +
                        (src.truncated() ? " (the gzip stream is truncated)" : ""));
    }
    convert(buf, done, n);
    done += n;
  }
  if (h.to_end) src.expect_end(std::string("the ") + std::to_string(total * item) + " " + what);
}

// The header of the records `range` (each `per_record` items) of the payload, with `src` moved
// to the range's first byte.
IdxHeader enter_records(ByteSource& src, IdxHeader h, RecordRange range, std::size_t per_record,
                        bool labels) {
  const std::uint64_t skip = std::uint64_t{range.begin} * per_record * h.item;
  src.skip(skip, payload_noun(h.type, labels));
  h.to_end = range.end == h.dims[0];
  h.dims[0] = range.size();
  h.count = std::uint64_t{range.size()} * per_record;
  h.data_offset += skip;
  return h;
}

// The item at p, of the file's big-endian type, as T.
template <class T>
T decode(std::uint8_t type, const unsigned char* p) {
  switch (type) {
    case kSbyte:
      return static_cast<T>(static_cast<std::int8_t>(p[0]));
    case kShort:
      return static_cast<T>(static_cast<std::int16_t>((p[0] << 8) | p[1]));
    case kInt:
      return static_cast<T>(static_cast<std::int32_t>(load_be32(p)));
    case kFloat:
      return static_cast<T>(std::bit_cast<float>(load_be32(p)));
    case kDouble:
      return static_cast<T>(std::bit_cast<double>(load_be64(p)));
    default:
      return static_cast<T>(p[0]);
  }
}

}  // namespace

template <class T>
void read_idx_payload(ByteSource& src, const IdxHeader& h, std::size_t cols, Dataset<T>& ds);

template <class T>
void read_idx(const std::string& file, const ReadOptions& options, Dataset<T>& ds,
              std::size_t* file_rows) {
  ByteSource src(file);
  const std::string& path = src.path();
  IdxHeader h = read_header(src, false);
  if (h.dims.size() < 2) {
    throw_at_byte(path, 3,
                  "expected an IDX array of 2 or more dimensions (images x values), "
                  "found 1 dimension (a labels file?)");
  }
  const std::size_t rows = static_cast<std::size_t>(h.dims[0]);
  const std::size_t cols = rows == 0 ? 0 : static_cast<std::size_t>(h.count / h.dims[0]);
  if (rows == 0) throw_at_byte(path, 4, "expected at least one item, found 0");
  if (cols == 0) throw_at_byte(path, 8, "expected at least one value per item, found 0");
  if (options.n_features != 0 && cols != options.n_features) {
    throw_at_byte(path, 8,
                  "expected " + std::to_string(options.n_features) +
                      " values per item (n_features), found " + std::to_string(cols) + " (" +
                      dims_text(h.dims, 1) + ")");
  }
  ds.item_shape.assign(h.dims.begin() + 1, h.dims.end());
  if (file_rows != nullptr) *file_rows = rows;
  if (options.shard_count > 1) {
    h = enter_records(src, h, shard_records(rows, options.shard_index, options.shard_count), cols,
                      false);
  }
  return read_idx_payload(src, h, cols, ds);
}

template <class T>
void read_idx_payload(ByteSource& src, const IdxHeader& h, std::size_t cols, Dataset<T>& ds) {
  const std::string& path = src.path();
  const auto rows = static_cast<std::size_t>(h.dims[0]);
  // A table rather than a division per pixel: same values as pixel / T(255), several times
  // faster.
  std::array<T, 256> scale{};
  for (std::size_t i = 0; i < scale.size(); ++i) scale[i] = static_cast<T>(i) / T(255);
  const int threads = get_num_threads();
  const std::vector<unsigned char> preread = read_unbelieved(src, h, false);
  if (h.type == kUbyte && threads >= 2 && preread.empty()) {
    // Two things take the time here: inflating the file and the first touch of every page of
    // the matrix (4 bytes per pixel). They overlap: the pixels are read whole into a byte buffer
    // (a quarter of the matrix, freed on return) while another thread allocates the matrix,
    // then the threads convert. Measured 0.47 -> 0.25 s for Fashion-MNIST's training images.
    std::unique_ptr<unsigned char[]> pixels(new unsigned char[rows * cols]);
    DenseMatrix<T> m;
    parallel_run(2, [&](int t) {
      if (t == 0) {
        stream_payload(
            src, h, false, [](const unsigned char*, std::size_t, std::size_t) {}, pixels.get());
      } else {
        m = DenseMatrix<T>(rows, cols);
      }
    });
    T* out = m.data.data();
    const unsigned char* p = pixels.get();
    parallel_for(threads, rows, std::max<std::size_t>(1, (std::size_t(1) << 16) / cols),
                 [&](std::size_t b, std::size_t e) {
                   for (std::size_t i = b * cols; i < e * cols; ++i) out[i] = scale[p[i]];
                 });
    ds.features = std::move(m);
    return;
  }
  DenseMatrix<T> m(rows, cols);
  T* out = m.data.data();
  if (h.type == kUbyte) {
    stream_payload(
        src, h, false,
        [&](const unsigned char* p, std::size_t k, std::size_t n) {
          for (std::size_t i = 0; i < n; ++i) out[k + i] = scale[p[i]];
        },
        nullptr, preread);
  } else {
    const std::size_t item = h.item;
    const bool check = h.type == kFloat || h.type == kDouble;
    stream_payload(
        src, h, false,
        [&](const unsigned char* p, std::size_t k, std::size_t n) {
          for (std::size_t i = 0; i < n; ++i) {
            const T v = decode<T>(h.type, p + i * item);
            if (check && !std::isfinite(v)) {
              const std::size_t at = k + i;
              throw_at_byte(
                  path, h.data_offset + at * item,
                  "expected finite values, found " +
                      number_for_message(decode<double>(h.type, p + i * item)) + " at item " +
                      std::to_string(at / cols) + ", value " + std::to_string(at % cols) +
                      (std::isfinite(decode<double>(h.type, p + i * item)) ? " (it overflows float)"
                                                                           : ""));
            }
            out[k + i] = v;
          }
        },
        nullptr, preread);
  }
  ds.features = std::move(m);
}

std::vector<std::string> read_idx_labels(const std::string& file, std::size_t expected,
                                         const std::string& data_path, RecordRange range) {
  ByteSource src(file);
  const std::string& path = src.path();
  IdxHeader h = read_header(src, true);
  if (h.type == kFloat || h.type == kDouble) {
    throw_at_byte(path, 2,
                  std::string("expected integer labels (type 0x08, 0x09, 0x0b or 0x0c), "
                              "found type 0x") +
                      hex_byte(h.type) + " (" + type_name(h.type) + ")");
  }
  if (h.dims.size() != 1) {
    throw_at_byte(path, 3,
                  "expected a 1-dimensional labels file (idx1), found " +
                      std::to_string(h.dims.size()) + " dimensions");
  }
  if (h.dims[0] != expected) {
    throw_at_byte(path, 4,
                  "expected " + std::to_string(expected) + " labels, one per row of " + data_path +
                      ", found " + std::to_string(h.dims[0]));
  }
  if (range.size() != expected) h = enter_records(src, h, range, 1, true);
  std::vector<std::string> labels;
  labels.reserve(range.size());
  const std::size_t item = h.item;
  stream_payload(src, h, true, [&](const unsigned char* p, std::size_t, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      labels.push_back(std::to_string(decode<std::int64_t>(h.type, p + i * item)));
    }
  });
  return labels;
}

std::string sibling_idx_labels(const std::string& images_path) {
  const auto slash = images_path.find_last_of('/');
  const std::size_t name_at = slash == std::string::npos ? 0 : slash + 1;
  std::string candidate;
  for (const char* pattern : {"images-idx3-ubyte", "images.idx3-ubyte"}) {
    const auto at = images_path.find(pattern, name_at);
    if (at == std::string::npos) continue;
    candidate = images_path;
    candidate.replace(at, 6, "labels");
    candidate.replace(at + 7, 4, "idx1");
    break;
  }
  if (candidate.empty()) return {};
  const bool gz = has_suffix(candidate, ".gz");
  const std::string bare = gz ? candidate.substr(0, candidate.size() - 3) : candidate;
  std::error_code ec;
  for (const std::string& c : {candidate, gz ? bare : bare + ".gz"}) {
    if (std::filesystem::is_regular_file(c, ec)) return c;
  }
  return {};
}

template void read_idx<float>(const std::string&, const ReadOptions&, Dataset<float>&,
                              std::size_t*);
template void read_idx<double>(const std::string&, const ReadOptions&, Dataset<double>&,
                               std::size_t*);

}  // namespace softreg::detail
