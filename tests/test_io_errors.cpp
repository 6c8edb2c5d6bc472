// Bad input for every reader: a ParseError naming file, position and expectation; IoError too.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "io_fixtures.hpp"

namespace {

using io_test::idx_bytes;
using io_test::npy_bytes;
using io_test::parse_error;
using io_test::raw_bytes;
using io_test::read;
using io_test::TempDir;

// Expects read(path, options) to throw ParseError whose message starts with `prefix` and
// contains `detail`.
void expect_error(const std::string& path, const softreg::ReadOptions& options,
                  const std::string& prefix, const std::string& detail) {
  const std::string msg = parse_error([&] { read(path, options); });
  EXPECT_TRUE(io_test::starts_with(msg, prefix))
      << "message: " << msg << "\nwanted prefix: " << prefix;
  EXPECT_TRUE(io_test::has(msg, detail)) << "message: " << msg << "\nwanted: " << detail;
}

void expect_error(const std::string& path, const std::string& prefix, const std::string& detail) {
  expect_error(path, {}, prefix, detail);
}

TEST(IoErrorsCsv, RaggedRows) {
  TempDir dir;
  const std::string a = dir.write("a.csv", "1,2,3\n4,5\n");
  expect_error(a, a + ":2:4: ", "expected 3 fields, found 2");
  const std::string b = dir.write("b.csv", "1,2\n3,4,5\n");
  expect_error(b, b + ":2:4: ", "expected 2 fields, found more");
}

TEST(IoErrorsCsv, NonNumericAndEmptyFields) {
  TempDir dir;
  const std::string a = dir.write("a.csv", "1,2\n3,abc\n");
  expect_error(a, a + ":2:3: ", "expected a number, found \"abc\"");
  const std::string b = dir.write("b.csv", "1,2.5x\n");
  expect_error(b, b + ":1:3: ", "expected a number, found \"2.5x\"");
  const std::string b2 = dir.write("b2.csv", "1,2\n3,2.5x\n");
  expect_error(b2, b2 + ":2:3: ", "expected a number, found \"2.5x\"");
  const std::string c = dir.write("c.csv", "1,,3\n");
  expect_error(c, c + ":1:3: ", "expected a number, found an empty field");
  const std::string d = dir.write("d.csv", "label,x\n,1\n");
  expect_error(d, d + ":2:1: ", "expected a label, found an empty field");
}

TEST(IoErrorsCsv, NonFiniteFeatures) {
  TempDir dir;
  const std::string a = dir.write("a.csv", "1,nan\n");
  expect_error(a, a + ":1:3: ", "expected a finite number, found \"nan\"");
  const std::string b = dir.write("b.csv", "2\n-inf\n");
  expect_error(b, b + ":2:1: ", "expected a finite number, found \"-inf\"");
  const std::string c = dir.write("c.csv", "1e39,1\n");
  expect_error(c, c + ":1:1: ", "out of range for float32");
}

TEST(IoErrorsCsv, MissingLabelsWhenRequired) {
  TempDir dir;
  const std::string a = dir.write("a.csv", "1,2\n");
  softreg::ReadOptions o;
  o.require_labels = true;
  expect_error(a, o, a + ":1:1: ", "no label column");
  o.label_column = "y";
  const std::string b = dir.write("b.csv", "x,z\n1,2\n");
  expect_error(b, o, b + ":1:1: ", "no header field is named \"y\"");
  o.label_column = "5";
  expect_error(b, o, b + ":1:1: ", "label column 5 does not exist");
}

TEST(IoErrorsCsv, FeatureCountDiffersFromNFeatures) {
  TempDir dir;
  const std::string a = dir.write("a.csv", "label,p,q,r\n1,2,3,4\n");
  softreg::ReadOptions o;
  o.n_features = 2;
  expect_error(a, o, a + ":1:1: ", "expected 2 feature columns (n_features), found 3");
}

TEST(IoErrorsCsv, EmptyFileHeaderOnlyAndInnerBlankLine) {
  TempDir dir;
  const std::string a = dir.write("a.csv", "");
  expect_error(a, a + ":1:1: ", "file is empty");
  const std::string b = dir.write("b.csv", "x,y\n");
  expect_error(b, b + ":2:1: ", "expected at least one data row");
  const std::string c = dir.write("c.csv", "1,2\n\n3,4\n");
  expect_error(c, c + ":2:1: ", "found an empty line");
}

TEST(IoErrorsCsv, QuotingMistakes) {
  TempDir dir;
  const std::string a = dir.write("a.csv", "label,x\n\"abc,1\n");
  expect_error(a, a + ":2:1: ", "unterminated quoted field");
  const std::string b = dir.write("b.csv", "label,x\n\"a\"b,1\n");
  expect_error(b, b + ":2:4: ", "expected ',' after the closing quote, found \"b\"");
  const std::string c = dir.write("c.csv", "label,label\n1,2\n");
  expect_error(c, c + ":1:7: ", "twice");
}

TEST(IoErrorsCsv, TruncatedGzip) {
  TempDir dir;
  std::string text;
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i)
    text += std::to_string(rng()) + "," + std::to_string(rng()) + "\n";
  const std::string p = dir.write_gz("t.csv.gz", text);
  std::filesystem::resize_file(p, std::filesystem::file_size(p) / 2);
  const std::string msg = parse_error([&] { read(p); });
  EXPECT_TRUE(io_test::starts_with(msg, p + ":")) << msg;
  EXPECT_TRUE(io_test::has(msg, "truncated gzip")) << msg;
}

