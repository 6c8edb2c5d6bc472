// CSV reading: exact values, header detection, label columns, quoting, CRLF, tabs, gzip.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "io_fixtures.hpp"

namespace {

using io_test::dense;
using io_test::read;
using io_test::TempDir;

TEST(CsvReader, RoundTripsValuesExactlyInFloatAndDouble) {
  TempDir dir;
  const std::string p = dir.write("v.csv", "0.1,-2.5e-3,1e30\n3,+4.25,-0\n");
  const auto f = read<float>(p);
  ASSERT_FALSE(f.sparse());
  EXPECT_EQ(f.rows(), 2u);
  EXPECT_EQ(f.cols(), 3u);
  EXPECT_TRUE(f.labels.empty());
  EXPECT_EQ(f.format, softreg::DataFormat::csv);
  EXPECT_EQ(f.source, p);
  const std::vector<float> want_f = {0.1f, -2.5e-3f, 1e30f, 3.0f, 4.25f, -0.0f};
  EXPECT_EQ(dense(f).data, want_f);
  const auto d = read<double>(p);
  const std::vector<double> want_d = {0.1, -2.5e-3, 1e30, 3.0, 4.25, -0.0};
  EXPECT_EQ(dense(d).data, want_d);
}

// The reader's fast path for short decimals must give exactly what std::from_chars gives.
template <class T>
void expect_same_as_from_chars(const std::vector<std::string>& texts, const std::string& path) {
  const auto ds = read<T>(path);
  ASSERT_EQ(dense(ds).data.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    T want{};
    std::from_chars(texts[i].data(), texts[i].data() + texts[i].size(), want);
    EXPECT_EQ(dense(ds).data[i], want) << texts[i];
  }
}

TEST(CsvReader, EveryNumberMatchesFromChars) {
  TempDir dir;
  std::mt19937_64 rng(42);
  std::vector<std::string> texts;
  std::string file;
  const char* formats[] = {"%.3g", "%.7g", "%.9g", "%.17g", "%.6e", "%.12f", "%.0f"};
  for (int i = 0; i < 20000; ++i) {
    const double mag = std::ldexp(1.0, static_cast<int>(rng() % 120) - 60);
    const double v = (static_cast<double>(rng() >> 11) / 9007199254740992.0 - 0.5) * mag;
    char buf[64];
    std::snprintf(buf, sizeof buf, formats[rng() % 7], v);
    texts.emplace_back(buf);
    file += buf;
    file += (i % 10 == 9) ? '\n' : ',';
  }
  const std::string p = dir.write("r.csv", file);
  expect_same_as_from_chars<float>(texts, p);
  expect_same_as_from_chars<double>(texts, p);
}

TEST(CsvReader, UnderflowBecomesZeroNotAnError) {
  TempDir dir;
  const auto ds = read<float>(dir.write("u.csv", "1e-50,-1e-60\n"));
  EXPECT_EQ(dense(ds)(0, 0), 0.0f);
  EXPECT_EQ(dense(ds)(0, 1), 0.0f);
}

TEST(CsvReader, HeaderIsDetectedAndItsLabelColumnUsed) {
  TempDir dir;
  const auto ds = read(dir.write("h.csv", "x,Label,y\n1,cat,2\n3,dog,4\n"));
  EXPECT_EQ(ds.rows(), 2u);
  EXPECT_EQ(ds.cols(), 2u);
  EXPECT_EQ(dense(ds).data, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"cat", "dog"}));
}

TEST(CsvReader, NoHeaderDetectedForAllNumericFirstLine) {
  TempDir dir;
  const auto ds = read(dir.write("n.csv", "1,2\n3,4\n"));
  EXPECT_EQ(ds.rows(), 2u);
  EXPECT_TRUE(ds.labels.empty());
}

TEST(CsvReader, StringLabelsInEveryRowAreNotMistakenForAHeader) {
  TempDir dir;
  softreg::ReadOptions o;
  o.label_column = "0";
  const auto ds = read(dir.write("s.csv", "cat,1,2\ndog,3,4\n"), o);
  EXPECT_EQ(ds.rows(), 2u);
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(dense(ds).data, (std::vector<float>{1, 2, 3, 4}));
}

TEST(CsvReader, ForcedHeaderAndForcedNoHeader) {
  TempDir dir;
  const std::string p = dir.write("f.csv", "10,20\n1,2\n");
  softreg::ReadOptions o;
  o.header = true;
  const auto with = read(p, o);
  EXPECT_EQ(with.rows(), 1u);
  EXPECT_EQ(dense(with).data, (std::vector<float>{1, 2}));
  o.header = false;
  EXPECT_EQ(read(p, o).rows(), 2u);
  const std::string q = dir.write("g.csv", "a,b\n1,2\n");
  o.header = false;
  const std::string msg = io_test::parse_error([&] { read(q, o); });
  EXPECT_TRUE(io_test::starts_with(msg, q + ":1:1: expected a number")) << msg;
}

