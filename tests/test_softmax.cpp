// Oracle sweep of the softmax-family forward kernels over sizes, axes, offsets and T; properties.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include "oracle.hpp"
#include "softreg/softmax.hpp"

namespace {

using oracle::Real;

struct Case {
  std::vector<std::size_t> dims;
  int axis;
};

// 16 and its neighbours straddle every SIMD width up to 16 lanes; 50257 is a GPT-2 vocabulary.
constexpr std::size_t kSizes[] = {0, 1, 2, 7, 15, 16, 17, 1000};
constexpr std::size_t kLarge = 50257;
constexpr double kTemperatures[] = {1.0, 0.5, 2.0, 0.1, 7.3};

std::vector<Case> cases_for(std::size_t n) {
  if (n == kLarge) return {{{n}, -1}, {{2, n}, 1}, {{n, 2}, 0}};
  return {{{n}, 0},        {{4, n}, -1}, {{2, 3, n}, 2}, {{3, n, 5}, 1},
          {{3, n, 5}, -2}, {{n, 3}, 0},  {{n, 2, 3}, -3}};
}

// A value no kernel can legitimately produce, so an unwritten element fails every check.
template <class T>
constexpr T kSentinel = T(777);

// Runs every kernel on x (a span into caller memory, possibly misaligned) writing into out, and
// checks it against the oracle. out must not overlap x unless it is x.
template <class T>
void check_kernels(std::span<T> out, std::span<const T> x, const Case& c, double temperature) {
  SCOPED_TRACE(testing::Message() << "shape " << oracle::to_shape(c.dims).str() << " axis "
                                  << c.axis << " T " << temperature);
  const softreg::Shape shape = oracle::to_shape(c.dims);
  const std::vector<T> x_copy(x.begin(), x.end());
  const auto ref = oracle::evaluate<T>(std::span<const T>(x_copy), c.dims, c.axis,
                                       oracle::effective_temperature<T>(temperature));
  const bool in_place = static_cast<const void*>(out.data()) == x.data();
  auto reset = [&] {
    if (in_place) {
      std::copy(x_copy.begin(), x_copy.end(), out.begin());
    } else {
      std::fill(out.begin(), out.end(), kSentinel<T>);
    }
  };

  reset();
  softreg::softmax(out, x, shape, c.axis, temperature);
  EXPECT_TRUE(oracle::softmax_ok<T>(out, ref)) << "softmax";
  reset();
  softreg::log_softmax(out, x, shape, c.axis, temperature);
  EXPECT_TRUE(oracle::log_softmax_ok<T>(out, ref)) << "log_softmax";
  reset();
  softreg::softmax_online(out, x, shape, c.axis, temperature);
  EXPECT_TRUE(oracle::softmax_ok<T>(out, ref)) << "softmax_online";
  if (in_place) std::copy(x_copy.begin(), x_copy.end(), out.begin());

  // logsumexp and argmax take no temperature; their rows are the reference at T = 1.
  if (temperature == 1.0 && !in_place) {
    const oracle::Layout l = oracle::layout(c.dims, c.axis);
    std::vector<T> lse(l.rows(), kSentinel<T>);
    softreg::logsumexp(lse, x, shape, c.axis);
    EXPECT_TRUE(oracle::logsumexp_ok<T>(lse, ref));
    std::vector<std::int64_t> arg(l.rows(), -7);
    softreg::argmax(arg, x, shape, c.axis);
    EXPECT_TRUE(oracle::argmax_ok(arg, ref));
  }
}

template <class T>
class SoftmaxSweep : public testing::Test {};
using Types = testing::Types<float, double>;
TYPED_TEST_SUITE(SoftmaxSweep, Types);

TYPED_TEST(SoftmaxSweep, MatchesOracleOverSizesAxesAndTemperatures) {
  using T = TypeParam;
  for (const std::size_t n : kSizes) {
    for (const Case& c : cases_for(n)) {
      for (const auto dist : {oracle::Dist::kUniform, oracle::Dist::kNormal}) {
        std::mt19937_64 rng(1000 + n);
        const std::vector<T> x = oracle::random_logits<T>(oracle::numel(c.dims), rng, dist);
        std::vector<T> out(x.size());
        for (const double t : kTemperatures) check_kernels<T>(out, x, c, t);
      }
    }
  }
}

TYPED_TEST(SoftmaxSweep, MatchesOracleAtVocabularySize) {
  using T = TypeParam;
  std::mt19937_64 rng(50257);
  for (const Case& c : cases_for(kLarge)) {
    const auto dist = c.dims.size() == 1 ? oracle::Dist::kNormal : oracle::Dist::kUniform;
    const std::vector<T> x = oracle::random_logits<T>(oracle::numel(c.dims), rng, dist);
    std::vector<T> out(x.size());
    for (const double t : {1.0, 0.1, 7.3}) check_kernels<T>(out, x, c, t);
  }
}

// Spans that start 1, 2 or 3 elements into a buffer; the guard elements around the output must
// stay untouched.
TYPED_TEST(SoftmaxSweep, MisalignedStartsAndNoWritesOutside) {
  using T = TypeParam;
  constexpr std::size_t kGuard = 8;
  for (const std::size_t n : {1UL, 7UL, 15UL, 16UL, 17UL, 1000UL}) {
    for (const Case& c : {Case{{n}, -1}, Case{{3, n}, 1}, Case{{n, 3}, 0}}) {
      const std::size_t size = oracle::numel(c.dims);
      for (std::size_t in_off = 1; in_off <= 3; ++in_off) {
        const std::size_t out_off = in_off % 3 + 1;
        std::mt19937_64 rng(7 * n + in_off);
        std::vector<T> xbuf = oracle::random_logits<T>(size + kGuard, rng);
        std::vector<T> obuf(size + kGuard, kSentinel<T>);
        std::span<const T> x(xbuf.data() + in_off, size);
        std::span<T> out(obuf.data() + out_off, size);
        for (const double t : {1.0, 0.1}) check_kernels<T>(out, x, c, t);
        for (std::size_t i = 0; i < obuf.size(); ++i) {
          if (i < out_off || i >= out_off + size) {
            ASSERT_EQ(obuf[i], kSentinel<T>) << i;
          }
        }
      }
    }
  }
}

TYPED_TEST(SoftmaxSweep, InPlaceMatchesOracle) {
  using T = TypeParam;
  for (const std::size_t n : {1UL, 2UL, 15UL, 17UL, 1000UL}) {
    for (const Case& c : {Case{{n}, -1}, Case{{2, n, 3}, 1}, Case{{n, 4}, 0}}) {
      for (std::size_t off = 0; off <= 3; ++off) {
        std::mt19937_64 rng(31 * n + off);
        std::vector<T> buf = oracle::random_logits<T>(oracle::numel(c.dims) + 3, rng);
        std::span<T> xs(buf.data() + off, oracle::numel(c.dims));
        for (const double t : {1.0, 0.5, 7.3}) check_kernels<T>(xs, std::span<const T>(xs), c, t);
      }
    }
  }
}

// ---- properties

template <class T>
std::vector<Real> row_sums(std::span<const T> p, const std::vector<std::size_t>& dims, int axis) {
  const oracle::Layout l = oracle::layout(dims, axis);
  std::vector<Real> sums(l.rows(), 0);
  for (std::size_t r = 0; r < l.rows(); ++r) {
    for (std::size_t k = 0; k < l.n; ++k) sums[r] += static_cast<Real>(p[l.offset(r, k)]);
  }
  return sums;
}

// The per-entry bound summed over a row: a sum further from 1 than this contradicts the
// contract. It is about 8 eps whenever the largest entry dominates the row.
TYPED_TEST(SoftmaxSweep, RowsSumToOne) {
  using T = TypeParam;
  std::mt19937_64 rng(11);
  for (const std::size_t n : {2UL, 7UL, 17UL, 1000UL, kLarge}) {
    const std::vector<std::size_t> dims{3, n};
    const std::vector<T> x = oracle::random_logits<T>(3 * n, rng, oracle::Dist::kNormal);
    for (const double t : kTemperatures) {
      const auto ref =
          oracle::evaluate<T>(std::span<const T>(x), dims, 1, oracle::effective_temperature<T>(t));
      std::vector<T> p(x.size());
      for (const bool online : {false, true}) {
        if (online) {
          softreg::softmax_online(p, x, oracle::to_shape(dims), 1, t);
        } else {
          softreg::softmax(p, x, oracle::to_shape(dims), 1, t);
        }
        const std::vector<Real> sums = row_sums<T>(p, dims, 1);
        for (std::size_t r = 0; r < 3; ++r) {
          Real tol = 0;
          for (std::size_t k = 0; k < n; ++k) {
            tol += oracle::softmax_tol<T>(ref.p[r * n + k], ref.d[r * n + k]);
          }
          EXPECT_LE(std::fabs(sums[r] - 1), tol)
              << "n " << n << " T " << t << " row " << r << " online " << online;
        }
      }
    }
  }
}

// Dyadic logits k/8 with |k| <= 512 and c = 64 keep x + c exact in float, so both calls see the
// same d_j and may each differ from the exact p by the bound.
TYPED_TEST(SoftmaxSweep, ShiftInvariance) {
  using T = TypeParam;
  std::mt19937_64 rng(12);
  std::uniform_int_distribution<int> k(-512, 512);
  constexpr T kShift = 64;
  for (const std::size_t n : {2UL, 17UL, 1000UL}) {
    std::vector<T> x(n);
    std::vector<T> xc(n);
    for (std::size_t i = 0; i < n; ++i) {
      x[i] = static_cast<T>(k(rng)) / T(8);
      xc[i] = x[i] + kShift;
    }
    const std::vector<std::size_t> dims{n};
    const softreg::Shape shape = oracle::to_shape(dims);
    for (const double t : {1.0, 0.5, 7.3}) {
      const auto ref =
          oracle::evaluate<T>(std::span<const T>(x), dims, -1, oracle::effective_temperature<T>(t));
      std::vector<T> a(n);
      std::vector<T> b(n);
      softreg::softmax(a, x, shape, -1, t);
      softreg::softmax(b, xc, shape, -1, t);
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_LE(std::fabs(static_cast<Real>(a[i]) - b[i]),
                  oracle::softmax_tol<T>(ref.p[i], ref.d[i], 2))
            << "softmax n " << n << " T " << t << " i " << i;
      }
      softreg::log_softmax(a, x, shape, -1, t);
      softreg::log_softmax(b, xc, shape, -1, t);
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_LE(std::fabs(static_cast<Real>(a[i]) - b[i]),
                  oracle::log_softmax_tol<T>(ref.y[i], 2))
            << "log_softmax n " << n << " T " << t << " i " << i;
      }
    }
    T r0 = 0;
    T r1 = 0;
    const auto ref = oracle::evaluate<T>(std::span<const T>(x), dims, -1);
    softreg::logsumexp(std::span<T>(&r0, 1), x, shape);
    softreg::logsumexp(std::span<T>(&r1, 1), xc, shape);
    EXPECT_LE(std::fabs(static_cast<Real>(r1) - kShift - r0),
              oracle::logsumexp_tol<T>(ref.lse[0]) + oracle::logsumexp_tol<T>(ref.lse[0] + kShift))
        << "logsumexp n " << n;
  }
}