TEST(IoErrorsLibSvm, BadTokens) {
  TempDir dir;
  const std::string a = dir.write("a.svm", "1 2:abc\n");
  expect_error(a, a + ":1:5: ", "expected a number after \"2:\", found \"abc\"");
  // An index 0 is an error only when the file is read as 1-based; automatic makes it 0-based.
  const std::string b = dir.write("b.svm", "1 1:1\n1 0:1\n");
  softreg::ReadOptions one;
  one.index_base = softreg::IndexBase::one;
  expect_error(b, one, b + ":2:3: ", "1-based");
  const std::string c = dir.write("c.svm", "1 3:1 2:1\n");
  expect_error(c, c + ":1:7: ", "strictly increasing order, found 2 after 3");
  const std::string d = dir.write("d.svm", "1 1:nan\n");
  expect_error(d, d + ":1:5: ", "expected a finite float32 value, found \"nan\"");
  const std::string e = dir.write("e.svm", "1 5\n");
  expect_error(e, e + ":1:3: ", "expected index:value, found \"5\"");
  const std::string f = dir.write("f.svm", "1:0.5 2:1\n");
  expect_error(f, f + ":1:1: ", "expected a label");
  const std::string g = dir.write("g.svm", "1 qid:x 1:1\n");
  expect_error(g, g + ":1:3: ", "expected qid:<integer>");
}

TEST(IoErrorsLibSvm, EmptyAndCommentOnlyFiles) {
  TempDir dir;
  const std::string a = dir.write("a.svm", "");
  expect_error(a, a + ":1:1: ", "file is empty");
  const std::string b = dir.write("b.svm", "# nothing\n\n");
  expect_error(b, b + ":3:1: ", "expected at least one data line");
}

// Two 2 x 3 images.
const std::string kImages = idx_bytes(0x08, {2, 2, 3}, std::string(12, '\x10'));

TEST(IoErrorsIdx, WrongMagicTypeAndShape) {
  TempDir dir;
  const std::string a = dir.write("a-images-idx3-ubyte", "ABCD" + std::string(20, '\0'));
  expect_error(
      a, a + ": byte 0: ", "expected the IDX magic 00 00 <type> <dimensions>, found 41 42 43 44");
  const std::string b = dir.write("b-images-idx3-ubyte", idx_bytes(0x07, {1, 1}, "x"));
  expect_error(b, b + ": byte 2: ", "unknown IDX type 0x07");
  const std::string c = dir.write("c-images-idx3-ubyte", idx_bytes(0x08, {3}, "abc"));
  expect_error(c, c + ": byte 3: ", "found 1 dimension");
  const std::string d = dir.write("d-images-idx3-ubyte", "");
  expect_error(d, d + ": byte 0: ", "file is empty");
  softreg::ReadOptions o;
  o.n_features = 784;
  const std::string e = dir.write("e-images-idx3-ubyte", kImages);
  expect_error(e, o,
               e + ": byte 8: ", "expected 784 values per item (n_features), found 6 (2 x 3)");
}

