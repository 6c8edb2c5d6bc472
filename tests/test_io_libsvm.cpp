// LibSVM / SVMlight reading: exact sparse structure, comments, qid, labels, huge feature counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "io_fixtures.hpp"

namespace {

using io_test::csr;
using io_test::read;
using io_test::TempDir;

TEST(LibSvmReader, SparseStructureIsExact) {
  TempDir dir;
  const std::string p = dir.write("a.svm",
                                  "# a comment line\n"
                                  "+1 1:0.5 3:-2 10:1e-3\n"
                                  "-1 qid:7 2:4.25   # trailing comment\n"
                                  "\n"
                                  "3\n"
                                  "1.0\t5:0 6:1\r\n");
  const auto ds = read<double>(p);
  ASSERT_TRUE(ds.sparse());
  EXPECT_EQ(ds.format, softreg::DataFormat::libsvm);
  const auto& m = csr(ds);
  EXPECT_EQ(m.rows, 4u);
  EXPECT_EQ(m.cols, 10u);
  EXPECT_EQ(m.indptr, (std::vector<std::int64_t>{0, 3, 4, 4, 6}));
  EXPECT_EQ(m.indices, (std::vector<std::int32_t>{0, 2, 9, 1, 4, 5}));
  EXPECT_EQ(m.values, (std::vector<double>{0.5, -2, 1e-3, 4.25, 0, 1}));
  // "+1" means the class "1"; every other spelling, "1.0" included, is kept as written.
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"1", "-1", "3", "1.0"}));
}

TEST(LibSvmReader, FloatValuesAreRoundedOnce) {
  TempDir dir;
  const auto ds = read<float>(dir.write("f.libsvm", "0 1:0.1 2:3.4028235e38\n"));
  EXPECT_EQ(csr(ds).values, (std::vector<float>{0.1f, 3.4028235e38f}));
}

TEST(LibSvmReader, MillionFeaturesStaySparse) {
  TempDir dir;
  const auto ds = read(dir.write("wide.svm", "1 7:1 1000000:2.5\n0 500000:-1\n"));
  const auto& m = csr(ds);
  EXPECT_EQ(m.cols, 1000000u);
  EXPECT_EQ(m.nnz(), 3u);
  EXPECT_EQ(m.indices, (std::vector<std::int32_t>{6, 999999, 499999}));
  // Nothing proportional to the width was allocated.
  EXPECT_LT(m.values.capacity() + m.indices.capacity() + m.indptr.capacity(), 64u);
}

TEST(LibSvmReader, NFeaturesSetsTheWidth) {
  TempDir dir;
  const std::string p = dir.write("n.svm", "1 2:1\n0 4:1\n");
  softreg::ReadOptions o;
  o.n_features = 784;
  EXPECT_EQ(read(p, o).cols(), 784u);
  o.n_features = 3;
  const std::string msg = io_test::parse_error([&] { read(p, o); });
  EXPECT_TRUE(io_test::starts_with(msg, p + ":2:3: feature index 4 exceeds n_features = 3")) << msg;
}

TEST(LibSvmReader, GzipCompressedFile) {
  TempDir dir;
  const auto ds = read(dir.write_gz("g.svm.gz", "2 1:1 2:2\n"));
  EXPECT_EQ(csr(ds).values, (std::vector<float>{1, 2}));
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"2"}));
}

TEST(LibSvmReader, ExplicitFormatForAnyName) {
  TempDir dir;
  softreg::ReadOptions o;
  o.format = softreg::DataFormat::libsvm;
  const auto ds = read(dir.write("data.train", "1 1:1\n"), o);
  EXPECT_EQ(ds.rows(), 1u);
}

// The same random sparse matrix written with 1-based and with 0-based indices (the 0-based
// file uses column 0, as scikit-learn's dump_svmlight_file(zero_based=True) would).
struct TwoNumberings {
  std::string one_based, zero_based;
  std::vector<std::int64_t> indptr;
  std::vector<std::int32_t> indices;
  std::vector<double> values;
  std::size_t cols = 0;
};

TwoNumberings random_numberings(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  TwoNumberings t;
  t.indptr.push_back(0);
  for (int row = 0; row < 50; ++row) {
    const std::string label = std::to_string(row % 3);
    t.one_based += label;
    t.zero_based += label;
    for (std::int32_t j = 0; j < 40; ++j) {
      // Column 0 in a few rows only, and never in the first: detection must see the whole file.
      if (rng() % 4 != 0 || (j == 0 && row < 30)) continue;
      const double v = static_cast<double>(static_cast<std::int64_t>(rng() % 2001) - 1000) / 8;
      const std::string value = std::to_string(v);
      // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) about " " + std::string.
      for (const std::int32_t index : {j + 1, j}) {
        std::string& text = index == j ? t.zero_based : t.one_based;
        text += ' ';
        text += std::to_string(index);
        text += ':';
        text += value;
      }
      t.indices.push_back(j);
      t.values.push_back(v);
      t.cols = std::max<std::size_t>(t.cols, static_cast<std::size_t>(j) + 1);
    }
    t.one_based += "\n";
    t.zero_based += "\n";
    t.indptr.push_back(static_cast<std::int64_t>(t.indices.size()));
  }
  return t;
}

