// cross_entropy against the long-double oracle: the sweep over sizes and options, class axes,
// one-hot targets, ignore_index, extreme and non-finite logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "ce_oracle.hpp"
#include "softreg/error.hpp"
#include "softreg/loss.hpp"
#include "softreg/shape.hpp"

namespace {

using ce_oracle::ld;
using softreg::Reduction;

constexpr Reduction kReductions[] = {Reduction::none, Reduction::sum, Reduction::mean};
constexpr double kSmoothings[] = {0.0, 0.1, 1.0};
constexpr double kInf = std::numeric_limits<double>::infinity();

struct SweepCase {
  std::size_t k;
  std::size_t rows;
};

std::vector<SweepCase> sweep_cases() {
  std::vector<SweepCase> cases;
  for (std::size_t k : {1, 2, 3, 10, 1000}) {
    for (std::size_t rows : {0, 1, 5, 64}) cases.push_back({k, rows});
  }
  for (std::size_t rows : {0, 1, 2}) cases.push_back({50257, rows});
  return cases;
}

// One sweep for both target kinds. The third option is, for index targets, every third row
// set to ignore_index; for probability targets, rows summing to 2, so that S = sum q != 1 and
// the S in S p - q and in the loss is really carried. No rows at all gives 0 for every
// reduction, Reduction::none included (docs/NUMERICS.md, EDGE_EMPTY).
template <class T>
void sweep(std::size_t k, std::size_t rows, bool probs) {
  std::mt19937_64 rng(1000 * k + rows + (probs ? 1 : 0));
  const std::vector<std::size_t> dims{rows, k};
  const softreg::Shape shape{rows, k};
  const auto logits = ce_oracle::random_logits<T>(rows * k, rng);
  const auto drawn = ce_oracle::random_targets(rows, k, rng);
  const auto weights = ce_oracle::random_weights<T>(k, rng);
  for (bool weighted : {false, true}) {
    for (double eps : kSmoothings) {
      for (bool variant : {false, true}) {
        auto index = drawn;
        if (variant) {
          for (std::size_t r = 1; r < rows; r += 3) index[r] = -100;
        }
        const auto soft = probs ? ce_oracle::random_probs<T>(dims, -1, rng, variant ? 2.0 : 1.0)
                                : std::vector<T>{};
        ce_oracle::Problem pb{dims, -1, ce_oracle::widen<T>(logits),
                              weighted ? ce_oracle::widen<T>(weights) : std::vector<ld>{}, eps};
        const auto ref = probs ? ce_oracle::reference_probs(pb, ce_oracle::widen<T>(soft))
                               : ce_oracle::reference_index(pb, index);
        for (Reduction red : kReductions) {
          SCOPED_TRACE(::testing::Message()
                       << "weighted " << weighted << " eps " << eps << " variant " << variant
                       << " reduction " << static_cast<int>(red));
          softreg::CrossEntropyOptions<T> opt;
          opt.reduction = red;
          if (weighted) opt.class_weights = weights;
          opt.label_smoothing = eps;
          auto call = [&](std::span<T> out) {
            return probs ? softreg::cross_entropy(std::span<const T>(logits), shape,
                                                  std::span<const T>(soft), opt, out)
                         : softreg::cross_entropy(std::span<const T>(logits), shape,
                                                  std::span<const std::int64_t>(index), opt, out);
          };
          std::vector<T> row_losses(rows, T(-7));
          ce_oracle::expect_loss<T>(call(row_losses), ref, red);
          ce_oracle::expect_row_losses<T>(row_losses, ref);
          // Without row_losses the result is the same (checked once per setting, to keep the
          // sweep fast; rows == 0 also covers Reduction::none with no array).
          if (red == Reduction::mean || rows == 0) ce_oracle::expect_loss<T>(call({}), ref, red);
        }
      }
    }
  }
}

// Built with a stream: GCC 12 reports a false -Wrestrict on "K" + std::to_string(...).
std::string case_name(const ::testing::TestParamInfo<SweepCase>& param_info) {
  std::ostringstream name;
  name << "K" << param_info.param.k << "_rows" << param_info.param.rows;
  return name.str();
}

class CrossEntropySweep : public ::testing::TestWithParam<SweepCase> {};

TEST_P(CrossEntropySweep, IndexTargetsFloat) {
  sweep<float>(GetParam().k, GetParam().rows, false);
}
TEST_P(CrossEntropySweep, IndexTargetsDouble) {
  sweep<double>(GetParam().k, GetParam().rows, false);
}
TEST_P(CrossEntropySweep, ProbTargetsFloat) {
  sweep<float>(GetParam().k, GetParam().rows, true);
}
TEST_P(CrossEntropySweep, ProbTargetsDouble) {
  sweep<double>(GetParam().k, GetParam().rows, true);
}

INSTANTIATE_TEST_SUITE_P(Sizes, CrossEntropySweep, ::testing::ValuesIn(sweep_cases()), case_name);

template <class T>
class CrossEntropyTyped : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CrossEntropyTyped, FloatTypes);

