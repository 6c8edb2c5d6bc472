// Vectorized exp and log for every Highway target (included once per target by the kernels'
// foreach_target files). Both follow the classic recipe: reduce the argument exactly by a
// multiple of ln 2 (exp) or a power of two (log), evaluate a short series on the reduced
// argument, and scale back by a power of two built from integer bits.
//
// Accuracy against the exact value, over the whole valid range (tests/test_simd_exp.cpp and
// tests/test_simd_log.cpp sweep it on every compiled target):
//   Exp  float: <= 1 ULP for x in [-87.3, 88.7] (normal results); subnormal results within one
//        unit of the smallest subnormal; exp(x) = 0 below -103.98 and +inf above 88.73.
//        double: <= 1 ULP for x in [-708.3, 709.7]; the same rules at the subnormal edge,
//        0 below -745.2 and +inf above 709.79.
//   Log  float and double: <= 1 ULP for every positive finite x, subnormals included.
//   ExpNonPositive (x <= 0 only, used by the softmax kernels): <= 1 ULP for normal results,
//        except float on targets with native FMA (AVX2, AVX-512, NEON on aarch64, SVE):
//        <= 1 + 0.05 |x| ULP (a cheaper
//        argument reduction; at most 5.4 ULP at x = -87.3, measured 4.5). Results below the
//        smallest normal number are 0 (absolute error below that number).
//   Special values: exp(-inf) = 0, exp(+inf) = +inf, log(0) = -inf, log(+inf) = +inf, log of a
//   negative number is NaN, and NaN stays NaN.
#if defined(SOFTREG_KERNELS_SIMD_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SOFTREG_KERNELS_SIMD_MATH_INL_H_
#undef SOFTREG_KERNELS_SIMD_MATH_INL_H_
#else
#define SOFTREG_KERNELS_SIMD_MATH_INL_H_
#endif

#include <hwy/highway.h>

#include <cstdint>
#include <limits>

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class T>
struct MathConstants;

template <>
struct MathConstants<float> {
  static constexpr int kMantissaBits = 23;
  static constexpr int kBias = 127;
  static constexpr float kLog2e = 1.44269504088896341f;
  // ln 2 split so that n * kLn2Hi is exact for |n| < 2^9.
  static constexpr float kLn2Hi = 0.693145751953125f;
  static constexpr float kLn2Lo = 1.42860682030941723212e-6f;
  static constexpr float kLn2 = 0.693147180559945309f;  // ln 2 rounded to float
  static constexpr float kExpLow = -104.0f;             // exp rounds to 0 below -103.98
  static constexpr float kExpHigh = 89.0f;              // and to +inf above 88.73
  static constexpr float kFlushBelow = -88.0f;          // exp(-88) < smallest normal; 2^-127 -> 0
  static constexpr float kShifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  static constexpr std::int32_t kShifterBits = 0x4B400000;
  static constexpr float kSmallestNormal = 1.17549435e-38f;
  static constexpr float kSubnormalScale = 16777216.0f;  // 2^24
  static constexpr int kSubnormalShift = 24;
};

template <>
struct MathConstants<double> {
  static constexpr int kMantissaBits = 52;
  static constexpr int kBias = 1023;
  static constexpr double kLog2e = 1.44269504088896340736;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01;
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kExpLow = -746.0;
  static constexpr double kExpHigh = 710.0;
  static constexpr double kFlushBelow = -709.0;
  static constexpr double kShifter = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr std::int64_t kShifterBits = 0x4338000000000000LL;
  static constexpr double kSmallestNormal = 2.2250738585072014e-308;
  static constexpr double kSubnormalScale = 18014398509481984.0;  // 2^54
  static constexpr int kSubnormalShift = 54;
};

/// exp(r) - 1 - r for |r| <= ln(2) / 2, as r^2 q(r). float: q of degree 4, fitted to
/// (e^r - 1 - r) / r^2 on that interval (relative error of the approximation 3e-9, a twentieth
/// of float's eps); double: the Taylor polynomial of degree 11 (truncation below 2^-57).
template <class D, class V>
HWY_INLINE V ExpTail(D d, V r) {
  using T = hn::TFromD<D>;
  V p;
  if constexpr (sizeof(T) == 4) {
    p = hn::Set(d, T(0.0013813258847221732));
    p = hn::MulAdd(p, r, hn::Set(d, T(0.008368706330657005)));
    p = hn::MulAdd(p, r, hn::Set(d, T(0.04166841506958008)));
    p = hn::MulAdd(p, r, hn::Set(d, T(0.1666652113199234)));
    p = hn::MulAdd(p, r, hn::Set(d, T(0.4999999403953552)));
  } else {
    p = hn::Set(d, T(1.0 / 6227020800.0));
    p = hn::MulAdd(p, r, hn::Set(d, T(1.0 / 479001600.0)));
    p = hn::MulAdd(p, r, hn::Set(d, T(1.0 / 39916800.0)));
    p = hn::MulAdd(p, r, hn::Set(d, T(1.0 / 3628800.0)));
    p = hn::MulAdd(p, r, hn::Set(d, T(1.0 / 362880.0)));
    p = hn::MulAdd(p, r, hn::Set(d, T(1.0 / 40320.0)));
    p = hn::MulAdd(p, r, hn::Set(d, T(1.0 / 5040.0)));
    p = hn::MulAdd(p, r, hn::Set(d, T(1.0 / 720.0)));
    p = hn::MulAdd(p, r, hn::Set(d, T(1.0 / 120.0)));
    p = hn::MulAdd(p, r, hn::Set(d, T(1.0 / 24.0)));
    p = hn::MulAdd(p, r, hn::Set(d, T(1.0 / 6.0)));
    p = hn::MulAdd(p, r, hn::Set(d, T(0.5)));
  }
  return p;
}

