// Inputs the readers once took as data: byte-order marks, other encodings, NUL bytes, bare
// carriage returns, rows of the wrong length, trailing bytes after gzip data, directories.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "io/byte_source.hpp"
#include "io/text_check.hpp"
#include "io_fixtures.hpp"
#include "softreg/model_io.hpp"

namespace {

using io_test::dense;
using io_test::has;
using io_test::parse_error;
using io_test::read;
using io_test::starts_with;
using io_test::TempDir;

// read(path, options) must throw a ParseError starting with `prefix` and containing `detail`.
void expect_error(const std::string& path, const softreg::ReadOptions& options,
                  const std::string& prefix, const std::string& detail) {
  const std::string msg = parse_error([&] { read(path, options); });
  EXPECT_TRUE(starts_with(msg, prefix)) << "message: " << msg << "\nwanted prefix: " << prefix;
  EXPECT_TRUE(has(msg, detail)) << "message: " << msg << "\nwanted: " << detail;
}

void expect_error(const std::string& path, const std::string& prefix, const std::string& detail) {
  expect_error(path, {}, prefix, detail);
}

softreg::ReadOptions with_labels(const std::string& labels_path) {
  softreg::ReadOptions o;
  o.labels_path = labels_path;
  return o;
}

// --- first lines that show the file is not UTF-8 text -------------------------------------

TEST(IoHostileText, Utf16ByteOrderMarksAreRejectedByEveryTextReader) {
  TempDir dir;
  const std::string le = dir.write("le.csv", std::string("\xFF\xFE"
                                                         "a\0,\0b\0\n\0",
                                                         10));
  expect_error(le, le + ":1:1: ", "starts with a UTF-16 byte-order mark (ff fe); expected UTF-8");
  const std::string be = dir.write("be.csv", std::string("\xFE\xFF\0a\0,\0b\0\n", 10));
  expect_error(be, be + ":1:1: ", "UTF-16 byte-order mark (fe ff)");
  const std::string svm = dir.write("u.svm", std::string("\xFF\xFE"
                                                         "1\0 \0",
                                                         6));
  expect_error(svm, svm + ":1:1: ", "UTF-16 byte-order mark");
  const std::string x = dir.write("x.csv", "a\n1\n2\n");
  const std::string labels = dir.write("y.txt", std::string("\xFF\xFE"
                                                            "c\0\n\0d\0\n\0",
                                                            10));
  expect_error(x, with_labels(labels), labels + ":1:1: ", "UTF-16 byte-order mark");
}

TEST(IoHostileText, NulBytesAndBareCarriageReturnsOnLineOneAreRejected) {
  TempDir dir;
  // UTF-16 without a mark: every other byte is NUL.
  const std::string u = dir.write("u.csv", std::string("1\0,\0002\0\n\0", 8));
  expect_error(u, u + ":1:2: ", "found a NUL byte; expected UTF-8 text");
  // Classic Mac line ends make the whole file one line.
  const std::string mac = dir.write("mac.csv", "a,label\r1,x\r2,y\r");
  expect_error(mac, mac + ":1:8: ", "found a carriage return (\\r) inside the line");
  const std::string svm = dir.write("mac.svm", "1 1:2\r2 1:3\r");
  expect_error(svm, svm + ":1:6: ", "carriage return");
  // \r\n line ends stay fine.
  EXPECT_EQ(read(dir.write("dos.csv", "a,label\r\n1,x\r\n2,y\r\n")).rows(), 2u);
}

TEST(IoHostileText, OneUtf8ByteOrderMarkIsSkippedASecondIsAnError) {
  TempDir dir;
  const auto ds = read(dir.write("b.csv",
                                 "\xEF\xBB\xBF"
                                 "a,label\n1,x\n2,y\n"));
  EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"a"}));
  const std::string twice = dir.write("bb.csv",
                                      "\xEF\xBB\xBF\xEF\xBB\xBF"
                                      "a,label\n1,x\n2,y\n");
  expect_error(twice, twice + ":1:1: ", "a second UTF-8 byte-order mark");
  // LibSVM, labels and sample-weight files skip the mark too, instead of reading it into the
  // first label ("\ufeff1", a class of its own) or failing on the first weight.
  const auto svm = read(dir.write("b.svm",
                                  "\xEF\xBB\xBF"
                                  "1 1:2\n2 1:3\n"));
  EXPECT_EQ(svm.labels, (std::vector<std::string>{"1", "2"}));
  const std::string x = dir.write("x.csv", "a\n1\n2\n");
  const auto labelled = read(x, with_labels(dir.write("y.txt",
                                                      "\xEF\xBB\xBF"
                                                      "cat\ndog\n")));
  EXPECT_EQ(labelled.labels, (std::vector<std::string>{"cat", "dog"}));
  const auto w = softreg::read_sample_weights(dir.write("w.txt",
                                                        "\xEF\xBB\xBF"
                                                        "0.5\n2\n"),
                                              2, x);
  EXPECT_EQ(w, (std::vector<double>{0.5, 2.0}));
}

