// Tests of model files (save_model, load_model) and the .npz export, against docs/FORMATS.md.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "softreg/error.hpp"
#include "softreg/model.hpp"
#include "softreg/model_io.hpp"

namespace {

namespace fs = std::filesystem;
using softreg::DType;
using softreg::Scaling;
using softreg::SoftmaxRegression;
using softreg::Solver;

SoftmaxRegression make_model(std::size_t d, std::vector<std::string> classes, Scaling kind,
                             std::size_t history, std::uint64_t seed,
                             std::vector<std::string> feature_names = {},
                             std::map<std::string, std::string> parameters = {}) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  const std::size_t k = classes.size();
  std::vector<double> w(d * k), b(k);
  for (auto& v : w) v = normal(rng);
  for (auto& v : b) v = normal(rng);
  softreg::Preprocessing pre;
  pre.kind = kind;
  for (std::size_t j = 0; kind != Scaling::none && j < d; ++j) {
    pre.offset.push_back(normal(rng));
    pre.scale.push_back(0.1 + std::abs(normal(rng)));
  }
  // First values whose bits a careless round trip would change: a NaN payload, -0, infinity.
  std::vector<double> losses = {std::bit_cast<double>(0x7ff80000deadbeefull), -0.0, -INFINITY};
  losses.resize(history);
  for (std::size_t i = 3; i < history; ++i) losses[i] = 1.0 / double(i + 1);
  const double loss = normal(rng), grad_norm = std::abs(normal(rng));
  const std::uint64_t n_train = (std::uint64_t{1} << 40) + 3;
  // Every field of TrainingInfo, in declaration order.
  softreg::TrainingInfo info{Solver::adam,
                             DType::float64,
                             1e-3,
                             17,
                             -23,
                             true,
                             "stopped: |g| \xe2\x89\xa4 tol",
                             loss,
                             grad_norm,
                             0.25,
                             n_train,
                             12345,
                             1.5,
                             losses,
                             std::move(parameters),
                             {},
                             {},
                             {}};
  return SoftmaxRegression(std::move(classes), d, std::move(w), std::move(b), std::move(pre),
                           std::move(info), std::move(feature_names));
}

/// The model with a temperature and the version 3 histories (accuracy, and the validation pair
/// when `validation`), entry for entry with its loss history.
SoftmaxRegression calibrated(const SoftmaxRegression& m, double temperature, bool validation) {
  softreg::TrainingInfo info = m.info();
  const std::size_t h = info.loss_history.size();
  for (std::size_t i = 0; i < h; ++i) {
    info.accuracy_history.push_back(0.5 + 0.5 * double(i) / double(h));
    if (validation) {
      info.valid_loss_history.push_back(2.0 - double(i) / double(h));
      info.valid_accuracy_history.push_back(i == 0 ? -0.0 : 0.25 + double(i) / double(4 * h));
    }
  }
  return SoftmaxRegression(m.classes(), m.n_features(), m.weights(), m.bias(), m.preprocessing(),
                           std::move(info), m.feature_names(), temperature);
}

std::vector<std::uint64_t> bits(const std::vector<double>& v) {
  std::vector<std::uint64_t> out;
  for (double x : v) out.push_back(std::bit_cast<std::uint64_t>(x));
  return out;
}

void expect_identical(const SoftmaxRegression& a, const SoftmaxRegression& b) {
  EXPECT_EQ(std::tuple(a.classes(), a.n_features()), std::tuple(b.classes(), b.n_features()));
  EXPECT_EQ(bits(a.weights()), bits(b.weights()));
  EXPECT_EQ(bits(a.bias()), bits(b.bias()));
  const auto &p = a.preprocessing(), &q = b.preprocessing();
  EXPECT_EQ(std::tuple(p.kind, bits(p.offset), bits(p.scale)),
            std::tuple(q.kind, bits(q.offset), bits(q.scale)));
  const auto &x = a.info(), &y = b.info();
  EXPECT_EQ(std::tie(x.solver, x.dtype, x.iterations, x.evaluations, x.converged, x.message,
                     x.n_train, x.n_valid),
            std::tie(y.solver, y.dtype, y.iterations, y.evaluations, y.converged, y.message,
                     y.n_train, y.n_valid));
  EXPECT_EQ(bits({x.l2, x.final_loss, x.grad_norm, x.valid_loss, x.seconds}),
            bits({y.l2, y.final_loss, y.grad_norm, y.valid_loss, y.seconds}));
  EXPECT_EQ(bits(x.loss_history), bits(y.loss_history));
  EXPECT_EQ(bits(x.accuracy_history), bits(y.accuracy_history));
  EXPECT_EQ(bits(x.valid_loss_history), bits(y.valid_loss_history));
  EXPECT_EQ(bits(x.valid_accuracy_history), bits(y.valid_accuracy_history));
  EXPECT_EQ(x.parameters, y.parameters);
  EXPECT_EQ(a.feature_names(), b.feature_names());
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.temperature()),
            std::bit_cast<std::uint64_t>(b.temperature()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::uint64_t le(const std::string& s, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= std::uint64_t(static_cast<unsigned char>(s.at(at + i))) << 8 * i;
  return v;
}

void put_le(std::string& s, std::size_t at, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s.at(at + i) = static_cast<char>((v >> 8 * i) & 0xff);
}

std::uint32_t crc_of(const std::string& s, std::size_t n) {
  return static_cast<std::uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(n)));
}

