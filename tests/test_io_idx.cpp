// IDX reading: raw and gzip, pixel / 255 scaling, sibling and explicit labels, other item types.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "io_fixtures.hpp"

namespace {

using io_test::dense;
using io_test::idx_bytes;
using io_test::read;
using io_test::TempDir;

std::string pixels(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s += static_cast<char>(v);
  return s;
}

// Two 2 x 3 "images" and their labels.
const std::string kImages = idx_bytes(0x08, {2, 2, 3},
                                      pixels({0, 1, 2, 127, 254, 255,  //
                                              10, 20, 30, 40, 50, 60}));
const std::string kLabels = idx_bytes(0x08, {2}, pixels({7, 0}));

template <class T>
void expect_scaled(const softreg::Dataset<T>& ds) {
  const std::vector<int> raw = {0, 1, 2, 127, 254, 255, 10, 20, 30, 40, 50, 60};
  ASSERT_EQ(dense(ds).data.size(), raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    EXPECT_EQ(dense(ds).data[i], static_cast<T>(raw[i]) / T(255)) << i;
  }
}

TEST(IdxReader, RawImagesAreScaledToUnitInterval) {
  TempDir dir;
  softreg::ReadOptions o;
  o.labels_path = dir.write("y-labels-idx1-ubyte", kLabels);
  const auto ds = read(dir.write("x-images-idx3-ubyte", kImages), o);
  EXPECT_EQ(ds.format, softreg::DataFormat::idx);
  EXPECT_EQ(ds.rows(), 2u);
  EXPECT_EQ(ds.cols(), 6u);
  expect_scaled(ds);
  EXPECT_EQ(dense(ds)(0, 5), 1.0f);
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"7", "0"}));
  expect_scaled(read<double>(dir.path("x-images-idx3-ubyte"), o));
}

TEST(IdxReader, GzippedImagesFindTheirSiblingLabels) {
  TempDir dir;
  dir.write_gz("train-labels-idx1-ubyte.gz", kLabels);
  softreg::ReadOptions o;
  o.require_labels = true;
  const auto ds = read(dir.write_gz("train-images-idx3-ubyte.gz", kImages), o);
  expect_scaled(ds);
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"7", "0"}));
}

TEST(IdxReader, SiblingLabelsMayDifferInCompression) {
  TempDir dir;
  dir.write("t10k-labels-idx1-ubyte", kLabels);
  const auto ds = read(dir.write_gz("t10k-images-idx3-ubyte.gz", kImages));
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"7", "0"}));
}

TEST(IdxReader, NoSiblingMeansNoLabels) {
  TempDir dir;
  const auto ds = read(dir.write("only-images-idx3-ubyte", kImages));
  EXPECT_TRUE(ds.labels.empty());
}

TEST(IdxReader, FloatAndShortItemsAreReadAsValues) {
  TempDir dir;
  std::string payload;
  for (float v : {1.5f, -2.0f, 0.25f, 1e10f})
    payload += io_test::big_endian(std::bit_cast<std::uint32_t>(v), 4);
  const auto f = read(dir.write("f-images-idx2-ubyte", idx_bytes(0x0D, {2, 2}, payload)));
  EXPECT_EQ(dense(f).data, (std::vector<float>{1.5f, -2.0f, 0.25f, 1e10f}));
  std::string shorts = io_test::big_endian(0xFFFE, 2) + io_test::big_endian(300, 2);
  softreg::ReadOptions o;
  o.format = softreg::DataFormat::idx;
  const auto s = read<double>(dir.write("s.bin", idx_bytes(0x0B, {1, 2}, shorts)), o);
  EXPECT_EQ(dense(s).data, (std::vector<double>{-2, 300}));
}

TEST(IdxReader, SignedAndIntLabels) {
  TempDir dir;
  softreg::ReadOptions o;
  o.labels_path = dir.write(
      "y-labels-idx1-ubyte",
      idx_bytes(0x0C, {2}, io_test::big_endian(0xFFFFFFFF, 4) + io_test::big_endian(123456, 4)));
  EXPECT_EQ(read(dir.write("x-images-idx3-ubyte", kImages), o).labels,
            (std::vector<std::string>{"-1", "123456"}));
}

TEST(IdxReader, TextLabelsFile) {
  TempDir dir;
  softreg::ReadOptions o;
  o.labels_path = dir.write("labels.txt", "shirt\r\n boot \n\n");
  EXPECT_EQ(read(dir.write("x-images-idx3-ubyte", kImages), o).labels,
            (std::vector<std::string>{"shirt", "boot"}));
}

}  // namespace
