// Highway implementations of the fused linear + cross-entropy passes
// (linear_cross_entropy_simd.hpp), compiled once per SIMD target. Every product is Gemm's
// register tile (gemm-inl.h). With a K x d weight (kd) no operand is ever transposed: the
// logits are W H^T against the chunk's packed H^T, d_weight += G^T H, d_hidden += G W. With a
// d x K weight (dk) the logits of a block are H W (rows down) and are transposed into zt,
// d_weight += H^T G takes the block's gradient transposed back, and d_hidden^T += W G^T.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/linear_cross_entropy_simd.cpp"
#include "kernels/linear_cross_entropy_simd.hpp"

#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/gemm-inl.h"
#include "kernels/row_simd-inl.h"
#include "kernels/simd_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// tanh(x), lane by lane: an odd series (to x^17) for |x| < 0.1, else sign(x) (1 - t) / (1 + t)
/// with t = e^(-2|x|) <= 1 (no overflow; 1 - t loses at most 2.5 bits there). Relative error
/// a few units in the last place of the type; tanh(+-inf) = +-1, NaN stays NaN.
template <class D>
HWY_INLINE hn::Vec<D> CapTanh(D d, hn::Vec<D> x) {
  using T = hn::TFromD<D>;
  const auto ax = hn::Abs(x);
  const auto x2 = hn::Mul(x, x);
  // tanh x = x (1 + x^2 (c1 + x^2 (c2 + ...))): Taylor coefficients of tanh.
  constexpr T c[8] = {T(-1.0 / 3),
                      T(2.0 / 15),
                      T(-17.0 / 315),
                      T(62.0 / 2835),
                      T(-1382.0 / 155925),
                      T(21844.0 / 6081075),
                      T(-929569.0 / 638512875),
                      T(6404582.0 / 10854718875)};
  auto poly = hn::Set(d, c[7]);
  for (int i = 6; i >= 0; --i) poly = hn::MulAdd(poly, x2, hn::Set(d, c[i]));
  const auto small = hn::MulAdd(hn::Mul(x, x2), poly, x);
  const auto t = Exp(d, hn::Mul(hn::Set(d, T(-2)), ax));
  const auto one = hn::Set(d, T(1));
  const auto large = hn::CopySign(hn::Div(hn::Sub(one, t), hn::Add(one, t)), x);
  return hn::IfThenElse(hn::Lt(ax, hn::Set(d, T(0.1))), small, large);
}

/// dst (cols x ld) = src (rows x cols) transposed, columns beyond rows zero.
template <class T>
void Transpose(const T* src, std::size_t rows, std::size_t cols, std::size_t ld, T* dst) {
  for (std::size_t c = 0; c < cols; ++c) {
    T* out = dst + c * ld;
    for (std::size_t r = 0; r < rows; ++r) out[r] = src[r * cols + c];
    for (std::size_t r = rows; r < ld; ++r) out[r] = T(0);
  }
}

/// The logits of classes [cb, cb + kb) of the chunk into z (kb x ld): product, bias, cap.
template <class D>
void BlockLogits(D d, const LceProblem<hn::TFromD<D>>& p, const LceChunk<hn::TFromD<D>>& c,
                 std::size_t cb, std::size_t kb, hn::TFromD<D>* z,
                 LceScratch<hn::TFromD<D>>& scratch) {
  using T = hn::TFromD<D>;
  const std::size_t N = hn::Lanes(d), ld = c.ld, dd = p.d;
  if (p.kd) {
    Gemm(d, kb, ld, dd, p.w + cb * dd, dd, 1, c.ht, ld, z, ld, false, &scratch.pack);
  } else {
    std::vector<T>& zr = scratch.transposed;
    if (zr.size() < c.nr * kb) zr.resize(c.nr * kb);
    Gemm(d, c.nr, kb, dd, p.h + c.r0 * dd, dd, 1, p.w + cb, p.k, zr.data(), kb, false,
         &scratch.pack);
    Transpose(zr.data(), c.nr, kb, ld, z);
  }
  if (p.bias == nullptr && p.cap == T(0)) return;
  const auto cap = hn::Set(d, p.cap);
  const auto inv_cap = hn::Set(d, p.cap == T(0) ? T(0) : T(1) / p.cap);
  for (std::size_t j = 0; j < kb; ++j) {
    const auto b = hn::Set(d, p.bias != nullptr ? p.bias[cb + j] : T(0));
    for (std::size_t i = 0; i < ld; i += N) {
      T* zp = z + j * ld + i;
      auto v = hn::Add(hn::LoadU(d, zp), b);
      if (p.cap != T(0)) v = hn::Mul(cap, CapTanh(d, hn::Mul(v, inv_cap)));
      hn::StoreU(v, d, zp);
    }
  }
}