/// e^x, lane by lane (see the accuracy table at the top of this file).
template <class D, class V>
HWY_INLINE V Exp(D d, V x) {
  using T = hn::TFromD<D>;
  using C = MathConstants<T>;
  const hn::RebindToSigned<D> di;
  // Clamp so that n stays small; NaN is restored at the end.
  const V xc = hn::Min(hn::Max(x, hn::Set(d, C::kExpLow)), hn::Set(d, C::kExpHigh));
  // n = round(x / ln 2) through the shifter: its low mantissa bits then hold n.
  const V shifted = hn::MulAdd(xc, hn::Set(d, C::kLog2e), hn::Set(d, C::kShifter));
  const V n = hn::Sub(shifted, hn::Set(d, C::kShifter));
  const auto ni = hn::Sub(hn::BitCast(di, shifted), hn::BitCast(di, hn::Set(d, C::kShifter)));
  // r = x - n ln 2: the first step is exact, the second rounds; what it drops (corr) is added
  // back to exp(r) - 1, which keeps the result within one rounding of the exact value.
  const V r_hi = hn::NegMulAdd(n, hn::Set(d, C::kLn2Hi), xc);
  const V r = hn::NegMulAdd(n, hn::Set(d, C::kLn2Lo), r_hi);
  const V corr = hn::NegMulAdd(n, hn::Set(d, C::kLn2Lo), hn::Sub(r_hi, r));
  // exp(r + corr) - 1 = r + (r^2 q(r) + corr): the small term is formed first, so only the
  // last addition rounds at the size of the result.
  const V em1 = hn::Add(r, hn::MulAdd(hn::Mul(r, r), ExpTail(d, r), corr));
  // 2^n as two factors 2^(n/2) 2^(n - n/2), so subnormal and overflowing results round once.
  const auto half = hn::ShiftRight<1>(ni);
  const auto bias = hn::Set(di, static_cast<hn::TFromD<decltype(di)>>(C::kBias));
  const V f1 = hn::BitCast(d, hn::ShiftLeft<C::kMantissaBits>(hn::Add(half, bias)));
  const V f2 = hn::BitCast(d, hn::ShiftLeft<C::kMantissaBits>(hn::Add(hn::Sub(ni, half), bias)));
  // (1 + em1) f1 rounds once (f1 is a power of two); times f2 is exact unless subnormal.
  const V result = hn::Mul(hn::MulAdd(em1, f1, f1), f2);
  return hn::IfThenElse(hn::IsNaN(x), x, result);
}

/// e^x for x <= 0 (or NaN, or -inf), the exponential softmax needs: results below the smallest
/// normal number flush to 0 (an absolute error below it), which saves the overflow clamp, the
/// two-factor scaling and, on x86, the NaN fix-up of Exp. Error: the table at the top.
template <class D, class V>
HWY_INLINE V ExpNonPositive(D d, V x) {
  using T = hn::TFromD<D>;
  using C = MathConstants<T>;
  using TI = hn::TFromD<hn::RebindToSigned<D>>;
  const hn::RebindToSigned<D> di;
  // x86 max returns its second operand when either is NaN, so NaN survives the clamp there.
  const V xc = hn::Max(hn::Set(d, C::kFlushBelow), x);
  const V shifted = hn::MulAdd(xc, hn::Set(d, C::kLog2e), hn::Set(d, C::kShifter));
  const V n = hn::Sub(shifted, hn::Set(d, C::kShifter));
  // The biased exponent n + bias straight from the shifter's bits; n >= -bias, and a biased
  // exponent of 0 makes the scale, and the result, exactly 0.
  const TI offset = static_cast<TI>(C::kBias) - static_cast<TI>(C::kShifterBits);
  const V scale = hn::BitCast(
      d, hn::ShiftLeft<C::kMantissaBits>(hn::Add(hn::BitCast(di, shifted), hn::Set(di, offset))));
  V em1;
  if constexpr (sizeof(T) == 4 && HWY_NATIVE_FMA) {
    // One fused step with ln 2 rounded to float: r is off by n (ln2_f - ln 2), a relative
    // error of at most 0.046 |x| ULP in the result, which the softmax bounds' |d| term covers.
    // Three operations fewer than the exact reduction in the hottest loop of the kernels.
    const V r = hn::NegMulAdd(n, hn::Set(d, C::kLn2), xc);
    em1 = hn::MulAdd(hn::Mul(r, r), ExpTail(d, r), r);
  } else {  // without FMA, n ln 2 would round at the size of x: the exact reduction of Exp
    const V r_hi = hn::NegMulAdd(n, hn::Set(d, C::kLn2Hi), xc);
    const V r = hn::NegMulAdd(n, hn::Set(d, C::kLn2Lo), r_hi);
    const V corr = hn::NegMulAdd(n, hn::Set(d, C::kLn2Lo), hn::Sub(r_hi, r));
    em1 = hn::Add(r, hn::MulAdd(hn::Mul(r, r), ExpTail(d, r), corr));
  }
  const V result = hn::MulAdd(em1, scale, scale);
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
  return result;
#else
  return hn::IfThenElse(hn::IsNaN(x), x, result);
#endif
}

