// The edge-case table of softmax.hpp and docs/NUMERICS.md, and the InvalidArgument cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "oracle.hpp"
#include "softreg/error.hpp"
#include "softreg/softmax.hpp"

namespace {

using oracle::Real;
using Dims = std::vector<std::size_t>;

enum class Kernel { kSoftmax, kLogSoftmax, kOnline };
constexpr Kernel kKernels[] = {Kernel::kSoftmax, Kernel::kLogSoftmax, Kernel::kOnline};

const char* name(Kernel k) {
  switch (k) {
    case Kernel::kSoftmax:
      return "softmax";
    case Kernel::kLogSoftmax:
      return "log_softmax";
    case Kernel::kOnline:
      return "softmax_online";
  }
  return "?";
}

template <class T>
std::vector<T> run(Kernel k, const std::vector<T>& x, const Dims& dims, int axis = -1,
                   double t = 1.0) {
  std::vector<T> out(x.size(), T(777));
  const softreg::Shape shape = oracle::to_shape(dims);
  switch (k) {
    case Kernel::kSoftmax:
      softreg::softmax(out, x, shape, axis, t);
      break;
    case Kernel::kLogSoftmax:
      softreg::log_softmax(out, x, shape, axis, t);
      break;
    case Kernel::kOnline:
      softreg::softmax_online(out, x, shape, axis, t);
      break;
  }
  return out;
}

template <class T>
std::vector<T> run_lse(const std::vector<T>& x, const Dims& dims, int axis = -1) {
  std::vector<T> out(oracle::layout(dims, axis).rows(), T(777));
  softreg::logsumexp(out, x, oracle::to_shape(dims), axis);
  return out;
}

template <class T>
std::vector<std::int64_t> run_argmax(const std::vector<T>& x, const Dims& dims, int axis = -1) {
  std::vector<std::int64_t> out(oracle::layout(dims, axis).rows(), -7);
  softreg::argmax(out, x, oracle::to_shape(dims), axis);
  return out;
}

// Every kernel on x against the oracle, which encodes the same rule table independently.
template <class T>
void check_against_oracle(const std::vector<T>& x, const Dims& dims, int axis, double t) {
  SCOPED_TRACE(testing::Message() << "T " << t << " axis " << axis);
  const auto ref =
      oracle::evaluate<T>(std::span<const T>(x), dims, axis, oracle::effective_temperature<T>(t));
  for (const Kernel k : kKernels) {
    const std::vector<T> out = run<T>(k, x, dims, axis, t);
    if (k == Kernel::kLogSoftmax) {
      EXPECT_TRUE(oracle::log_softmax_ok<T>(out, ref)) << name(k);
    } else {
      EXPECT_TRUE(oracle::softmax_ok<T>(out, ref)) << name(k);
    }
  }
  if (t == 1.0) {
    EXPECT_TRUE(oracle::logsumexp_ok<T>(run_lse<T>(x, dims, axis), ref));
    EXPECT_TRUE(oracle::argmax_ok(run_argmax<T>(x, dims, axis), ref));
  }
}

// The largest logits of each sign: z - max overflows in the type for the mixed-sign row.
template <class T>
std::vector<T> extreme_logits() {
  const T big = std::is_same_v<T, float> ? T(3e38) : T(1e308);
  const T top = std::numeric_limits<T>::max();
  return {big, -big, top, -top, T(-1e30), -big, -big, -top, T(-1e30), -top};
}

template <class T>
class SoftmaxEdge : public testing::Test {};
using Types = testing::Types<float, double>;
TYPED_TEST_SUITE(SoftmaxEdge, Types);

template <class T>
constexpr T kInf = std::numeric_limits<T>::infinity();
template <class T>
constexpr T kNan = std::numeric_limits<T>::quiet_NaN();

TYPED_TEST(SoftmaxEdge, NanAnywhereMakesOnlyItsRowNan) {
  using T = TypeParam;
  for (const std::size_t pos : {0UL, 3UL, 6UL}) {
    std::vector<T> x{1, 2, 3, 4, 5, 6, 7, -3, 0, 9, 1, 2, 8, 4, 5, -1, 2, 0, 3, 1, 2};
    x[7 + pos] = kNan<T>;
    const Dims dims{3, 7};
    for (const double t : {1.0, 0.5, 0.0}) {
      for (const Kernel k : kKernels) {
        const std::vector<T> out = run<T>(k, x, dims, -1, t);
        for (std::size_t j = 7; j < 14; ++j) {
          EXPECT_TRUE(std::isnan(out[j])) << name(k) << " pos " << pos << " T " << t << " j " << j;
        }
      }
      check_against_oracle<T>(x, dims, -1, t);
    }
    const std::vector<T> lse = run_lse<T>(x, dims);
    EXPECT_FALSE(std::isnan(lse[0]));
    EXPECT_TRUE(std::isnan(lse[1]));
    EXPECT_FALSE(std::isnan(lse[2]));
    EXPECT_EQ(run_argmax<T>(x, dims), (std::vector<std::int64_t>{6, -1, 0}));
  }
}

TYPED_TEST(SoftmaxEdge, NanAlongLeadingAxis) {
  using T = TypeParam;
  // Shape (7, 3) along axis 0: the rows are the columns, and the NaN sits in column 1.
  std::vector<T> x(21);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<T>(i % 5) - T(2);
  x[3 * 4 + 1] = kNan<T>;
  for (const double t : {1.0, 2.0}) check_against_oracle<T>(x, {7, 3}, 0, t);
  const std::vector<T> p = run<T>(Kernel::kSoftmax, x, {7, 3}, 0);
  for (std::size_t k = 0; k < 7; ++k) {
    EXPECT_TRUE(std::isnan(p[3 * k + 1]));
    EXPECT_FALSE(std::isnan(p[3 * k]));
  }
  EXPECT_EQ(run_argmax<T>(x, {7, 3}, 0)[1], -1);
}

TYPED_TEST(SoftmaxEdge, PlusInfinityTakesAllTheMass) {
  using T = TypeParam;
  const T inf = kInf<T>;
  const std::vector<T> x{1, inf, 3, inf, -inf, inf, 2, 5, -inf, 0};
  const Dims dims{2, 5};
  const Real log2 = std::log(2.0L);
  for (const double t : {1.0, 0.5, 7.3}) {
    for (const Kernel k : {Kernel::kSoftmax, Kernel::kOnline}) {
      const std::vector<T> p = run<T>(k, x, dims, -1, t);
      EXPECT_EQ(p, (std::vector<T>{0, 0.5, 0, 0.5, 0, 1, 0, 0, 0, 0})) << name(k) << " T " << t;
    }
    const std::vector<T> y = run<T>(Kernel::kLogSoftmax, x, dims, -1, t);
    const std::vector<Real> want{
        -oracle::kInf, -log2,         -oracle::kInf, -log2,        -oracle::kInf, 0,
        -oracle::kInf, -oracle::kInf, -oracle::kInf, -oracle::kInf};
    EXPECT_TRUE(oracle::all_within<T>(
        y, want, [&](std::size_t i) { return oracle::log_softmax_tol<T>(want[i]); }, "y"));
    check_against_oracle<T>(x, dims, -1, t);
  }
  EXPECT_EQ(run_lse<T>(x, dims), (std::vector<T>{inf, inf}));
  EXPECT_EQ(run_argmax<T>(x, dims), (std::vector<std::int64_t>{1, 0}));
}

TYPED_TEST(SoftmaxEdge, PlusInfinityWithNanIsNan) {
  using T = TypeParam;
  for (const std::vector<T>& x :
       {std::vector<T>{kInf<T>, kNan<T>, 1}, std::vector<T>{1, kInf<T>, kNan<T>},
        std::vector<T>{kNan<T>, -kInf<T>, kInf<T>}}) {
    for (const Kernel k : kKernels) {
      for (const T v : run<T>(k, x, {3})) EXPECT_TRUE(std::isnan(v)) << name(k);
    }
    EXPECT_TRUE(std::isnan(run_lse<T>(x, {3})[0]));
    EXPECT_EQ(run_argmax<T>(x, {3})[0], -1);
  }
}

TYPED_TEST(SoftmaxEdge, FullyMaskedRow) {
  using T = TypeParam;
  const T ninf = -kInf<T>;
  const std::vector<T> x{ninf, ninf, ninf, ninf, ninf, 0.5, -2, ninf, 3, 1};
  const Dims dims{2, 5};
  for (const double t : {1.0, 0.5, 7.3}) {
    for (const Kernel k : {Kernel::kSoftmax, Kernel::kOnline}) {
      const std::vector<T> p = run<T>(k, x, dims, -1, t);
      for (std::size_t j = 0; j < 5; ++j) EXPECT_EQ(p[j], T(0)) << name(k) << " T " << t;
      EXPECT_EQ(p[7], T(0));
    }
    const std::vector<T> y = run<T>(Kernel::kLogSoftmax, x, dims, -1, t);
    for (std::size_t j = 0; j < 5; ++j) EXPECT_EQ(y[j], ninf) << "T " << t;
    check_against_oracle<T>(x, dims, -1, t);
  }
  const std::vector<T> lse = run_lse<T>(x, dims);
  EXPECT_EQ(lse[0], ninf);
  EXPECT_TRUE(std::isfinite(lse[1]));
  EXPECT_EQ(run_argmax<T>(x, dims), (std::vector<std::int64_t>{0, 3}));
  // The same masked row seen along a leading axis: (5, 2) along axis 0, column 0.
  std::vector<T> xt(10);
  for (std::size_t r = 0; r < 2; ++r) {
    for (std::size_t k = 0; k < 5; ++k) xt[2 * k + r] = x[5 * r + k];
  }
  check_against_oracle<T>(xt, {5, 2}, 0, 1.0);
}

TYPED_TEST(SoftmaxEdge, EmptyInputs) {
  using T = TypeParam;
  const T ninf = -kInf<T>;
  // Shapes with n == 0 write nothing for the element-wise kernels; every row's logsumexp is
  // -inf and its argmax -1. (0, 5) along the last axis has no rows at all.
  struct EmptyCase {
    Dims dims;
    int axis;
    std::size_t rows;
  };
  for (const EmptyCase& c :
       {EmptyCase{{0}, 0, 1}, EmptyCase{{3, 0, 5}, 1, 15}, EmptyCase{{0, 5}, 0, 5},
        EmptyCase{{0, 5}, -1, 0}, EmptyCase{{4, 0}, -1, 4}}) {
    SCOPED_TRACE(oracle::to_shape(c.dims).str());
    std::vector<T> buf(4, T(777));
    for (const Kernel k : kKernels) {
      const std::span<T> out(buf.data() + 1, 0);
      const std::span<const T> x(buf.data() + 2, 0);
      const softreg::Shape shape = oracle::to_shape(c.dims);
      switch (k) {
        case Kernel::kSoftmax:
          softreg::softmax(out, x, shape, c.axis, 0.5);
          break;
        case Kernel::kLogSoftmax:
          softreg::log_softmax(out, x, shape, c.axis);
          break;
        case Kernel::kOnline:
          softreg::softmax_online(out, x, shape, c.axis);
          break;
      }
      EXPECT_EQ(buf, std::vector<T>(4, T(777))) << name(k);
    }
    const std::vector<T> empty;
    ASSERT_EQ(oracle::layout(c.dims, c.axis).rows(), c.rows);
    EXPECT_EQ(run_lse<T>(empty, c.dims, c.axis), std::vector<T>(c.rows, ninf));
    EXPECT_EQ(run_argmax<T>(empty, c.dims, c.axis), std::vector<std::int64_t>(c.rows, -1));
  }
}

TYPED_TEST(SoftmaxEdge, SingleClass) {
  using T = TypeParam;
  const std::vector<T> x{2.5, -kInf<T>, kInf<T>, T(-1e30), 0, T(3e38)};
  const Dims dims{6, 1};
  for (const double t : {1.0, 0.5}) {
    for (const Kernel k : {Kernel::kSoftmax, Kernel::kOnline}) {
      EXPECT_EQ(run<T>(k, x, dims, -1, t), (std::vector<T>{1, 0, 1, 1, 1, 1})) << name(k);
    }
    EXPECT_EQ(run<T>(Kernel::kLogSoftmax, x, dims, -1, t),
              (std::vector<T>{0, -kInf<T>, 0, 0, 0, 0}));
  }
  EXPECT_EQ(run_lse<T>(x, dims), x);
  EXPECT_EQ(run_argmax<T>(x, dims), std::vector<std::int64_t>(6, 0));
}

// Logits whose naive exp overflows or underflows. T < 1 is avoided for the +-3e38 / +-1e308
// rows because there the exact z / T lies beyond the type.
TYPED_TEST(SoftmaxEdge, ExtremeLogitsStayFiniteAndCorrect) {
  using T = TypeParam;
  const std::vector<T> moderate{1000,     -1000,   999,     0,       T(1e30),
                                T(-1e30), T(5e29), T(1e30), T(-1e4), T(1e4)};
  for (const double t : {1.0, 0.5, 2.0}) {
    check_against_oracle<T>(moderate, {2, 5}, -1, t);
    check_against_oracle<T>(moderate, {2, 5}, 0, t);
    for (const T v : run<T>(Kernel::kSoftmax, moderate, {2, 5}, -1, t))
      EXPECT_TRUE(std::isfinite(v));
  }
  const std::vector<T> extreme = extreme_logits<T>();
  check_against_oracle<T>(extreme, {2, 5}, -1, 1.0);
  for (const double t : {1.0, 2.0}) {
    for (const Kernel k : {Kernel::kSoftmax, Kernel::kOnline}) {
      for (const T v : run<T>(k, extreme, {2, 5}, -1, t)) EXPECT_TRUE(std::isfinite(v)) << name(k);
    }
  }
}

// With T = 2 the exact d_j = (z_j - max) / T of the -big entry is finite (about -0.7 * max of
// the type) even though z_j - max overflows in the type, so the contract's log_softmax bound
// asks for that finite value, not -inf.
TYPED_TEST(SoftmaxEdge, ExtremeLogitsWithTemperatureAboveOne) {
  using T = TypeParam;
  check_against_oracle<T>(extreme_logits<T>(), {2, 5}, -1, 2.0);
}

TYPED_TEST(SoftmaxEdge, DenormalLogits) {
  using T = TypeParam;
  const T sub = std::numeric_limits<T>::denorm_min();
  const T small = std::numeric_limits<T>::min() / 4;
  const std::vector<T> x{sub, -sub, 0, small, -small, small, 3 * sub, 0};
  for (const double t : {1.0, 0.5, 7.3}) check_against_oracle<T>(x, {2, 4}, -1, t);
  for (const T v : run<T>(Kernel::kSoftmax, x, {2, 4}, -1)) EXPECT_NEAR(v, 0.25, 1e-6);
  EXPECT_EQ(run_argmax<T>(x, {2, 4}), (std::vector<std::int64_t>{3, 1}));
}

TYPED_TEST(SoftmaxEdge, ZeroTemperatureIsOneHotArgmaxTiesLow) {
  using T = TypeParam;
  const T inf = kInf<T>;
  const std::vector<T> x{1, 3, 3, 2, -5, -5, -5, -5, inf, 1, inf, 0, -inf, 2, -inf, 2};
  const Dims dims{4, 4};
  const std::vector<T> one_hot{0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0};
  for (const Kernel k : {Kernel::kSoftmax, Kernel::kOnline}) {
    EXPECT_EQ(run<T>(k, x, dims, -1, 0.0), one_hot) << name(k);
  }
  std::vector<T> log_one_hot(one_hot.size());
  for (std::size_t i = 0; i < one_hot.size(); ++i) log_one_hot[i] = one_hot[i] == 1 ? 0 : -inf;
  EXPECT_EQ(run<T>(Kernel::kLogSoftmax, x, dims, -1, 0.0), log_one_hot);
  EXPECT_EQ(run_argmax<T>(x, dims), (std::vector<std::int64_t>{1, 0, 0, 1}));
  // docs/NUMERICS.md: a fully masked row stays all 0 at T = 0 although its argmax is 0.
  const std::vector<T> masked(3, -inf);
  for (const Kernel k : {Kernel::kSoftmax, Kernel::kOnline}) {
    EXPECT_EQ(run<T>(k, masked, {3}, -1, 0.0), std::vector<T>(3, T(0))) << name(k);
  }
  EXPECT_EQ(run<T>(Kernel::kLogSoftmax, masked, {3}, -1, 0.0), std::vector<T>(3, -inf));

  std::mt19937_64 rng(5);
  for (const std::size_t n : {2UL, 17UL, 1000UL}) {
    // Coarse integer logits make ties at the maximum common.
    std::vector<T> xr = oracle::random_logits<T>(3 * n, rng);
    for (T& v : xr) v = std::round(v / 4);
    check_against_oracle<T>(xr, {3, n}, -1, 0.0);
    check_against_oracle<T>(xr, {3, n}, 0, 0.0);
  }
}

TYPED_TEST(SoftmaxEdge, InvalidTemperatureThrows) {
  using T = TypeParam;
  const std::vector<T> x{1, 2, 3, 4};
  const double bad[] = {-1.0, -1e-300, std::numeric_limits<double>::quiet_NaN(),
                        std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity()};
  for (const double t : bad) {
    for (const Kernel k : kKernels) {
      EXPECT_THROW(run<T>(k, x, {4}, -1, t), softreg::InvalidArgument) << name(k) << " T " << t;
    }
  }
  // docs/NUMERICS.md: the throw comes before anything is written.
  std::vector<T> out(4, T(777));
  EXPECT_THROW(softreg::softmax(out, x, softreg::Shape{4}, -1, -1.0), softreg::InvalidArgument);
  EXPECT_THROW(softreg::log_softmax(out, x, softreg::Shape{4}, 5), softreg::InvalidArgument);
  EXPECT_EQ(out, std::vector<T>(4, T(777)));
  // 1e-50 is a valid double temperature but rounds to 0 in float.
  for (const Kernel k : kKernels) {
    if (std::is_same_v<T, float>) {
      EXPECT_THROW(run<T>(k, x, {4}, -1, 1e-50), softreg::InvalidArgument) << name(k);
    } else {
      EXPECT_NO_THROW(check_against_oracle<T>(x, {4}, -1, 1e-50)) << name(k);
    }
  }
}

// A double temperature beyond FLT_MAX rounds to +inf in float. The header rejects +inf and rounds
// float temperatures, so throwing is the expected answer; a kernel that clamps instead must still
// give the large-T limit, and never NaN for a row without NaN.
TEST(SoftmaxEdgeFloat, TemperatureBeyondFloatRange) {
  const std::vector<float> x{1, 2, -kInf<float>, 0.5f};
  for (const double t : {1e39, 1e300}) {
    const auto ref =
        oracle::evaluate<float>(std::span<const float>(x), {4}, -1, static_cast<Real>(t));
    for (const Kernel k : kKernels) {
      std::vector<float> out;
      try {
        out = run<float>(k, x, {4}, -1, t);
      } catch (const softreg::InvalidArgument&) {
        continue;
      }
      EXPECT_TRUE(k == Kernel::kLogSoftmax ? oracle::log_softmax_ok<float>(out, ref)
                                           : oracle::softmax_ok<float>(out, ref))
          << name(k) << " T " << t << " did not throw and gave " << out[0] << " " << out[1] << " "
          << out[2] << " " << out[3];
    }
  }
}

TYPED_TEST(SoftmaxEdge, BadShapesAndSpansThrow) {
  using T = TypeParam;
  const softreg::Shape shape{3, 4};
  std::vector<T> x(12, T(1));
  std::vector<T> out(12);
  std::vector<T> short_out(11);
  std::vector<T> rows(3);
  std::vector<std::int64_t> arg(3);
  for (const Kernel k : kKernels) {
    auto call = [&](std::span<T> o, std::span<const T> in, const softreg::Shape& s, int axis) {
      switch (k) {
        case Kernel::kSoftmax:
          softreg::softmax(o, in, s, axis);
          break;
        case Kernel::kLogSoftmax:
          softreg::log_softmax(o, in, s, axis);
          break;
        case Kernel::kOnline:
          softreg::softmax_online(o, in, s, axis);
          break;
      }
    };
    EXPECT_THROW(call(short_out, x, shape, -1), softreg::InvalidArgument) << name(k);
    EXPECT_THROW(call(out, std::span<const T>(x).first(11), shape, -1), softreg::InvalidArgument);
    EXPECT_THROW(call(out, x, shape, 2), softreg::InvalidArgument) << name(k);
    EXPECT_THROW(call(out, x, shape, -3), softreg::InvalidArgument) << name(k);
    EXPECT_THROW(
        call(std::span<T>(out).first(1), std::span<const T>(x).first(1), softreg::Shape{}, -1),
        softreg::InvalidArgument)
        << name(k) << " scalar";
    // Partial overlap either way round; only out == x exactly is allowed.
    std::vector<T> buf(13, T(1));
    EXPECT_THROW(
        call(std::span<T>(buf).subspan(1, 12), std::span<const T>(buf).first(12), shape, -1),
        softreg::InvalidArgument)
        << name(k);
    EXPECT_THROW(
        call(std::span<T>(buf).first(12), std::span<const T>(buf).subspan(1, 12), shape, -1),
        softreg::InvalidArgument)
        << name(k);
  }
  EXPECT_THROW(softreg::logsumexp(std::span<T>(rows).first(2), x, shape), softreg::InvalidArgument);
  EXPECT_THROW(softreg::logsumexp(rows, x, shape, 2), softreg::InvalidArgument);
  EXPECT_THROW(softreg::logsumexp(std::span<T>(x).subspan(2, 3), x, shape),
               softreg::InvalidArgument);
  EXPECT_THROW(softreg::argmax(std::span<std::int64_t>(arg).first(2), x, shape),
               softreg::InvalidArgument);
  EXPECT_THROW(softreg::argmax(arg, x, shape, -3), softreg::InvalidArgument);
  try {
    softreg::softmax(short_out, x, shape);
    ADD_FAILURE() << "no throw";
  } catch (const softreg::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("softmax"), std::string::npos) << e.what();
  }
}

// The seed's worked example, with the expected values from the seed text as well as the oracle.
TYPED_TEST(SoftmaxEdge, SeedOverflowAndUnderflowExamples) {
  using T = TypeParam;
  const std::vector<T> over{1000, 1001, 1002};
  const std::vector<T> under{-1000, -1000, -1000};
  for (const Kernel k : {Kernel::kSoftmax, Kernel::kOnline}) {
    const std::vector<T> p = run<T>(k, over, {3});
    EXPECT_NEAR(p[0], 0.0900, 5e-5) << name(k);
    EXPECT_NEAR(p[1], 0.2447, 5e-5) << name(k);
    EXPECT_NEAR(p[2], 0.6652, 5e-5) << name(k);
    for (const T v : run<T>(k, under, {3})) {
      EXPECT_NEAR(v, 1.0 / 3.0, 8.0 / 3.0 * static_cast<double>(oracle::eps_of<T>())) << name(k);
    }
  }
  check_against_oracle<T>(over, {3}, -1, 1.0);
  check_against_oracle<T>(under, {3}, -1, 1.0);
}

}  // namespace