// Logits on a 1/8 grid: distinct values differ by a factor exp(1/8) in p, far more than the
// error bound, so a reversed pair is a real bug and not rounding.
TYPED_TEST(SoftmaxSweep, Monotonicity) {
  using T = TypeParam;
  std::mt19937_64 rng(13);
  std::uniform_int_distribution<int> k(-64, 64);
  for (const std::size_t n : {7UL, 17UL, 1000UL}) {
    std::vector<T> x(n);
    for (T& v : x) v = static_cast<T>(k(rng)) / T(8);
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
    for (const double t : {1.0, 0.5}) {
      std::vector<T> p(n);
      softreg::softmax(p, x, oracle::to_shape({n}), -1, t);
      // Within a run of equal logits no order is required; between consecutive runs the
      // largest p of the lower run may not exceed the smallest p of the higher one.
      T prev_max = -1;
      for (std::size_t i = 0; i < n;) {
        std::size_t j = i;
        T run_min = p[order[i]];
        T run_max = p[order[i]];
        for (; j < n && x[order[j]] == x[order[i]]; ++j) {
          run_min = std::min(run_min, p[order[j]]);
          run_max = std::max(run_max, p[order[j]]);
        }
        ASSERT_LE(prev_max, run_min) << "at x " << x[order[i]] << " T " << t;
        prev_max = run_max;
        i = j;
      }
    }
  }
}

