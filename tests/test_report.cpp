// Tests of the HTML report (report_html, write_report) and its PNG images.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "report/png.hpp"
#include "softreg/error.hpp"
#include "softreg/metrics.hpp"
#include "softreg/report.hpp"

namespace {

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++n;
  }
  return n;
}

/// A 3-class model on 4 x 4 "images" (16 features), data of n rows and their labels.
struct Fixture {
  softreg::SoftmaxRegression model;
  softreg::FeatureMatrix<double> x;
  std::vector<std::int64_t> y;
};

Fixture fixture(double temperature, bool histories) {
  const std::size_t d = 16, k = 3, n = 90;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> w(d * k), b(k, 0.0);
  for (auto& v : w) v = normal(rng);
  softreg::TrainingInfo info;
  info.solver = softreg::Solver::lbfgs;
  info.iterations = 5;
  info.loss_history = {1.0, 0.8, 0.7, 0.65, 0.6};
  if (histories) {
    info.accuracy_history = {0.5, 0.6, 0.7, 0.72, 0.75};
    info.valid_loss_history = {1.1, 0.9, 0.85, 0.8, 0.82};
    info.valid_accuracy_history = {0.45, 0.55, 0.6, 0.61, 0.6};
  }
  Fixture f{softreg::SoftmaxRegression({"cat", "dog", "<b>&"}, d, w, b, {}, info, {}, temperature),
            softreg::DenseMatrix<double>(n, d),
            {}};
  auto& m = std::get<softreg::DenseMatrix<double>>(f.x);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (auto& v : m.data) v = unit(rng);
  for (std::size_t i = 0; i < n; ++i) f.y.push_back(std::int64_t(i % k));
  return f;
}

