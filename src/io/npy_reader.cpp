// NumPy .npy features (2-D, C or Fortran order) and labels (1-D integers), converted in place.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "io/byte_source.hpp"
#include "io/npy_header.hpp"
#include "io/readers.hpp"
#include "softreg/error.hpp"

namespace softreg::detail {
namespace {

constexpr std::size_t kChunkBytes = 256 * 1024;

template <class U>
struct Tag {
  using type = U;
};

// Calls f(Tag<Src>{}) for the C++ type of the header's dtype.
template <class F>
void with_dtype(const NpyHeader& h, F&& f) {
  switch (h.kind == 'f' ? 100 + h.item_size : (h.kind == 'u' ? 200 : 0) + h.item_size) {
    case 104:
      return f(Tag<float>{});
    case 108:
      return f(Tag<double>{});
    case 1:
      return f(Tag<std::int8_t>{});
    case 2:
      return f(Tag<std::int16_t>{});
    case 4:
      return f(Tag<std::int32_t>{});
    case 8:
      return f(Tag<std::int64_t>{});
    case 201:
      return f(Tag<std::uint8_t>{});
    case 202:
      return f(Tag<std::uint16_t>{});
    case 204:
      return f(Tag<std::uint32_t>{});
    default:
      return f(Tag<std::uint64_t>{});
  }
}

template <class Src>
Src load(const unsigned char* p, bool swap) {
  unsigned char b[sizeof(Src)];
  std::memcpy(b, p, sizeof(Src));
  if (swap) std::reverse(b, b + sizeof(Src));
  Src v;
  std::memcpy(&v, b, sizeof(Src));
  return v;
}

// The payload read before anything is allocated for it when the header's size is not to be
// believed yet (ByteSource::holds): memory then follows the bytes that really arrive.
std::vector<unsigned char> read_unbelieved(ByteSource& src, const NpyHeader& h) {
  const std::uint64_t bytes = h.count * h.item_size;
  if (src.holds(bytes)) return {};
  return src.read_growing(bytes, h.data_offset, "data bytes for shape " + h.shape_text());
}

// Calls convert(bytes, first_item, n_items) over the payload (from `preread` when it is not
// empty), then checks that the file ends.
template <class Convert>
void stream_payload(ByteSource& src, const NpyHeader& h, Convert&& convert,
                    const std::vector<unsigned char>& preread = {}) {
  const std::size_t item = h.item_size;
  const auto total = static_cast<std::size_t>(h.count);
  std::vector<unsigned char> chunk(preread.empty() ? kChunkBytes : 0);
  for (std::size_t done = 0; done < total;) {
    const std::size_t n = std::min(kChunkBytes / item, total - done);
    if (!preread.empty()) {
      convert(preread.data() + done * item, done, n);
      done += n;
      continue;
    }
    const std::size_t got = src.read(chunk.data(), n * item);
    if (got != n * item) {
      throw_at_byte(src.path(), h.data_offset,
                    "file ends after " + std::to_string(done * item + got) + " of " +
                        std::to_string(total * item) + " data bytes for shape " + h.shape_text() +
                        (src.truncated() ? " (the gzip stream is truncated)" : ""));
    }
    convert(chunk.data(), done, n);
    done += n;
  }
  if (h.to_end) {
    src.expect_end("the " + std::to_string(total * item) + " data bytes of shape " +
                   h.shape_text());
  }
}

// The header of the rows `range` (each `per_row` items) of a C-order payload, with `src` moved
// to the range's first byte.
NpyHeader enter_rows(ByteSource& src, NpyHeader h, RecordRange range, std::size_t per_row) {
  const std::uint64_t skip = std::uint64_t{range.begin} * per_row * h.item_size;
  src.skip(skip, "data bytes for shape " + h.shape_text());
  h.to_end = range.end == h.shape[0];
  h.shape[0] = range.size();
  h.count = std::uint64_t{range.size()} * per_row;
  h.data_offset += skip;
  return h;
}

}  // namespace

template <class T>
void read_npy(const std::string& file, const ReadOptions& options, Dataset<T>& ds,
              std::size_t* file_rows) {
  ByteSource src(file);
  const std::string& path = src.path();
  NpyHeader h = read_npy_header(src);
  if (h.shape.size() != 2) {
    throw_at_byte(path, h.shape_offset,
                  "expected a 2-D array (rows, features), found shape " + h.shape_text());
  }
  auto rows = static_cast<std::size_t>(h.shape[0]);
  const auto cols = static_cast<std::size_t>(h.shape[1]);
  if (rows == 0 || cols == 0) {
    throw_at_byte(path, h.shape_offset,
                  "expected at least one row and one feature, found shape " + h.shape_text());
  }
  if (options.n_features != 0 && cols != options.n_features) {
    throw_at_byte(path, h.shape_offset,
                  "expected " + std::to_string(options.n_features) +
                      " features per row (n_features), found shape " + h.shape_text());
  }
  if (file_rows != nullptr) *file_rows = rows;
  if (options.shard_count > 1) {
    if (h.fortran_order) {
      throw_at_byte(path, h.shape_offset,
                    "a Fortran-order array cannot be read by shards of rows (its rows are not "
                    "contiguous); expected C order (np.ascontiguousarray)");
    }
    h = enter_rows(src, h, shard_records(rows, options.shard_index, options.shard_count), cols);
    rows = static_cast<std::size_t>(h.shape[0]);
  }
  const std::vector<unsigned char> preread = read_unbelieved(src, h);
  DenseMatrix<T> m(rows, cols);
  T* out = m.data.data();
  with_dtype(h, [&](auto tag) {
    using Src = typename decltype(tag)::type;
    const std::size_t item = sizeof(Src);
    // Fortran order walks the matrix column by column; (r, c) follow the file's item order.
    std::size_t r = 0, c = 0;
    stream_payload(
        src, h,
        [&](const unsigned char* p, std::size_t k, std::size_t n) {
          for (std::size_t i = 0; i < n; ++i) {
            const Src s = load<Src>(p + i * item, h.swap_bytes);
            const T v = static_cast<T>(s);
            if constexpr (std::is_floating_point_v<Src>) {
              if (!std::isfinite(v)) {
                const std::size_t at = k + i;
                const std::size_t row = h.fortran_order ? at % rows : at / cols;
                const std::size_t col = h.fortran_order ? at / rows : at % cols;
                throw_at_byte(path, h.data_offset + at * item,
                              "expected finite values, found " +
                                  number_for_message(static_cast<double>(s)) + " at row " +
                                  std::to_string(row) + ", column " + std::to_string(col) +
                                  (std::isfinite(s) ? " (it overflows float)" : ""));
              }
            }
            if (h.fortran_order) {
              out[r * cols + c] = v;
              if (++r == rows) {
                r = 0;
                ++c;
              }
            } else {
              out[k + i] = v;
            }
          }
        },
        preread);
  });
  ds.features = std::move(m);
}

std::vector<std::string> read_npy_labels(const std::string& file, std::size_t expected,
                                         const std::string& data_path, RecordRange range) {
  ByteSource src(file);
  const std::string& path = src.path();
  NpyHeader h = read_npy_header(src);
  if (h.kind == 'f') {
    throw_at_byte(path, h.descr_offset,
                  "expected integer labels, found dtype " + quote_for_message(h.descr) +
                      " (save them with y.astype(np.int64))");
  }
  if (h.shape.size() != 1) {
    throw_at_byte(path, h.shape_offset,
                  "expected a 1-D array of labels, found shape " + h.shape_text());
  }
  if (h.shape[0] != expected) {
    throw_at_byte(path, h.shape_offset,
                  "expected " + std::to_string(expected) + " labels, one per row of " + data_path +
                      ", found shape " + h.shape_text());
  }
  if (range.size() != expected) h = enter_rows(src, h, range, 1);
  std::vector<std::string> labels;
  labels.reserve(range.size());
  with_dtype(h, [&](auto tag) {
    using Src = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<Src>) {
      stream_payload(src, h, [&](const unsigned char* p, std::size_t, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
          labels.push_back(std::to_string(load<Src>(p + i * sizeof(Src), h.swap_bytes)));
        }
      });
    }
  });
  return labels;
}

template void read_npy<float>(const std::string&, const ReadOptions&, Dataset<float>&,
                              std::size_t*);
template void read_npy<double>(const std::string&, const ReadOptions&, Dataset<double>&,
                               std::size_t*);

}  // namespace softreg::detail