/// 2 atanh(s) / (2 s) - 1 = s^2/3 + s^4/5 + ... for |s| <= 0.1716 (s^2 <= 0.0295): terms to
/// s^12 for float, to s^22 for double.
template <class D, class V>
HWY_INLINE V AtanhTail(D d, V s2) {
  using T = hn::TFromD<D>;
  V p;
  if constexpr (sizeof(T) == 4) {
    p = hn::Set(d, T(1.0 / 13));
    p = hn::MulAdd(p, s2, hn::Set(d, T(1.0 / 11)));
    p = hn::MulAdd(p, s2, hn::Set(d, T(1.0 / 9)));
    p = hn::MulAdd(p, s2, hn::Set(d, T(1.0 / 7)));
    p = hn::MulAdd(p, s2, hn::Set(d, T(1.0 / 5)));
    p = hn::MulAdd(p, s2, hn::Set(d, T(1.0 / 3)));
  } else {
    p = hn::Set(d, T(1.0 / 23));
    for (int k = 21; k >= 3; k -= 2) p = hn::MulAdd(p, s2, hn::Set(d, T(1.0 / k)));
  }
  return hn::Mul(p, s2);
}

/// log x, lane by lane (see the accuracy table at the top of this file).
template <class D, class V>
HWY_INLINE V Log(D d, V x) {
  using T = hn::TFromD<D>;
  using C = MathConstants<T>;
  using TI = hn::TFromD<hn::RebindToSigned<D>>;
  const hn::RebindToSigned<D> di;
  const auto subnormal = hn::Lt(x, hn::Set(d, C::kSmallestNormal));
  const V xs = hn::IfThenElse(subnormal, hn::Mul(x, hn::Set(d, C::kSubnormalScale)), x);
  auto bits = hn::BitCast(di, xs);
  // x = m 2^e with m in [sqrt(1/2), sqrt(2)): shift the mantissa test point to sqrt(1/2).
  const TI sqrt_half_bits = sizeof(T) == 4 ? TI(0x3f3504f3) : TI(0x3fe6a09e667f3bcdLL);
  const TI mantissa_mask = (TI(1) << C::kMantissaBits) - 1;
  const auto shifted = hn::Sub(bits, hn::Set(di, sqrt_half_bits));
  auto e = hn::ShiftRight<C::kMantissaBits>(shifted);  // arithmetic: floor
  e = hn::Sub(
      e, hn::IfThenElseZero(hn::RebindMask(di, subnormal), hn::Set(di, TI(C::kSubnormalShift))));
  const auto mbits =
      hn::Add(hn::And(shifted, hn::Set(di, mantissa_mask)), hn::Set(di, sqrt_half_bits));
  const V m = hn::BitCast(d, mbits);
  const V f = hn::Sub(m, hn::Set(d, T(1)));              // exact
  const V s = hn::Div(f, hn::Add(f, hn::Set(d, T(2))));  // f / (2 + f)
  const V s2 = hn::Mul(s, s);
  // log m = 2 atanh(s) = f - s f + 2 s tail, arranged so the large term f enters exactly.
  const V hfsq = hn::Mul(hn::Set(d, T(0.5)), hn::Mul(f, f));
  // log(1 + f) - f = s (f^2 / 2 + R) - f^2 / 2 with R = 2 (s^2 / 3 + s^4 / 5 + ...).
  const V big_r = hn::Mul(hn::Set(d, T(2)), AtanhTail(d, s2));
  const V r = hn::MulAdd(s, hn::Add(hfsq, big_r), hn::Neg(hfsq));
  const V ef = hn::ConvertTo(d, e);
  V result = hn::MulAdd(ef, hn::Set(d, C::kLn2Lo), r);
  result = hn::Add(result, f);
  result = hn::MulAdd(ef, hn::Set(d, C::kLn2Hi), result);
  // Special values: 0 -> -inf, negative -> NaN, +inf and NaN -> themselves.
  const V inf = hn::Inf(d);
  result = hn::IfThenElse(hn::Eq(x, hn::Zero(d)), hn::Neg(inf), result);
  result = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Set(d, std::numeric_limits<T>::quiet_NaN()),
                          result);
  result = hn::IfThenElse(hn::Or(hn::IsNaN(x), hn::Eq(x, inf)), x, result);
  return result;
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SOFTREG_KERNELS_SIMD_MATH_INL_H_