// (N, C, L) with class_axis 1 (and -2) must give the losses of the transposed (N, L, C)
// array along its last axis; both row numberings are n * L + l, so targets are shared.
TYPED_TEST(CrossEntropyTyped, ClassAxisOneMatchesTransposedLastAxis) {
  using T = TypeParam;
  constexpr std::size_t n = 3, c = 7, len = 5;
  std::mt19937_64 rng(42);
  const auto logits = ce_oracle::random_logits<T>(n * c * len, rng);
  const auto weights = ce_oracle::random_weights<T>(c, rng);
  const auto index = ce_oracle::random_targets(n * len, c, rng);
  const std::vector<std::size_t> dims_ncl{n, c, len};
  const auto probs = ce_oracle::random_probs<T>(dims_ncl, 1, rng);
  std::vector<T> logits_t(logits.size()), probs_t(probs.size());
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < c; ++j) {
      for (std::size_t l = 0; l < len; ++l) {
        logits_t[(i * len + l) * c + j] = logits[(i * c + j) * len + l];
        probs_t[(i * len + l) * c + j] = probs[(i * c + j) * len + l];
      }
    }
  }
  softreg::CrossEntropyOptions<T> opt;
  opt.reduction = Reduction::none;
  opt.class_weights = weights;
  opt.label_smoothing = 0.1;
  ce_oracle::Problem pb{dims_ncl, 1, ce_oracle::widen<T>(logits), ce_oracle::widen<T>(weights),
                        0.1};
  for (bool use_probs : {false, true}) {
    const auto ref = use_probs ? ce_oracle::reference_probs(pb, ce_oracle::widen<T>(probs))
                               : ce_oracle::reference_index(pb, index);
    auto loss = [&](const std::vector<T>& x, const softreg::Shape& shape, const std::vector<T>& t,
                    int axis, std::vector<T>& out) {
      opt.class_axis = axis;
      return use_probs ? softreg::cross_entropy(std::span<const T>(x), shape, std::span<const T>(t),
                                                opt, std::span<T>(out))
                       : softreg::cross_entropy(std::span<const T>(x), shape,
                                                std::span<const std::int64_t>(index), opt,
                                                std::span<T>(out));
    };
    for (int axis : {1, -2}) {
      SCOPED_TRACE(::testing::Message() << "probs " << use_probs << " axis " << axis);
      std::vector<T> rows_a(n * len), rows_b(n * len);
      ce_oracle::expect_loss<T>(loss(logits, softreg::Shape{n, c, len}, probs, axis, rows_a), ref,
                                Reduction::none);
      ce_oracle::expect_loss<T>(loss(logits_t, softreg::Shape{n, len, c}, probs_t, -1, rows_b), ref,
                                Reduction::none);
      ce_oracle::expect_row_losses<T>(rows_a, ref);
      ce_oracle::expect_row_losses<T>(rows_b, ref);
    }
  }
}

