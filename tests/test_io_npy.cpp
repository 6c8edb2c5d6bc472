// NumPy .npy reading: float32, float64, uint8 (unscaled), byte order, Fortran order, labels.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io_fixtures.hpp"

namespace {

using io_test::dense;
using io_test::npy_bytes;
using io_test::raw_bytes;
using io_test::read;
using io_test::TempDir;

TEST(NpyReader, Float32RoundTrip) {
  TempDir dir;
  const std::vector<float> v = {0.1f, -1.5f, 3e-8f, 2.0f, 1e20f, -0.0f};
  const std::string p = dir.write(
      "x.npy",
      npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", raw_bytes(v)));
  const auto ds = read<float>(p);
  EXPECT_EQ(ds.format, softreg::DataFormat::npy);
  EXPECT_EQ(ds.rows(), 2u);
  EXPECT_EQ(ds.cols(), 3u);
  EXPECT_EQ(dense(ds).data, v);
  EXPECT_TRUE(ds.labels.empty());
}

TEST(NpyReader, Float64IntoDoubleAndFloat) {
  TempDir dir;
  const std::vector<double> v = {0.1, 1.0 / 3.0, -7.0, 1e-300};
  const std::string p = dir.write(
      "x.npy",
      npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", raw_bytes(v)));
  EXPECT_EQ(dense(read<double>(p)).data, v);
  const std::vector<float> as_float = {0.1f, static_cast<float>(1.0 / 3.0), -7.0f, 0.0f};
  EXPECT_EQ(dense(read<float>(p)).data, as_float);
}

TEST(NpyReader, Uint8IsReadAsValuesNotScaled) {
  TempDir dir;
  const std::string bytes = {0, 1, static_cast<char>(128), static_cast<char>(255)};
  const auto ds = read(dir.write(
      "u.npy", npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 4), }", bytes)));
  EXPECT_EQ(dense(ds).data, (std::vector<float>{0, 1, 128, 255}));
}

TEST(NpyReader, BigEndianAndVersion2Header) {
  TempDir dir;
  const std::string payload = io_test::big_endian(0x3FF8000000000000ULL, 8) +  // 1.5
                              io_test::big_endian(0xC000000000000000ULL, 8);   // -2
  const auto ds = read<double>(dir.write(
      "b.npy",
      npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (1, 2), }", payload, 2)));
  EXPECT_EQ(dense(ds).data, (std::vector<double>{1.5, -2.0}));
}

TEST(NpyReader, FortranOrderIsTransposedIntoRowMajor) {
  TempDir dir;
  // The 2 x 3 matrix [[1, 2, 3], [4, 5, 6]] stored column by column.
  const std::vector<float> columns = {1, 4, 2, 5, 3, 6};
  const auto ds = read(dir.write(
      "f.npy",
      npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", raw_bytes(columns))));
  EXPECT_EQ(dense(ds).data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(NpyReader, Int64LabelsFromLabelsPath) {
  TempDir dir;
  const std::vector<float> x = {1, 2, 3};
  const std::vector<std::int64_t> y = {9, -1, 1234567890123};
  softreg::ReadOptions o;
  o.labels_path = dir.write(
      "y.npy",
      npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", raw_bytes(y)));
  o.require_labels = true;
  const auto ds = read(dir.write("x.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, "
                                                    "'shape': (3, 1), }",
                                                    raw_bytes(x))),
                       o);
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"9", "-1", "1234567890123"}));
}

TEST(NpyReader, SmallIntegerLabelTypes) {
  TempDir dir;
  const std::vector<float> x = {1, 2};
  const std::string xp = dir.write(
      "x.npy",
      npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }", raw_bytes(x)));
  softreg::ReadOptions o;
  o.labels_path =
      dir.write("u8.npy", npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }",
                                    std::string{static_cast<char>(200), 3}));
  EXPECT_EQ(read(xp, o).labels, (std::vector<std::string>{"200", "3"}));
  o.labels_path =
      dir.write("i8.npy", npy_bytes("{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }",
                                    std::string{static_cast<char>(-5), 7}));
  EXPECT_EQ(read(xp, o).labels, (std::vector<std::string>{"-5", "7"}));
  const std::vector<std::int32_t> y32 = {0, 41};
  o.labels_path = dir.write_gz(
      "i4.npy.gz",
      npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", raw_bytes(y32)));
  EXPECT_EQ(read(xp, o).labels, (std::vector<std::string>{"0", "41"}));
}

}  // namespace
