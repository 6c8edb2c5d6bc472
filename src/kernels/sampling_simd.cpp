// Highway implementations of the sampler's float32 passes (sampling_passes.hpp), compiled once
// per SIMD target with -ffp-contract=off: SamplingExp repeats sampling_exp's float operations
// lane for lane, so every target and the scalar reference give the same weights bit for bit.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/sampling_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "kernels/row_simd-inl.h"
#include "kernels/sampling_passes.hpp"

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// sampling_exp on every lane: the same operations in the same order, 0 below -30 and for
/// -inf or NaN lanes.
template <class D>
HWY_INLINE hn::Vec<D> SamplingExp(D d, hn::Vec<D> x) {
  const hn::RebindToSigned<D> di;
  const auto keep = hn::Ge(x, hn::Set(d, kWeightFloor));
  const auto xs = hn::IfThenElseZero(keep, x);
  const auto n = hn::Round(hn::Mul(xs, hn::Set(d, kLog2e)));
  const auto r =
      hn::Sub(hn::Sub(xs, hn::Mul(n, hn::Set(d, kLn2Hi))), hn::Mul(n, hn::Set(d, kLn2Lo)));
  auto p = hn::Set(d, kExpC[7]);
  p = hn::Add(hn::Mul(p, r), hn::Set(d, kExpC[6]));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, kExpC[5]));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, kExpC[4]));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, kExpC[3]));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, kExpC[2]));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, kExpC[1]));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, kExpC[0]));
  const auto bits = hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, n), hn::Set(di, 127)));
  return hn::IfThenElseZero(keep, hn::Mul(p, hn::BitCast(d, bits)));
}

void SamplingExpArray(const float* x, std::size_t n, float* out) {
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(SamplingExp(d, hn::LoadU(d, x + i)), d, out + i);
  if (i < n) StoreTail(d, SamplingExp(d, LoadTail(d, x + i, n - i, 0.0f)), out + i, n - i);
}

void MaxNan(const float* z, std::size_t n, float& max, bool& nan) {
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  const float inf = std::numeric_limits<float>::infinity();
  auto m0 = hn::Set(d, -inf), m1 = m0;
  auto bad = hn::Zero(d);  // lanes that met a NaN
  std::size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto a = hn::LoadU(d, z + i);
    const auto b = hn::LoadU(d, z + i + N);
    m0 = hn::Max(m0, a);
    m1 = hn::Max(m1, b);
    bad = hn::Or(bad, hn::Or(hn::VecFromMask(d, hn::IsNaN(a)), hn::VecFromMask(d, hn::IsNaN(b))));
  }
  for (; i < n; i += N) {
    const auto a = LoadTail(d, z + i, std::min(N, n - i), -inf);
    m0 = hn::Max(m0, a);
    bad = hn::Or(bad, hn::VecFromMask(d, hn::IsNaN(a)));
  }
  nan = !hn::AllFalse(d, hn::MaskFromVec(bad));
  // Max of a NaN lane is target-defined; with a NaN in the row the caller stops anyway.
  max = hn::GetLane(hn::MaxOfLanes(d, hn::Max(m0, m1)));
}

std::size_t FirstEqual(const float* z, std::size_t n, float value) {
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  const auto v = hn::Set(d, value);
  std::size_t i = 0;
  for (; i + N <= n; i += N) {
    const intptr_t at = hn::FindFirstTrue(d, hn::Eq(hn::LoadU(d, z + i), v));
    if (at >= 0) return i + std::size_t(at);
  }
  for (; i < n; ++i) {
    if (z[i] == value) return i;
  }
  return n;
}

/// Float to int32 by truncation for values known to fit: on AVX2 and AVX-512 the bare
/// instruction, without the fix-up of out-of-range lanes that ConvertTo adds (three more
/// operations a vector in the top-k pass).
template <class D>
HWY_INLINE hn::Vec<hn::RebindToSigned<D>> TruncateInRange(D d, hn::Vec<D> v) {
  const hn::RebindToSigned<D> di;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  if constexpr (hn::MaxLanes(D()) == 16) return hn::Vec<decltype(di)>{_mm512_cvttps_epi32(v.raw)};
#elif HWY_ARCH_X86 && HWY_TARGET == HWY_AVX2
  if constexpr (hn::MaxLanes(D()) == 8) return hn::Vec<decltype(di)>{_mm256_cvttps_epi32(v.raw)};
#endif
  (void)d;
  return hn::ConvertTo(di, v);
}