std::string f64_bytes(const std::vector<double>& v) {
  std::string out(8 * v.size(), '\0');
  for (std::size_t i = 0; i < v.size(); ++i) {
    put_le(out, 8 * i, std::bit_cast<std::uint64_t>(v[i]), 8);
  }
  return out;
}

/// The message of the ParseError that loading `path` throws; fails the test otherwise.
std::string parse_error(const std::string& path) {
  try {
    softreg::load_model(path);
    ADD_FAILURE() << "expected ParseError, but " << path << " loaded";
  } catch (const softreg::ParseError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ParseError, got: " << e.what();
  }
  return {};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* t = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("softreg_" + std::string(t->test_suite_name()) + "_" +
                                        t->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  /// Saves the model as m.srm and returns the file's bytes.
  std::string saved(const SoftmaxRegression& model) const {
    softreg::save_model(model, file("m.srm"));
    return read_bytes(file("m.srm"));
  }
  /// The ParseError message for `bytes` with a field overwritten and the trailing CRC-32 redone,
  /// so that only the checks other than the checksum can object.
  std::string patched_error(std::string bytes, std::size_t at, std::uint64_t v, int width) const {
    put_le(bytes, at, v, width);
    put_le(bytes, bytes.size() - 4, crc_of(bytes, bytes.size() - 4), 4);
    write_bytes(file("patched.srm"), bytes);
    return parse_error(file("patched.srm"));
  }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }
  fs::path dir_;
};

class ModelIo : public TempDir {};
class NpzExport : public TempDir {};

TEST_F(ModelIo, RoundTripIsBitIdenticalForEveryScalingAndLabelKind) {
  const std::vector<std::vector<std::string>> label_sets = {
      {"cat", "dog", "caf\xc3\xa9", "", "with space"}, {"-7", "0", "3", "1000000000000"}};
  std::uint64_t seed = 1;
  for (const auto& labels : label_sets) {
    for (Scaling kind : {Scaling::none, Scaling::standard, Scaling::minmax}) {
      const auto model = make_model(6, labels, kind, 5000, seed++);
      saved(model);
      expect_identical(model, softreg::load_model(file("m.srm")));
      const auto with_t = calibrated(model, 1.0 + 1e-3 * double(seed), kind != Scaling::none);
      saved(with_t);
      expect_identical(with_t, softreg::load_model(file("m.srm")));
    }
  }
}

TEST_F(ModelIo, RoundTripKeepsOddShapesAndArbitraryLabelBytes) {
  // Labels are bytes in a model file: not-UTF-8 and embedded NUL survive.
  for (const auto& model : {make_model(0, {std::string("a\0b", 3)}, Scaling::standard, 0, 2),
                            make_model(1, {"\xe9t\xe9", "hiver"}, Scaling::none, 1, 3)}) {
    softreg::save_model(model, file("m.srm"));
    expect_identical(model, softreg::load_model(file("m.srm")));
  }
}

