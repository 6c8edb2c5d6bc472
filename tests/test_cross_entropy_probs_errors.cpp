// cross_entropy_from_probs (the seed's clipped -log p) against the long-double oracle, and the
// cross-entropy functions' argument errors: each names the argument and the row or size.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "ce_oracle.hpp"
#include "softreg/error.hpp"
#include "softreg/loss.hpp"
#include "softreg/shape.hpp"

namespace {

using ce_oracle::ld;
using softreg::Reduction;

template <class T>
class CrossEntropyFromProbs : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CrossEntropyFromProbs, FloatTypes);

// ---- the clipped-probability form from the seed.

TYPED_TEST(CrossEntropyFromProbs, IsMinusLogPInsideTheClip) {
  using T = TypeParam;
  constexpr std::size_t rows = 20, k = 7;
  std::mt19937_64 rng(3);
  const auto z = ce_oracle::random_logits<T>(rows * k, rng);
  const auto target = ce_oracle::random_targets(rows, k, rng);
  std::vector<T> probs(rows * k);
  for (std::size_t r = 0; r < rows; ++r) {
    ld s = 0;
    for (std::size_t j = 0; j < k; ++j) s += std::exp(static_cast<ld>(z[r * k + j]));
    for (std::size_t j = 0; j < k; ++j) {
      probs[r * k + j] = static_cast<T>(std::exp(static_cast<ld>(z[r * k + j])) / s);
    }
  }
  std::vector<T> row_losses(rows);
  const double sum = softreg::cross_entropy_from_probs(
      std::span<const T>(probs), softreg::Shape{rows, k}, std::span<const std::int64_t>(target),
      1e-15, Reduction::sum, std::span<T>(row_losses));
  const double mean = softreg::cross_entropy_from_probs(
      std::span<const T>(probs), softreg::Shape{rows, k}, std::span<const std::int64_t>(target));
  ld want_sum = 0, tol_sum = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    const ld p = probs[r * k + static_cast<std::size_t>(target[r])];
    ASSERT_GE(p, 1e-15L);
    const ld want = -std::log(p);
    const ld tol = ce_oracle::Tol<T>::loss * (1 + want);
    want_sum += want;
    tol_sum += tol;
    EXPECT_NEAR(row_losses[r], static_cast<double>(want), static_cast<double>(tol)) << r;
  }
  EXPECT_NEAR(sum, static_cast<double>(want_sum), static_cast<double>(tol_sum));
  EXPECT_NEAR(mean, static_cast<double>(want_sum / rows), static_cast<double>(tol_sum / rows));
}

TYPED_TEST(CrossEntropyFromProbs, ClipsToEps) {
  using T = TypeParam;
  // Rows [p, 1 - p] with target 0: the loss is -log(clip(p, eps, 1 - eps)).
  for (double eps : {1e-15, 0.1}) {
    SCOPED_TRACE(eps);
    const std::vector<double> ps{0.0, 0.05, 0.1, 0.5, 0.9, 0.95, 1.0};
    std::vector<T> probs;
    for (double p : ps) {
      probs.push_back(static_cast<T>(p));
      probs.push_back(static_cast<T>(1 - p));
    }
    const std::vector<std::int64_t> target(ps.size(), 0);
    std::vector<T> row_losses(ps.size());
    const double none = softreg::cross_entropy_from_probs(
        std::span<const T>(probs), softreg::Shape{ps.size(), 2},
        std::span<const std::int64_t>(target), eps, Reduction::none, std::span<T>(row_losses));
    ld total = 0;
    for (std::size_t r = 0; r < ps.size(); ++r) {
      const ld clipped =
          std::clamp(static_cast<ld>(probs[2 * r]), static_cast<ld>(eps), 1 - static_cast<ld>(eps));
      const ld want = -std::log(clipped);
      total += want;
      EXPECT_TRUE(std::isfinite(row_losses[r])) << r;
      EXPECT_NEAR(row_losses[r], static_cast<double>(want),
                  static_cast<double>(ce_oracle::Tol<T>::loss * (1 + want)))
          << "p " << ps[r];
    }
    EXPECT_NEAR(row_losses[0], -std::log(eps), 1e-6 * -std::log(eps));
    EXPECT_NEAR(none, static_cast<double>(total), 1e-5);
  }
}

// ---- invalid arguments.

template <class F>
std::string invalid_argument_message(F&& f) {
  try {
    f();
  } catch (const softreg::InvalidArgument& e) {
    return e.what();
  }
  return "<no InvalidArgument thrown>";
}

