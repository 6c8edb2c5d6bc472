// The vectorized exp and log of simd_math-inl.h against the exact values, on every Highway target
// this CPU runs: the accuracy table at the top of that file, measured in ULP of the result.
//
// The exact value is computed in double for float results and in 80-bit long double for double
// results; a ULP is the spacing of the result type at the exact value (for a result below the
// smallest normal number, the smallest subnormal), so "within one smallest-subnormal unit" is
// the same 1 ULP bound. The measured maxima are printed and recorded as test properties.
#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "../src/kernels/softmax_simd.hpp"
#include "softreg/softmax.hpp"
#include "targets.hpp"

namespace {

using Real = long double;
using simd_targets::kSanitized;

/// Sweeps are thinned under the sanitizers, which run about ten times slower; odd strides
/// reach every pattern of the low mantissa bits.
constexpr std::uint32_t thin(std::uint32_t stride) {
  return kSanitized ? 8 * stride + 1 : stride;
}
constexpr std::size_t count(std::size_t n) {
  return kSanitized ? n / 8 : n;
}

template <class T>
using Exact = std::conditional_t<std::is_same_v<T, float>, double, long double>;

/// Spacing of T at the exact value v (v may lie outside T's range).
template <class T>
Exact<T> ulp_at(Exact<T> v) {
  using E = Exact<T>;
  v = std::fabs(v);
  constexpr int kDigits = std::numeric_limits<T>::digits;  // 24 or 53
  const E smallest = static_cast<E>(std::numeric_limits<T>::denorm_min());
  if (v < static_cast<E>(std::numeric_limits<T>::min())) return smallest;
  int e = 0;
  (void)std::frexp(v, &e);  // v = m 2^e, m in [0.5, 1)
  return std::ldexp(E(1), e - kDigits);
}

template <class T>
std::string show(T x) {
  std::ostringstream s;
  s.precision(std::numeric_limits<T>::max_digits10);
  s << x;
  if constexpr (std::is_same_v<T, float>) {
    s << " (0x" << std::hex << std::bit_cast<std::uint32_t>(x) << ")";
  } else {
    s << " (0x" << std::hex << std::bit_cast<std::uint64_t>(x) << ")";
  }
  return s.str();
}

/// What one result is worth: a rule violation (wrong special value), or an error in ULP
/// counted toward the normal or the subnormal maximum.
struct Verdict {
  bool ok = true;
  bool measured = false;
  bool subnormal = false;
  double ulp = 0;
};

template <class T>
Verdict measure(T got, Exact<T> exact, Exact<T> ulp) {
  Verdict v;
  if (!std::isfinite(got)) {
    v.ok = false;
    return v;
  }
  v.measured = true;
  v.subnormal = std::fabs(exact) < static_cast<Exact<T>>(std::numeric_limits<T>::min());
  v.ulp = static_cast<double>(std::fabs(static_cast<Exact<T>>(got) - exact) / ulp);
  v.ok = v.ulp <= 1.0;
  return v;
}

/// Per-target statistics of one function.
template <class T>
struct Stats {
  std::string target;
  std::size_t points = 0;
  std::size_t failures = 0;
  double max_normal = 0;
  T worst_normal = 0;
  double max_subnormal = 0;
  T worst_subnormal = 0;
  std::size_t subnormal_points = 0;
  std::string first;

  void add(T x, T got, Exact<T> exact, const Verdict& v) {
    ++points;
    if (v.measured) {
      subnormal_points += v.subnormal ? 1 : 0;
      if (v.subnormal && v.ulp > max_subnormal) {
        max_subnormal = v.ulp;
        worst_subnormal = x;
      } else if (!v.subnormal && v.ulp > max_normal) {
        max_normal = v.ulp;
        worst_normal = x;
      }
    }
    if (!v.ok) {
      if (failures < 8) {
        first += "  x = " + show(x) + ": got " + show(got) + ", exact " +
                 show(static_cast<double>(exact)) +
                 (v.measured ? ", " + std::to_string(v.ulp) + " ulp" : std::string()) + "\n";
      }
      ++failures;
    }
  }
};

/// Runs `kernel` on chunks of inputs for every target, the exact values computed once per
/// chunk; check(x, got, exact) gives each result's verdict.
template <class T, class ExactFn, class CheckFn>
class Sweep {
 public:
  using Kernel = void (*)(T*, const T*, std::size_t);

  Sweep(Kernel kernel, ExactFn exact, CheckFn check)
      : kernel_(kernel), exact_fn_(exact), check_(check) {
    targets_ = simd_targets::all();
    for (const std::int64_t t : targets_) {
      stats_.emplace_back();
      stats_.back().target = simd_targets::name(t);
    }
  }

  void add(T x) {
    pending_.push_back(x);
    if (pending_.size() == kChunk) flush();
  }