TEST(CsvReader, LabelColumnByNameAndByIndex) {
  TempDir dir;
  const std::string p = dir.write("l.csv", "a,b,target\n1,2,7\n3,4,8\n");
  softreg::ReadOptions o;
  o.label_column = "target";
  const auto by_name = read(p, o);
  EXPECT_EQ(by_name.labels, (std::vector<std::string>{"7", "8"}));
  EXPECT_EQ(dense(by_name).data, (std::vector<float>{1, 2, 3, 4}));
  o.label_column = "0";
  const auto by_index = read(p, o);
  EXPECT_EQ(by_index.labels, (std::vector<std::string>{"1", "3"}));
  EXPECT_EQ(dense(by_index).data, (std::vector<float>{2, 7, 4, 8}));
  const std::string q = dir.write("m.csv", "5,1,2\n6,3,4\n");
  o.label_column = "2";
  const auto no_header = read(q, o);
  EXPECT_EQ(no_header.labels, (std::vector<std::string>{"2", "4"}));
  EXPECT_EQ(dense(no_header).data, (std::vector<float>{5, 1, 6, 3}));
}

TEST(CsvReader, LabelsKeepTheirTextWithoutSpacesOrQuotes) {
  TempDir dir;
  const auto ds = read(dir.write("t.csv", "label,x\n 1.0 ,1\n\" a \"\"b\"\" \",2\n"));
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"1.0", "a \"b\""}));
}

TEST(CsvReader, QuotedFieldsMayHoldDelimiters) {
  TempDir dir;
  const auto ds = read(dir.write("q.csv", "\"label\",\"x, the first\",y\n\"a,b\",\"1.5\", 2 \n"));
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"a,b"}));
  EXPECT_EQ(dense(ds).data, (std::vector<float>{1.5f, 2.0f}));
}

TEST(CsvReader, CrlfLineEndingsAndTrailingEmptyLines) {
  TempDir dir;
  const auto ds = read(dir.write("c.csv", "label,x\r\n1,0.5\r\n2,0.25\r\n\r\n\n"));
  EXPECT_EQ(ds.rows(), 2u);
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(dense(ds).data, (std::vector<float>{0.5f, 0.25f}));
  const auto no_newline = read(dir.write("e.csv", "1,2\n3,4"));
  EXPECT_EQ(dense(no_newline).data, (std::vector<float>{1, 2, 3, 4}));
}

TEST(CsvReader, TabDelimiterByOptionAndByTsvName) {
  TempDir dir;
  const std::string text = "label\tx\ty\n3\t1\t2\n";
  softreg::ReadOptions o;
  o.delimiter = '\t';
  o.format = softreg::DataFormat::csv;
  const auto by_option = read(dir.write("t.dat", text), o);
  EXPECT_EQ(dense(by_option).data, (std::vector<float>{1, 2}));
  const auto by_name = read(dir.write("t.tsv", text));
  EXPECT_EQ(by_name.labels, (std::vector<std::string>{"3"}));
  EXPECT_EQ(dense(by_name).data, (std::vector<float>{1, 2}));
}

TEST(CsvReader, SemicolonDelimiterAndByteOrderMark) {
  TempDir dir;
  softreg::ReadOptions o;
  o.delimiter = ';';
  const auto ds = read(dir.write("s.csv", "\xEF\xBB\xBFlabel;x\n0;1.5\n"), o);
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"0"}));
  EXPECT_EQ(dense(ds).data, (std::vector<float>{1.5f}));
}

TEST(CsvReader, GzipCompressedFile) {
  TempDir dir;
  const auto ds = read(dir.write_gz("z.csv.gz", "label,x\n1,2\n0,3\n"));
  EXPECT_EQ(ds.format, softreg::DataFormat::csv);
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"1", "0"}));
  EXPECT_EQ(dense(ds).data, (std::vector<float>{2, 3}));
}

TEST(CsvReader, NFeaturesMatchingIsAccepted) {
  TempDir dir;
  softreg::ReadOptions o;
  o.n_features = 2;
  o.require_labels = true;
  const auto ds = read(dir.write("n.csv", "label,a,b\n1,2,3\n"), o);
  EXPECT_EQ(ds.cols(), 2u);
}

TEST(CsvReader, SeparateLabelsFile) {
  TempDir dir;
  softreg::ReadOptions o;
  o.labels_path = dir.write("y.txt", "cat\n\"dog\"\n");
  const auto ds = read(dir.write("x.csv", "1,2\n3,4\n"), o);
  EXPECT_EQ(ds.labels, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(ds.cols(), 2u);
}

TEST(CsvReader, ManyRowsAcrossBufferRefills) {
  TempDir dir;
  std::string text = "label,a,b\n";
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    text += std::to_string(i % 10);
    text += ',';
    text += std::to_string(i);
    text += ".5,";
    text += std::to_string(-i);
    text += '\n';
  }
  for (const bool gz : {false, true}) {
    const auto ds =
        read<double>(gz ? dir.write_gz("big.csv.gz", text) : dir.write("big.csv", text));
    ASSERT_EQ(ds.rows(), static_cast<std::size_t>(n));
    EXPECT_EQ(dense(ds)(12345, 0), 12345.5);
    EXPECT_EQ(dense(ds)(n - 1, 1), -(n - 1.0));
    EXPECT_EQ(ds.labels[n - 1], "9");
  }
}

}  // namespace
