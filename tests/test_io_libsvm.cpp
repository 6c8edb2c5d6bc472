// LibSVM / SVMlight reading: exact sparse structure, comments, qid, labels, huge feature counts.
#include <gtest/gtest.h>

#include <cstdint>
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

}  // namespace