TEST(Report, HoldsEveryChartAndTheNumbers) {
  const Fixture f = fixture(1.7, true);
  softreg::ReportOptions o;
  o.model_name = "m.srm";
  o.data_name = "data & more.csv";
  o.image_height = 4;
  o.image_width = 4;
  o.max_images = 5;
  const std::string html = softreg::report_html(f.model, f.x, f.y, o);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  // Self-contained: no scripts, no external resources.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http:"), std::string::npos);
  EXPECT_EQ(html.find("https:"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  for (const char* part :
       {"<svg class=\"curve loss\"", "<svg class=\"curve accuracy\"", "<svg class=\"confusion\"",
        "<svg class=\"reliability before\"", "<svg class=\"reliability after\"",
        "<table class=\"per-class\"", "<path class=\"train\"", "<path class=\"valid\"",
        "<line class=\"diagonal\"", "@media print", "viewBox=", "data &amp; more.csv",
        "&lt;b&gt;&amp;", "After calibration (T = 1.7)"}) {
    EXPECT_NE(html.find(part), std::string::npos) << part;
  }
  // Two paths per curve chart, a cell per confusion entry, a figure per wrong image (5 at most).
  EXPECT_EQ(count_of(html, "<path class=\"train\""), 2u);
  EXPECT_EQ(count_of(html, "<path class=\"valid\""), 2u);
  EXPECT_EQ(count_of(html, "<rect class=\"cell"), 9u);
  EXPECT_EQ(count_of(html, "<figure class=\"wrong\""), 5u);
  EXPECT_EQ(count_of(html, "src=\"data:image/png;base64,iVBORw0KGgo"), 5u);
  EXPECT_GE(count_of(html, "<rect class=\"bar\""), 2u);
  // The summary's numbers are the evaluation's.
  std::vector<double> logp(90 * 3);
  f.model.predict_log_proba(f.x, std::span<double>(logp));
  const auto e = softreg::evaluate_predictions(std::span<const double>(logp), 3, f.y, 15);
  char want[96];
  std::snprintf(want, sizeof want, "data-metric=\"accuracy\" data-value=\"%.17g\">%.4f<",
                e.accuracy, e.accuracy);
  EXPECT_NE(html.find(want), std::string::npos) << want;
  std::snprintf(want, sizeof want, "data-metric=\"ece_after\" data-value=\"%.17g\"",
                e.calibration.ece);
  EXPECT_NE(html.find(want), std::string::npos) << want;
  // Deterministic.
  EXPECT_EQ(html, softreg::report_html(f.model, f.x, f.y, o));
}

TEST(Report, UncalibratedModelsAndMissingHistories) {
  const Fixture f = fixture(1.0, false);
  const std::string html = softreg::report_html(f.model, f.x, f.y);
  EXPECT_NE(html.find("<svg class=\"reliability before\""), std::string::npos);
  EXPECT_EQ(html.find("<svg class=\"reliability after\""), std::string::npos);
  EXPECT_NE(html.find("not calibrated"), std::string::npos);
  EXPECT_EQ(count_of(html, "<path class=\"train\""), 1u);  // the loss only
  EXPECT_EQ(html.find("<path class=\"valid\""), std::string::npos);
  EXPECT_NE(html.find("not recorded"), std::string::npos);
  EXPECT_EQ(html.find("<figure"), std::string::npos);
}

TEST(Report, ErrorsAndAtomicWrite) {
  const Fixture f = fixture(1.0, true);
  softreg::ReportOptions o;
  o.image_height = 5;
  o.image_width = 4;  // 20 pixels, the rows have 16
  EXPECT_THROW(softreg::report_html(f.model, f.x, f.y, o), softreg::InvalidArgument);
  o.image_height = 4;
  const std::vector<double> few(10);
  EXPECT_THROW(softreg::report_html(f.model, f.x, f.y, o, few), softreg::InvalidArgument);
  std::vector<std::int64_t> short_y(f.y.begin(), f.y.end() - 1);
  EXPECT_THROW(softreg::report_html(f.model, f.x, short_y), softreg::InvalidArgument);
  softreg::ReportOptions names;
  names.class_names = {"a", "b"};
  EXPECT_THROW(softreg::report_html(f.model, f.x, f.y, names), softreg::InvalidArgument);
  const auto dir = std::filesystem::temp_directory_path() / "softreg_report_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "r.html").string();
  softreg::write_report(path, f.model, f.x, f.y, o);
  std::ifstream in(path);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_EQ(text, softreg::report_html(f.model, f.x, f.y, o));
  EXPECT_THROW(softreg::write_report((dir / "no/such/dir.html").string(), f.model, f.x, f.y, o),
               softreg::IoError);
  std::filesystem::remove_all(dir);
}

std::uint32_t be32(const std::string& s, std::size_t at) {
  return std::uint32_t(std::uint8_t(s[at])) << 24 | std::uint32_t(std::uint8_t(s[at + 1])) << 16 |
         std::uint32_t(std::uint8_t(s[at + 2])) << 8 | std::uint8_t(s[at + 3]);
}

TEST(ReportPng, ChunksCrcsAndPixelsDecode) {
  const std::vector<unsigned char> pixels = {0, 64, 128, 255, 1, 2, 3, 4};  // 2 rows of 4
  const std::string png = softreg::detail::png_gray(pixels, 2, 4);
  ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::size_t at = 8;
  std::string idat;
  std::vector<std::string> types;
  while (at < png.size()) {
    const std::uint32_t len = be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    types.push_back(type);
    const std::string body = png.substr(at + 4, 4 + len);
    EXPECT_EQ(be32(png, at + 8 + len),
              crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size())))
        << type;
    if (type == "IHDR") {
      EXPECT_EQ(std::make_pair(be32(png, at + 8), be32(png, at + 12)), std::make_pair(4u, 2u));
      EXPECT_EQ(png.substr(at + 16, 5), std::string("\x08\0\0\0\0", 5));
    }
    if (type == "IDAT") idat += png.substr(at + 8, len);
    at += 12 + len;
  }
  EXPECT_EQ(types, (std::vector<std::string>{"IHDR", "IDAT", "IEND"}));
  std::vector<unsigned char> raw(10);
  uLongf raw_size = raw.size();
  ASSERT_EQ(uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(idat.data()),
                       uLong(idat.size())),
            Z_OK);
  EXPECT_EQ(raw, (std::vector<unsigned char>{0, 0, 64, 128, 255, 0, 1, 2, 3, 4}));
  EXPECT_EQ(softreg::detail::base64("Man"), "TWFu");
  EXPECT_EQ(softreg::detail::base64("Ma"), "TWE=");
  EXPECT_EQ(softreg::detail::base64("M"), "TQ==");
  EXPECT_EQ(softreg::detail::base64(""), "");
  EXPECT_THROW(softreg::detail::png_gray(pixels, 3, 4), softreg::InvalidArgument);
}

}  // namespace