TEST(CrossEntropyErrors, TargetOutOfRangeNamesTheRow) {
  constexpr std::size_t rows = 40, k = 3;
  const std::vector<double> logits(rows * k, 0.5);
  std::vector<double> grad(rows * k);
  for (std::int64_t bad : {std::int64_t{3}, std::int64_t{-1}, std::int64_t{1000}}) {
    std::vector<std::int64_t> target(rows, 1);
    target[37] = bad;
    const std::string msg = invalid_argument_message([&] {
      softreg::cross_entropy(std::span<const double>(logits), softreg::Shape{rows, k},
                             std::span<const std::int64_t>(target));
    });
    EXPECT_NE(msg.find("37"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cross_entropy"), std::string::npos) << msg;
    EXPECT_THROW(softreg::cross_entropy_with_grad(
                     std::span<double>(grad), std::span<const double>(logits),
                     softreg::Shape{rows, k}, std::span<const std::int64_t>(target)),
                 softreg::InvalidArgument);
    EXPECT_THROW(
        softreg::cross_entropy_from_probs(std::span<const double>(logits), softreg::Shape{rows, k},
                                          std::span<const std::int64_t>(target)),
        softreg::InvalidArgument);
  }
  // With a custom ignore_index, -100 is an ordinary out-of-range label.
  std::vector<std::int64_t> target(rows, -100);
  softreg::CrossEntropyOptions<double> opt;
  opt.ignore_index = -1;
  EXPECT_THROW(softreg::cross_entropy(std::span<const double>(logits), softreg::Shape{rows, k},
                                      std::span<const std::int64_t>(target), opt),
               softreg::InvalidArgument);
}

TEST(CrossEntropyErrors, BadClassWeights) {
  const std::vector<float> logits(6, 0.0f);
  const std::vector<std::int64_t> target{0, 2};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<std::vector<float>> bad{
      {1, -0.5f, 1}, {1, nan, 1}, {inf, 1, 1}, {1, 1}, {1, 1, 1, 1}};
  for (const auto& w : bad) {
    softreg::CrossEntropyOptions<float> opt;
    opt.class_weights = w;
    EXPECT_THROW(softreg::cross_entropy(std::span<const float>(logits), softreg::Shape{2, 3},
                                        std::span<const std::int64_t>(target), opt),
                 softreg::InvalidArgument)
        << w.size();
    EXPECT_THROW(softreg::cross_entropy(std::span<const float>(logits), softreg::Shape{2, 3},
                                        std::span<const float>(logits), opt),
                 softreg::InvalidArgument);
  }
}

TEST(CrossEntropyErrors, SmoothingOutsideUnitInterval) {
  const std::vector<double> logits(6, 0.0);
  const std::vector<std::int64_t> target{0, 2};
  for (double eps : {-0.1, 1.1, std::numeric_limits<double>::quiet_NaN()}) {
    softreg::CrossEntropyOptions<double> opt;
    opt.label_smoothing = eps;
    EXPECT_THROW(softreg::cross_entropy(std::span<const double>(logits), softreg::Shape{2, 3},
                                        std::span<const std::int64_t>(target), opt),
                 softreg::InvalidArgument)
        << eps;
  }
}

TEST(CrossEntropyErrors, SizeMismatchesAndMissingRowLosses) {
  const std::vector<double> logits(6, 0.0), short_logits(5, 0.0);
  const std::vector<std::int64_t> target{0, 2}, short_target{0}, long_target{0, 1, 2};
  const std::vector<double> probs(6, 1.0 / 3), short_probs(5, 1.0 / 3);
  std::vector<double> short_rows(1), grad(6), short_grad(5);
  const softreg::Shape shape{2, 3};
  using I = std::span<const std::int64_t>;
  using D = std::span<const double>;
  EXPECT_THROW(softreg::cross_entropy(D(short_logits), shape, I(target)), softreg::InvalidArgument);
  EXPECT_THROW(softreg::cross_entropy(D(logits), shape, I(short_target)), softreg::InvalidArgument);
  EXPECT_THROW(softreg::cross_entropy(D(logits), shape, I(long_target)), softreg::InvalidArgument);
  EXPECT_THROW(softreg::cross_entropy(D(logits), shape, D(short_probs)), softreg::InvalidArgument);
  EXPECT_THROW(
      softreg::cross_entropy(D(logits), shape, I(target), {}, std::span<double>(short_rows)),
      softreg::InvalidArgument);
  EXPECT_THROW(
      softreg::cross_entropy_with_grad(std::span<double>(short_grad), D(logits), shape, I(target)),
      softreg::InvalidArgument);
  EXPECT_THROW(softreg::cross_entropy_from_probs(D(short_probs), shape, I(target)),
               softreg::InvalidArgument);
  softreg::CrossEntropyOptions<double> opt;
  opt.reduction = Reduction::none;
  EXPECT_THROW(softreg::cross_entropy(D(logits), shape, I(target), opt), softreg::InvalidArgument);
  EXPECT_THROW(softreg::cross_entropy(D(logits), shape, D(probs), opt), softreg::InvalidArgument);
  EXPECT_THROW(
      softreg::cross_entropy_with_grad(std::span<double>(grad), D(logits), shape, I(target), opt),
      softreg::InvalidArgument);
  for (double eps : {0.0, 0.5, -1e-3, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_THROW(softreg::cross_entropy_from_probs(D(probs), shape, I(target), eps),
                 softreg::InvalidArgument)
        << eps;
  }
  for (int axis : {2, -3}) {
    opt.reduction = Reduction::mean;
    opt.class_axis = axis;
    EXPECT_THROW(softreg::cross_entropy(D(logits), shape, I(target), opt), softreg::InvalidArgument)
        << axis;
  }
}

}  // namespace