  void flush() {
    if (pending_.empty()) return;
    exact_.resize(pending_.size());
    got_.resize(pending_.size());
    ulp_.resize(pending_.size());
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      exact_[i] = exact_fn_(pending_[i]);
      ulp_[i] = ulp_at<T>(exact_[i]);
    }
    simd_targets::TargetGuard guard;
    for (std::size_t t = 0; t < targets_.size(); ++t) {
      simd_targets::force(targets_[t]);
      kernel_(got_.data(), pending_.data(), pending_.size());
      for (std::size_t i = 0; i < pending_.size(); ++i) {
        stats_[t].add(pending_[i], got_[i], exact_[i],
                      check_(pending_[i], got_[i], exact_[i], ulp_[i]));
      }
    }
    pending_.clear();
  }

  /// Asserts the bound and prints the measured maxima.
  void report(const std::string& label) {
    flush();
    for (const Stats<T>& s : stats_) {
      std::string subnormal;
      if (s.subnormal_points > 0) {
        subnormal = ", " + std::to_string(s.max_subnormal) + " ulp (subnormal results, at " +
                    show(s.worst_subnormal) + ")";
      }
      std::printf("[ ULP      ] %-8s %-6s max %.3f ulp (at %s)%s, %zu points\n", label.c_str(),
                  s.target.c_str(), s.max_normal, show(s.worst_normal).c_str(), subnormal.c_str(),
                  s.points);
      testing::Test::RecordProperty(label + "_" + s.target + "_max_ulp",
                                    std::to_string(s.max_normal));
      if (s.max_subnormal > 0) {
        testing::Test::RecordProperty(label + "_" + s.target + "_max_ulp_subnormal",
                                      std::to_string(s.max_subnormal));
      }
      EXPECT_EQ(s.failures, 0u) << label << " on " << s.target << ": " << s.failures << " of "
                                << s.points << " results break the rules, first:\n"
                                << s.first;
      EXPECT_LE(s.max_normal, 1.0) << label << " on " << s.target;
      EXPECT_LE(s.max_subnormal, 1.0) << label << " on " << s.target;
    }
  }

 private:
  static constexpr std::size_t kChunk = 1 << 14;
  Kernel kernel_;
  ExactFn exact_fn_;
  CheckFn check_;
  std::vector<std::int64_t> targets_;
  std::vector<Stats<T>> stats_;
  std::vector<T> pending_;
  std::vector<Exact<T>> exact_;
  std::vector<Exact<T>> ulp_;
  std::vector<T> got_;
};

template <class T, class ExactFn, class CheckFn>
Sweep<T, ExactFn, CheckFn> make_sweep(void (*kernel)(T*, const T*, std::size_t), ExactFn exact,
                                      CheckFn check) {
  return Sweep<T, ExactFn, CheckFn>(kernel, exact, check);
}

void exp_f32(float* out, const float* x, std::size_t n) {
  softreg::detail::vector_exp(out, x, n);
}
void exp_f64(double* out, const double* x, std::size_t n) {
  softreg::detail::vector_exp(out, x, n);
}
void log_f32(float* out, const float* x, std::size_t n) {
  softreg::detail::vector_log(out, x, n);
}
void log_f64(double* out, const double* x, std::size_t n) {
  softreg::detail::vector_log(out, x, n);
}

/// exp's rules for type T: NaN stays NaN, 0 below `zero_below`, +inf above `inf_above`, an
/// exact value beyond the largest finite number may come back as +inf (or as that number when
/// it is within 1 ULP), and everything else is within 1 ULP.
template <class T>
Verdict exp_rule(T x, T got, Exact<T> exact, Exact<T> ulp, T zero_below, T inf_above) {
  Verdict v;
  const T inf = std::numeric_limits<T>::infinity();
  if (std::isnan(x)) {
    v.ok = std::isnan(got);
    return v;
  }
  if (x < zero_below) {
    v.ok = got == T(0) && !std::signbit(got);
    return v;
  }
  if (x > inf_above) {
    v.ok = got == inf;
    return v;
  }
  if (exact > static_cast<Exact<T>>(std::numeric_limits<T>::max()) && got == inf) return v;
  return measure<T>(got, exact, ulp);
}

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