TEST(IoErrorsIdx, TruncatedAndOverlongRawFiles) {
  TempDir dir;
  const std::string a = dir.write("a-images-idx3-ubyte", kImages.substr(0, kImages.size() - 7));
  expect_error(a, a + ": byte 16: ", "file ends after 5 of 12 pixel bytes");
  const std::string b = dir.write("b-images-idx3-ubyte", kImages.substr(0, 10));
  expect_error(b, b + ": byte 4: ", "file ends after 6 of 12 dimension bytes");
  const std::string c = dir.write("c-images-idx3-ubyte", kImages + "x");
  expect_error(c, c + ": byte 28: ", "expected the end of the file after the 12 pixel bytes");
}

TEST(IoErrorsIdx, TruncatedGzip) {
  TempDir dir;
  std::string px(100 * 28 * 28, '\0');
  std::mt19937 rng(1);
  for (char& c : px) c = static_cast<char>(rng() & 0xFF);
  const std::string images = idx_bytes(0x08, {100, 28, 28}, px);
  const std::string a = dir.write_gz("a-images-idx3-ubyte.gz", images);
  std::filesystem::resize_file(a, std::filesystem::file_size(a) / 2);
  expect_error(a, a + ": byte 16: ", "of 78400 pixel bytes (the gzip stream is truncated)");
  // All pixels present but the gzip trailer (CRC and length) cut off.
  const std::string b = dir.write_gz("b-images-idx3-ubyte.gz", images);
  std::filesystem::resize_file(b, std::filesystem::file_size(b) - 8);
  expect_error(b, b + ": byte 78416: ", "the gzip stream is truncated");
}

TEST(IoErrorsIdx, CorruptGzip) {
  TempDir dir;
  std::string px(4096, '\0');
  std::mt19937 rng(2);
  for (char& c : px) c = static_cast<char>(rng() % 4);
  const std::string a = dir.write_gz("a-images-idx3-ubyte.gz", idx_bytes(0x08, {16, 16, 16}, px));
  {
    std::fstream f(a, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30);
    f.write("\xff\xff\xff\xff\xff\xff", 6);
  }
  const std::string msg = parse_error([&] { read(a); });
  EXPECT_TRUE(io_test::starts_with(msg, a + ": byte ")) << msg;
}

TEST(IoErrorsIdx, NonFiniteFloatItems) {
  TempDir dir;
  const std::string payload =
      io_test::big_endian(0x3F800000, 4) + io_test::big_endian(0x7FC00000, 4);
  const std::string a = dir.write("a-images-idx2-ubyte", idx_bytes(0x0D, {1, 2}, payload));
  expect_error(a, a + ": byte 16: ", "expected finite values, found nan at item 0, value 1");
}

TEST(IoErrorsIdx, LabelsCountTypeAndAbsence) {
  TempDir dir;
  const std::string x = dir.write("x-images-idx3-ubyte", kImages);
  softreg::ReadOptions o;
  o.labels_path = dir.write("y-labels-idx1-ubyte", idx_bytes(0x08, {3}, "abc"));
  expect_error(
      x, o, o.labels_path + ": byte 4: ", "expected 2 labels, one per row of " + x + ", found 3");
  o.labels_path = dir.write("z-labels-idx1-ubyte", idx_bytes(0x0D, {2}, std::string(8, '\0')));
  expect_error(x, o, o.labels_path + ": byte 2: ", "expected integer labels");
  o.labels_path = dir.write("short-labels-idx1-ubyte", idx_bytes(0x08, {2}, "a"));
  expect_error(x, o, o.labels_path + ": byte 8: ", "file ends after 1 of 2 label bytes");
  softreg::ReadOptions required;
  required.require_labels = true;
  expect_error(x, required, x + ": byte 0: ", "no labels file");
}

const std::string kF4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

