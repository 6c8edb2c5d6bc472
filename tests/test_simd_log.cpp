// The vectorized log of simd_math-inl.h against the exact values on every Highway target this CPU
// runs: every positive float, a sweep of doubles, special values.
#include <gtest/gtest.h>

#include "simd_math_sweep.hpp"

namespace {

using namespace simd_math_sweep;

// ---- log

template <class T>
Verdict log_rule(T x, T got, Exact<T> exact, Exact<T> ulp) {
  Verdict v;
  if (std::isnan(x) || x < T(0)) {
    v.ok = std::isnan(got);
    return v;
  }
  if (x == T(0)) {
    v.ok = got == -std::numeric_limits<T>::infinity();
    return v;
  }
  if (std::isinf(x)) {
    v.ok = got == x;
    return v;
  }
  if (x == T(1)) {
    v.ok = got == T(0);
    return v;
  }
  return measure<T>(got, exact, ulp);
}

TEST(SimdMath, LogFloatWithinOneUlpForEveryPositiveFloat) {
  auto sweep = make_sweep<float>(
      &log_f32, [](float x) { return std::log(static_cast<double>(x)); },
      [](float x, float got, double exact, double ulp) {
        return log_rule<float>(x, got, exact, ulp);
      });
  const auto bits = [](float f) { return std::bit_cast<std::uint32_t>(f); };
  // Every k-th positive finite pattern, subnormals included; the subnormals more densely.
  for (std::uint64_t u = 1; u <= 0x7f7fffffu; u += thin(127)) {
    sweep.add(std::bit_cast<float>(static_cast<std::uint32_t>(u)));
  }
  for (std::uint32_t u = 1; u < 0x00800000u; u += thin(13)) sweep.add(std::bit_cast<float>(u));
  // Around 1, where log is smallest relative to its argument: [0.5, 2] densely.
  for (std::uint32_t u = bits(0.5f); u <= bits(2.0f); u += thin(3)) {
    sweep.add(std::bit_cast<float>(u));
  }
  for (const float x : {FLT_TRUE_MIN, FLT_MIN, FLT_MAX, 1.0f, std::nextafter(1.0f, 2.0f),
                        std::nextafter(1.0f, 0.0f), 0.70710677f, 0.70710683f, 1.4142135f, 2.0f,
                        0.5f, 2.7182817f, 2.7182819f}) {
    sweep.add(x);
  }
  sweep.report("log_f32");
}

TEST(SimdMath, LogDoubleWithinOneUlpForEveryPositiveDouble) {
  auto sweep = make_sweep<double>(
      &log_f64, [](double x) { return std::log(static_cast<long double>(x)); },
      [](double x, double got, long double exact, long double ulp) {
        return log_rule<double>(x, got, exact, ulp);
      });
  std::mt19937_64 rng(4096);
  // Random bit patterns over all positive finite doubles, then the subnormals and [0.5, 2].
  std::uniform_int_distribution<std::uint64_t> all(1, 0x7fefffffffffffffULL);
  for (std::size_t i = 0; i < count(2'000'000); ++i) sweep.add(std::bit_cast<double>(all(rng)));
  std::uniform_int_distribution<std::uint64_t> sub(1, 0x000fffffffffffffULL);
  for (std::size_t i = 0; i < count(200'000); ++i) sweep.add(std::bit_cast<double>(sub(rng)));
  std::uniform_real_distribution<double> near_one(0.5, 2.0);
  for (std::size_t i = 0; i < count(500'000); ++i) sweep.add(near_one(rng));
  for (int k = 1; k <= 2000; ++k) {
    sweep.add(1.0 + k * DBL_EPSILON);
    sweep.add(1.0 - k * DBL_EPSILON / 2);
  }
  for (const double x :
       {DBL_TRUE_MIN, DBL_MIN, DBL_MAX, 1.0, 0.7071067811865475, 0.7071067811865476,
        1.4142135623730951, 2.0, 0.5, 2.718281828459045, 2.7182818284590455}) {
    sweep.add(x);
  }
  sweep.report("log_f64");
}

template <class T>
void check_log_specials() {
  const T inf = std::numeric_limits<T>::infinity();
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T x[] = {T(0), -T(0), T(-1), -inf, inf, nan, T(1), -std::numeric_limits<T>::denorm_min()};
  T y[std::size(x)];
  softreg::detail::vector_log(y, x, std::size(x));
  EXPECT_EQ(y[0], -inf);
  EXPECT_EQ(y[1], -inf);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_TRUE(std::isnan(y[3]));
  EXPECT_EQ(y[4], inf);
  EXPECT_TRUE(std::isnan(y[5]));
  EXPECT_EQ(y[6], T(0));
  EXPECT_FALSE(std::signbit(y[6]));
  EXPECT_TRUE(std::isnan(y[7]));
}

TEST(SimdMath, LogSpecialValues) {
  simd_targets::for_each([](std::int64_t) {
    check_log_specials<float>();
    check_log_specials<double>();
  });
}

}  // namespace
