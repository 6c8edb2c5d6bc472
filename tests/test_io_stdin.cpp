// Reading standard input ("-") through a real pipe, plain and gzip, and sample-weight files.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io_fixtures.hpp"

namespace {

using io_test::csr;
using io_test::dense;
using io_test::has;
using io_test::parse_error;
using io_test::read;
using io_test::starts_with;
using io_test::TempDir;

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs f() with standard input the read end of a pipe that another thread fills with `bytes`
/// (more than a pipe's 64 KiB buffer takes, so reader and writer must overlap), then puts the
/// old standard input back.
template <class F>
void with_stdin(const std::string& bytes, F&& f) {
  ::signal(SIGPIPE, SIG_IGN);  // a reader that stops early closes the pipe under the writer
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const int saved = ::dup(STDIN_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_EQ(::dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
  ::close(fds[0]);
  std::thread writer([fd = fds[1], &bytes] {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ::ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      done += static_cast<std::size_t>(w);
    }
    ::close(fd);
  });
  struct Restore {
    int saved;
    std::thread& writer;
    ~Restore() {
      ::dup2(saved, STDIN_FILENO);  // closes the pipe's read end: a blocked writer gets EPIPE
      ::close(saved);
      writer.join();
    }
  } restore{saved, writer};
  f();
}

softreg::ReadOptions format(softreg::DataFormat f) {
  softreg::ReadOptions o;
  o.format = f;
  return o;
}

std::string big_csv() {
  std::string text = "a,b,label\n";
  for (int i = 0; i < 20000; ++i) {
    text += std::to_string(i) + "," + std::to_string(i * 0.25) + "," + (i % 2 ? "x" : "y") + "\n";
  }
  return text;
}

TEST(Stdin, CsvThroughAPipeEqualsTheFile) {
  TempDir dir;
  const std::string text = big_csv();
  ASSERT_GT(text.size(), 200000u);
  const auto from_file = read<double>(dir.write("big.csv", text));
  with_stdin(text, [&] {
    const auto ds = read<double>("-", format(softreg::DataFormat::csv));
    EXPECT_EQ(ds.source, "-");
    EXPECT_EQ(dense(ds).data, dense(from_file).data);
    EXPECT_EQ(ds.labels, from_file.labels);
    EXPECT_EQ(ds.feature_names, (std::vector<std::string>{"a", "b"}));
  });
}

TEST(Stdin, GzipThroughAPipeIsInflated) {
  TempDir dir;
  const std::string text = big_csv();
  const std::string gz = file_bytes(dir.write_gz("big.csv.gz", text));
  ASSERT_LT(gz.size(), text.size());
  const auto from_file = read<double>(dir.write("big.csv", text));
  with_stdin(gz, [&] {
    const auto ds = read<double>("-", format(softreg::DataFormat::csv));
    EXPECT_EQ(dense(ds).data, dense(from_file).data);
  });
}

TEST(Stdin, LibSvmAndNpyThroughAPipe) {
  with_stdin("1 0:2 3:4\n2 1:5\n", [&] {
    const auto ds = read("-", format(softreg::DataFormat::libsvm));
    EXPECT_EQ(csr(ds).indices, (std::vector<std::int32_t>{0, 3, 1}));
    EXPECT_EQ(ds.index_base, softreg::IndexBase::zero);
  });
  const std::vector<double> values = {1.5, -2, 3, 4};
  const std::string npy = io_test::npy_bytes(
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", io_test::raw_bytes(values));
  with_stdin(npy, [&] {
    const auto ds = read<double>("-", format(softreg::DataFormat::npy));
    EXPECT_EQ(dense(ds).data, values);
  });
}

TEST(Stdin, ErrorsNameStandardInput) {
  with_stdin("1,2\n3,x\n", [&] {
    const std::string msg = parse_error([&] { read("-", format(softreg::DataFormat::csv)); });
    EXPECT_TRUE(starts_with(msg, "standard input:2:3: expected a number, found \"x\"")) << msg;
  });
}

TEST(Stdin, TheFormatMustBeGiven) {
  try {
    read("-");
    ADD_FAILURE() << "no exception";
  } catch (const softreg::InvalidArgument& e) {
    const std::string what = e.what();
    EXPECT_TRUE(starts_with(what, "standard input (-): ")) << what;
    EXPECT_TRUE(has(what, "--format")) << what;
  }
}

TEST(Stdin, IdxImagesNeedALabelsFile) {
  TempDir dir;
  const std::string images =
      io_test::idx_bytes(0x08, {2, 1, 2}, std::string("\x00\xff\x33\x66", 4));
  softreg::ReadOptions o = format(softreg::DataFormat::idx);
  o.require_labels = true;
  with_stdin(images, [&] {
    const std::string msg = parse_error([&] { read("-", o); });
    EXPECT_TRUE(starts_with(msg, "standard input: byte 0: no labels file")) << msg;
    EXPECT_TRUE(has(msg, "--labels")) << msg;
  });
  o.labels_path = dir.write("y.txt", "3\n4\n");
  with_stdin(images, [&] {
    const auto ds = read("-", o);
    EXPECT_EQ(ds.labels, (std::vector<std::string>{"3", "4"}));
    EXPECT_EQ(dense(ds).data, (std::vector<float>{0, 1, 0x33 / 255.0f, 0x66 / 255.0f}));
  });
}

TEST(SampleWeightsFile, OneNumberPerLine) {
  TempDir dir;
  const std::string p = dir.write("w.txt", "0.5\n  2 \n0\r\n1e-3\n\n");
  EXPECT_EQ(softreg::read_sample_weights(p, 4, "d.csv"), (std::vector<double>{0.5, 2, 0, 1e-3}));
}

TEST(SampleWeightsFile, BadLinesAndWrongCountsAreErrorsAtTheirLine) {
  TempDir dir;
  const auto error = [](const std::string& path, std::size_t n) {
    return parse_error([&] { softreg::read_sample_weights(path, n, "d.csv"); });
  };
  const std::string neg = dir.write("neg.txt", "1\n -2\n");
  std::string msg = error(neg, 2);
  EXPECT_TRUE(starts_with(msg, neg + ":2:2: expected a sample weight (a finite number >= 0), "
                                     "found \"-2\""))
      << msg;
  const std::string word = dir.write("word.txt", "1\n2 3\n");
  EXPECT_TRUE(starts_with(error(word, 2), word + ":2:1: expected a sample weight")) << msg;
  const std::string nan = dir.write("nan.txt", "nan\n");
  EXPECT_TRUE(starts_with(error(nan, 1), nan + ":1:1: expected a sample weight"));
  const std::string few = dir.write("few.txt", "1\n2\n");
  msg = error(few, 3);
  EXPECT_TRUE(starts_with(msg, few + ":3:1: file ends after 2 sample weights; expected 3 sample "
                                     "weights, one per row of d.csv"))
      << msg;
  msg = error(few, 1);
  EXPECT_TRUE(starts_with(msg, few + ":2:1: expected 1 sample weights")) << msg;
  const std::string gap = dir.write("gap.txt", "1\n\n2\n");
  EXPECT_TRUE(starts_with(error(gap, 2), gap + ":2:1: expected a sample weight, found an empty"));
}

}  // namespace