/// Pushes the lanes of z[i, i + N) above the stream's entry bound, lowest id first (push
/// checks the bound again: it rises when the stream compacts); returns the new bound.
template <class D, class M>
HWY_INLINE hn::Vec<D> PushAbove(D d, M above, const float* z, std::size_t i, std::size_t offset,
                                TopKStream<float>& stream) {
  const std::size_t N = hn::Lanes(d);
  std::uint8_t bytes[8] = {};
  hn::StoreMaskBits(d, above, bytes);
  std::uint64_t bits = 0;
  for (std::size_t b = 0; b < (N + 7) / 8; ++b) bits |= std::uint64_t{bytes[b]} << (8 * b);
  while (bits != 0) {
    const std::size_t j = std::size_t(__builtin_ctzll(bits));
    bits &= bits - 1;
    stream.push(z[i + j], offset + i + j);
  }
  return hn::Set(d, stream.threshold());
}

void TopK(const float* z, std::size_t n, std::size_t offset, TopKStream<float>& stream, bool& nan) {
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  auto bad = hn::Zero(d);
  auto threshold = hn::Set(d, stream.threshold());
  std::size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto a = hn::LoadU(d, z + i);
    const auto b = hn::LoadU(d, z + i + N);
    bad = hn::Or(bad, hn::VecFromMask(d, hn::Or(hn::IsNaN(a), hn::IsNaN(b))));
    const auto above_a = hn::Gt(a, threshold);
    if (HWY_UNLIKELY(!hn::AllFalse(d, hn::Or(above_a, hn::Gt(b, threshold))))) {
      threshold = PushAbove(d, above_a, z, i, offset, stream);
      threshold = PushAbove(d, hn::Gt(b, threshold), z, i + N, offset, stream);
    }
  }
  for (; i < n; ++i) {
    if (std::isnan(z[i])) nan = true;
    stream.push(z[i], offset + i);
  }
  if (!hn::AllFalse(d, hn::MaskFromVec(bad))) nan = true;
}

/// Adds the integer-valued float lanes q to two double accumulators (exact while each lane's
/// sum stays below 2^53).
template <class D, class DW>
HWY_INLINE void AddExact(D d, DW dw, hn::Vec<D> q, hn::Vec<DW>& lo, hn::Vec<DW>& hi) {
#if HWY_TARGET == HWY_SCALAR
  (void)d;
  lo = hn::Add(lo, hn::PromoteTo(dw, q));
  (void)hi;
#else
  const hn::Half<D> dh;
  lo = hn::Add(lo, hn::PromoteTo(dw, hn::LowerHalf(dh, q)));
  hi = hn::Add(hi, hn::PromoteTo(dw, hn::UpperHalf(dh, q)));
#endif
}

std::uint64_t Mass(const float* z, std::size_t n, const MassJob<float>& job) {
  const hn::ScalableTag<float> d;
#if HWY_TARGET == HWY_SCALAR
  const hn::Rebind<double, decltype(d)> dw;
#else
  const hn::Rebind<double, hn::Half<decltype(d)>> dw;
#endif
  const std::size_t N = hn::Lanes(d);
  const float inf = std::numeric_limits<float>::infinity();
  const auto max = hn::Set(d, job.max);
  const auto inv_t = hn::Set(d, job.inv_t);
  const auto inv_tf = hn::Set(d, job.inv_tf);
  const auto floor_l = hn::Set(d, job.floor);
  const auto scale = hn::Set(d, kWeightScaleF);
  const bool same_t = job.inv_tf == job.inv_t;
  std::uint64_t total = 0;
  HWY_ALIGN double lanes[hn::MaxLanes(dw)];
  for (std::size_t b0 = 0; b0 < n; b0 += job.block_len) {
    const std::size_t b1 = std::min(n, b0 + job.block_len);
    auto lo = hn::Zero(dw), hi = hn::Zero(dw);
    for (std::size_t i = b0; i < b1; i += N) {
      const auto a = LoadTail(d, z + i, std::min(N, b1 - i), -inf);
      const auto diff = hn::Sub(a, max);
      const auto x = hn::Mul(diff, inv_t);
      auto q = hn::Floor(hn::Mul(SamplingExp(d, x), scale));
      if (job.member_check) {
        const auto df = same_t ? x : hn::Mul(diff, inv_tf);
        q = hn::IfThenElseZero(hn::Ge(df, floor_l), q);
      }
      AddExact(d, dw, q, lo, hi);
    }
    // Each lane holds at most block_len integers below 2^40: exact; added as integers.
    std::uint64_t sum = 0;
    hn::Store(hn::Add(lo, hi), dw, lanes);
    for (std::size_t l = 0; l < hn::Lanes(dw); ++l) sum += static_cast<std::uint64_t>(lanes[l]);
    if (job.blocks != nullptr) job.blocks[b0 / job.block_len] = sum;
    total += sum;
  }
  return total;
}