// q is identical for index c and the one-hot e_c, so the row losses agree; the means differ
// when weighted (sum w_c versus the number of rows), which is checked exactly as documented.
TYPED_TEST(CrossEntropyTyped, OneHotProbabilityTargetsEqualIndexTargets) {
  using T = TypeParam;
  constexpr std::size_t rows = 9, k = 6;
  std::mt19937_64 rng(7);
  const auto logits = ce_oracle::random_logits<T>(rows * k, rng);
  const auto index = ce_oracle::random_targets(rows, k, rng);
  const auto weights = ce_oracle::random_weights<T>(k, rng);
  std::vector<T> one_hot(rows * k, T(0));
  for (std::size_t r = 0; r < rows; ++r) one_hot[r * k + static_cast<std::size_t>(index[r])] = 1;
  const softreg::Shape shape{rows, k};
  ld weight_sum = 0;
  for (auto c : index) weight_sum += weights[static_cast<std::size_t>(c)];
  for (bool weighted : {false, true}) {
    for (double eps : kSmoothings) {
      softreg::CrossEntropyOptions<T> opt;
      if (weighted) opt.class_weights = weights;
      opt.label_smoothing = eps;
      opt.reduction = Reduction::none;
      std::vector<T> by_index(rows), by_probs(rows);
      softreg::cross_entropy(std::span<const T>(logits), shape,
                             std::span<const std::int64_t>(index), opt, std::span<T>(by_index));
      softreg::cross_entropy(std::span<const T>(logits), shape, std::span<const T>(one_hot), opt,
                             std::span<T>(by_probs));
      ce_oracle::Problem pb{{rows, k},
                            -1,
                            ce_oracle::widen<T>(logits),
                            weighted ? ce_oracle::widen<T>(weights) : std::vector<ld>{},
                            eps};
      const auto ref = ce_oracle::reference_index(pb, index);
      ce_oracle::expect_row_losses<T>(by_index, ref);
      ce_oracle::expect_row_losses<T>(by_probs, ref);

      opt.reduction = Reduction::mean;
      const double mean_index = softreg::cross_entropy(std::span<const T>(logits), shape,
                                                       std::span<const std::int64_t>(index), opt);
      const double mean_probs = softreg::cross_entropy(std::span<const T>(logits), shape,
                                                       std::span<const T>(one_hot), opt);
      const ld total = ref.loss(Reduction::sum);
      const ld tol = ce_oracle::loss_tolerance<T>(ref, Reduction::sum);
      EXPECT_NEAR(mean_index, static_cast<double>(total / (weighted ? weight_sum : rows)),
                  static_cast<double>(tol / (weighted ? weight_sum : rows)));
      EXPECT_NEAR(mean_probs, static_cast<double>(total / rows), static_cast<double>(tol / rows));
    }
  }
}

TYPED_TEST(CrossEntropyTyped, IgnoreIndexDefaultAndCustom) {
  using T = TypeParam;
  constexpr std::size_t rows = 8, k = 4;
  std::mt19937_64 rng(11);
  const auto logits = ce_oracle::random_logits<T>(rows * k, rng);
  const softreg::Shape shape{rows, k};
  // Custom value 2 is also a valid class: rows whose target is 2 are then ignored.
  const std::vector<std::int64_t> with_default{0, -100, 3, 2, -100, 1, 2, 0};
  const std::vector<std::int64_t> with_custom{0, 2, 3, 1, 2, 1, 3, 0};
  for (auto [target, ignore] :
       {std::pair{with_default, std::int64_t{-100}}, std::pair{with_custom, std::int64_t{2}}}) {
    SCOPED_TRACE(ignore);
    ce_oracle::Problem pb{{rows, k}, -1, ce_oracle::widen<T>(logits), {}, 0.1};
    const auto ref = ce_oracle::reference_index(pb, target, ignore);
    for (Reduction red : kReductions) {
      softreg::CrossEntropyOptions<T> opt;
      opt.reduction = red;
      opt.label_smoothing = 0.1;
      opt.ignore_index = ignore;
      std::vector<T> row_losses(rows, T(-7));
      const double got = softreg::cross_entropy(std::span<const T>(logits), shape,
                                                std::span<const std::int64_t>(target), opt,
                                                std::span<T>(row_losses));
      ce_oracle::expect_loss<T>(got, ref, red);
      ce_oracle::expect_row_losses<T>(row_losses, ref);
      for (std::size_t r = 0; r < rows; ++r) {
        if (target[r] == ignore) {
          EXPECT_EQ(row_losses[r], T(0)) << "row " << r;
        }
      }
    }
  }
}

// PyTorch gives NaN for a mean over nothing; loss.hpp defines it as 0.
TYPED_TEST(CrossEntropyTyped, AllIgnoredOrZeroWeightGivesZero) {
  using T = TypeParam;
  constexpr std::size_t rows = 5, k = 3;
  std::mt19937_64 rng(5);
  const auto logits = ce_oracle::random_logits<T>(rows * k, rng);
  const std::vector<std::int64_t> ignored(rows, -100);
  const std::vector<std::int64_t> target{0, 1, 2, 1, 0};
  const std::vector<T> zero_weights(k, T(0));
  for (Reduction red : kReductions) {
    softreg::CrossEntropyOptions<T> opt;
    opt.reduction = red;
    std::vector<T> row_losses(rows, T(-7));
    EXPECT_EQ(softreg::cross_entropy(std::span<const T>(logits), softreg::Shape{rows, k},
                                     std::span<const std::int64_t>(ignored), opt,
                                     std::span<T>(row_losses)),
              0.0);
    for (T v : row_losses) EXPECT_EQ(v, T(0));
    opt.class_weights = zero_weights;
    EXPECT_EQ(softreg::cross_entropy(std::span<const T>(logits), softreg::Shape{rows, k},
                                     std::span<const std::int64_t>(target), opt,
                                     std::span<T>(row_losses)),
              0.0);
  }
}