TEST_F(ModelIo, FileLayoutMatchesFormatsMd) {
  const auto model = calibrated(make_model(3, {"ab", "c"}, Scaling::minmax, 7, 4, {"x", "yy", "z"},
                                           {{"l2", "0.5"}, {"python.C", ""}}),
                                2.75, true);
  const std::string s = saved(model);
  EXPECT_EQ(s.substr(0, 8), std::string("\x89SRMODEL", 8));
  // Version 3, float64, adam, minmax, d = 3, K = 2.
  EXPECT_EQ(
      std::tuple(le(s, 8, 4), le(s, 12, 4), le(s, 16, 4), le(s, 20, 4), le(s, 24, 8), le(s, 32, 8)),
      std::tuple(3u, 1u, 2u, 2u, 3u, 2u));
  EXPECT_EQ(s.substr(40, 11), std::string("\x02\0\0\0ab\x01\0\0\0c", 11));  // the labels
  const auto& pre = model.preprocessing();
  std::size_t at = 51;
  for (const auto* v : {&pre.offset, &pre.scale, &model.weights(), &model.bias()}) {
    EXPECT_EQ(s.substr(at, 8 * v->size()), f64_bytes(*v));
    at += 8 * v->size();
  }
  const auto& info = model.info();
  EXPECT_EQ(s.substr(at, 8), f64_bytes({info.l2}));
  EXPECT_EQ(std::tuple(le(s, at + 8, 4), le(s, at + 12, 4), le(s, at + 16, 4)),
            std::tuple(17u, std::uint32_t(-23), 1u));
  EXPECT_EQ(s.substr(at + 20, 24), f64_bytes({info.final_loss, info.grad_norm, 0.25}));
  EXPECT_EQ(le(s, at + 44, 8), info.n_train);
  EXPECT_EQ(le(s, at + 52, 8), 12345u);
  EXPECT_EQ(s.substr(at + 60, 8), f64_bytes({1.5}));
  EXPECT_EQ(le(s, at + 68, 4), info.message.size());
  at += 72 + info.message.size();
  EXPECT_EQ(s.substr(at - info.message.size(), info.message.size()), info.message);
  EXPECT_EQ(le(s, at, 8), 7u);
  EXPECT_EQ(s.substr(at + 8, 56), f64_bytes(info.loss_history));
  at += 64;
  // The feature names, then the parameters as name / value pairs in name order.
  const std::string names("\x03\0\0\0\0\0\0\0\x01\0\0\0x\x02\0\0\0yy\x01\0\0\0z", 24);
  const std::string params(
      "\x02\0\0\0\0\0\0\0\x02\0\0\0l2\x03\0\0\0"
      "0.5\x08\0\0\0python.C\0\0\0\0",
      37);
  EXPECT_EQ(s.substr(at, names.size() + params.size()), names + params);
  at += names.size() + params.size();
  // Version 3: the temperature, then three histories of H = 7 values, each after its count.
  EXPECT_EQ(s.substr(at, 8), f64_bytes({2.75}));
  at += 8;
  for (const auto* v :
       {&info.accuracy_history, &info.valid_loss_history, &info.valid_accuracy_history}) {
    EXPECT_EQ(le(s, at, 8), 7u);
    EXPECT_EQ(s.substr(at + 8, 56), f64_bytes(*v));
    at += 64;
  }
  ASSERT_EQ(s.size(), at + 4);
  // The size formula of FORMATS.md: 40 + labels + 16d + 8dK + 8K + 72 + n + 8 + 8H + 8 +
  // names + 8 + parameters + 8 + 3 * 8 + 8 (A + V + W) + 4.
  const std::size_t h = 7, a = 7, v = 7, w = 7;
  EXPECT_EQ(s.size(), 40 + 11 + 48 + 48 + 16 + 72 + info.message.size() + 8 + 8 * h + 8 + 16 + 8 +
                          29 + 8 + 24 + 8 * (a + v + w) + 4);
  EXPECT_EQ(le(s, at, 4), crc_of(s, at));
}

TEST_F(ModelIo, SavingReplacesTheFileAndLeavesNoTemporaryBehind) {
  softreg::save_model(make_model(4, {"x", "y"}, Scaling::none, 3, 5), file("m.srm"));
  const auto second = make_model(5, {"p", "q", "r"}, Scaling::standard, 9, 6);
  saved(second);
  EXPECT_EQ(listing(), std::vector<std::string>{"m.srm"});
  expect_identical(second, softreg::load_model(file("m.srm")));
}

