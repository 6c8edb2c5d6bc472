// The seed's temperature table for z = [2, 1, 0], its limits, and softmax(z, T) = softmax(z / T).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <span>
#include <vector>

#include "ce_oracle.hpp"
#include "softreg/softmax.hpp"

namespace {

using ce_oracle::ld;

template <class T>
std::vector<T> softmax_at(std::vector<T> z, double temperature) {
  std::vector<T> p(z.size());
  softreg::softmax(std::span<T>(p), std::span<const T>(z), softreg::Shape{1, z.size()}, -1,
                   temperature);
  return p;
}

std::vector<ld> reference(std::vector<ld> z, ld temperature) {
  return ce_oracle::softmax_row(z, temperature);
}

// softmax.hpp: |p^ - p| <= 8 eps (1 + |d_j|) p + tiny with d_j = (z_j - max z) / T.
template <class T>
void expect_softmax_bound(const std::vector<T>& got, const std::vector<ld>& z, ld temperature) {
  const auto p = reference(z, temperature);
  const ld m = *std::max_element(z.begin(), z.end());
  for (std::size_t j = 0; j < got.size(); ++j) {
    const ld d = (z[j] - m) / temperature;
    const ld tol = 8 * ce_oracle::Tol<T>::eps * (1 + std::fabs(d)) * p[j] + ce_oracle::Tol<T>::tiny;
    EXPECT_LE(std::fabs(got[j] - p[j]), tol)
        << "entry " << j << " T " << static_cast<double>(temperature);
  }
}

template <class T>
class TemperatureTable : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(TemperatureTable, FloatTypes);

const std::vector<ld> kZ{2, 1, 0};

TYPED_TEST(TemperatureTable, TOneMatchesSeedRow) {
  const auto p = softmax_at<TypeParam>({2, 1, 0}, 1.0);
  expect_softmax_bound(p, kZ, 1);
  const std::array<double, 3> seed{0.67, 0.24, 0.09};
  for (std::size_t j = 0; j < 3; ++j) EXPECT_NEAR(p[j], seed[j], 0.005) << j;
}

// The seed prints [0.51, 0.31, 0.18]; exactly it is [0.50648, 0.30720, 0.18632], so the last
// entry rounds to 0.19 (the seed's row seems forced to sum to 1.00).
TYPED_TEST(TemperatureTable, TTwoMatchesSeedRowExceptItsMisroundedLastEntry) {
  const auto p = softmax_at<TypeParam>({2, 1, 0}, 2.0);
  expect_softmax_bound(p, kZ, 2);
  const std::array<double, 3> corrected{0.51, 0.31, 0.19};
  for (std::size_t j = 0; j < 3; ++j) EXPECT_NEAR(p[j], corrected[j], 0.005) << j;
  EXPECT_GT(std::fabs(p[2] - 0.18), 0.005) << "0.18 is not the two-decimal rounding";
}

// softmax([4, 2, 0]) = [e^4, e^2, 1] / (e^4 + e^2 + 1) = [0.86681, 0.11731, 0.01588].
TYPED_TEST(TemperatureTable, THalfGivesCorrectedRow) {
  const auto p = softmax_at<TypeParam>({2, 1, 0}, 0.5);
  expect_softmax_bound(p, kZ, 0.5);
  const std::array<double, 3> corrected{0.867, 0.117, 0.016};
  for (std::size_t j = 0; j < 3; ++j) EXPECT_NEAR(p[j], corrected[j], 0.0005) << j;
  const auto direct = softmax_at<TypeParam>({4, 2, 0}, 1.0);
  for (std::size_t j = 0; j < 3; ++j) EXPECT_NEAR(p[j], direct[j], 1e-6) << j;
}

// The seed's T = 0.5 row [0.84, 0.11, 0.05] is wrong in every entry: none is within half a
// unit (0.005) of the true value, and it is not what softmax gives.
TYPED_TEST(TemperatureTable, SeedRowForTHalfIsNotSoftmax) {
  const auto p = softmax_at<TypeParam>({2, 1, 0}, 0.5);
  const std::array<double, 3> seed{0.84, 0.11, 0.05};
  for (std::size_t j = 0; j < 3; ++j) EXPECT_GT(std::fabs(p[j] - seed[j]), 0.005) << j;
  const auto exact = reference(kZ, 0.5);
  for (std::size_t j = 0; j < 3; ++j) EXPECT_GT(std::fabs(exact[j] - seed[j]), 0.005L) << j;
}

// As T falls the top class gains mass; at T = 1e-3 the others are exp(-1000) and exp(-2000),
// below every representable number, so the row is the argmax to the last bit.
TYPED_TEST(TemperatureTable, SmallTemperatureApproachesArgmax) {
  using T = TypeParam;
  double previous = 0;
  for (double temperature : {2.0, 1.0, 0.5, 0.1, 0.03}) {
    const auto p = softmax_at<T>({2, 1, 0}, temperature);
    EXPECT_GT(p[0], previous) << temperature;
    previous = p[0];
  }
  const auto p = softmax_at<T>({2, 1, 0}, 1e-3);
  EXPECT_EQ(p[0], T(1));
  EXPECT_EQ(p[1], T(0));
  EXPECT_EQ(p[2], T(0));
}

TYPED_TEST(TemperatureTable, ZeroTemperatureIsExactlyOneHot) {
  using T = TypeParam;
  EXPECT_EQ(softmax_at<T>({2, 1, 0}, 0.0), (std::vector<T>{1, 0, 0}));
  EXPECT_EQ(softmax_at<T>({0, 2, 2}, 0.0), (std::vector<T>{0, 1, 0})) << "ties go to the lowest";
  EXPECT_EQ(softmax_at<T>({-1, -3, 5, 4}, 0.0), (std::vector<T>{0, 0, 1, 0}));
}

// p_j = (1 + (z_j - mean z) / T + O(T^-2)) / 3, so at T = 1e6 each entry is within 4e-7 of 1/3.
TYPED_TEST(TemperatureTable, HugeTemperatureApproachesUniform) {
  using T = TypeParam;
  const auto p = softmax_at<T>({2, 1, 0}, 1e6);
  expect_softmax_bound(p, kZ, 1e6);
  for (T v : p) EXPECT_NEAR(v, 1.0 / 3, 5e-7);
}

// softmax(z, T) against softmax applied to z / T rounded to T. The two differ by the kernels'
// bounds plus the rounding of z / T and of T itself (float rounds the temperature), each a
// relative eps on a logit: 2 eps max|z / T| on the logits moves p_j by at most 4 eps max|z/T| p_j.
TYPED_TEST(TemperatureTable, TemperatureEqualsDividingTheLogits) {
  using T = TypeParam;
  std::mt19937_64 rng(5);
  constexpr std::size_t rows = 4;
  for (std::size_t k : {1, 3, 10, 100, 1000}) {
    const auto z = ce_oracle::random_logits<T>(rows * k, rng, 3.0);
    for (double temperature : {0.25, 0.5, 0.7, 1.3, 2.0, 10.0}) {
      SCOPED_TRACE(::testing::Message() << "K " << k << " T " << temperature);
      std::vector<T> scaled(z.size()), a(z.size()), b(z.size());
      for (std::size_t i = 0; i < z.size(); ++i) scaled[i] = static_cast<T>(z[i] / temperature);
      softreg::softmax(std::span<T>(a), std::span<const T>(z), softreg::Shape{rows, k}, -1,
                       temperature);
      softreg::softmax(std::span<T>(b), std::span<const T>(scaled), softreg::Shape{rows, k});
      const ld eps = ce_oracle::Tol<T>::eps;
      for (std::size_t r = 0; r < rows; ++r) {
        const std::vector<ld> row(z.begin() + static_cast<std::ptrdiff_t>(r * k),
                                  z.begin() + static_cast<std::ptrdiff_t>((r + 1) * k));
        const std::vector<T> got(a.begin() + static_cast<std::ptrdiff_t>(r * k),
                                 a.begin() + static_cast<std::ptrdiff_t>((r + 1) * k));
        expect_softmax_bound(got, row, static_cast<ld>(static_cast<T>(temperature)));
        const auto p = reference(row, temperature);
        const ld m = *std::max_element(row.begin(), row.end());
        ld largest = 0;
        for (ld v : row) largest = std::max(largest, std::fabs(v / temperature));
        for (std::size_t j = 0; j < k; ++j) {
          const ld d = (row[j] - m) / temperature;
          const ld tol = 16 * eps * (1 + std::fabs(d)) * p[j] + 4 * eps * (1 + largest) * p[j] +
                         2 * ce_oracle::Tol<T>::tiny;
          EXPECT_LE(std::fabs(static_cast<ld>(a[r * k + j]) - b[r * k + j]), tol)
              << "row " << r << " entry " << j;
        }
      }
    }
  }
}

}  // namespace