TYPED_TEST(CrossEntropyTyped, ExtremeLogitsStayFinite) {
  using T = TypeParam;
  constexpr std::size_t k = 3;
  const std::vector<T> logits{1000,  -1000,  0, 1000,   -1000, 0,     -1000,  -1000,  -1000,
                              1e30f, -1e30f, 0, -1e30f, 1e30f, 1e30f, -1e30f, -1e30f, -1e30f};
  const std::vector<std::int64_t> target{0, 1, 2, 1, 0, 2};
  const std::size_t rows = target.size();
  for (double eps : kSmoothings) {
    ce_oracle::Problem pb{{rows, k}, -1, ce_oracle::widen<T>(logits), {}, eps};
    const auto ref = ce_oracle::reference_index(pb, target);
    softreg::CrossEntropyOptions<T> opt;
    opt.label_smoothing = eps;
    opt.reduction = Reduction::none;
    std::vector<T> row_losses(rows);
    const double got = softreg::cross_entropy(std::span<const T>(logits), softreg::Shape{rows, k},
                                              std::span<const std::int64_t>(target), opt,
                                              std::span<T>(row_losses));
    EXPECT_TRUE(std::isfinite(got)) << got;
    for (T v : row_losses) EXPECT_TRUE(std::isfinite(v)) << v;
    ce_oracle::expect_loss<T>(got, ref, Reduction::none);
    ce_oracle::expect_row_losses<T>(row_losses, ref);
  }
}

TYPED_TEST(CrossEntropyTyped, NanLogitMakesItsRowNan) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> logits{1, 2, 3, nan, 0, 1, 0, 0, 0};
  const std::vector<std::int64_t> target{0, 1, 2};
  std::vector<T> row_losses(3);
  for (Reduction red : kReductions) {
    softreg::CrossEntropyOptions<T> opt;
    opt.reduction = red;
    const double got = softreg::cross_entropy(std::span<const T>(logits), softreg::Shape{3, 3},
                                              std::span<const std::int64_t>(target), opt,
                                              std::span<T>(row_losses));
    EXPECT_TRUE(std::isnan(got)) << got;
    EXPECT_TRUE(std::isnan(row_losses[1]));
    EXPECT_NEAR(row_losses[0], std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 1, 1e-6);
    EXPECT_NEAR(row_losses[2], std::log(3.0), 1e-6);
  }
}

// A -inf logit has y = -inf: with q_k = 0 it contributes 0 * (-inf) = 0, with q_k > 0 it is +inf.
TYPED_TEST(CrossEntropyTyped, MaskedClassCostsNothingWithoutTargetMass) {
  using T = TypeParam;
  const T minus_inf = -std::numeric_limits<T>::infinity();
  const std::vector<T> logits{minus_inf, 1, 2};
  const softreg::Shape shape{1, 3};
  auto index_loss = [&](std::int64_t c, double eps, std::vector<T> weights) {
    softreg::CrossEntropyOptions<T> opt;
    opt.label_smoothing = eps;
    opt.class_weights = weights;
    const std::vector<std::int64_t> target{c};
    return softreg::cross_entropy(std::span<const T>(logits), shape,
                                  std::span<const std::int64_t>(target), opt);
  };
  auto probs_loss = [&](std::vector<T> target) {
    return softreg::cross_entropy(std::span<const T>(logits), shape, std::span<const T>(target));
  };
  const double finite = std::log(std::exp(1.0) + std::exp(2.0)) - 1;
  EXPECT_NEAR(index_loss(1, 0.0, {}), finite, 1e-6);
  EXPECT_EQ(index_loss(0, 0.0, {}), kInf);
  EXPECT_EQ(index_loss(1, 0.1, {}), kInf);
  // Smoothing puts eps/K * w_0 on the masked class; a zero weight removes that mass again.
  ce_oracle::Problem pb{{1, 3}, -1, ce_oracle::widen<T>(logits), {0, 1, 1}, 0.1};
  const std::vector<std::int64_t> one{1};
  const double want =
      static_cast<double>(ce_oracle::reference_index(pb, one).loss(Reduction::mean));
  EXPECT_NEAR(index_loss(1, 0.1, {0, 1, 1}), want, 1e-6);
  EXPECT_NEAR(probs_loss({0, 1, 0}), finite, 1e-6);
  EXPECT_NEAR(probs_loss({0, 0.5, 0.5}), std::log(std::exp(1.0) + std::exp(2.0)) - 1.5, 1e-6);
  EXPECT_EQ(probs_loss({0.1f, 0.45f, 0.45f}), kInf);
}

}  // namespace