/// One vector of the tail sum, on the lanes with z <= bound: 2^x for x = (z - max) inv_t
/// log2 e <= 0, as the bits of y = (z - max) (inv_t log2 e 2^23) + 127 2^23, clamped below at
/// (127 - 44) 2^23 and truncated to an integer: 2^k (1 + f) for x = k + f, up to the rounding
/// of y (2^-16 in x). The constants come scaled: c = inv_t log2 e 2^23.
template <class D>
HWY_INLINE hn::Vec<D> TailTerms(D d, hn::Vec<D> a, hn::Vec<D> max, hn::Vec<D> c, hn::Vec<D> bound) {
  const auto y = hn::Max(hn::Add(hn::Mul(hn::Sub(a, max), c), hn::Set(d, 127.0f * 8388608.0f)),
                         hn::Set(d, (127.0f + kApproxLow) * 8388608.0f));
  return hn::IfThenElseZero(hn::Le(a, bound), hn::BitCast(d, TruncateInRange(d, y)));
}

TailSum TailSumF(const float* z, std::size_t n, float max, float inv_t, float bound) {
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  const auto vmax = hn::Set(d, max);
  const auto vinv = hn::Set(d, inv_t * kLog2e * 8388608.0f);
  const auto vbound = hn::Set(d, bound);
  // Four accumulators: a lane sums at most n / (4 N) + 1 terms (tail_high's bound).
  auto s0 = hn::Zero(d), s1 = s0, s2 = s0, s3 = s0;
  TailSum out;
  std::size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::Add(s0, TailTerms(d, hn::LoadU(d, z + i), vmax, vinv, vbound));
    s1 = hn::Add(s1, TailTerms(d, hn::LoadU(d, z + i + N), vmax, vinv, vbound));
    s2 = hn::Add(s2, TailTerms(d, hn::LoadU(d, z + i + 2 * N), vmax, vinv, vbound));
    s3 = hn::Add(s3, TailTerms(d, hn::LoadU(d, z + i + 3 * N), vmax, vinv, vbound));
  }
  const float inf = std::numeric_limits<float>::infinity();
  for (; i < n; i += N) {
    const auto a = LoadTail(d, z + i, std::min(N, n - i), -inf);
    s0 = hn::Add(s0, TailTerms(d, a, vmax, vinv, vbound));
  }
  HWY_ALIGN float lanes[4][hn::MaxLanes(d)];
  hn::Store(s0, d, lanes[0]);
  hn::Store(s1, d, lanes[1]);
  hn::Store(s2, d, lanes[2]);
  hn::Store(s3, d, lanes[3]);
  for (std::size_t a = 0; a < 4; ++a) {
    for (std::size_t l = 0; l < N; ++l) out.sum += double(lanes[a][l]);
  }
  return out;
}

