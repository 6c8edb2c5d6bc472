// The seed's worked 3-class example end to end: Z, P, loss, P - Y, dW, db and one SGD step.
//
// The matrix products are plain loops here; softmax, the loss and dZ come from softreg. Each
// value is checked to the seed's printed precision (half a unit in the last printed digit)
// and, tightly, against the long-double oracle. Where the seed's printed digit is not the
// rounding of the exact value, the exact rounding is asserted and the comment says why.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "ce_oracle.hpp"
#include "softreg/loss.hpp"
#include "softreg/softmax.hpp"

namespace {

using ce_oracle::ld;

constexpr std::size_t kN = 2, kD = 3, kK = 3;
using Rows = std::array<std::array<double, kK>, kN>;    // (n, K)
using Params = std::array<std::array<double, kK>, kD>;  // (d, K)

constexpr std::array<std::array<double, kD>, kN> kX{{{1.0, 0.5, -0.5}, {0.2, -0.3, 0.8}}};
constexpr Params kW{{{0.1, 0.2, 0.3}, {0.4, -0.1, 0.2}, {-0.2, 0.3, 0.1}}};
constexpr std::array<double, kK> kB{0.0, 0.1, -0.1};
constexpr std::array<std::int64_t, kN> kLabels{0, 2};
constexpr double kAlpha = 0.1;

template <class T>
struct Pass {
  std::vector<T> z, p, dz, row_losses;
  double loss = 0;
  Params dw{};
  std::array<double, kK> db{};
  Params w_new{};
  std::array<double, kK> b_new{};
};

template <class T>
Pass<T> run() {
  Pass<T> r;
  r.z.assign(kN * kK, T(0));
  for (std::size_t i = 0; i < kN; ++i) {
    for (std::size_t k = 0; k < kK; ++k) {
      double acc = kB[k];
      for (std::size_t j = 0; j < kD; ++j) acc += kX[i][j] * kW[j][k];
      r.z[i * kK + k] = static_cast<T>(acc);
    }
  }
  const softreg::Shape shape{kN, kK};
  r.p.assign(kN * kK, T(0));
  softreg::softmax(std::span<T>(r.p), std::span<const T>(r.z), shape);
  r.dz.assign(kN * kK, T(0));
  r.row_losses.assign(kN, T(0));
  r.loss = softreg::cross_entropy_with_grad(std::span<T>(r.dz), std::span<const T>(r.z), shape,
                                            std::span<const std::int64_t>(kLabels), {},
                                            std::span<T>(r.row_losses));
  // dW = X^T dZ and db = sum over rows of dZ; dZ already carries the 1/n of the mean.
  for (std::size_t j = 0; j < kD; ++j) {
    for (std::size_t k = 0; k < kK; ++k) {
      for (std::size_t i = 0; i < kN; ++i) r.dw[j][k] += kX[i][j] * r.dz[i * kK + k];
      r.w_new[j][k] = kW[j][k] - kAlpha * r.dw[j][k];
    }
  }
  for (std::size_t k = 0; k < kK; ++k) {
    for (std::size_t i = 0; i < kN; ++i) r.db[k] += r.dz[i * kK + k];
    r.b_new[k] = kB[k] - kAlpha * r.db[k];
  }
  return r;
}

template <class T>
class WorkedExample : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(WorkedExample, FloatTypes);

// Rounding of the float pipeline (about 1e-7) is far below every printed half unit.
constexpr double kHalf2 = 0.005;   // two printed decimals
constexpr double kHalf3 = 0.0005;  // three printed decimals

TYPED_TEST(WorkedExample, LogitsAndProbabilities) {
  const auto r = run<TypeParam>();
  const Rows z_seed{{{0.40, 0.10, 0.25}, {-0.26, 0.41, -0.02}}};
  const Rows p_seed{{{0.384, 0.285, 0.331}, {0.237, 0.462, 0.301}}};
  for (std::size_t i = 0; i < kN; ++i) {
    for (std::size_t k = 0; k < kK; ++k) {
      EXPECT_NEAR(r.z[i * kK + k], z_seed[i][k], kHalf2) << i << "," << k;
      EXPECT_NEAR(r.p[i * kK + k], p_seed[i][k], kHalf3) << i << "," << k;
    }
  }
}

TYPED_TEST(WorkedExample, LossIs1079) {
  const auto r = run<TypeParam>();
  EXPECT_NEAR(r.loss, 1.079, kHalf3);
  // The seed prints log P = -0.957 and -1.201, summing to -2.158; those are logs of the
  // rounded 0.384 and 0.301. Exactly, -log P_00 = 0.95610 and -log P_12 = 1.20113, summing to
  // 2.15723, so the correct three-decimal values are 0.956 and 2.157.
  EXPECT_NEAR(r.row_losses[0], 0.956, kHalf3);
  EXPECT_NEAR(r.row_losses[1], 1.201, kHalf3);
  EXPECT_NEAR(static_cast<double>(r.row_losses[0]) + r.row_losses[1], 2.157, kHalf3);
}

TYPED_TEST(WorkedExample, GradientIsPMinusYOverN) {
  const auto r = run<TypeParam>();
  const Rows p_minus_y_seed{{{-0.616, 0.285, 0.331}, {0.237, 0.462, -0.699}}};
  for (std::size_t i = 0; i < kN; ++i) {
    for (std::size_t k = 0; k < kK; ++k) {
      EXPECT_NEAR(kN * static_cast<double>(r.dz[i * kK + k]), p_minus_y_seed[i][k], kHalf3)
          << i << "," << k;
      // The fused gradient and the separately computed softmax must tell the same story.
      const double y = kLabels[i] == static_cast<std::int64_t>(k) ? 1.0 : 0.0;
      EXPECT_NEAR(kN * static_cast<double>(r.dz[i * kK + k]), r.p[i * kK + k] - y, 1e-6);
    }
  }
}

TYPED_TEST(WorkedExample, WeightAndBiasGradients) {
  const auto r = run<TypeParam>();
  // The seed's X^T (P - Y) before halving, with four entries corrected: it multiplied the
  // rounded P - Y, giving -0.569, 0.498 and 0.227 where the exact values are -0.56828,
  // 0.49713 and 0.22761, and it prints 0.376 for 0.37517 (0.3752 even from its rounded inputs).
  const Params twice_dw{{{-0.568, 0.377, 0.191}, {-0.379, 0.004, 0.375}, {0.497, 0.228, -0.725}}};
  // dW as printed, except [1][0]: the seed halves its rounded -0.379 to -0.190, but exactly
  // dW[1][0] = -0.18940.
  const Params dw{{{-0.284, 0.189, 0.096}, {-0.189, 0.002, 0.188}, {0.249, 0.114, -0.362}}};
  // db as printed, except [0]: the seed rounds -0.1895 (from rounded inputs) to -0.190, but
  // exactly db[0] = (-0.61561 + 0.23666) / 2 = -0.18948.
  const std::array<double, kK> db{-0.189, 0.374, -0.184};
  for (std::size_t j = 0; j < kD; ++j) {
    for (std::size_t k = 0; k < kK; ++k) {
      EXPECT_NEAR(2 * r.dw[j][k], twice_dw[j][k], kHalf3) << j << "," << k;
      EXPECT_NEAR(r.dw[j][k], dw[j][k], kHalf3) << j << "," << k;
    }
  }
  for (std::size_t k = 0; k < kK; ++k) EXPECT_NEAR(r.db[k], db[k], kHalf3) << k;
}

// The seed stops at the update rule; the expected values are W - 0.1 dW and b - 0.1 db from
// the three-decimal gradients above, so the printed half unit shrinks to 0.1 * 0.0005.
TYPED_TEST(WorkedExample, OneStepAtAlphaPointOne) {
  const auto r = run<TypeParam>();
  const Params dw{{{-0.284, 0.189, 0.096}, {-0.189, 0.002, 0.188}, {0.249, 0.114, -0.362}}};
  const std::array<double, kK> db{-0.189, 0.374, -0.184};
  const double tol = kAlpha * kHalf3 + 1e-7;
  for (std::size_t j = 0; j < kD; ++j) {
    for (std::size_t k = 0; k < kK; ++k) {
      EXPECT_NEAR(r.w_new[j][k], kW[j][k] - kAlpha * dw[j][k], tol) << j << "," << k;
    }
  }
  for (std::size_t k = 0; k < kK; ++k) {
    EXPECT_NEAR(r.b_new[k], kB[k] - kAlpha * db[k], tol) << k;
  }
  EXPECT_NEAR(r.w_new[1][0], 0.418940, 1e-6);
  EXPECT_NEAR(r.b_new[0], 0.0189476, 1e-6);
}

// Beyond the printed digits: P, the loss and dZ against the long-double oracle run on the
// same logits, to the kernels' stated bounds.
TYPED_TEST(WorkedExample, MatchesOracleToKernelBounds) {
  using T = TypeParam;
  const auto r = run<T>();
  ce_oracle::Problem pb{{kN, kK}, -1, ce_oracle::widen<T>(r.z), {}, 0};
  const auto ref = ce_oracle::reference_index(pb, kLabels);
  ce_oracle::expect_loss<T>(r.loss, ref, softreg::Reduction::mean);
  ce_oracle::expect_grad<T>(r.dz, ref, softreg::Reduction::mean);
  const ld eps = ce_oracle::Tol<T>::eps;
  for (std::size_t i = 0; i < kN; ++i) {
    const auto p = ce_oracle::softmax_row(std::span<const ld>(pb.logits).subspan(i * kK, kK));
    ld m = pb.logits[i * kK];
    for (std::size_t k = 1; k < kK; ++k) m = std::max(m, pb.logits[i * kK + k]);
    for (std::size_t k = 0; k < kK; ++k) {
      const ld d = pb.logits[i * kK + k] - m;
      EXPECT_LE(std::fabs(r.p[i * kK + k] - p[k]), 8 * eps * (1 + std::fabs(d)) * p[k])
          << i << "," << k;
    }
  }
}

}  // namespace