TEST_F(ModelIo, AFailedSaveKeepsTheExistingFileAndCleansUp) {
  const auto model = make_model(4, {"x", "y"}, Scaling::none, 3, 7);
  const std::string before = saved(model);
  const std::string missing = file("no_such_dir/m.srm");
  try {
    softreg::save_model(model, missing);
    ADD_FAILURE() << "saving into a missing directory succeeded";
  } catch (const softreg::IoError& e) {
    EXPECT_TRUE(contains(e.what(), missing)) << e.what();
    EXPECT_TRUE(contains(e.what(), "No such file or directory")) << e.what();
  }
  // The temporary file is written, then the rename fails: the target is a non-empty folder.
  fs::create_directories(dir_ / "occupied");
  write_bytes(file("occupied/keep"), "x");
  EXPECT_THROW(softreg::save_model(model, file("occupied")), softreg::IoError);
  EXPECT_EQ(read_bytes(file("m.srm")), before);
  EXPECT_EQ(listing(), (std::vector<std::string>{"m.srm", "occupied"}));
  EXPECT_THROW(softreg::save_model(SoftmaxRegression(), file("empty.srm")),
               softreg::InvalidArgument);
}

TEST_F(ModelIo, MissingAndForeignFilesAreRejected) {
  EXPECT_THROW(softreg::load_model(file("absent.srm")), softreg::IoError);
  for (const std::string& bytes : {std::string("label,x\n1,2\n"), std::string("\x89SRM0")}) {
    write_bytes(file("data.csv"), bytes);
    const std::string msg = parse_error(file("data.csv"));
    EXPECT_EQ(msg.rfind(file("data.csv") + ": byte 0: not a softreg model file", 0), 0u) << msg;
  }
  softreg::export_npz(make_model(2, {"a", "b"}, Scaling::none, 0, 8), file("m.npz"));
  EXPECT_TRUE(contains(parse_error(file("m.npz")), "not a softreg model file"));
}

TEST_F(ModelIo, NewerAndInvalidVersionsAreRejected) {
  std::string s = saved(make_model(2, {"a", "b"}, Scaling::none, 2, 9));
  const std::string newer = "was written by a newer softreg (format version 4; this build reads";
  EXPECT_EQ(patched_error(s, 8, 4, 4), file("patched.srm") + ": byte 8: " + newer + " up to 3)");
  EXPECT_TRUE(contains(patched_error(s, 8, 0, 4), "byte 8: format version 0"));
}

TEST_F(ModelIo, EveryTruncationIsAParseError) {
  const std::string s = saved(make_model(2, {"a", "bc", "d"}, Scaling::standard, 3, 10));
  for (std::size_t n = 0; n < s.size(); ++n) {
    write_bytes(file("cut.srm"), s.substr(0, n));
    const std::string msg = parse_error(file("cut.srm"));
    EXPECT_EQ(msg.rfind(file("cut.srm") + ": byte ", 0), 0u) << "length " << n << ": " << msg;
    const std::string last = "file ends at byte " + std::to_string(n) + ", expected 3 more bytes";
    EXPECT_TRUE(n + 3 != s.size() || contains(msg, last + " for the checksum")) << msg;
  }
}

TEST_F(ModelIo, EveryFlippedByteIsAParseError) {
  const std::string s = saved(make_model(2, {"a", "bc", "d"}, Scaling::minmax, 3, 11));
  const std::size_t w_at = 40 + 5 + 6 + 5 + 32;  // after the labels and preprocessing
  for (std::size_t i = 0; i < s.size(); ++i) {
    for (unsigned mask : {0x01u, 0x80u, 0xffu}) {
      std::string bad = s;
      bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ mask);
      write_bytes(file("bad.srm"), bad);
      const std::string msg = parse_error(file("bad.srm"));
      EXPECT_FALSE(msg.empty()) << "byte " << i << " mask " << mask;
      if (i >= w_at && i < w_at + 48) {
        EXPECT_TRUE(contains(msg, "checksum mismatch: stored 0x") &&
                    contains(msg, "; the file is corrupted"))
            << msg;
      }
    }
  }
}

TEST_F(ModelIo, TrailingBytesAreRejected) {
  const std::string s = saved(make_model(2, {"a", "b"}, Scaling::none, 2, 12));
  for (const std::string& extra : {std::string(1, '\0'), std::string(100, 'x')}) {
    write_bytes(file("long.srm"), s + extra);
    EXPECT_EQ(parse_error(file("long.srm")),
              file("long.srm") + ": byte " + std::to_string(s.size()) + ": " +
                  std::to_string(extra.size()) +
                  " unexpected bytes after the checksum (the file should end here)");
  }
}