TEST(IoHostileText, AByteOrderMarkInsideTheFileIsShownInTheMessage) {
  TempDir dir;
  const std::string p = dir.write("m.csv",
                                  "a,label\n1,x\n\xEF\xBB\xBF"
                                  "2,y\n");
  expect_error(p, p + ":3:1: ", "expected a number, found \"\\ufeff2\"");
}

// --- labels and names must be UTF-8 ------------------------------------------------------------

TEST(IoHostileText, LabelsNamesAndIdsThatAreNotUtf8AreRejected) {
  TempDir dir;
  const std::string label = dir.write("l.csv", "a,label\n1,caf\xE9\n");
  expect_error(label, label + ":2:3: ",
               "expected a label in UTF-8, found \"caf\\xe9\" (byte 0xe9 is not UTF-8");
  const std::string name = dir.write("h.csv", "\xE2ge,label\n1,x\n2,y\n");
  expect_error(name, name + ":1:1: ", "expected a header name in UTF-8, found \"\\xe2ge\"");
  softreg::ReadOptions ids;
  ids.id_column = "id";
  const std::string id = dir.write("i.csv", "id,a,label\nr\xFF,1,x\n");
  expect_error(id, ids, id + ":2:1: ", "expected an id in UTF-8");
  const std::string nul = dir.write("n.csv", std::string("a,label\n1,d\0g\n", 14));
  expect_error(nul, nul + ":2:3: ", "expected a label in UTF-8, found \"d\\x00g\" (a NUL byte");
  const std::string svm = dir.write("l.svm", "1 1:2\ncaf\xE9 1:3\n");
  expect_error(svm, svm + ":2:1: ", "expected a label in UTF-8");
  const std::string x = dir.write("x.csv", "a\n1\n2\n");
  const std::string text = dir.write("y.txt", "cat\n\xE9t\xE9\n");
  expect_error(x, with_labels(text), text + ":2:1: ", "expected a label in UTF-8");
}

TEST(IoHostileText, MalformedUtf8FormsAreRejectedAndWellFormedOnesKept) {
  TempDir dir;
  // An overlong '/', an encoded surrogate, a code point above U+10FFFF, a truncated sequence.
  for (const char* bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"}) {
    const std::string p = dir.write("b.csv", std::string("a,label\n1,x") + bad + "\n");
    expect_error(p, p + ":2:3: ", "is not UTF-8");
  }
  const auto ds = read(
      dir.write("g.csv", "a,label\n1,\xC3\xA9t\xC3\xA9\n2,\xE7\x8C\xAB\n3,\xF0\x9F\x90\x88\n"));
  EXPECT_EQ(ds.labels,
            (std::vector<std::string>{"\xC3\xA9t\xC3\xA9", "\xE7\x8C\xAB", "\xF0\x9F\x90\x88"}));
}

TEST(IoHostileText, QuoteForMessageEscapesWhatIsNotUtf8AndTheInvisibleMark) {
  using softreg::detail::quote_for_message;
  EXPECT_EQ(quote_for_message("caf\xE9"), "\"caf\\xe9\"");
  EXPECT_EQ(quote_for_message("\xEF\xBB\xBF"
                              "1"),
            "\"\\ufeff1\"");
  EXPECT_EQ(quote_for_message("\xC3\xA9"), "\"\xC3\xA9\"");
  EXPECT_EQ(quote_for_message(std::string("a\0b", 3)), "\"a\\x00b\"");
  // A run of continuation bytes at the cut is escaped, not cut back to nothing.
  const std::string out = quote_for_message(std::string(60, '\x80'));
  EXPECT_TRUE(starts_with(out, "\"\\x80\\x80")) << out;
}

// --- rows that are not records -------------------------------------------------------------

TEST(IoHostileText, ARowOfTheWrongLengthIsReportedAsSuchNotAsABadNumber) {
  TempDir dir;
  // The short row puts its label where a number belongs.
  const std::string shorter = dir.write("s.csv", "a,b,label\n1,2,x\n3,y\n");
  expect_error(shorter, shorter + ":3:4: ", "expected 3 fields, found 2");
  const std::string html = dir.write("h.csv", "a,b,label\n1,2,x\n<!DOCTYPE html>\n");
  expect_error(html, html + ":3:16: ", "expected 3 fields, found 1");
  const std::string longer = dir.write("l.csv", "a,b,label\n1,2,x\n3,abc,4,y\n");
  expect_error(longer, longer + ":3:9: ", "expected 3 fields, found 4");
  // A row of the right length still names the field that is no number.
  const std::string word = dir.write("w.csv", "a,b,label\n1,2,x\n3,abc,y\n");
  expect_error(word, word + ":3:3: ", "expected a number, found \"abc\"");
}