// Powers of two as T keep x / T exact, so softmax(x, T) and softmax(x / T) see the same d_j.
TYPED_TEST(SoftmaxSweep, TemperatureEqualsScaledLogits) {
  using T = TypeParam;
  std::mt19937_64 rng(14);
  for (const std::size_t n : {7UL, 1000UL}) {
    const std::vector<std::size_t> dims{2, n};
    const softreg::Shape shape = oracle::to_shape(dims);
    const std::vector<T> x = oracle::random_logits<T>(2 * n, rng);
    for (const double t : {0.25, 0.5, 2.0, 4.0}) {
      std::vector<T> xs(x.size());
      for (std::size_t i = 0; i < x.size(); ++i) xs[i] = static_cast<T>(x[i] / static_cast<T>(t));
      const auto ref = oracle::evaluate<T>(std::span<const T>(x), dims, -1, static_cast<Real>(t));
      std::vector<T> a(x.size());
      std::vector<T> b(x.size());
      softreg::softmax(a, x, shape, -1, t);
      softreg::softmax(b, xs, shape, -1, 1.0);
      for (std::size_t i = 0; i < x.size(); ++i) {
        ASSERT_LE(std::fabs(static_cast<Real>(a[i]) - b[i]),
                  oracle::softmax_tol<T>(ref.p[i], ref.d[i], 2))
            << "n " << n << " T " << t << " i " << i;
      }
      softreg::log_softmax(a, x, shape, -1, t);
      softreg::log_softmax(b, xs, shape, -1, 1.0);
      for (std::size_t i = 0; i < x.size(); ++i) {
        ASSERT_LE(std::fabs(static_cast<Real>(a[i]) - b[i]),
                  oracle::log_softmax_tol<T>(ref.y[i], 2))
            << "log_softmax n " << n << " T " << t << " i " << i;
      }
    }
  }
}