TEST_F(ModelIo, HugeSizesFailWithoutAllocating) {
  const std::string s = saved(make_model(2, {"a", "b"}, Scaling::none, 2, 13));
  // d, K, the first label's length, the loss history's (before 2 values, the counts of
  // feature names and parameters, the temperature, the three empty histories' counts and the
  // CRC), the counts of names and parameters, and the three histories' counts.
  const std::size_t e = s.size();
  for (const auto& [at, width] : std::vector<std::pair<std::size_t, int>>{{24, 8},
                                                                          {32, 8},
                                                                          {40, 4},
                                                                          {e - 76, 8},
                                                                          {e - 52, 8},
                                                                          {e - 44, 8},
                                                                          {e - 28, 8},
                                                                          {e - 20, 8},
                                                                          {e - 12, 8}}) {
    // Each is huge in the field's width: 2^62 + 0xfffffff0 is 0xfffffff0 as a u32.
    for (std::uint64_t v :
         {(std::uint64_t{1} << 62) + 0xfffffff0u, ~std::uint64_t{0}, std::uint64_t{1} << 20}) {
      const std::string msg = patched_error(s, at, v, width);
      EXPECT_TRUE(contains(msg, ": byte " + std::to_string(at) + ": ")) << msg;
    }
  }
}

TEST_F(ModelIo, BadValuesUnderAGoodChecksumAreReported) {
  const std::string s = saved(make_model(1, {"ab", "cd"}, Scaling::none, 0, 14));
  const std::map<std::string, std::pair<std::size_t, std::uint64_t>> cases = {
      {"byte 46: class label 1 \"ab\" repeats class label 0", {50, 0x6261}},
      {"byte 52: W[0] is nan", {52, 0x7ff8000000000000}},
      {"byte 68: b[0] is inf", {68, 0x7ff0000000000000}},
      {"byte 16: unknown solver code 7", {16, 7}},
      {"byte 12: unknown dtype code 2", {12, 2}},
      {"byte 20: unknown scaling code 3", {20, 3}},
      {"byte 100: converged is 2; expected 0 or 1", {100, 2}},
      // The temperature (8 bytes before the three empty histories' counts and the CRC).
      {"byte " + std::to_string(s.size() - 36) + ": temperature is -0.000000; it must be finite",
       {s.size() - 36, 0x8000000000000000}},
      {"byte " + std::to_string(s.size() - 36) + ": temperature is -1.000000",
       {s.size() - 36, 0xbff0000000000000}},
      {"byte " + std::to_string(s.size() - 36) + ": temperature is inf",
       {s.size() - 36, 0x7ff0000000000000}},
      {"byte " + std::to_string(s.size() - 36) + ": temperature is nan",
       {s.size() - 36, 0x7ff8000000000000}},
      // A history whose length is neither 0 nor H = 0 (the file ends too soon for its values,
      // but the count is what is wrong).
      {"byte " + std::to_string(s.size() - 20) +
           ": the validation loss history has length 1; expected 0 or the loss history's 0",
       {s.size() - 20, 0x0100000000000001}}};
  for (const auto& [expected, patch] : cases) {
    const int width = patch.second > 0xffff ? 8 : patch.first == 50 ? 2 : 4;
    if (patch.second == 0x0100000000000001) {  // the count 1, as 8 bytes
      EXPECT_TRUE(contains(patched_error(s, patch.first, 1, 8), expected)) << expected;
      continue;
    }
    const std::string msg = patched_error(s, patch.first, patch.second, width);
    EXPECT_TRUE(contains(msg, expected)) << msg;
  }
}

TEST_F(ModelIo, FeatureNamesAndParametersRoundTrip) {
  const std::map<std::string, std::string> params = {
      {"class_weight[caf\xc3\xa9]", "2"}, {"l2", "1.0000000000000001e-05"}, {"solver", "auto"}};
  const auto model = make_model(3, {"a", "b"}, Scaling::standard, 4, 15,
                                {"petal length", "caf\xc3\xa9", "x,y"}, params);
  saved(model);
  const auto back = softreg::load_model(file("m.srm"));
  expect_identical(model, back);
  EXPECT_EQ(back.feature_names(), (std::vector<std::string>{"petal length", "caf\xc3\xa9", "x,y"}));
  EXPECT_EQ(back.info().parameters, params);
}

