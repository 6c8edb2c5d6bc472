// Data format names: format_name, parse_format and infer_format, including the error texts.
#include <gtest/gtest.h>

#include <string>

#include "io_fixtures.hpp"
#include "softreg/data.hpp"
#include "softreg/error.hpp"

namespace {

using softreg::DataFormat;

TEST(IoFormat, NamesRoundTripThroughParse) {
  for (DataFormat f : {DataFormat::automatic, DataFormat::csv, DataFormat::libsvm, DataFormat::npy,
                       DataFormat::idx}) {
    EXPECT_EQ(softreg::parse_format(softreg::format_name(f)), f);
  }
  EXPECT_STREQ(softreg::format_name(DataFormat::automatic), "auto");
  EXPECT_EQ(softreg::parse_format("svm"), DataFormat::libsvm);
}

TEST(IoFormat, UnknownNameListsTheAcceptedOnes) {
  try {
    softreg::parse_format("parquet");
    FAIL() << "no exception";
  } catch (const softreg::InvalidArgument& e) {
    EXPECT_TRUE(io_test::has(e.what(), "\"parquet\"")) << e.what();
    EXPECT_TRUE(io_test::has(e.what(), "auto, csv, libsvm, svm, npy, idx")) << e.what();
  }
}

TEST(IoFormat, InferredFromTheFileName) {
  EXPECT_EQ(softreg::infer_format("a/b/train.csv"), DataFormat::csv);
  EXPECT_EQ(softreg::infer_format("train.TSV.gz"), DataFormat::csv);
  EXPECT_EQ(softreg::infer_format("x.svm"), DataFormat::libsvm);
  EXPECT_EQ(softreg::infer_format("x.libsvm.gz"), DataFormat::libsvm);
  EXPECT_EQ(softreg::infer_format("x.txt"), DataFormat::libsvm);
  EXPECT_EQ(softreg::infer_format("x.npy"), DataFormat::npy);
  EXPECT_EQ(softreg::infer_format("/d/train-images-idx3-ubyte.gz"), DataFormat::idx);
  EXPECT_EQ(softreg::infer_format("t10k-labels-idx1-ubyte"), DataFormat::idx);
  EXPECT_EQ(softreg::infer_format("train-images.idx3-ubyte"), DataFormat::idx);
}

TEST(IoFormat, UnknownExtensionNamesTheFile) {
  try {
    softreg::infer_format("dir.csv/data.parquet");
    FAIL() << "no exception";
  } catch (const softreg::InvalidArgument& e) {
    EXPECT_TRUE(io_test::starts_with(e.what(), "dir.csv/data.parquet: ")) << e.what();
    EXPECT_TRUE(io_test::has(e.what(), ".npy")) << e.what();
  }
}

}  // namespace