// exp(y^) = p exp(delta) with |delta| within the log_softmax bound, so it may differ from p^ by
// p expm1(|delta|) plus the softmax bound.
TYPED_TEST(SoftmaxSweep, ExpOfLogSoftmaxIsSoftmax) {
  using T = TypeParam;
  std::mt19937_64 rng(15);
  for (const std::size_t n : {2UL, 16UL, 1000UL}) {
    const std::vector<std::size_t> dims{3, n};
    const std::vector<T> x = oracle::random_logits<T>(3 * n, rng, oracle::Dist::kNormal);
    for (const double t : kTemperatures) {
      const auto ref =
          oracle::evaluate<T>(std::span<const T>(x), dims, -1, oracle::effective_temperature<T>(t));
      std::vector<T> p(x.size());
      std::vector<T> y(x.size());
      softreg::softmax(p, x, oracle::to_shape(dims), -1, t);
      softreg::log_softmax(y, x, oracle::to_shape(dims), -1, t);
      for (std::size_t i = 0; i < x.size(); ++i) {
        const Real tol = oracle::softmax_tol<T>(ref.p[i], ref.d[i]) +
                         ref.p[i] * std::expm1(oracle::log_softmax_tol<T>(ref.y[i])) +
                         oracle::tiny_of<T>();
        ASSERT_LE(std::fabs(std::exp(static_cast<Real>(y[i])) - p[i]), tol)
            << "n " << n << " T " << t << " i " << i;
      }
    }
  }
}

TYPED_TEST(SoftmaxSweep, LogSoftmaxIsLogitsMinusLogsumexp) {
  using T = TypeParam;
  std::mt19937_64 rng(16);
  for (const std::size_t n : {1UL, 17UL, 1000UL}) {
    const std::vector<std::size_t> dims{4, n};
    const std::vector<T> x = oracle::random_logits<T>(4 * n, rng);
    const auto ref = oracle::evaluate<T>(std::span<const T>(x), dims, -1);
    std::vector<T> y(x.size());
    std::vector<T> r(4);
    softreg::log_softmax(y, x, oracle::to_shape(dims), -1);
    softreg::logsumexp(r, x, oracle::to_shape(dims), -1);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const Real want = static_cast<Real>(x[i]) - r[i / n];
      ASSERT_LE(std::fabs(static_cast<Real>(y[i]) - want),
                oracle::log_softmax_tol<T>(ref.y[i]) + oracle::logsumexp_tol<T>(ref.lse[i / n]))
          << "n " << n << " i " << i;
    }
  }
}

TYPED_TEST(SoftmaxSweep, OnlineAgreesWithThreePass) {
  using T = TypeParam;
  std::mt19937_64 rng(17);
  for (const std::size_t n : {1UL, 15UL, 16UL, 17UL, 1000UL, kLarge}) {
    const std::vector<std::size_t> dims{n};
    const std::vector<T> x = oracle::random_logits<T>(n, rng, oracle::Dist::kNormal);
    for (const double t : kTemperatures) {
      const auto ref =
          oracle::evaluate<T>(std::span<const T>(x), dims, -1, oracle::effective_temperature<T>(t));
      std::vector<T> a(n);
      std::vector<T> b(n);
      softreg::softmax(a, x, oracle::to_shape(dims), -1, t);
      softreg::softmax_online(b, x, oracle::to_shape(dims), -1, t);
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_LE(std::fabs(static_cast<Real>(a[i]) - b[i]),
                  oracle::softmax_tol<T>(ref.p[i], ref.d[i], 2))
            << "n " << n << " T " << t << " i " << i;
      }
    }
  }
}

// Kernels hold no state between calls, so a repeated call must reproduce every bit.
TYPED_TEST(SoftmaxSweep, RepeatedCallsAreBitwiseIdentical) {
  using T = TypeParam;
  std::mt19937_64 rng(18);
  const std::vector<std::size_t> dims{3, 1000, 5};
  const std::vector<T> x = oracle::random_logits<T>(oracle::numel(dims), rng);
  std::vector<T> a(x.size());
  std::vector<T> b(x.size());
  softreg::softmax(a, x, oracle::to_shape(dims), 1, 0.5);
  softreg::softmax(b, x, oracle::to_shape(dims), 1, 0.5);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(T)));
  softreg::log_softmax(a, x, oracle::to_shape(dims), 1, 0.5);
  softreg::log_softmax(b, x, oracle::to_shape(dims), 1, 0.5);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(T)));
}

}  // namespace