TEST_F(ModelIo, VersionTwoFilesStillLoadWithTemperatureOne) {
  // A version 2 file is a version 3 file without the temperature and the three histories.
  const auto model = make_model(2, {"a", "b", "c"}, Scaling::minmax, 3, 16, {"u", "v"});
  const std::string s = saved(calibrated(model, 3.5, true));
  std::string v2 = s.substr(0, s.size() - 4 - 8 - 3 * (8 + 24));
  put_le(v2, 8, 2, 4);
  v2.resize(v2.size() + 4);
  put_le(v2, v2.size() - 4, crc_of(v2, v2.size() - 4), 4);
  write_bytes(file("v2.srm"), v2);
  const auto back = softreg::load_model(file("v2.srm"));
  expect_identical(model, back);
  EXPECT_EQ(back.temperature(), 1.0);
  EXPECT_TRUE(back.info().accuracy_history.empty());
  // Version 3 keeps them.
  EXPECT_EQ(softreg::load_model(file("m.srm")).temperature(), 3.5);
  EXPECT_EQ(softreg::load_model(file("m.srm")).info().valid_loss_history.size(), 3u);
}

TEST_F(ModelIo, HistoriesOfTheWrongLengthAreNotSaved) {
  auto info = make_model(2, {"a", "b"}, Scaling::none, 3, 30).info();
  info.valid_accuracy_history = {0.5};
  const SoftmaxRegression m({"a", "b"}, 1, {1.0, 2.0}, {0.0, 0.0}, {}, info);
  try {
    softreg::save_model(m, file("bad.srm"));
    ADD_FAILURE() << "saved a history of 1 value beside a loss history of 3";
  } catch (const softreg::InvalidArgument& e) {
    EXPECT_TRUE(contains(e.what(),
                         "valid_accuracy_history has 1 entries; expected 0 or the "
                         "loss history's 3"))
        << e.what();
  }
  EXPECT_EQ(listing(), std::vector<std::string>{});
}

TEST_F(ModelIo, VersionOneFilesStillLoad) {
  // A version 1 file is a version 3 file without the two counts of version 2 and the
  // temperature and history counts of version 3 before the checksum.
  const auto model = make_model(2, {"a", "b", "c"}, Scaling::minmax, 3, 16);
  std::string s = saved(model);
  std::string v1 = s.substr(0, s.size() - 52);
  put_le(v1, 8, 1, 4);
  v1.resize(v1.size() + 4);
  put_le(v1, v1.size() - 4, crc_of(v1, v1.size() - 4), 4);
  write_bytes(file("v1.srm"), v1);
  expect_identical(model, softreg::load_model(file("v1.srm")));
  EXPECT_EQ(softreg::load_model(file("v1.srm")).temperature(), 1.0);
}

TEST_F(ModelIo, BadFeatureNamesAndParametersAreReported) {
  const std::string s = saved(
      make_model(2, {"a", "b"}, Scaling::none, 0, 17, {"p", "q"}, {{"k1", "v"}, {"k2", "w"}}));
  // ... [8: F = 2][4: 1]["p"][4: 1]["q"][8: P = 2][4: 2]["k1"][4: 1]["v"][4: 2]["k2"][4:
  // 1]["w"][crc]
  const std::size_t f_at = s.size() - 4 - 32 - 48;
  EXPECT_TRUE(contains(patched_error(s, f_at, 1, 8),
                       "byte " + std::to_string(f_at) + ": feature name count 1 with d = 2"));
  EXPECT_TRUE(
      contains(patched_error(s, f_at + 17, 'p', 1), "byte " + std::to_string(f_at) +
                                                        ": softreg::SoftmaxRegression: feature "
                                                        "name 1 \"p\" repeats feature name 0"));
  std::string empty_name = s;  // "q" becomes ""
  empty_name.erase(f_at + 17, 1);
  EXPECT_TRUE(contains(patched_error(empty_name, f_at + 13, 0, 4), "feature name 1 is empty"));
  EXPECT_TRUE(contains(
      patched_error(s, f_at + 42, '1', 1),
      "byte " + std::to_string(f_at + 37) + ": parameter name \"k1\" is out of order or repeats"));
}