/// Collect and TailSumF in one pass: the indices with z >= window appended to `out`, and the
/// tail sum over z < window.
TailSum WindowTailF(const float* z, std::size_t n, std::size_t offset, float max, float inv_t,
                    float window, std::vector<std::uint32_t>& out) {
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  const auto vmax = hn::Set(d, max);
  const auto vinv = hn::Set(d, inv_t * kLog2e * 8388608.0f);
  const auto vwindow = hn::Set(d, window);
  const auto vbelow = hn::Set(d, std::nextafter(window, -std::numeric_limits<float>::infinity()));
  // Two accumulators: a lane sums at most n / (2 N) terms, within tail_high's n / 4 + 4 for
  // N >= 2; a one-lane target skips the vector loop and sums every token in double below.
  auto s0 = hn::Zero(d), s1 = s0;
  const auto collect = [&](hn::Vec<decltype(d)> a, std::size_t at) {
    if (HWY_UNLIKELY(!hn::AllFalse(d, hn::Ge(a, vwindow)))) {
      for (std::size_t j = 0; j < N; ++j) {
        if (z[at + j] >= window) out.push_back(static_cast<std::uint32_t>(offset + at + j));
      }
    }
  };
  // Back to front: the row was just read front to back, so its end is the part still in the
  // nearest cache (a 256,000-token row is as large as the L2 cache).
  const std::size_t groups = N >= 2 ? n / (2 * N) : 0;
  TailSum out_sum;
  for (std::size_t i = groups * 2 * N; i < n; ++i) {
    if (z[i] >= window) {
      out.push_back(static_cast<std::uint32_t>(offset + i));
    } else {
      out_sum.sum += TailSumF(z + i, 1, max, inv_t, z[i]).sum;
    }
  }
  for (std::size_t g = groups; g-- > 0;) {
    const std::size_t i = g * 2 * N;
    const auto a = hn::LoadU(d, z + i);
    const auto b = hn::LoadU(d, z + i + N);
    s0 = hn::Add(s0, TailTerms(d, a, vmax, vinv, vbelow));
    s1 = hn::Add(s1, TailTerms(d, b, vmax, vinv, vbelow));
    collect(a, i);
    collect(b, i + N);
  }
  HWY_ALIGN float lanes[2][hn::MaxLanes(d)];
  hn::Store(s0, d, lanes[0]);
  hn::Store(s1, d, lanes[1]);
  for (std::size_t l = 0; l < N; ++l) out_sum.sum += double(lanes[0][l]) + double(lanes[1][l]);
  return out_sum;
}

void Collect(const float* z, std::size_t n, std::size_t offset, float threshold,
             std::vector<std::uint32_t>& out) {
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  const auto t = hn::Set(d, threshold);
  std::size_t i = 0;
  for (; i + N <= n; i += N) {
    if (HWY_UNLIKELY(!hn::AllFalse(d, hn::Ge(hn::LoadU(d, z + i), t)))) {
      for (std::size_t j = 0; j < N; ++j) {
        if (z[i + j] >= threshold) out.push_back(static_cast<std::uint32_t>(offset + i + j));
      }
    }
  }
  for (; i < n; ++i) {
    if (z[i] >= threshold) out.push_back(static_cast<std::uint32_t>(offset + i));
  }
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace softreg::detail {

HWY_EXPORT(SamplingExpArray);
HWY_EXPORT(MaxNan);
HWY_EXPORT(FirstEqual);
HWY_EXPORT(TopK);
HWY_EXPORT(Mass);
HWY_EXPORT(Collect);
HWY_EXPORT(TailSumF);
HWY_EXPORT(WindowTailF);

void simd_sampling_exp(const float* x, std::size_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(SamplingExpArray)(x, n, out);
}
void simd_sampling_max_nan(const float* z, std::size_t n, float& max, bool& nan) {
  HWY_DYNAMIC_DISPATCH(MaxNan)(z, n, max, nan);
}
std::size_t simd_sampling_first_equal(const float* z, std::size_t n, float value) {
  return HWY_DYNAMIC_DISPATCH(FirstEqual)(z, n, value);
}
void simd_sampling_top_k(const float* z, std::size_t n, std::size_t offset,
                         TopKStream<float>& stream, bool& nan) {
  HWY_DYNAMIC_DISPATCH(TopK)(z, n, offset, stream, nan);
}
std::uint64_t simd_sampling_mass(const float* z, std::size_t n, const MassJob<float>& job) {
  return HWY_DYNAMIC_DISPATCH(Mass)(z, n, job);
}
TailSum simd_sampling_tail_sum(const float* z, std::size_t n, float max, float inv_t, float bound) {
  return HWY_DYNAMIC_DISPATCH(TailSumF)(z, n, max, inv_t, bound);
}
TailSum simd_sampling_window_tail(const float* z, std::size_t n, std::size_t offset, float max,
                                  float inv_t, float window, std::vector<std::uint32_t>& out) {
  return HWY_DYNAMIC_DISPATCH(WindowTailF)(z, n, offset, max, inv_t, window, out);
}
void simd_sampling_collect(const float* z, std::size_t n, std::size_t offset, float threshold,
                           std::vector<std::uint32_t>& out) {
  HWY_DYNAMIC_DISPATCH(Collect)(z, n, offset, threshold, out);
}

}  // namespace softreg::detail
#endif  // HWY_ONCE