template <class D>
void Logits(D d, const LceProblem<hn::TFromD<D>>& p, const LceChunk<hn::TFromD<D>>& c,
            std::size_t c0, std::size_t c1, const LceStats<hn::TFromD<D>>& s,
            LceScratch<hn::TFromD<D>>& scratch) {
  using T = hn::TFromD<D>;
  const std::size_t N = hn::Lanes(d), ld = c.ld;
  const auto ninf = hn::Set(d, -std::numeric_limits<T>::infinity());
  for (std::size_t cb = c0; cb < c1; cb += kLceVocabBlock) {
    const std::size_t kb = std::min(kLceVocabBlock, c1 - cb);
    T* z = c.zt + cb * ld;
    BlockLogits(d, p, c, cb, kb, z, scratch);
    for (std::size_t i = 0; i < ld; i += N) {
      auto mx = ninf;
      for (std::size_t j = 0; j < kb; ++j) mx = hn::Max(mx, hn::LoadU(d, z + j * ld + i));
      const auto m_old = hn::LoadU(d, s.m + i);
      const auto m_new = hn::Max(m_old, mx);
      const auto m_use = hn::IfThenZeroElse(hn::Eq(m_new, ninf), m_new);
      auto sum = hn::Zero(d);
      auto wz = hn::LoadU(d, s.wz + i);
      for (std::size_t j = 0; j < kb; ++j) {
        const auto zj = hn::LoadU(d, z + j * ld + i);
        sum = hn::Add(sum, ExpNonPositive(d, hn::Sub(zj, m_use)));
        if (p.smoothing) {
          const T w = p.class_weights != nullptr ? p.class_weights[cb + j] : T(1);
          wz = hn::MulAdd(hn::Set(d, w), zj, wz);
        }
      }
      const auto a = ExpNonPositive(d, hn::Sub(m_old, m_use));
      hn::StoreU(m_new, d, s.m + i);
      hn::StoreU(hn::MulAdd(hn::LoadU(d, s.l + i), a, sum), d, s.l + i);
      hn::StoreU(wz, d, s.wz + i);
    }
    for (std::size_t r = 0; r < c.nr; ++r) {
      const std::int64_t t = c.target[r];
      if (t >= std::int64_t(cb) && t < std::int64_t(cb + kb)) {
        s.z_target[r] = z[(std::size_t(t) - cb) * ld + r];
      }
    }
  }
}

template <class D>
void Gradient(D d, const LceProblem<hn::TFromD<D>>& p, const LceChunk<hn::TFromD<D>>& c,
              std::size_t c0, std::size_t c1, hn::TFromD<D>* dw, hn::TFromD<D>* db,
              hn::TFromD<D>* dh, LceScratch<hn::TFromD<D>>& scratch) {
  using T = hn::TFromD<D>;
  const std::size_t N = hn::Lanes(d), ld = c.ld, dd = p.d, nr = c.nr;
  const auto one = hn::Set(d, T(1));
  const auto inv_cap = hn::Set(d, p.cap == T(0) ? T(0) : T(1) / p.cap);
  for (std::size_t cb = c0; cb < c1; cb += kLceVocabBlock) {
    const std::size_t kb = std::min(kLceVocabBlock, c1 - cb);
    T* g = c.zt + cb * ld;
    // The block's largest probability (ignored rows have p = 0), +inf once a NaN is met
    // (x86's max would drop it), so a block with a NaN is never skipped.
    auto pmax = hn::Zero(d);
    const auto inf = hn::Set(d, std::numeric_limits<T>::infinity());
    for (std::size_t i = 0; i < ld; i += N) {
      const auto lse = hn::LoadU(d, c.lse + i);
      const auto pc = hn::LoadU(d, c.p_coef + i);
      const auto ec = hn::LoadU(d, c.eps_coef + i);
      for (std::size_t j = 0; j < kb; ++j) {
        T* gp = g + j * ld + i;
        const auto z = hn::LoadU(d, gp);
        const T w = p.class_weights != nullptr ? p.class_weights[cb + j] : T(1);
        const auto prob = Exp(d, hn::Sub(z, lse));
        if (p.filter) pmax = hn::Max(pmax, hn::IfThenElse(hn::IsNaN(prob), inf, prob));
        auto v = hn::NegMulAdd(ec, hn::Set(d, w), hn::Mul(pc, prob));
        if (p.cap != T(0)) {
          const auto u = hn::Mul(z, inv_cap);
          v = hn::Mul(v, hn::NegMulAdd(u, u, one));
        }
        hn::StoreU(v, d, gp);
      }
    }
    bool has_target = false;
    for (std::size_t r = 0; r < nr; ++r) {
      const std::int64_t t = c.target[r];
      if (t < std::int64_t(cb) || t >= std::int64_t(cb + kb)) continue;
      has_target = true;
      T f = c.t_coef[r];
      if (p.cap != T(0)) {
        const T u = c.z_target[r] / p.cap;
        f *= T(1) - u * u;
      }
      g[(std::size_t(t) - cb) * ld + r] -= f;
    }
    if (p.filter && !has_target && hn::AllTrue(d, hn::Lt(pmax, hn::Set(d, T(1.0 / 16777216.0))))) {
      continue;
    }
    if (db != nullptr) {
      for (std::size_t j = 0; j < kb; ++j) {
        T s = 0;
        for (std::size_t r = 0; r < nr; ++r) s += g[j * ld + r];
        db[cb + j] += s;
      }
    }
    const T* hc = p.h + c.r0 * dd;
    if (p.kd) {
      if (dw != nullptr) {
        Gemm(d, kb, dd, nr, g, ld, 1, hc, dd, dw + cb * dd, dd, true, &scratch.pack);
      }
      if (dh != nullptr) {
        Gemm(d, nr, dd, kb, g, 1, ld, p.w + cb * dd, dd, dh, dd, true, &scratch.pack);
      }
    } else {
      if (dw != nullptr) {
        std::vector<T>& gr = scratch.transposed;
        if (gr.size() < nr * kb) gr.resize(nr * kb);
        for (std::size_t r = 0; r < nr; ++r) {
          for (std::size_t j = 0; j < kb; ++j) gr[r * kb + j] = g[j * ld + r];
        }
        Gemm(d, dd, kb, nr, hc, 1, dd, gr.data(), kb, dw + cb, p.k, true, &scratch.pack);
      }
      if (dh != nullptr) {
        Gemm(d, dd, ld, kb, p.w + cb, p.k, 1, g, ld, dh, ld, true, &scratch.pack);
      }
    }
  }
}

