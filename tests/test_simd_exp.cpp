// The vectorized exp of simd_math-inl.h against the exact values on every Highway target this CPU
// runs (float and double, the whole range, special values), and the exponential the softmax
// kernels use seen through softmax. The measured maxima are printed and recorded as test
// properties.
#include <gtest/gtest.h>

#include "simd_math_sweep.hpp"

namespace {

using namespace simd_math_sweep;

// ---- float exp

TEST(SimdMath, ExpFloatWithinOneUlpOverItsRange) {
  auto sweep = make_sweep<float>(
      &exp_f32, [](float x) { return std::exp(static_cast<double>(x)); },
      [](float x, float got, double exact, double ulp) {
        return exp_rule<float>(x, got, exact, ulp, -103.98f, 88.73f);
      });
  const auto bits = [](float f) { return std::bit_cast<std::uint32_t>(f); };
  // Every k-th bit pattern in [0, 89] and in [-104, -0].
  const std::uint32_t stride = thin(127);
  for (std::uint64_t u = 0; u <= bits(89.0f); u += stride) {
    sweep.add(std::bit_cast<float>(static_cast<std::uint32_t>(u)));
  }
  for (std::uint64_t u = bits(-0.0f); u <= bits(-104.0f); u += stride) {
    sweep.add(std::bit_cast<float>(static_cast<std::uint32_t>(u)));
  }
  // [-1, 1] on a grid of 2^-21, and every pattern near the overflow and underflow edges.
  const int grid = kSanitized ? 1 << 18 : 1 << 21;
  for (int k = -grid; k <= grid; ++k) sweep.add(static_cast<float>(k) / static_cast<float>(grid));
  for (std::uint32_t u = bits(88.6f); u <= bits(89.0f); ++u) sweep.add(std::bit_cast<float>(u));
  for (std::uint32_t u = bits(-87.0f); u <= bits(-104.0f); u += thin(3)) {
    sweep.add(std::bit_cast<float>(u));
  }
  // Inputs where an exhaustive search over every float found the FMA (AVX2) variant farthest
  // from the exact value.
  for (const std::uint32_t u :
       {0x40a660f5u, 0x40a66130u, 0x41825189u, 0x4182585fu, 0x41d5cf8du, 0x42171c4eu, 0x42171d54u,
        0x42171f51u, 0x426d308bu, 0xc0a65534u, 0xc1824f11u, 0xc1db0621u, 0xc1db0878u}) {
    sweep.add(std::bit_cast<float>(u));
  }
  for (const float x :
       {0.0f,     -0.0f,   1.0f,    -1.0f,      88.72283f,    88.7228394f, 88.73f,
        89.0f,    1e10f,   FLT_MAX, -87.33654f, -87.3365479f, -103.97f,    -103.972077f,
        -103.98f, -104.0f, -1e10f,  -FLT_MAX,   FLT_MIN,      -FLT_MIN,    FLT_TRUE_MIN}) {
    sweep.add(x);
  }
  sweep.report("exp_f32");
}

TEST(SimdMath, ExpFloatSpecialValues) {
  simd_targets::for_each([](std::int64_t) {
    const float inf = std::numeric_limits<float>::infinity();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float x[] = {-inf, inf, nan, -nan, 0.0f, -0.0f, -200.0f, 200.0f};
    float y[std::size(x)];
    softreg::detail::vector_exp(y, x, std::size(x));
    EXPECT_EQ(y[0], 0.0f);
    EXPECT_FALSE(std::signbit(y[0]));
    EXPECT_EQ(y[1], inf);
    EXPECT_TRUE(std::isnan(y[2]));
    EXPECT_TRUE(std::isnan(y[3]));
    EXPECT_EQ(y[4], 1.0f);
    EXPECT_EQ(y[5], 1.0f);
    EXPECT_EQ(y[6], 0.0f);
    EXPECT_EQ(y[7], inf);
  });
}

// ---- double exp

TEST(SimdMath, ExpDoubleWithinOneUlpOverItsRange) {
  auto sweep = make_sweep<double>(
      &exp_f64, [](double x) { return std::exp(static_cast<long double>(x)); },
      [](double x, double got, long double exact, long double ulp) {
        return exp_rule<double>(x, got, exact, ulp, -745.2, 709.79);
      });
  std::mt19937_64 rng(2024);
  const auto uniform = [&](double lo, double hi, std::size_t n) {
    std::uniform_real_distribution<double> dist(lo, hi);
    for (std::size_t i = 0; i < n; ++i) sweep.add(dist(rng));
  };
  uniform(-745.2, 709.78, count(2'000'000));
  uniform(-1.0, 1.0, count(500'000));
  uniform(-1e-6, 1e-6, count(50'000));
  uniform(-745.3, -708.3, count(200'000));  // subnormal results and the underflow edge
  uniform(709.5, 709.8, count(100'000));    // the overflow edge
  for (const double x : {0.0,
                         -0.0,
                         1.0,
                         -1.0,
                         709.78,
                         709.782712893384,
                         709.7827128933841,
                         709.79,
                         710.0,
                         1e300,
                         DBL_MAX,
                         -708.3964185322641,
                         -708.4,
                         -745.13321910194110,
                         -745.1332191019412,
                         -745.2,
                         -746.0,
                         -1e300,
                         -DBL_MAX,
                         DBL_MIN,
                         -DBL_MIN,
                         DBL_TRUE_MIN}) {
    sweep.add(x);
  }
  sweep.report("exp_f64");
}

TEST(SimdMath, ExpDoubleSpecialValues) {
  simd_targets::for_each([](std::int64_t) {
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double x[] = {-inf, inf, nan, -nan, 0.0, -0.0, -800.0, 800.0};
    double y[std::size(x)];
    softreg::detail::vector_exp(y, x, std::size(x));
    EXPECT_EQ(y[0], 0.0);
    EXPECT_FALSE(std::signbit(y[0]));
    EXPECT_EQ(y[1], inf);
    EXPECT_TRUE(std::isnan(y[2]));
    EXPECT_TRUE(std::isnan(y[3]));
    EXPECT_EQ(y[4], 1.0);
    EXPECT_EQ(y[5], 1.0);
    EXPECT_EQ(y[6], 0.0);
    EXPECT_EQ(y[7], inf);
  });
}

// ---- the exponential the softmax kernels use (ExpNonPositive), seen through softmax
//
// For a row [0, x], the kernel's sum of exponentials is 1 + e with e its exp(x). For float and
// x < -17.4, e < 2^-25: the reciprocal of the sum rounds to exactly 1 in float, so p_1 is e
// itself; for double and x < -37.5, e < 2^-54 and the sum is exactly 1. There, softmax shows
// ExpNonPositive's value unchanged, and it is compared with the exact e^x: 1 ULP for normal
// results, an absolute error below the smallest normal number for the others. (The exact p_1 =
// e^x / (1 + e^x) differs from e^x by up to 0.25 ULP for float at x = -18: this is a test of
// the exponential, not of the softmax bound, which is far looser.) Float on targets with FMA
// takes a one-step argument reduction with ln 2 rounded to float, allowed 1 + 0.05 |x| ULP
// (the offset n (ln2_f - ln 2) is at most 0.046 |x| ULP of the result).
template <class T>
void sweep_exp_non_positive(const std::vector<T>& xs, const char* label) {
  std::vector<T> rows(2 * xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    rows[2 * i] = T(0);
    rows[2 * i + 1] = xs[i];
  }
  std::vector<Exact<T>> exact(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) exact[i] = std::exp(static_cast<Exact<T>>(xs[i]));
  std::vector<T> p(rows.size());
  const softreg::Shape shape{xs.size(), 2};
  simd_targets::for_each([&](std::int64_t target) {
    softreg::softmax(std::span<T>(p), std::span<const T>(rows), shape);
    double max_ulp = 0;
    T worst = 0;
    std::size_t bad = 0;
    std::string first;
    const auto tiny = static_cast<Exact<T>>(std::numeric_limits<T>::min());
    const double per_unit_x = sizeof(T) == 4 && simd_targets::has_fma(target) ? 0.05 : 0.0;
    double max_excess = 0;  // the largest error over its allowance, <= 0 when all pass
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const T got = p[2 * i + 1];
      bool ok;
      if (exact[i] < tiny) {
        ok = std::fabs(static_cast<Exact<T>>(got) - exact[i]) < tiny;
      } else {
        const Verdict v = measure<T>(got, exact[i], ulp_at<T>(exact[i]));
        if (v.ulp > max_ulp) {
          max_ulp = v.ulp;
          worst = xs[i];
        }
        const double allowed = 1.0 + per_unit_x * std::fabs(static_cast<double>(xs[i]));
        max_excess = std::max(max_excess, v.ulp - allowed);
        ok = v.measured && v.ulp <= allowed;
      }
      if (!ok && bad++ < 8) {
        first += "  x = " + show(xs[i]) + ": got " + show(got) + ", exact " +
                 show(static_cast<double>(exact[i])) + "\n";
      }
    }
    std::printf("[ ULP      ] %-8s %-6s max %.3f ulp (at %s), %zu points\n", label,
                simd_targets::name(target).c_str(), max_ulp, show(worst).c_str(), xs.size());
    testing::Test::RecordProperty(
        std::string(label) + "_" + simd_targets::name(target) + "_max_ulp",
        std::to_string(max_ulp));
    EXPECT_EQ(bad, 0u) << first;
    EXPECT_LE(max_excess, 0.0);
  });
}

TEST(SimdMath, ExpNonPositiveFloatThroughSoftmax) {
  std::vector<float> xs;
  const auto bits = [](float f) { return std::bit_cast<std::uint32_t>(f); };
  for (std::uint32_t u = bits(-18.0f); u <= bits(-90.0f); u += thin(13)) {
    xs.push_back(std::bit_cast<float>(u));
  }
  // Found by an exhaustive search of the FMA variant over [-87.33, 0].
  for (const std::uint32_t u : {0xc1db0621u, 0xc1db0878u}) xs.push_back(std::bit_cast<float>(u));
  sweep_exp_non_positive<float>(xs, "expnp_f32");
}

TEST(SimdMath, ExpNonPositiveDoubleThroughSoftmax) {
  std::vector<double> xs;
  std::mt19937_64 rng(77);
  std::uniform_real_distribution<double> normal(-708.3, -38.0);
  for (std::size_t i = 0; i < count(400'000); ++i) xs.push_back(normal(rng));
  std::uniform_real_distribution<double> edge(-712.0, -708.3);
  for (std::size_t i = 0; i < count(50'000); ++i) xs.push_back(edge(rng));
  sweep_exp_non_positive<double>(xs, "expnp_f64");
}

}  // namespace
