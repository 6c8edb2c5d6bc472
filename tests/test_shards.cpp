// Sharded reading (ReadOptions::shard_index / shard_count, read_shard): every shard holds the
// rows the documented rule gives it, the shards together hold the full read's rows, errors
// keep their absolute positions, and read_shard agrees across ranks (run as threads here).
#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "io/byte_source.hpp"
#include "io/line_reader.hpp"
#include "io/read_position.hpp"
#include "io_fixtures.hpp"
#include "softreg/data.hpp"
#include "softreg/distributed.hpp"
#include "softreg/error.hpp"

namespace {

using io_test::TempDir;
using softreg::Dataset;
using softreg::IndexBase;
using softreg::ReadOptions;

// ---------------------------------------------------------------------------------------------
// Rows as comparable values: label, id, sparse indices and the values' bits.

struct Row {
  std::string label;
  std::string id;
  std::vector<std::int32_t> index;  // sparse rows only
  std::vector<std::uint64_t> bits;  // each value's bit pattern

  bool operator==(const Row&) const = default;
  bool operator<(const Row& o) const {
    return std::tie(label, id, index, bits) < std::tie(o.label, o.id, o.index, o.bits);
  }
};

void PrintTo(const Row& r, std::ostream* os) {
  *os << "{label \"" << r.label << "\", " << r.bits.size() << " values";
  for (std::size_t k = 0; k < std::min<std::size_t>(r.bits.size(), 4); ++k) {
    *os << (k == 0 ? ": " : ", ");
    if (!r.index.empty()) *os << r.index[k] << ":";
    *os << std::hex << r.bits[k] << std::dec;
  }
  *os << "}";
}

template <class T>
std::uint64_t bits_of(T v) {
  if constexpr (sizeof(T) == 8) {
    return std::bit_cast<std::uint64_t>(v);
  } else {
    return std::bit_cast<std::uint32_t>(v);
  }
}

template <class T>
std::vector<Row> rows_of(const Dataset<T>& ds) {
  std::vector<Row> out(ds.rows());
  for (std::size_t i = 0; i < out.size(); ++i) {
    Row& r = out[i];
    if (!ds.labels.empty()) r.label = ds.labels.at(i);
    if (!ds.ids.empty()) r.id = ds.ids.at(i);
    if (const auto* m = std::get_if<softreg::CsrMatrix<T>>(&ds.features)) {
      for (auto k = m->indptr[i]; k < m->indptr[i + 1]; ++k) {
        r.index.push_back(m->indices[static_cast<std::size_t>(k)]);
        r.bits.push_back(bits_of(m->values[static_cast<std::size_t>(k)]));
      }
    } else {
      for (const T v : std::get<softreg::DenseMatrix<T>>(ds.features).row(i)) {
        r.bits.push_back(bits_of(v));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Generated text files, with the independent reference: each row's expected content, the
// offset its line starts at and its 1-based physical line number.

struct TextData {
  std::string text;
  std::vector<Row> rows;
  std::vector<std::uint64_t> offset;  // where each row's line starts
  std::vector<std::uint64_t> line;    // each row's physical line, from 1
  std::size_t cols = 0;

  // Starts a line; `row` says whether it is a data row.
  void begin_line(bool row) {
    ++lines_;
    if (row) {
      offset.push_back(text.size());
      line.push_back(lines_);
    }
  }

 private:
  std::uint64_t lines_ = 0;
};

double parse_reference(const std::string& s) {
  double v = 0.0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  EXPECT_TRUE(ec == std::errc{} && p == s.data() + s.size()) << s;
  return v;
}

// A number in one of several spellings (different lengths, so lines vary in size).
std::string random_number(std::mt19937_64& rng) {
  char b[64];
  switch (rng() % 4) {
    case 0:
      return std::to_string(static_cast<int>(rng() % 2001) - 1000);
    case 1:
      std::snprintf(b, sizeof b, "%.17g",
                    std::uniform_real_distribution<double>(-1000.0, 1000.0)(rng));
      return b;
    case 2:
      std::snprintf(b, sizeof b, "%.3f", std::uniform_real_distribution<double>(-10.0, 10.0)(rng));
      return b;
    default:
      std::snprintf(b, sizeof b, "%.6e",
                    std::uniform_real_distribution<double>(-1.0, 1.0)(rng) *
                        std::pow(10.0, static_cast<double>(rng() % 41) - 20.0));
      return b;
  }
}

struct CsvSpec {
  bool header = true;
  bool index_col = false;  // pandas: a nameless first column of row numbers
  bool labels = true;      // with a header: a "label" column; without: column 0 (label_column "0")
  bool crlf = false;
  bool bom = false;
  bool final_newline = true;
  std::size_t rows = 37;
  std::size_t cols = 4;
  unsigned seed = 1;
};

TextData make_csv(const CsvSpec& s) {
  std::mt19937_64 rng(s.seed);
  TextData d;
  d.cols = s.cols;
  const std::string eol = s.crlf ? "\r\n" : "\n";
  if (s.bom) d.text += "\xEF\xBB\xBF";
  // Columns: [index] [label when headerless] f0 [label with a header] f1 ...
  auto label_here = [&](std::size_t f) { return s.labels && (s.header ? f == 1 : f == 0); };
  if (s.header) {
    d.begin_line(false);
    std::string h = s.index_col ? "," : "";
    for (std::size_t f = 0; f < s.cols; ++f) {
      if (label_here(f)) h += "label,";
      h += "feature_" + std::to_string(f) + (f + 1 < s.cols ? "," : "");
    }
    if (s.labels && s.cols == 1) h += ",label";
    d.text += h + eol;
  }
  for (std::size_t r = 0; r < s.rows; ++r) {
    d.begin_line(true);
    Row row;
    std::string line = s.index_col ? std::to_string(r) + "," : "";
    for (std::size_t f = 0; f < s.cols; ++f) {
      if (label_here(f)) {
        row.label = s.header ? "class_" + std::to_string(rng() % 5) : std::to_string(rng() % 7);
        line += row.label + ",";
      }
      const std::string v = random_number(rng);
      row.bits.push_back(bits_of(parse_reference(v)));
      line += v + (f + 1 < s.cols ? "," : "");
    }
    if (s.labels && s.cols == 1) line += ",x";
    d.text += line;
    if (r + 1 < s.rows || s.final_newline) d.text += eol;
    d.rows.push_back(std::move(row));
  }
  return d;
}

ReadOptions csv_options(const CsvSpec& s) {
  ReadOptions o;
  if (s.labels && !s.header) o.label_column = "0";
  return o;
}

struct SvmSpec {
  bool zero_based = false;
  bool comments = true;  // comment lines, blank lines, whitespace-only lines, trailing comments
  bool qid = false;
  std::size_t rows = 41;
  unsigned seed = 2;
};

TextData make_libsvm(const SvmSpec& s) {
  std::mt19937_64 rng(s.seed);
  TextData d;
  const int base = s.zero_based ? 0 : 1;
  std::int64_t widest = -1;
  static const char* const kLabels[] = {"+1", "-1", "2", "3"};
  static const char* const kFillers[] = {"# a comment line", "", " \t ", "#"};
  for (std::size_t r = 0; r < s.rows; ++r) {
    while (s.comments && rng() % 4 == 0) {
      d.begin_line(false);
      d.text += kFillers[rng() % 4];
      d.text += "\n";
    }
    d.begin_line(true);
    Row row;
    const std::string label = kLabels[rng() % 4];
    row.label = label == "+1" ? "1" : label;
    std::string line = label;
    if (s.qid && rng() % 2 == 0) line += " qid:" + std::to_string(rng() % 100);
    const std::size_t pairs = r == 0 ? 3 : rng() % 7;
    std::int64_t index = base + (r == 0 ? 0 : static_cast<std::int64_t>(rng() % 3));
    for (std::size_t k = 0; k < pairs; ++k) {
      const std::string v = random_number(rng);
      line += (rng() % 5 == 0 ? "  " : " ") + std::to_string(index) + ":" + v;
      row.index.push_back(static_cast<std::int32_t>(index - base));
      row.bits.push_back(bits_of(parse_reference(v)));
      widest = std::max(widest, index);
      index += 1 + static_cast<std::int64_t>(rng() % 4);
    }
    if (s.comments && rng() % 5 == 0) line += " # trailing";
    d.text += line + "\n";
    d.rows.push_back(std::move(row));
  }
  d.cols = static_cast<std::size_t>(widest + (s.zero_based ? 1 : 0));
  return d;
}

// ---------------------------------------------------------------------------------------------
// The shard checks.

enum class Rule { bytes, round_robin, records };

template <class T = double>
Dataset<T> read_shard_of(const std::string& path, ReadOptions o, std::size_t i, std::size_t n) {
  o.shard_index = i;
  o.shard_count = n;
  return softreg::read_dataset<T>(path, o);
}

/// For each shard count in 1..6 and two larger than the row count, reads every shard and checks
/// it holds exactly the rows `rule` gives it (`where` is each row's line offset for bytes, its
/// physical line for round_robin, unused for records), and that the shards together hold the
/// full read's rows: in order (bytes, records) or as a multiset (round_robin). Returns the
/// full read's rows.
template <class T = double>
std::vector<Row> expect_shards(const std::string& path, const ReadOptions& base, Rule rule,
                               const std::vector<std::uint64_t>& where = {}) {
  const Dataset<T> full = softreg::read_dataset<T>(path, base);
  const std::vector<Row> all = rows_of(full);
  const std::uint64_t size = std::filesystem::file_size(path);
  if (rule != Rule::records) {
    EXPECT_EQ(where.size(), all.size());
  }
  std::vector<std::size_t> counts = {1, 2, 3, 4, 5, 6, all.size() + 3, 2 * all.size() + 7};
  for (const std::size_t n : counts) {
    std::vector<Row> concat;
    std::size_t empty = 0;
    for (std::size_t i = 0; i < n; ++i) {
      SCOPED_TRACE(path + ": shard " + std::to_string(i) + " of " + std::to_string(n));
      Dataset<T> ds;
      try {
        ds = read_shard_of<T>(path, base, i, n);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "threw: " << e.what();
        continue;
      }
      std::vector<Row> want;
      for (std::size_t r = 0; r < all.size(); ++r) {
        bool mine = false;
        switch (rule) {
          case Rule::bytes:
            mine = where[r] >= size * i / n && where[r] < size * (i + 1) / n;
            break;
          case Rule::round_robin:
            mine = (where[r] - 1) % n == i;
            break;
          case Rule::records:
            mine = r >= all.size() * i / n && r < all.size() * (i + 1) / n;
            break;
        }
        if (mine) want.push_back(all[r]);
      }
      const std::vector<Row> got = rows_of(ds);
      EXPECT_EQ(got, want);
      EXPECT_EQ(ds.format, full.format);
      EXPECT_EQ(ds.feature_names, full.feature_names);
      EXPECT_EQ(ds.item_shape, full.item_shape);
      EXPECT_EQ(ds.sparse(), full.sparse());
      if (ds.sparse()) {
        EXPECT_LE(ds.cols(), full.cols());
        if (ds.rows() > 0) {
          EXPECT_EQ(ds.index_base, full.index_base);
        }
      } else {
        EXPECT_EQ(ds.cols(), full.cols());
      }
      if (ds.rows() > 0) {
        EXPECT_EQ(ds.labels.empty(), full.labels.empty());
      }
      EXPECT_TRUE(ds.labels.empty() || ds.labels.size() == ds.rows());
      if (ds.rows() == 0) ++empty;
      concat.insert(concat.end(), got.begin(), got.end());
    }
    SCOPED_TRACE(path + ": " + std::to_string(n) + " shards together");
    if (rule == Rule::round_robin) {
      std::vector<Row> a = concat, b = all;
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      EXPECT_EQ(a, b);
    } else {
      EXPECT_EQ(concat, all);
    }
    if (n > all.size()) {
      EXPECT_GE(empty, n - all.size());
    }
  }
  return all;
}

/// The full read against the generated reference, then the plain file by byte ranges and its
/// gzip copy by round-robin lines.
void expect_text_shards(const TempDir& dir, const std::string& name, const TextData& d,
                        const ReadOptions& o, bool plain_too = true, bool gzip_too = true) {
  const std::string plain = dir.write(name, d.text);
  {
    SCOPED_TRACE(plain + ": full read against the generated rows");
    const Dataset<double> full = softreg::read_dataset<double>(plain, o);
    EXPECT_EQ(rows_of(full), d.rows);
    EXPECT_EQ(full.cols(), d.cols);
  }
  // The file must have byte-range boundaries inside lines for the test to mean anything.
  bool mid_line = false;
  for (std::size_t n = 2; n <= 6; ++n) {
    for (std::size_t i = 1; i < n; ++i) {
      const std::uint64_t at = d.text.size() * i / n;
      mid_line = mid_line || (at > 0 && d.text[at - 1] != '\n');
    }
  }
  EXPECT_TRUE(mid_line);
  if (plain_too) expect_shards(plain, o, Rule::bytes, d.offset);
  if (gzip_too) {
    const std::string gz = dir.write_gz(name + ".gz", d.text);
    EXPECT_EQ(expect_shards(gz, o, Rule::round_robin, d.line), d.rows);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. The shards of every format hold the full read's rows.

TEST(Shards, CsvWithHeader) {
  TempDir dir;
  const CsvSpec s{};
  expect_text_shards(dir, "h.csv", make_csv(s), csv_options(s));
}

TEST(Shards, CsvHeaderless) {
  TempDir dir;
  CsvSpec s;
  s.header = false;
  s.labels = false;
  s.seed = 3;
  expect_text_shards(dir, "n.csv", make_csv(s), csv_options(s));
  s.labels = true;  // label_column "0"
  s.seed = 4;
  expect_text_shards(dir, "l.csv", make_csv(s), csv_options(s));
}

TEST(Shards, CsvPandasIndexColumn) {
  TempDir dir;
  CsvSpec s;
  s.index_col = true;
  s.seed = 5;
  const TextData d = make_csv(s);
  expect_text_shards(dir, "p.csv", d, csv_options(s), true, false);  // gzip: see below
  // A shard's notice names its own row numbers.
  const std::string p = dir.path("p.csv");
  const std::uint64_t size = d.text.size();
  for (std::size_t i = 0; i < 3; ++i) {
    const auto ds = read_shard_of(p, {}, i, 3);
    if (ds.rows() == 0) continue;
    std::size_t first = 0;
    while (d.offset[first] < size * i / 3) ++first;
    const std::string want = "holds the row numbers " + std::to_string(first) + ".." +
                             std::to_string(first + ds.rows() - 1) + " (a pandas index)";
    ASSERT_EQ(ds.notices.size(), 1u);
    EXPECT_TRUE(io_test::has(ds.notices[0], want)) << ds.notices[0] << " / " << want;
  }
}

// Round-robin shards of a gzip CSV hold every N-th row, so their index column counts by N.
TEST(Shards, CsvPandasIndexColumnGzip) {
  TempDir dir;
  CsvSpec s;
  s.index_col = true;
  s.seed = 5;
  expect_text_shards(dir, "p.csv", make_csv(s), csv_options(s), false, true);
  // The smallest case: shard 0 of 2 holds physical lines 1 (the header), 3 and 5.
  const std::string p = dir.write_gz("small.csv.gz", ",a\n0,1.5\n1,2.5\n2,3.5\n3,4.5\n");
  EXPECT_EQ(io_test::dense(read_shard_of(p, {}, 0, 2)).data, (std::vector<double>{2.5, 4.5}));
}

TEST(Shards, CsvCrlfWithoutFinalNewline) {
  TempDir dir;
  CsvSpec s;
  s.crlf = true;
  s.final_newline = false;
  s.seed = 6;
  expect_text_shards(dir, "crlf.csv", make_csv(s), csv_options(s));
}

TEST(Shards, CsvWithByteOrderMark) {
  TempDir dir;
  CsvSpec s;
  s.bom = true;
  s.seed = 7;
  expect_text_shards(dir, "bom.csv", make_csv(s), csv_options(s));
  s.header = false;  // the mark then sits before the first data row, in shard 0
  s.labels = false;
  s.crlf = true;
  s.seed = 8;
  expect_text_shards(dir, "bom_rows.csv", make_csv(s), csv_options(s));
}

TEST(Shards, LibsvmOneBasedWithCommentsAndQid) {
  TempDir dir;
  SvmSpec s;
  s.qid = true;
  const TextData d = make_libsvm(s);
  expect_text_shards(dir, "one.svm", d, {});
  ReadOptions forced;
  forced.index_base = IndexBase::one;
  expect_shards(dir.path("one.svm"), forced, Rule::bytes, d.offset);
}

TEST(Shards, LibsvmZeroBased) {
  TempDir dir;
  SvmSpec s;
  s.zero_based = true;
  s.seed = 9;
  const TextData d = make_libsvm(s);
  // Only some shards see the index 0: each shard read alone is told the file's numbering (the
  // automatic rule across shards is read_shard's, tested below).
  ReadOptions o;
  o.index_base = IndexBase::zero;
  expect_text_shards(dir, "zero.libsvm", d, o);
  EXPECT_EQ(softreg::read_dataset<double>(dir.path("zero.libsvm")).index_base, IndexBase::zero);
}

TEST(Shards, LibsvmFloatWithoutComments) {
  TempDir dir;
  SvmSpec s;
  s.comments = false;
  s.rows = 23;
  s.seed = 10;
  const TextData d = make_libsvm(s);
  const std::string p = dir.write("f.svm", d.text);
  expect_shards<float>(p, {}, Rule::bytes, d.offset);
}

// Lines far longer than the shards' byte ranges (and than the reader's 4 MiB buffer): few rows,
// most shards empty, boundaries deep inside lines.
TEST(Shards, VeryLongLinesFewRows) {
  TempDir dir;
  {
    // Headerless: feature_names' distinctness check is quadratic in the columns (1.6e9 string
    // compares per read of a 40000-name header), which this test is not about.
    CsvSpec s;
    s.header = false;
    s.rows = 5;
    s.cols = 40000;
    s.seed = 11;
    expect_text_shards(dir, "wide.csv", make_csv(s), csv_options(s));
  }
  {
    TextData d;
    std::mt19937_64 rng(12);
    const std::size_t pairs[] = {3, 520000, 2, 20000};
    for (const std::size_t n : pairs) {
      d.begin_line(true);
      Row row;
      row.label = std::to_string(n % 3);
      d.text += row.label;
      std::int32_t index = 1;
      for (std::size_t k = 0; k < n; ++k) {
        const int v = static_cast<int>(rng() % 9) + 1;
        d.text.append(" ").append(std::to_string(index)).append(":").append(std::to_string(v));
        row.index.push_back(index - 1);
        row.bits.push_back(bits_of(static_cast<double>(v)));
        d.cols = std::max<std::size_t>(d.cols, static_cast<std::size_t>(index));
        index += 1 + static_cast<std::int32_t>(rng() % 3);
      }
      d.text += "\n";
      d.rows.push_back(std::move(row));
    }
    ASSERT_GT(d.text.size(), std::size_t{4} << 20);
    expect_text_shards(dir, "long.svm", d, {});
  }
}

// IDX unsigned-byte images, value / 255, with the sibling labels file read over the same records.
void expect_idx_shards(bool gz) {
  TempDir dir;
  const std::uint32_t n = 23;
  std::mt19937_64 rng(13);
  std::string pixels, labels;
  for (std::uint32_t k = 0; k < n * 12; ++k) pixels += static_cast<char>(rng() % 256);
  for (std::uint32_t k = 0; k < n; ++k) labels += static_cast<char>(rng() % 10);
  const std::string images = io_test::idx_bytes(0x08, {n, 3, 4}, pixels);
  const std::string label_file = io_test::idx_bytes(0x08, {n}, labels);
  const std::string p = gz ? dir.write_gz("train-images-idx3-ubyte.gz", images)
                           : dir.write("train-images-idx3-ubyte", images);
  if (gz) {
    dir.write_gz("train-labels-idx1-ubyte.gz", label_file);
  } else {
    dir.write("train-labels-idx1-ubyte", label_file);
  }
  std::vector<Row> want(n);
  for (std::uint32_t r = 0; r < n; ++r) {
    want[r].label = std::to_string(static_cast<unsigned char>(labels[r]));
    for (std::uint32_t c = 0; c < 12; ++c) {
      const auto byte = static_cast<unsigned char>(pixels[r * 12 + c]);
      want[r].bits.push_back(bits_of(static_cast<float>(byte) / 255.0f));
    }
  }
  EXPECT_EQ(expect_shards<float>(p, {}, Rule::records), want);
}

TEST(Shards, IdxImagesWithSiblingLabels) {
  expect_idx_shards(false);
}
TEST(Shards, IdxGzipImagesWithSiblingLabels) {
  expect_idx_shards(true);
}

std::string npy_dict(const std::string& descr, bool fortran, const std::string& shape) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape + ", }";
}

TEST(Shards, NpyCOrderWithNpyLabels) {
  TempDir dir;
  const std::size_t n = 29, d = 5;
  std::mt19937_64 rng(14);
  std::vector<double> values(n * d);
  std::vector<std::int64_t> labels(n);
  for (double& v : values) v = std::uniform_real_distribution<double>(-5.0, 5.0)(rng);
  for (auto& l : labels) l = static_cast<std::int64_t>(rng() % 10);
  const std::string p = dir.write(
      "x.npy", io_test::npy_bytes(npy_dict("<f8", false, "(29, 5)"), io_test::raw_bytes(values)));
  dir.write("y.npy",
            io_test::npy_bytes(npy_dict("<i8", false, "(29,)"), io_test::raw_bytes(labels)));
  std::vector<Row> want(n);
  for (std::size_t r = 0; r < n; ++r) {
    want[r].label = std::to_string(labels[r]);
    for (std::size_t c = 0; c < d; ++c) want[r].bits.push_back(bits_of(values[r * d + c]));
  }
  ReadOptions o;
  o.labels_path = dir.path("y.npy");
  EXPECT_EQ(expect_shards(p, o, Rule::records), want);
  // Without labels, and gzip-compressed (inflated up to the range's end).
  for (auto& r : want) r.label.clear();
  EXPECT_EQ(expect_shards(p, {}, Rule::records), want);
  const std::string gz = dir.write_gz(
      "x.npy.gz",
      io_test::npy_bytes(npy_dict("<f8", false, "(29, 5)"), io_test::raw_bytes(values)));
  EXPECT_EQ(expect_shards(gz, {}, Rule::records), want);
}

// ---------------------------------------------------------------------------------------------
// 2. Errors in a shard name the file and the line counted from the start of the file.

std::string error_of(const std::string& path, const ReadOptions& o, std::size_t i, std::size_t n) {
  try {
    read_shard_of(path, o, i, n);
  } catch (const softreg::ParseError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not a ParseError> ") + e.what();
  }
  return "";
}

/// Puts `bad` over the text at `at` (same length, so the byte ranges do not move), then checks
/// that every shard count's shard holding that row gives the unsharded read's error, naming the
/// file and `line`, and the other shards read without one. Returns the unsharded message.
std::string expect_error_in_shard(const TempDir& dir, const std::string& name, std::string text,
                                  std::size_t at, const std::string& bad, std::uint64_t offset,
                                  std::uint64_t line, const ReadOptions& o) {
  text.replace(at, bad.size(), bad);
  const std::string p = dir.write(name, text);
  const std::string full = error_of(p, o, 0, 1);
  EXPECT_TRUE(io_test::starts_with(full, p + ":" + std::to_string(line) + ":")) << full;
  for (std::size_t n = 2; n <= 6; ++n) {
    for (std::size_t i = 0; i < n; ++i) {
      SCOPED_TRACE("shard " + std::to_string(i) + " of " + std::to_string(n));
      const bool mine = offset >= text.size() * i / n && offset < text.size() * (i + 1) / n;
      EXPECT_EQ(error_of(p, o, i, n), mine ? full : "");
    }
  }
  // gzip: round-robin lines, still numbered from the start of the file.
  const std::string gz = dir.write_gz(name + ".gz", text);
  const std::string gz_full = error_of(gz, o, 0, 1);
  EXPECT_TRUE(io_test::starts_with(gz_full, gz + ":" + std::to_string(line) + ":")) << gz_full;
  for (std::size_t n = 2; n <= 4; ++n) {
    for (std::size_t i = 0; i < n; ++i) {
      SCOPED_TRACE("gzip shard " + std::to_string(i) + " of " + std::to_string(n));
      EXPECT_EQ(error_of(gz, o, i, n), (line - 1) % n == i ? gz_full : "");
    }
  }
  return full;
}

// The row with values whose line starts in the middle of shard 1 of 3's byte range (not its
// first line).
std::size_t middle_row_of_second_third(const TextData& d) {
  const std::uint64_t lo = d.text.size() / 3, hi = d.text.size() * 2 / 3;
  std::vector<std::size_t> in;
  for (std::size_t r = 0; r < d.rows.size(); ++r) {
    if (d.offset[r] >= lo && d.offset[r] < hi && !d.rows[r].bits.empty()) in.push_back(r);
  }
  EXPECT_GE(in.size(), 3u);
  return in.empty() ? 0 : in[in.size() / 2];
}

TEST(Shards, CsvErrorNamesTheAbsoluteLine) {
  TempDir dir;
  CsvSpec s;
  s.rows = 30;
  s.seed = 15;
  const TextData d = make_csv(s);
  const std::size_t r = middle_row_of_second_third(d);
  // The row's last field, its first byte made a letter.
  const std::size_t at = d.text.rfind(',', d.text.find('\n', d.offset[r])) + 1;
  const std::string msg =
      expect_error_in_shard(dir, "bad.csv", d.text, at, "x", d.offset[r], d.line[r], {});
  EXPECT_TRUE(io_test::has(msg, "expected a number")) << msg;
}

TEST(Shards, LibsvmErrorNamesTheAbsoluteLine) {
  TempDir dir;
  SvmSpec s;
  s.rows = 40;
  s.seed = 16;
  const TextData d = make_libsvm(s);
  const std::size_t r = middle_row_of_second_third(d);
  const std::size_t at = d.text.find(':', d.offset[r]) + 1;  // the first value's first byte
  const std::string msg =
      expect_error_in_shard(dir, "bad.svm", d.text, at, "x", d.offset[r], d.line[r], {});
  EXPECT_TRUE(io_test::has(msg, "expected a number after")) << msg;
}

// ---------------------------------------------------------------------------------------------
// 3. read_shard across ranks: N threads, collectives through shared vectors and a barrier.

class ThreadGroup {
 public:
  explicit ThreadGroup(int n)
      : n_(n),
        sync_(n),
        doubles_(static_cast<std::size_t>(n)),
        strings_(static_cast<std::size_t>(n)) {}

 private:
  friend class ThreadCommunicator;
  const int n_;
  std::barrier<> sync_;
  std::vector<std::vector<double>> doubles_;
  std::vector<std::string> strings_;
};

class ThreadCommunicator final : public softreg::Communicator {
 public:
  ThreadCommunicator(ThreadGroup& g, int rank) : g_(g), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return g_.n_; }
  void sum(std::span<double> values) override {
    combine(values, [](double a, double b) { return a + b; });
  }
  void max(std::span<double> values) override {
    combine(values, [](double a, double b) { return std::max(a, b); });
  }
  std::vector<std::string> all_gather(const std::string& bytes) override {
    g_.strings_[static_cast<std::size_t>(rank_)] = bytes;
    g_.sync_.arrive_and_wait();
    std::vector<std::string> all = g_.strings_;
    g_.sync_.arrive_and_wait();  // nobody writes again before everyone has copied
    return all;
  }

 private:
  // In rank order: ((v0 op v1) op v2) ..., the same bits on every rank.
  template <class Op>
  void combine(std::span<double> values, Op op) {
    g_.doubles_[static_cast<std::size_t>(rank_)].assign(values.begin(), values.end());
    g_.sync_.arrive_and_wait();
    bool same = true;
    for (const auto& v : g_.doubles_) same = same && v.size() == values.size();
    if (same) {
      for (std::size_t k = 0; k < values.size(); ++k) {
        double acc = g_.doubles_[0][k];
        for (std::size_t r = 1; r < g_.doubles_.size(); ++r) acc = op(acc, g_.doubles_[r][k]);
        values[k] = acc;
      }
    }
    g_.sync_.arrive_and_wait();
    if (!same) throw std::logic_error("ranks passed collectives of different lengths");
  }

  ThreadGroup& g_;
  int rank_;
};

struct RankResult {
  std::optional<Dataset<double>> ds;
  std::string error;  // what() of the error thrown, if any
  bool parse_error = false;
  bool on_every_rank = false;  // the error is marked softreg::OnEveryRank
};

/// Runs `step` as ranks 0..n-1 of one group, each on its own thread.
template <class Step>
std::vector<RankResult> on_ranks(int n, Step step) {
  ThreadGroup group(n);
  std::vector<RankResult> out(static_cast<std::size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      ThreadCommunicator comm(group, r);
      RankResult& me = out[static_cast<std::size_t>(r)];
      try {
        step(comm, me);
      } catch (const softreg::ParseError& e) {
        me.error = e.what();
        me.parse_error = true;
        me.on_every_rank = dynamic_cast<const softreg::OnEveryRank*>(&e) != nullptr;
      } catch (const std::exception& e) {
        me.error = e.what();
        me.on_every_rank = dynamic_cast<const softreg::OnEveryRank*>(&e) != nullptr;
      }
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

std::vector<RankResult> read_on_ranks(const std::string& path, const ReadOptions& o, int n) {
  return on_ranks(n, [&](softreg::Communicator& comm, RankResult& me) {
    me.ds = softreg::read_shard<double>(path, o, comm);
  });
}

/// Every rank read without error, with the full read's width, and the ranks' rows in rank order
/// are the full read's.
void expect_ranks_match_full(const std::vector<RankResult>& ranks, const Dataset<double>& full) {
  std::vector<Row> concat;
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    SCOPED_TRACE("rank " + std::to_string(r) + " of " + std::to_string(ranks.size()));
    ASSERT_TRUE(ranks[r].ds.has_value()) << ranks[r].error;
    const Dataset<double>& ds = *ranks[r].ds;
    EXPECT_EQ(ds.cols(), full.cols());
    EXPECT_EQ(ds.feature_names, full.feature_names);
    if (ds.sparse()) {
      EXPECT_EQ(ds.index_base, full.index_base);
    }
    const std::vector<Row> rows = rows_of(ds);
    concat.insert(concat.end(), rows.begin(), rows.end());
  }
  EXPECT_EQ(concat, rows_of(full));
}

TEST(Shards, ThreadCommunicatorCombinesInRankOrder) {
  // The test harness itself: sum, max and all_gather across 4 threads, twice in a row.
  const auto ranks = on_ranks(4, [](softreg::Communicator& comm, RankResult& me) {
    for (int round = 0; round < 2; ++round) {
      double v[2] = {1e16 * (comm.rank() == 0   ? 1
                             : comm.rank() == 1 ? -1
                                                : 0) +
                         1.0,
                     double(comm.rank())};
      comm.sum(v);
      double m[1] = {double(comm.rank() * 10)};
      comm.max(m);
      const auto all = comm.all_gather(std::string(static_cast<std::size_t>(comm.rank()), 'a'));
      // (((1e16 + 1) + (-1e16 + 1)) + 1) + 1: rank order fixes the rounding.
      const bool ok = v[0] == (((1e16 + 1.0) + (-1e16 + 1.0)) + 1.0) + 1.0 && v[1] == 6.0 &&
                      m[0] == 30.0 && all.size() == 4 && all[3] == "aaa" && all[0].empty();
      if (!ok) me.error = "collective gave a wrong value";
    }
  });
  for (const auto& r : ranks) EXPECT_EQ(r.error, "");
}

TEST(Shards, ReadShardSoloEqualsFullRead) {
  TempDir dir;
  const std::string p = dir.write("s.svm", make_libsvm({}).text);
  softreg::SoloCommunicator solo;
  const auto ds = softreg::read_shard<double>(p, {}, solo);
  const auto full = softreg::read_dataset<double>(p);
  EXPECT_EQ(rows_of(ds), rows_of(full));
  EXPECT_EQ(ds.cols(), full.cols());
  EXPECT_EQ(ds.index_base, full.index_base);
}

TEST(Shards, ReadShardLibsvmIndexZeroOnlyInLastShard) {
  TempDir dir;
  // 1-based looking rows; row 0 has the widest index, the last row the only index 0.
  std::string text = "1 2:0.5 77:1.25\n";
  std::mt19937_64 rng(17);
  for (int r = 0; r < 40; ++r) {
    text += std::to_string(r % 3);
    for (int j = 1 + static_cast<int>(rng() % 3); j < 60; j += 1 + static_cast<int>(rng() % 9)) {
      text.append(" ").append(std::to_string(j)).append(":").append(random_number(rng));
    }
    text += "\n";
  }
  const std::uint64_t last = text.size();
  text += "2 0:3.5 4:-1\n";
  const std::string p = dir.write("z.svm", text);
  const auto full = softreg::read_dataset<double>(p);
  ASSERT_EQ(full.index_base, IndexBase::zero);
  ASSERT_EQ(full.cols(), 78u);
  ASSERT_EQ(io_test::csr(full).indices[0], 2);
  for (int n = 2; n <= 5; ++n) {
    SCOPED_TRACE(std::to_string(n) + " ranks");
    const auto un = static_cast<std::uint64_t>(n);
    ASSERT_GE(last, text.size() * (un - 1) / un);  // the index 0 is the last shard's alone
    // Read alone, the first shard is 1-based: the agreement below is what makes it 0-based.
    EXPECT_EQ(read_shard_of(p, {}, 0, un).index_base, IndexBase::one);
    expect_ranks_match_full(read_on_ranks(p, {}, n), full);
  }
}

TEST(Shards, ReadShardErrorReachesEveryRank) {
  TempDir dir;
  SvmSpec s;
  s.rows = 40;
  s.seed = 18;
  s.comments = false;
  const TextData d = make_libsvm(s);
  const std::size_t r = middle_row_of_second_third(d);
  std::size_t last = d.rows.size() - 1;  // the last row with values, in shard 2 of 3
  while (d.rows[last].bits.empty()) --last;
  ASSERT_GE(d.offset[last], d.text.size() * 2 / 3);
  const std::string good = dir.write("good.svm", d.text);
  std::string text = d.text;
  text.replace(text.find(':', d.offset[r]) + 1, 1, "x");  // the first value's first byte
  const std::string p = dir.write("bad.svm", text);
  const std::string full = error_of(p, {}, 0, 1);
  ASSERT_TRUE(io_test::starts_with(full, p + ":" + std::to_string(d.line[r]) + ":")) << full;
  const auto ranks = read_on_ranks(p, {}, 3);
  for (std::size_t k = 0; k < ranks.size(); ++k) {
    SCOPED_TRACE("rank " + std::to_string(k));
    EXPECT_FALSE(ranks[k].ds.has_value());
    EXPECT_TRUE(ranks[k].parse_error);
    EXPECT_EQ(ranks[k].error, "rank 1 of 3: " + full);
  }
  // Two failing ranks: both named, in rank order, on every rank.
  std::string two = d.text;
  two.replace(two.find(':', d.offset[r]) + 1, 1, "x");
  two.replace(two.find(':', d.offset[last]) + 1, 1, "x");
  const std::string p2 = dir.write("bad2.svm", two);
  const auto ranks2 = read_on_ranks(p2, {}, 3);
  for (std::size_t k = 0; k < ranks2.size(); ++k) {
    SCOPED_TRACE("rank " + std::to_string(k) + ", two bad lines");
    EXPECT_TRUE(ranks2[k].parse_error);
    EXPECT_TRUE(io_test::starts_with(ranks2[k].error,
                                     "rank 1 of 3: " + p2 + ":" + std::to_string(d.line[r]) + ":"))
        << ranks2[k].error;
    EXPECT_TRUE(io_test::has(ranks2[k].error,
                             "; rank 2 of 3: " + p2 + ":" + std::to_string(d.line[last]) + ":"))
        << ranks2[k].error;
  }
  // And the good file, for contrast.
  expect_ranks_match_full(read_on_ranks(good, {}, 3), softreg::read_dataset<double>(good));
}

TEST(Shards, ReadShardRowsAllInOneShard) {
  TempDir dir;
  const std::string comment = "# " + std::string(5000, 'c') + "\n";
  const std::string rows = "1 1:0.5 3:2\n-1 2:1.5\n1 5:-3\n";
  for (const bool rows_first : {true, false}) {
    SCOPED_TRACE(rows_first ? "rows first" : "rows last");
    const std::string p = dir.write(rows_first ? "first.svm" : "last.svm",
                                    rows_first ? rows + comment : comment + rows);
    const auto full = softreg::read_dataset<double>(p);
    ASSERT_EQ(full.rows(), 3u);
    for (int n = 2; n <= 5; ++n) {
      SCOPED_TRACE(std::to_string(n) + " ranks");
      const auto ranks = read_on_ranks(p, {}, n);
      expect_ranks_match_full(ranks, full);
      for (int k = 0; k < n; ++k) {
        const bool holder = rows_first ? k == 0 : k == n - 1;
        if (ranks[static_cast<std::size_t>(k)].ds) {
          EXPECT_EQ(ranks[static_cast<std::size_t>(k)].ds->rows(), holder ? 3u : 0u) << k;
        }
      }
    }
  }
  // A dense file whose long header pushes every row into the last shards: the empty shards
  // still have the header's width.
  std::string csv = "label";
  for (int f = 0; f < 3; ++f) csv += ",feature_" + std::string(3000, char('a' + f));
  csv += "\nx,1,2,3\ny,4,5,6\n";
  const std::string pc = dir.write("wide_header.csv", csv);
  const auto full = softreg::read_dataset<double>(pc);
  for (int n = 2; n <= 5; ++n) {
    SCOPED_TRACE(std::to_string(n) + " ranks, CSV");
    expect_ranks_match_full(read_on_ranks(pc, {}, n), full);
  }
  // No rows anywhere: every rank hears it.
  const std::string none = dir.write("none.svm", comment + "\n# nothing\n");
  for (const auto& r : read_on_ranks(none, {}, 3)) {
    EXPECT_TRUE(r.parse_error);
    EXPECT_TRUE(io_test::has(r.error, "no rank found a data row")) << r.error;
  }
}

TEST(Shards, AllSucceedRethrowsOnEveryRank) {
  const auto ranks = on_ranks(3, [](softreg::Communicator& comm, RankResult&) {
    softreg::all_succeed(comm, [&] {
      if (comm.rank() == 2) throw softreg::InvalidArgument("bad option");
    });
  });
  for (const auto& r : ranks) {
    EXPECT_FALSE(r.parse_error);
    EXPECT_EQ(r.error, "rank 2 of 3: bad option");
    EXPECT_TRUE(r.on_every_rank);  // so the command line ends every rank alike
  }
  // An error that does not go through all_succeed is not marked, whatever its words.
  const auto alone = on_ranks(2, [](softreg::Communicator&, RankResult&) {
    throw softreg::InvalidArgument("rank 5 of 9: words alike");
  });
  for (const auto& r : alone) EXPECT_FALSE(r.on_every_rank) << r.error;
}

// ---------------------------------------------------------------------------------------------
// 4. What cannot be sharded.

TEST(Shards, FortranOrderNpyIsParseError) {
  TempDir dir;
  const std::vector<double> v = {1, 2, 3, 4, 5, 6};
  const std::string p = dir.write(
      "f.npy", io_test::npy_bytes(npy_dict("<f8", true, "(3, 2)"), io_test::raw_bytes(v)));
  // Unsharded it reads (column by column).
  const auto whole = read_shard_of(p, {}, 0, 1);
  EXPECT_EQ(io_test::dense(whole).data, (std::vector<double>{1, 4, 2, 5, 3, 6}));
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string e = error_of(p, {}, i, 2);
    EXPECT_TRUE(io_test::starts_with(e, p + ": byte ")) << e;
    EXPECT_TRUE(io_test::has(e, "Fortran-order")) << e;
  }
}

template <class F>
bool throws_invalid_argument(F&& f, const std::string& part, std::string* what = nullptr) {
  try {
    f();
  } catch (const softreg::InvalidArgument& e) {
    if (what != nullptr) *what = e.what();
    return io_test::has(e.what(), part);
  } catch (...) {
    return false;
  }
  return false;
}

TEST(Shards, TextLabelsFileIsInvalidArgument) {
  TempDir dir;
  const std::vector<double> v = {1, 2, 3, 4, 5, 6};
  const std::string npy = dir.write(
      "x.npy", io_test::npy_bytes(npy_dict("<f8", false, "(3, 2)"), io_test::raw_bytes(v)));
  const std::string csv = dir.write("x.csv", "1,2\n3,4\n5,6\n");
  const std::string labels = dir.write("y.txt", "a\nb\nc\n");
  ReadOptions o;
  o.labels_path = labels;
  for (const std::string& p : {npy, csv}) {
    SCOPED_TRACE(p);
    EXPECT_EQ(read_shard_of(p, o, 0, 1).labels, (std::vector<std::string>{"a", "b", "c"}));
    for (std::size_t i = 0; i < 2; ++i) {
      std::string what;
      EXPECT_TRUE(throws_invalid_argument([&] { read_shard_of(p, o, i, 2); }, "", &what)) << what;
    }
  }
}

TEST(Shards, ShardIndexOutOfRangeIsInvalidArgument) {
  TempDir dir;
  const std::string p = dir.write("x.csv", "1,2\n3,4\n");
  EXPECT_TRUE(throws_invalid_argument([&] { read_shard_of(p, {}, 3, 3); }, p));
  EXPECT_TRUE(throws_invalid_argument([&] { read_shard_of(p, {}, 5, 3); }, p));
  EXPECT_TRUE(throws_invalid_argument([&] { read_shard_of(p, {}, 0, 0); }, p));
  EXPECT_EQ(read_shard_of(p, {}, 2, 3).rows() + read_shard_of(p, {}, 1, 3).rows() +
                read_shard_of(p, {}, 0, 3).rows(),
            2u);
  // Standard input cannot be sharded (checked before anything is read from it).
  ReadOptions o;
  o.format = softreg::DataFormat::csv;
  EXPECT_TRUE(throws_invalid_argument([&] { read_shard_of("-", o, 0, 2); }, "standard input"));
}

}  // namespace

// Memory running out in a byte-range shard names the byte, which is the file's, not the line,
// which the shard counts from its own start.
TEST(Shards, OutOfMemoryInAByteRangeNamesTheFilesByte) {
  io_test::TempDir dir;
  std::string text;
  for (int i = 0; i < 1000; ++i) {
    text += std::to_string(i) + "," + std::to_string(i + 1) + "," + std::to_string(i % 3) + "\n";
  }
  const std::string path = dir.write("t.csv", text);
  for (const std::size_t index : {std::size_t{0}, std::size_t{1}}) {
    softreg::detail::ReadPosition position;
    softreg::detail::ByteSource src(path);
    softreg::detail::LineReader lines(src, index, 2);
    std::string_view line;
    ASSERT_TRUE(lines.next(line));
    ASSERT_TRUE(lines.next(line));
    const std::string what = position.out_of_memory();
    const std::string byte = "(byte " + std::to_string(lines.line_offset()) + ")";
    if (index == 0) {  // the first shard's lines are the file's
      EXPECT_EQ(what, path + ": out of memory at line 2 " + byte + " while reading it");
    } else {
      EXPECT_GT(lines.line_offset(), 1000u);
      EXPECT_EQ(what, path + ": out of memory at byte " + std::to_string(lines.line_offset()) +
                          " while reading it");
    }
  }
}