TEST(IoHostileText, LibSvmLabelsWithACommaAreCsvRowsOrMultilabelLines) {
  TempDir dir;
  const std::string csv = dir.write("c.svm", "0.5,1.0,0\n");
  expect_error(csv,
               csv + ":1:1: ", "expected a label, found \"0.5,1.0,0\" (a comma: is this a CSV");
  const std::string multi = dir.write("m.svm", "1 1:2\n1,3 1:0.5\n");
  expect_error(multi, multi + ":2:1: ", "multilabel LibSVM lines are not supported");
}

// --- bytes after the gzip data ---------------------------------------------------------------

std::string gzip(const std::string& data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(IoHostileGzip, TrailingBytesAfterTheStreamAreAnErrorInEveryFormat) {
  TempDir dir;
  const std::string csv = "a,label\n1,x\n2,y\n";
  const std::string c = dir.write("t.csv.gz", gzip(csv) + "GARBAGE\n");
  const std::string tail = "bytes follow it; expected the end of the file (trailing garbage";
  expect_error(c, c + ": byte 16: ", "8 more " + tail);
  const std::string z = dir.write("z.csv.gz", gzip(csv) + std::string(16, '\0'));
  expect_error(z, z + ": byte 16: ", "16 more " + tail);
  const std::string npy =
      io_test::npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }",
                         io_test::raw_bytes(std::vector<double>{1.0}));
  const std::string n = dir.write("t.npy.gz", gzip(npy) + "x");
  expect_error(n, n + ": byte ", "1 more " + tail);
  const std::string images = io_test::idx_bytes(0x08, {2, 1, 1}, std::string("\x01\x02", 2));
  const std::string i = dir.write("t-images-idx3-ubyte.gz", gzip(images) + "junk");
  softreg::ReadOptions o;
  o.format = softreg::DataFormat::idx;
  expect_error(i, o, i + ": byte ", "4 more " + tail);
  const std::string svm = dir.write("t.svm.gz", gzip("1 1:2\n") + "\n");
  expect_error(svm, svm + ": byte 6: ", "1 more " + tail);
}

TEST(IoHostileGzip, ConcatenatedMembersAreOneStreamAndStillRead) {
  TempDir dir;
  const auto ds = read(dir.write("m.csv.gz", gzip("a,label\n1,x\n") + gzip("2,y\n3,z\n")));
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"x", "y", "z"}));
  // ... and garbage after the last of them is found by walking the members.
  const std::string p = dir.write("g.csv.gz", gzip("a,label\n1,x\n") + gzip("2,y\n") + "??");
  expect_error(p, p + ": byte 16: ", "2 more bytes follow it");
}

TEST(IoHostileGzip, ZlibMessagesDoNotNameTheDescriptor) {
  TempDir dir;
  std::string bad = gzip("a,label\n1,x\n2,y\n");
  bad[bad.size() - 8] = static_cast<char>(bad[bad.size() - 8] ^ 0xFF);  // the CRC-32
  const std::string p = dir.write("c.csv.gz", bad);
  const std::string msg = parse_error([&] { read(p); });
  EXPECT_TRUE(has(msg, "corrupt gzip data (zlib: incorrect data check)")) << msg;
  EXPECT_FALSE(has(msg, "<fd:")) << msg;
}

// --- .npy headers, directories, model files --------------------------------------------------

TEST(IoHostileNpy, TextAfterTheHeaderDictIsRejected) {
  TempDir dir;
  const std::string payload = io_test::raw_bytes(std::vector<double>{1.0});
  const std::string p = dir.write(
      "g.npy", io_test::npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }xyz",
                                  payload));
  expect_error(p, p + ": byte 69: ",
               "malformed .npy header: expected only spaces and a line feed after the dict, found "
               "\"xyz");
}

TEST(IoHostilePaths, ADirectoryIsNamedAsOne) {
  TempDir dir;
  const std::string d = dir.path("d.csv");
  std::filesystem::create_directory(d);
  try {
    read(d);
    ADD_FAILURE() << "reading a directory succeeded";
  } catch (const softreg::IoError& e) {
    EXPECT_EQ(std::string(e.what()), d + ": is a directory, not a file to read");
  }
  try {
    softreg::load_model(d);
    ADD_FAILURE() << "loading a directory succeeded";
  } catch (const softreg::IoError& e) {
    EXPECT_EQ(std::string(e.what()), d + ": is a directory, not a model file");
  }
}

TEST(IoHostilePaths, AnEmptyModelFileSaysSo) {
  TempDir dir;
  const std::string p = dir.write("e.srm", "");
  try {
    softreg::load_model(p);
    ADD_FAILURE() << "loading an empty file succeeded";
  } catch (const softreg::ParseError& e) {
    EXPECT_EQ(std::string(e.what()), p + ": byte 0: file is empty; expected a softreg model file");
  }
}

}  // namespace