void LogitsF32(const LceProblem<float>& p, const LceChunk<float>& c, std::size_t c0, std::size_t c1,
               const LceStats<float>& s, LceScratch<float>& scratch) {
  Logits(hn::ScalableTag<float>(), p, c, c0, c1, s, scratch);
}
void LogitsF64(const LceProblem<double>& p, const LceChunk<double>& c, std::size_t c0,
               std::size_t c1, const LceStats<double>& s, LceScratch<double>& scratch) {
  Logits(hn::ScalableTag<double>(), p, c, c0, c1, s, scratch);
}
void GradientF32(const LceProblem<float>& p, const LceChunk<float>& c, std::size_t c0,
                 std::size_t c1, float* dw, float* db, float* dh, LceScratch<float>& scratch) {
  Gradient(hn::ScalableTag<float>(), p, c, c0, c1, dw, db, dh, scratch);
}
void GradientF64(const LceProblem<double>& p, const LceChunk<double>& c, std::size_t c0,
                 std::size_t c1, double* dw, double* db, double* dh, LceScratch<double>& scratch) {
  Gradient(hn::ScalableTag<double>(), p, c, c0, c1, dw, db, dh, scratch);
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace softreg::detail {

HWY_EXPORT(LogitsF32);
HWY_EXPORT(LogitsF64);
HWY_EXPORT(GradientF32);
HWY_EXPORT(GradientF64);

void simd_lce_logits(const LceProblem<float>& p, const LceChunk<float>& c, std::size_t c0,
                     std::size_t c1, const LceStats<float>& stats, LceScratch<float>& scratch) {
  HWY_DYNAMIC_DISPATCH(LogitsF32)(p, c, c0, c1, stats, scratch);
}
void simd_lce_logits(const LceProblem<double>& p, const LceChunk<double>& c, std::size_t c0,
                     std::size_t c1, const LceStats<double>& stats, LceScratch<double>& scratch) {
  HWY_DYNAMIC_DISPATCH(LogitsF64)(p, c, c0, c1, stats, scratch);
}
void simd_lce_gradient(const LceProblem<float>& p, const LceChunk<float>& c, std::size_t c0,
                       std::size_t c1, float* dw, float* db, float* dh,
                       LceScratch<float>& scratch) {
  HWY_DYNAMIC_DISPATCH(GradientF32)(p, c, c0, c1, dw, db, dh, scratch);
}
void simd_lce_gradient(const LceProblem<double>& p, const LceChunk<double>& c, std::size_t c0,
                       std::size_t c1, double* dw, double* db, double* dh,
                       LceScratch<double>& scratch) {
  HWY_DYNAMIC_DISPATCH(GradientF64)(p, c, c0, c1, dw, db, dh, scratch);
}

}  // namespace softreg::detail
#endif  // HWY_ONCE