TEST(LibSvmNumbering, ZeroAndOneBasedFilesGiveTheSameMatrix) {
  TempDir dir;
  const TwoNumberings t = random_numberings(5);
  ASSERT_EQ(t.indices.size() > 0 && t.cols == 40, true);
  for (const auto base : {softreg::IndexBase::automatic, softreg::IndexBase::one}) {
    softreg::ReadOptions o;
    o.index_base = base;
    const auto one = read<double>(dir.write("one.svm", t.one_based), o);
    EXPECT_EQ(one.index_base, softreg::IndexBase::one);
    EXPECT_EQ(csr(one).indptr, t.indptr);
    EXPECT_EQ(csr(one).indices, t.indices);
    EXPECT_EQ(csr(one).values, t.values);
    EXPECT_EQ(one.cols(), t.cols);
  }
  for (const auto base : {softreg::IndexBase::automatic, softreg::IndexBase::zero}) {
    softreg::ReadOptions o;
    o.index_base = base;
    const auto zero = read<double>(dir.write("zero.svm", t.zero_based), o);
    EXPECT_EQ(zero.index_base, softreg::IndexBase::zero);
    EXPECT_EQ(csr(zero).indptr, t.indptr);
    EXPECT_EQ(csr(zero).indices, t.indices);
    EXPECT_EQ(csr(zero).values, t.values);
    EXPECT_EQ(zero.cols(), t.cols);  // the largest index + 1
  }
}

TEST(LibSvmNumbering, AnIndexZeroOnTheLastLineMakesTheWholeFileZeroBased) {
  TempDir dir;
  const auto ds = read(dir.write("z.svm", "1 3:1 5:2\n2 0:7\n"));
  EXPECT_EQ(ds.index_base, softreg::IndexBase::zero);
  EXPECT_EQ(csr(ds).indices, (std::vector<std::int32_t>{3, 5, 0}));
  EXPECT_EQ(ds.cols(), 6u);
}

TEST(LibSvmNumbering, ForcedZeroBasedReadsAFileWithoutZeroAsZeroBased) {
  TempDir dir;
  const std::string p = dir.write("f.svm", "1 1:5 3:2\n");
  softreg::ReadOptions o;
  o.index_base = softreg::IndexBase::zero;
  const auto zero = read(p, o);
  EXPECT_EQ(zero.index_base, softreg::IndexBase::zero);
  EXPECT_EQ(csr(zero).indices, (std::vector<std::int32_t>{1, 3}));
  EXPECT_EQ(zero.cols(), 4u);
  const auto automatic = read(p);
  EXPECT_EQ(automatic.index_base, softreg::IndexBase::one);
  EXPECT_EQ(csr(automatic).indices, (std::vector<std::int32_t>{0, 2}));
  EXPECT_EQ(automatic.cols(), 3u);
}

TEST(LibSvmNumbering, RowsWithoutPairsHaveNoWidthInEitherNumbering) {
  TempDir dir;
  const std::string p = dir.write("e.svm", "1\n2\n");
  for (const auto base :
       {softreg::IndexBase::automatic, softreg::IndexBase::zero, softreg::IndexBase::one}) {
    softreg::ReadOptions o;
    o.index_base = base;
    EXPECT_EQ(read(p, o).cols(), 0u);
  }
}

TEST(LibSvmNumbering, NFeaturesBoundsTheIndexAfterTheBase) {
  TempDir dir;
  softreg::ReadOptions o;
  o.n_features = 3;
  // 1-based: index 3 is the last column.
  EXPECT_EQ(csr(read(dir.write("a.svm", "1 3:1\n"), o)).indices, (std::vector<std::int32_t>{2}));
  // 0-based: index 3 is one past the last column, found at once when forced...
  o.index_base = softreg::IndexBase::zero;
  const std::string b = dir.write("b.svm", "1 0:1 3:1\n");
  std::string msg = io_test::parse_error([&] { read(b, o); });
  EXPECT_TRUE(io_test::starts_with(msg, b + ":1:7: feature index 3 exceeds n_features = 3")) << msg;
  EXPECT_EQ(csr(read(dir.write("c.svm", "1 0:1 2:1\n"), o)).indices,
            (std::vector<std::int32_t>{0, 2}));
  // ... and, with automatic numbering, once a later 0 shows the file is 0-based, at the index.
  o.index_base = softreg::IndexBase::automatic;
  const std::string d = dir.write("d.svm", "1 1:1 3:1\n2 0:1\n");
  msg = io_test::parse_error([&] { read(d, o); });
  EXPECT_TRUE(io_test::starts_with(msg, d + ":1:7: feature index 3 exceeds n_features = 3")) << msg;
  EXPECT_TRUE(io_test::has(msg, "0-based")) << msg;
}

TEST(LibSvmNumbering, TheLargestIndexDependsOnTheNumbering) {
  TempDir dir;
  // 2^31 is the largest 1-based index (column 2^31 - 1) but one too many for a 0-based file.
  const std::string p = dir.write("big.svm", "1 2147483648:1\n");
  EXPECT_EQ(csr(read(p)).indices, (std::vector<std::int32_t>{2147483647}));
  const std::string z = dir.write("bigz.svm", "1 2147483648:1\n0 0:1\n");
  const std::string msg = io_test::parse_error([&] { read(z); });
  EXPECT_TRUE(io_test::starts_with(msg, z + ":1:3: feature index 2147483648 exceeds")) << msg;
}

TEST(LibSvmNumbering, OtherFormatsRecordNoNumbering) {
  TempDir dir;
  EXPECT_EQ(read(dir.write("a.csv", "1,2\n")).index_base, softreg::IndexBase::automatic);
}

}  // namespace
