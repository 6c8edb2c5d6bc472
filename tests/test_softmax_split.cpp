// Long contiguous rows cut into segments that go to the threads separately (softmax.cpp,
// kSplitRowBytes): the results against the extended-precision oracle within the documented
// bounds, bitwise the same for any thread count, and every edge case a segment can hold
// (NaN, +inf, masked blocks, an overflowing shift at T > 1) as the oracle has it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/softmax_simd.hpp"
#include "oracle.hpp"
#include "softreg/loss.hpp"
#include "softreg/softmax.hpp"
#include "softreg/threads.hpp"
#include "thread_guard.hpp"

namespace {

using oracle::Real;

using softreg_test::ThreadCountGuard;

template <class T>
struct Outputs {
  std::vector<T> p, y, lse;
};

template <class T>
Outputs<T> run(const std::vector<T>& x, std::size_t rows, std::size_t n, double t) {
  const softreg::Shape shape({rows, n});
  Outputs<T> o{std::vector<T>(x.size()), std::vector<T>(x.size()), std::vector<T>(rows)};
  softreg::softmax(std::span<T>(o.p), std::span<const T>(x), shape, -1, t);
  softreg::log_softmax(std::span<T>(o.y), std::span<const T>(x), shape, -1, t);
  if (t == 1.0) softreg::logsumexp(std::span<T>(o.lse), std::span<const T>(x), shape, -1);
  return o;
}

template <class T>
void expect_oracle_and_thread_independence(const std::vector<T>& x, std::size_t rows, std::size_t n,
                                           double t) {
  SCOPED_TRACE(testing::Message() << rows << " x " << n << " T " << t);
  ThreadCountGuard guard;
  const auto ref =
      oracle::evaluate<T>(std::span<const T>(x), {rows, n}, 1, oracle::effective_temperature<T>(t));
  softreg::set_num_threads(1);
  const Outputs<T> one = run(x, rows, n, t);
  EXPECT_TRUE(oracle::softmax_ok<T>(std::span<const T>(one.p), ref));
  EXPECT_TRUE(oracle::log_softmax_ok<T>(std::span<const T>(one.y), ref));
  if (t == 1.0) {
    EXPECT_TRUE(oracle::logsumexp_ok<T>(std::span<const T>(one.lse), ref));
  }
  for (const int threads : {2, 3, 7}) {
    softreg::set_num_threads(threads);
    const Outputs<T> many = run(x, rows, n, t);
    EXPECT_EQ(0, std::memcmp(many.p.data(), one.p.data(), one.p.size() * sizeof(T))) << threads;
    EXPECT_EQ(0, std::memcmp(many.y.data(), one.y.data(), one.y.size() * sizeof(T))) << threads;
    EXPECT_EQ(0, std::memcmp(many.lse.data(), one.lse.data(), one.lse.size() * sizeof(T)))
        << threads;
  }
}

template <class T>
class SoftmaxSplit : public testing::Test {};
using Types = testing::Types<float, double>;
TYPED_TEST_SUITE(SoftmaxSplit, Types);

// Just past the split length (two segments, the second a single entry's worth of vectors),
// a vocabulary of 256,000 and a row of a million, alone and in a batch of three.
TYPED_TEST(SoftmaxSplit, LongRowsMatchTheOracleForAnyThreadCount) {
  using T = TypeParam;
  const std::size_t split = softreg::detail::kSplitRowBytes / sizeof(T) + 1;
  std::mt19937_64 rng(131072);
  for (const std::size_t n : {split, std::size_t(256000), std::size_t(1000003)}) {
    for (const std::size_t rows : {std::size_t(1), std::size_t(3)}) {
      if (rows * n > 1100000) continue;
      const auto x = oracle::random_logits<T>(rows * n, rng, oracle::Dist::kNormal);
      for (const double t : {1.0, 0.7, 2.5}) expect_oracle_and_thread_independence(x, rows, n, t);
    }
  }
}

// A NaN, a +inf, a block of -inf covering whole segments, and a row whose shift overflows at
// T > 1, each in one row of three: that row as the oracle has it, the others untouched by it.
TYPED_TEST(SoftmaxSplit, SegmentsHoldingEdgeCasesGiveTheOraclesRow) {
  using T = TypeParam;
  const std::size_t seg = softreg::detail::kSegmentBytes / sizeof(T);
  const std::size_t n = 3 * seg + 5, rows = 3;
  std::mt19937_64 rng(7);
  const T inf = std::numeric_limits<T>::infinity();
  auto base = oracle::random_logits<T>(rows * n, rng);
  auto nan = base;
  nan[n + seg + 17] = std::numeric_limits<T>::quiet_NaN();
  expect_oracle_and_thread_independence(nan, rows, n, 1.0);
  auto plus_inf = base;
  plus_inf[2 * n + 2 * seg + 3] = inf;
  expect_oracle_and_thread_independence(plus_inf, rows, n, 1.0);
  auto masked = base;
  for (std::size_t j = seg / 2; j < seg / 2 + 2 * seg; ++j) masked[j] = -inf;
  expect_oracle_and_thread_independence(masked, rows, n, 1.0);
  expect_oracle_and_thread_independence(masked, rows, n, 3.0);
  auto wide = base;
  wide[n + 1] = std::numeric_limits<T>::max() / 2;  // the two ends in different segments
  wide[n + 2 * seg + 9] = -std::numeric_limits<T>::max() / 2 * T(1.5);
  expect_oracle_and_thread_independence(wide, rows, n, 4.0);
}

// Cross-entropy with its gradient over rows of 256,000 classes: class weights, one row
// ignored, targets in different segments, in place and not, mean and none; against a long
// double evaluation of the definition (loss.hpp's bounds), bitwise the same for any thread
// count; a NaN row goes to the scalar rows and stays alone.
TYPED_TEST(SoftmaxSplit, CrossEntropyOfLongRowsMatchesTheDefinition) {
  using T = TypeParam;
  ThreadCountGuard guard;
  const std::size_t n = 256000, rows = 4;
  std::mt19937_64 rng(50);
  auto x = oracle::random_logits<T>(rows * n, rng, oracle::Dist::kNormal);
  std::vector<T> w(n);
  for (std::size_t k = 0; k < n; ++k) w[k] = T(0.5 + double(k % 7) / 4);
  const std::vector<std::int64_t> target = {3, -100, std::int64_t(n - 2), 100001};
  x[3 * n + 77] = std::numeric_limits<T>::quiet_NaN();  // row 3: the scalar rows
  for (const auto reduction : {softreg::Reduction::mean, softreg::Reduction::none}) {
    softreg::CrossEntropyOptions<T> o;
    o.reduction = reduction;
    o.class_weights = w;
    // The definition in long double: row losses w_t (lse - x_t), gradient scale w_t (p - e_t).
    double weight_sum = 0;  // the mean's denominator: every target not ignored, NaN row too
    for (std::size_t r = 0; r < rows; ++r)
      if (target[r] >= 0) weight_sum += double(w[std::size_t(target[r])]);
    const Real scale = reduction == softreg::Reduction::mean ? Real(1) / Real(weight_sum) : 1;
    std::vector<Real> want_grad(rows * n, 0), want_loss(rows, 0);
    for (std::size_t r = 0; r < 3; ++r) {
      if (target[r] < 0) continue;
      Real m = -oracle::kInf, s = 0;
      for (std::size_t k = 0; k < n; ++k) m = std::max(m, Real(x[r * n + k]));
      for (std::size_t k = 0; k < n; ++k) s += std::exp(Real(x[r * n + k]) - m);
      const auto t = std::size_t(target[r]);
      want_loss[r] = Real(w[t]) * (m + std::log(s) - Real(x[r * n + t]));
      for (std::size_t k = 0; k < n; ++k) {
        const Real p = std::exp(Real(x[r * n + k]) - m) / s;
        want_grad[r * n + k] = scale * Real(w[t]) * (p - (k == t ? 1 : 0));
      }
    }
    std::vector<T> first_grad, first_losses;
    double first = 0;
    for (const int threads : {1, 2, 3}) {
      softreg::set_num_threads(threads);
      for (const bool in_place : {false, true}) {
        std::vector<T> grad = in_place ? x : std::vector<T>(x.size(), T(777));
        std::vector<T> losses(rows);
        const std::span<const T> logits = in_place ? std::span<const T>(grad) : x;
        const double loss = softreg::cross_entropy_with_grad(
            std::span<T>(grad), logits, softreg::Shape({rows, n}), target, o, losses);
        EXPECT_TRUE(std::isnan(loss));  // row 3 holds a NaN
        for (std::size_t r = 0; r < 3; ++r) {
          EXPECT_NEAR(double(losses[r]), double(want_loss[r]),
                      16 * double(oracle::eps_of<T>()) * (1 + double(std::fabs(want_loss[r]))))
              << r;
        }
        EXPECT_TRUE(std::isnan(losses[3]));
        EXPECT_EQ(losses[1], T(0));
        for (std::size_t i = 0; i < 3 * n; ++i) {
          const Real tol = 8 * oracle::eps_of<T>() * (std::fabs(want_grad[i]) + scale * 2e-5) +
                           oracle::tiny_of<T>();
          ASSERT_TRUE(oracle::within(grad[i], want_grad[i], tol))
              << "grad[" << i << "] " << double(grad[i]) << " vs " << double(want_grad[i]);
        }
        for (std::size_t k = 0; k < n; ++k) ASSERT_TRUE(std::isnan(grad[3 * n + k])) << k;
        if (first_grad.empty()) {
          first_grad = grad;
          first_losses = losses;
          first = loss;
        } else {
          EXPECT_EQ(0, std::memcmp(grad.data(), first_grad.data(), grad.size() * sizeof(T)));
          EXPECT_EQ(0, std::memcmp(losses.data(), first_losses.data(), rows * sizeof(T)));
          EXPECT_EQ(0, std::memcmp(&loss, &first, sizeof loss));  // the same NaN bits
        }
      }
    }
  }
}

}  // namespace