// ---- tails and misaligned arrays
//
// The last partial vector of an array takes another path (masked or buffered loads and
// stores): every length up to three vectors and one, at every start offset, in place or not,
// must give the values of one aligned call over the whole array and write nothing else.
template <class T>
bool same_value(T a, T b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <class T>
void check_tails(void (*kernel)(T*, const T*, std::size_t), const std::vector<T>& values,
                 std::size_t lanes) {
  const std::size_t max_len = 3 * lanes + 1;
  ASSERT_LE(max_len, values.size());
  constexpr std::size_t kPad = 8;
  const T sentinel = T(-12345.25);
  std::vector<T> bulk(values.size());
  kernel(bulk.data(), values.data(), values.size());
  for (std::size_t len = 0; len <= max_len; ++len) {
    for (std::size_t off = 0; off <= 3; ++off) {
      SCOPED_TRACE(testing::Message() << "length " << len << " offset " << off);
      // Separate input and output, the output at another offset.
      std::vector<T> in(len + 2 * kPad, T(0));
      std::copy(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(len),
                in.begin() + static_cast<std::ptrdiff_t>(off));
      const std::vector<T> in_copy = in;
      const std::size_t out_off = (off + 1) % 4;
      std::vector<T> out(len + 2 * kPad, sentinel);
      kernel(out.data() + kPad + out_off, in.data() + off, len);
      for (std::size_t i = 0; i < out.size(); ++i) {
        const bool inside = i >= kPad + out_off && i < kPad + out_off + len;
        if (inside) {
          const std::size_t k = i - kPad - out_off;
          EXPECT_TRUE(same_value(out[i], bulk[k])) << "element " << k << " of " << len << ": "
                                                   << show(out[i]) << " vs bulk " << show(bulk[k]);
        } else {
          EXPECT_TRUE(same_value(out[i], sentinel)) << "wrote outside the array at " << i;
        }
      }
      EXPECT_EQ(std::memcmp(in.data(), in_copy.data(), in.size() * sizeof(T)), 0);
      // In place.
      std::vector<T> buf(len + 2 * kPad, sentinel);
      std::copy(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(len),
                buf.begin() + static_cast<std::ptrdiff_t>(kPad + off));
      kernel(buf.data() + kPad + off, buf.data() + kPad + off, len);
      for (std::size_t i = 0; i < buf.size(); ++i) {
        const bool inside = i >= kPad + off && i < kPad + off + len;
        if (inside) {
          const std::size_t k = i - kPad - off;
          EXPECT_TRUE(same_value(buf[i], bulk[k])) << "in place, element " << k << " of " << len;
        } else {
          EXPECT_TRUE(same_value(buf[i], sentinel)) << "in place, wrote outside at " << i;
        }
      }
    }
  }
}

template <class T>
std::vector<T> exp_inputs(std::mt19937_64& rng) {
  const T lo = std::is_same_v<T, float> ? T(-110) : T(-750);
  const T hi = std::is_same_v<T, float> ? T(90) : T(711);
  std::uniform_real_distribution<double> dist(static_cast<double>(lo), static_cast<double>(hi));
  std::vector<T> v(64);
  for (T& x : v) x = static_cast<T>(dist(rng));
  v[5] = std::numeric_limits<T>::quiet_NaN();
  v[11] = -std::numeric_limits<T>::infinity();
  v[19] = std::numeric_limits<T>::infinity();
  v[23] = T(0);
  return v;
}

template <class T>
std::vector<T> log_inputs(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> dist(-30.0, 30.0);
  std::vector<T> v(64);
  for (T& x : v) x = static_cast<T>(std::exp(dist(rng)));
  v[3] = std::numeric_limits<T>::denorm_min();
  v[7] = std::numeric_limits<T>::quiet_NaN();
  v[13] = T(0);
  v[17] = T(-1);
  v[21] = std::numeric_limits<T>::infinity();
  v[29] = T(1);
  return v;
}

TEST(SimdMath, TailsAndMisalignedArraysMatchTheBulkCall) {
  simd_targets::for_each([](std::int64_t target) {
    const std::size_t lanes_f32 = softreg::detail::strided_block_width_f32() / 2;
    const std::size_t lanes_f64 = std::max<std::size_t>(1, lanes_f32 / 2);
    std::mt19937_64 rng(static_cast<std::uint64_t>(target));
    {
      SCOPED_TRACE("exp float");
      check_tails<float>(&exp_f32, exp_inputs<float>(rng), lanes_f32);
    }
    {
      SCOPED_TRACE("exp double");
      check_tails<double>(&exp_f64, exp_inputs<double>(rng), lanes_f64);
    }
    {
      SCOPED_TRACE("log float");
      check_tails<float>(&log_f32, log_inputs<float>(rng), lanes_f32);
    }
    {
      SCOPED_TRACE("log double");
      check_tails<double>(&log_f64, log_inputs<double>(rng), lanes_f64);
    }
  });
}

// Dispatch reaches each target's own code: the vector width the library reports follows the
// forced target (checked by simd_targets::for_each), and the targets without FMA (SSE4, SSSE3)
// round some intermediate results differently. How many exp results differ between targets is
// printed for the record; bitwise agreement would be legitimate, so it is not asserted.
TEST(SimdMath, DispatchFollowsTheForcedTarget) {
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> dist(-80.0, 80.0);
  std::vector<float> x(1 << 16);
  for (float& v : x) v = static_cast<float>(dist(rng));
  std::vector<std::string> names;
  std::vector<std::vector<float>> results;
  simd_targets::for_each([&](std::int64_t t) {
    names.push_back(simd_targets::name(t));
    results.emplace_back(x.size());
    softreg::detail::vector_exp(results.back().data(), x.data(), x.size());
  });
  for (std::size_t a = 0; a < results.size(); ++a) {
    for (std::size_t b = a + 1; b < results.size(); ++b) {
      std::size_t differ = 0;
      for (std::size_t i = 0; i < x.size(); ++i) differ += results[a][i] != results[b][i] ? 1 : 0;
      std::printf("[ TARGETS  ] exp f32 %s vs %s: %zu of %zu results differ\n", names[a].c_str(),
                  names[b].c_str(), differ, x.size());
    }
  }
}

}  // namespace