/// An independent reading of the zip structure: the end record, the central directory, each
/// local header agreeing with it, stored (method 0) data and a matching CRC-32.
std::map<std::string, std::string> parse_zip(const std::string& z) {
  std::map<std::string, std::string> out;
  EXPECT_GE(z.size(), 22u);
  if (z.size() < 22) return out;
  const std::size_t end = z.size() - 22;
  EXPECT_EQ(le(z, end, 4), 0x06054b50u);
  const std::size_t count = le(z, end + 10, 2), dir_size = le(z, end + 12, 4);
  std::size_t at = le(z, end + 16, 4);
  EXPECT_EQ(at + dir_size, end);
  EXPECT_EQ(le(z, end + 8, 2), count);
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(le(z, at, 4), 0x02014b50u);
    EXPECT_EQ(le(z, at + 10, 2), 0u);  // stored
    const std::uint32_t crc = static_cast<std::uint32_t>(le(z, at + 16, 4));
    const std::size_t size = le(z, at + 20, 4), name_len = le(z, at + 28, 2);
    EXPECT_EQ(le(z, at + 24, 4), size);
    const std::size_t local = le(z, at + 42, 4);
    const std::string name = z.substr(at + 46, name_len);
    at += 46 + name_len + le(z, at + 30, 2) + le(z, at + 32, 2);
    EXPECT_EQ(le(z, local, 4), 0x04034b50u) << name;
    EXPECT_EQ(le(z, local + 8, 2), 0u) << name;
    EXPECT_EQ(std::tuple(le(z, local + 14, 4), le(z, local + 18, 4), le(z, local + 22, 4)),
              std::tuple(std::uint64_t{crc}, size, size))
        << name;
    EXPECT_EQ(z.substr(local + 30, le(z, local + 26, 2)), name);
    const std::size_t data_at = local + 30 + name_len + le(z, local + 28, 2);
    out[name] = z.substr(data_at, size);
    EXPECT_EQ(crc_of(out[name], out[name].size()), crc) << name;
  }
  EXPECT_EQ(at, end);
  return out;
}

/// The header dict of a .npy v1.0 file (checked for magic, alignment and newline), and its data.
std::pair<std::string, std::string> parse_npy(const std::string& npy) {
  EXPECT_EQ(npy.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t len = le(npy, 8, 2);
  EXPECT_EQ((10 + len) % 64, 0u);
  EXPECT_EQ(npy.at(9 + len), '\n');
  std::string dict = npy.substr(10, len);
  dict.erase(dict.find_last_not_of(" \n") + 1);
  return {dict, npy.substr(10 + len)};
}

/// What coef.npy and intercept.npy should hold: the folded W transposed to (K, d), and b.
std::pair<std::vector<double>, std::vector<double>> folded(const SoftmaxRegression& m) {
  std::vector<double> w, b, coef;
  m.folded_weights(w, b);
  for (std::size_t c = 0; c < m.n_classes(); ++c) {
    for (std::size_t j = 0; j < m.n_features(); ++j) coef.push_back(w[j * m.n_classes() + c]);
  }
  return {coef, b};
}

TEST_F(NpzExport, ArchiveHoldsTheFoldedWeightsAndUnicodeClasses) {
  const std::vector<std::string> labels = {"b", "caf\xc3\xa9", "\xe6\x97\xa5\xf0\x9f\x90\x88"};
  const auto model = make_model(3, labels, Scaling::standard, 0, 20);
  softreg::export_npz(model, file("m.npz"));
  EXPECT_EQ(listing(), std::vector<std::string>{"m.npz"});
  const auto zip = parse_zip(read_bytes(file("m.npz")));
  ASSERT_EQ(zip.size(), 3u);
  const auto [coef_dict, coef] = parse_npy(zip.at("coef.npy"));
  EXPECT_EQ(coef_dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 3), }");
  EXPECT_EQ(coef, f64_bytes(folded(model).first));
  const auto [b_dict, intercept] = parse_npy(zip.at("intercept.npy"));
  EXPECT_EQ(b_dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }");
  EXPECT_EQ(intercept, f64_bytes(folded(model).second));
  const auto [c_dict, classes] = parse_npy(zip.at("classes.npy"));
  EXPECT_EQ(c_dict, "{'descr': '<U4', 'fortran_order': False, 'shape': (3,), }");
  const std::vector<std::uint32_t> expected = {'b', 0,    0,      0,       'c', 'a',
                                               'f', 0xe9, 0x65e5, 0x1f408, 0,   0};
  ASSERT_EQ(classes.size(), 4 * expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(le(classes, 4 * i, 4), expected[i]);
}

TEST_F(NpzExport, IntegerClassesAreInt64OnlyInCanonicalSpelling) {
  softreg::export_npz(make_model(2, {"-3", "0", "12"}, Scaling::none, 0, 21), file("i.npz"));
  const auto [dict, data] = parse_npy(parse_zip(read_bytes(file("i.npz"))).at("classes.npy"));
  EXPECT_EQ(dict, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }");
  EXPECT_EQ(std::tuple(data.size(), le(data, 0, 8), le(data, 8, 8), le(data, 16, 8)),
            std::tuple(24u, std::uint64_t(-3), 0u, 12u));
  // "07" as 7 would no longer print as the label it is.
  softreg::export_npz(make_model(2, {"07", "1"}, Scaling::none, 0, 22), file("s.npz"));
  EXPECT_EQ(parse_npy(parse_zip(read_bytes(file("s.npz"))).at("classes.npy")).first,
            "{'descr': '<U2', 'fortran_order': False, 'shape': (2,), }");
}

TEST_F(NpzExport, ExportIsAtomicAndReportsErrors) {
  const auto model = make_model(2, {"a", "b"}, Scaling::none, 0, 23);
  EXPECT_THROW(softreg::export_npz(model, file("missing/m.npz")), softreg::IoError);
  // Not UTF-8: a stray byte, an encoded surrogate, an overlong '/', a truncated sequence.
  for (const std::string label : {"\xff", "\xed\xa0\x80", "\xc0\xaf", "\xe6\x97"}) {
    EXPECT_THROW(
        softreg::export_npz(make_model(2, {"a", label}, Scaling::none, 0, 24), file("m.npz")),
        softreg::InvalidArgument);
  }
  EXPECT_TRUE(listing().empty());
}

constexpr const char* kNumpyCheck = R"(import sys
import numpy as np
npz, side = sys.argv[1], sys.argv[2]
lines = open(side, encoding='utf-8').read().split('\n')
k, d, n = map(int, lines[0].split())
row = lambda i, t=float: np.array([t(v) for v in lines[i].split()])
coef, intercept, dtype, labels = row(1).reshape(k, d), row(2), lines[3], lines[4:4 + k]
x, pred = row(4 + k).reshape(n, d), row(5 + k, int)
with np.load(npz, allow_pickle=False) as z:
    assert sorted(z.files) == ['classes', 'coef', 'intercept'], z.files
    c, b, cl = z['coef'], z['intercept'], z['classes']
assert (c.dtype, c.shape, b.dtype, b.shape) == (np.float64, (k, d), np.float64, (k,))
assert np.array_equal(c, coef) and np.array_equal(b, intercept), 'values differ'
assert str(cl.dtype) == dtype and [str(v) for v in cl.tolist()] == labels, cl
assert np.array_equal(np.argmax(x @ c.T + b, axis=1), pred), 'predictions differ'
)";