TEST(IoErrorsNpy, MagicVersionAndDtype) {
  TempDir dir;
  const std::string a = dir.write("a.npy", "NUMPY\x01\x00 hello");
  expect_error(a, a + ": byte 0: ", "expected the .npy magic");
  std::string v4 = npy_bytes(kF4, std::string(24, '\0'));
  v4[6] = 4;
  const std::string b = dir.write("b.npy", v4);
  expect_error(b, b + ": byte 6: ", "unsupported .npy format version 4.0");
  const std::string c =
      dir.write("c.npy", npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }",
                                   std::string(48, '\0')));
  expect_error(c, c + ": byte 20: ", "unsupported dtype \"<c8\"");
  const std::string d =
      dir.write("d.npy", npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }",
                                   std::string(24, '\0')));
  expect_error(d, d + ": byte 44: ", "expected True or False");
  const std::string e = dir.write("e.npy", "");
  expect_error(e, e + ": byte 0: ", "file is empty");
}

TEST(IoErrorsNpy, ShapeTruncationAndNonFinite) {
  TempDir dir;
  const std::string a =
      dir.write("a.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }",
                                   std::string(24, '\0')));
  expect_error(a, a + ": byte 60: ", "expected a 2-D array (rows, features), found shape (6,)");
  const std::string b = dir.write("b.npy", npy_bytes(kF4, std::string(8, '\0')));
  expect_error(b, b + ": byte 128: ", "file ends after 8 of 24 data bytes for shape (2, 3)");
  const std::vector<float> v = {1, 2, 3, 4, std::numeric_limits<float>::infinity(), 6};
  const std::string c = dir.write("c.npy", npy_bytes(kF4, raw_bytes(v)));
  expect_error(c, c + ": byte 144: ", "expected finite values, found inf at row 1, column 1");
  softreg::ReadOptions o;
  o.n_features = 4;
  const std::string d = dir.write("d.npy", npy_bytes(kF4, std::string(24, '\0')));
  expect_error(d, o,
               d + ": byte 60: ", "expected 4 features per row (n_features), found shape (2, 3)");
  const std::string e = dir.write("e.npy", npy_bytes(kF4, std::string(25, '\0')));
  expect_error(e, e + ": byte 152: ", "expected the end of the file");
}

TEST(IoErrorsNpy, LabelsCountTypeAndAbsence) {
  TempDir dir;
  const std::string x = dir.write("x.npy", npy_bytes(kF4, std::string(24, '\0')));
  softreg::ReadOptions o;
  o.labels_path =
      dir.write("y.npy", npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                                   std::string(24, '\0')));
  expect_error(x, o, o.labels_path + ": byte 60: ",
               "expected 2 labels, one per row of " + x + ", found shape (3,)");
  o.labels_path =
      dir.write("z.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                   std::string(16, '\0')));
  expect_error(x, o, o.labels_path + ": byte 20: ", "expected integer labels");
  o.labels_path = dir.write("y.txt", "1\n");
  expect_error(x, o, o.labels_path + ":2:1: ", "file ends after 1 labels; expected 2 labels");
  o.labels_path = dir.write("w.txt", "1\n2\n3\n");
  expect_error(x, o,
               o.labels_path + ":3:1: ", "expected 2 labels, one per row of " + x + ", found more");
  softreg::ReadOptions required;
  required.require_labels = true;
  expect_error(x, required, x + ": byte 0: ", "no labels");
}

TEST(IoErrorsOpen, MissingFileIsIoErrorWithReason) {
  TempDir dir;
  const std::string p = dir.path("missing.csv");
  try {
    read(p);
    FAIL() << "no exception";
  } catch (const softreg::IoError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(io_test::starts_with(msg, p + ": cannot open: ")) << msg;
    EXPECT_TRUE(io_test::has(msg, "No such file or directory")) << msg;
  }
  softreg::ReadOptions o;
  o.labels_path = dir.path("missing-labels.txt");
  EXPECT_THROW(read(dir.write("x.csv", "1,2\n"), o), softreg::IoError);
}

TEST(IoErrorsOptions, ContradictoryOptionsAreInvalidArguments) {
  TempDir dir;
  softreg::ReadOptions o;
  o.labels_path = dir.write("y.txt", "1\n");
  EXPECT_THROW(read(dir.write("x.svm", "1 1:1\n"), o), softreg::InvalidArgument);
  o.label_column = "0";
  EXPECT_THROW(read(dir.write("x.csv", "1,2\n"), o), softreg::InvalidArgument);
  o.label_column.clear();
  const std::string c = dir.write("c.csv", "label,x\n1,2\n");
  expect_error(c, o, c + ":1:1: ", "one source of labels");
}

}  // namespace