// The interpreter with NumPy: $SOFTREG_TEST_PYTHON (ctest sets the build's), else python3.
std::string numpy_python() {
  const char* given = std::getenv("SOFTREG_TEST_PYTHON");
  return given != nullptr && *given != '\0' ? given : "python3";
}

TEST_F(NpzExport, NumpyLoadsTheArchiveAndReproducesPredict) {
  const std::string python = numpy_python();
  if (std::system((python + " -c 'import numpy' 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << python << " with numpy is not available (set SOFTREG_TEST_PYTHON)";
  }
  write_bytes(file("check.py"), kNumpyCheck);
  const std::vector<std::tuple<std::vector<std::string>, Scaling, std::string>> cases = {
      {{"apple", "b\xc3\xa4r", "\xe6\x97\xa5\xe6\x9c\xac", "z z"}, Scaling::standard, "<U5"},
      {{"-5", "2", "9000000000"}, Scaling::minmax, "int64"}};
  for (const auto& [labels, kind, dtype] : cases) {
    const auto model = make_model(4, labels, kind, 0, labels.size());
    softreg::export_npz(model, file("m.npz"));
    softreg::DenseMatrix<double> x(50, 4);
    std::mt19937_64 rng(labels.size() + 100);
    std::normal_distribution<double> normal(0.0, 3.0);
    for (auto& v : x.data) v = normal(rng);
    const auto pred = model.predict(softreg::FeatureMatrix<double>(x));
    // %.17g text round-trips every double exactly through Python's float().
    std::ostringstream side;
    side.precision(17);
    const auto line = [&side](const auto& values) {
      for (const auto& v : values) side << v << ' ';
      side << '\n';
    };
    line(std::vector<std::size_t>{labels.size(), 4, x.rows});
    line(folded(model).first);
    line(folded(model).second);
    side << dtype << '\n';
    for (const auto& l : labels) side << l << '\n';
    line(x.data);
    line(pred);
    write_bytes(file("side.txt"), side.str());
    const std::string cmd = python + " " + file("check.py") + " " + file("m.npz") + " " +
                            file("side.txt") + " > " + file("out.txt") + " 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << read_bytes(file("out.txt"));
  }
}

}  // namespace
