// Highway implementations of the dense products of linear.hpp, compiled once per SIMD target and
// dispatched at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/linear_simd.cpp"
#include <hwy/cache_control.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstddef>

#include "kernels/linear.hpp"

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Pins a loaded vector to a register. Without it GCC folds the load into every multiply-add
/// that uses it, so a weight slice shared by two rows is loaded twice, and on the benchmark
/// machine (AMD EPYC, Zen 3, AVX2) the loads, not the FMAs, then bound the loop.
template <class V>
HWY_INLINE void KeepInRegister(V& v) {
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
  asm("" : "+x"(v.raw));
#else
  (void)v;
#endif
}

/// z[r][c0 .. c0 + C) for R rows at once: R x C dot products of length d. Each load of a
/// weight vector serves R rows and each load of x serves C classes; R x C accumulators stay in
/// registers (R = 2, C = 4 uses 11 of AVX2's 16).
/// kPrefetch: also ask for the next R rows of x, one cache line per row every few steps, so
/// that the stream from memory overlaps the multiply-adds (the first class chunk only).
template <std::size_t R, std::size_t C, bool kPrefetch = false, class T>
HWY_INLINE void Dots(const T* const* x, const T* const* next, std::size_t d,
                     const T* HWY_RESTRICT wt, std::size_t c0, std::size_t k, T* HWY_RESTRICT z) {
  const hn::ScalableTag<T> dt;
  const std::size_t n = hn::Lanes(dt);
  using V = hn::Vec<decltype(dt)>;
  V acc[R][C];
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t c = 0; c < C; ++c) acc[r][c] = hn::Zero(dt);
  }
  std::size_t j = 0;
  for (; j + n <= d; j += n) {
    V xv[R];
    for (std::size_t r = 0; r < R; ++r) {
      if constexpr (kPrefetch) hwy::Prefetch(next[r] + j);
      xv[r] = hn::LoadU(dt, x[r] + j);
      KeepInRegister(xv[r]);
    }
    for (std::size_t c = 0; c < C; ++c) {
      V w = hn::LoadU(dt, wt + (c0 + c) * d + j);
      KeepInRegister(w);
      for (std::size_t r = 0; r < R; ++r) acc[r][c] = hn::MulAdd(xv[r], w, acc[r][c]);
    }
  }
  if (j < d) {
    const auto mask = hn::FirstN(dt, d - j);
    V xv[R];
    for (std::size_t r = 0; r < R; ++r) xv[r] = hn::MaskedLoad(mask, dt, x[r] + j);
    for (std::size_t c = 0; c < C; ++c) {
      const V w = hn::MaskedLoad(mask, dt, wt + (c0 + c) * d + j);
      for (std::size_t r = 0; r < R; ++r) acc[r][c] = hn::MulAdd(xv[r], w, acc[r][c]);
    }
  }
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t c = 0; c < C; ++c) {
      z[r * k + c0 + c] += hn::GetLane(hn::SumOfLanes(dt, acc[r][c]));
    }
  }
}

/// All K logits of R rows, classes five at a time when K is a multiple of 5 (K = 10: two
/// chunks, 14 loads per 20 multiply-adds), else four at a time.
template <std::size_t R, class T>
HWY_INLINE void RowLogits(const T* const* x, const T* const* next, std::size_t d,
                          const T* HWY_RESTRICT wt, std::size_t k, T* HWY_RESTRICT z) {
  std::size_t c0 = 0;
  if (k % 5 == 0) {
    Dots<R, 5, true>(x, next, d, wt, 0, k, z);
    for (c0 = 5; c0 < k; c0 += 5) Dots<R, 5>(x, next, d, wt, c0, k, z);
    return;
  }
  if (k >= 4) {
    Dots<R, 4, true>(x, next, d, wt, 0, k, z);
    c0 = 4;
  }
  for (; c0 + 4 <= k; c0 += 4) Dots<R, 4>(x, next, d, wt, c0, k, z);
  switch (k - c0) {
    case 3:
      Dots<R, 3>(x, next, d, wt, c0, k, z);
      break;
    case 2:
      Dots<R, 2>(x, next, d, wt, c0, k, z);
      break;
    case 1:
      Dots<R, 1>(x, next, d, wt, c0, k, z);
      break;
    default:
      break;
  }
}

template <class T>
void LogitsImpl(const RowSource<T>& x, std::size_t m, std::size_t d, const T* HWY_RESTRICT wt,
                const T* HWY_RESTRICT bias, std::size_t k, T* HWY_RESTRICT z) {
  for (std::size_t i = 0; i < m; ++i) std::copy(bias, bias + k, z + i * k);
  std::size_t i = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  // 32 vector registers: four rows at once (20 accumulators, 9 loads per 20 multiply-adds).
  for (; i + 4 <= m; i += 4) {
    const T* rows[4] = {x.row(i), x.row(i + 1), x.row(i + 2), x.row(i + 3)};
    const T* next[4];
    for (std::size_t r = 0; r < 4; ++r) next[r] = x.row(i + 4 + r < m ? i + 4 + r : i + r);
    RowLogits<4>(rows, next, d, wt, k, z + i * k);
  }
#endif
  for (; i + 2 <= m; i += 2) {
    const T* rows[2] = {x.row(i), x.row(i + 1)};
    // The rows after these (or these again at the end): prefetching a row twice is harmless.
    const T* next[2] = {x.row(i + 2 < m ? i + 2 : i), x.row(i + 3 < m ? i + 3 : i + 1)};
    RowLogits<2>(rows, next, d, wt, k, z + i * k);
  }
  if (i < m) {
    const T* rows[1] = {x.row(i)};
    RowLogits<1>(rows, rows, d, wt, k, z + i * k);
  }
}

/// gt[c0 .. c0 + C) += sum over R rows of dz[r][c] * x[r]. The R x C multipliers are
/// broadcast once into registers; each step loads R slices of x (in L1) and C slices of gt and
/// does R x C multiply-adds (R = 4, C = 2: 8 broadcasts + 4 + 2 vectors in registers).
template <std::size_t R, std::size_t C, class T>
HWY_INLINE void RankUpdate(const T* const* x, std::size_t d, const T* HWY_RESTRICT dz,
                           std::size_t k, std::size_t c0, T* HWY_RESTRICT gt) {
  const hn::ScalableTag<T> dt;
  const std::size_t n = hn::Lanes(dt);
  using V = hn::Vec<decltype(dt)>;
  V f[R][C];
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t c = 0; c < C; ++c) f[r][c] = hn::Set(dt, dz[r * k + c0 + c]);
  }
  std::size_t j = 0;
  for (; j + n <= d; j += n) {
    V xv[R];
    for (std::size_t r = 0; r < R; ++r) {
      xv[r] = hn::LoadU(dt, x[r] + j);
      KeepInRegister(xv[r]);
    }
    for (std::size_t c = 0; c < C; ++c) {
      T* g_ptr = gt + (c0 + c) * d + j;
      V g = hn::LoadU(dt, g_ptr);
      for (std::size_t r = 0; r < R; ++r) g = hn::MulAdd(f[r][c], xv[r], g);
      hn::StoreU(g, dt, g_ptr);
    }
  }
  for (; j < d; ++j) {
    for (std::size_t c = 0; c < C; ++c) {
      T g = gt[(c0 + c) * d + j];
      for (std::size_t r = 0; r < R; ++r) g += dz[r * k + c0 + c] * x[r][j];
      gt[(c0 + c) * d + j] = g;
    }
  }
}

template <std::size_t R, class T>
HWY_INLINE void RowsUpdate(const RowSource<T>& source, std::size_t i, std::size_t d,
                           const T* HWY_RESTRICT dz, std::size_t k, T* HWY_RESTRICT gt) {
  const T* x[R];
  for (std::size_t r = 0; r < R; ++r) x[r] = source.row(i + r);
  std::size_t c0 = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  // 32 vector registers: five classes at a time (20 multipliers, 4 rows, 1 gradient slice).
  for (; c0 + 5 <= k; c0 += 5) RankUpdate<R, 5>(x, d, dz, k, c0, gt);
#endif
  for (; c0 + 2 <= k; c0 += 2) RankUpdate<R, 2>(x, d, dz, k, c0, gt);
  if (c0 < k) RankUpdate<R, 1>(x, d, dz, k, c0, gt);
}

template <class T>
void GradientImpl(const RowSource<T>& x, std::size_t m, std::size_t d, const T* HWY_RESTRICT dz,
                  std::size_t k, T* HWY_RESTRICT gt) {
  std::fill(gt, gt + k * d, T(0));
  std::size_t i = 0;
  for (; i + 4 <= m; i += 4) RowsUpdate<4>(x, i, d, dz + i * k, k, gt);
  switch (m - i) {
    case 3:
      RowsUpdate<3>(x, i, d, dz + i * k, k, gt);
      break;
    case 2:
      RowsUpdate<2>(x, i, d, dz + i * k, k, gt);
      break;
    case 1:
      RowsUpdate<1>(x, i, d, dz + i * k, k, gt);
      break;
    default:
      break;
  }
}

void LogitsF32(const RowSource<float>& x, std::size_t m, std::size_t d, const float* wt,
               const float* b, std::size_t k, float* z) {
  LogitsImpl(x, m, d, wt, b, k, z);
}
void LogitsF64(const RowSource<double>& x, std::size_t m, std::size_t d, const double* wt,
               const double* b, std::size_t k, double* z) {
  LogitsImpl(x, m, d, wt, b, k, z);
}
void GradientF32(const RowSource<float>& x, std::size_t m, std::size_t d, const float* dz,
                 std::size_t k, float* gt) {
  GradientImpl(x, m, d, dz, k, gt);
}
void GradientF64(const RowSource<double>& x, std::size_t m, std::size_t d, const double* dz,
                 std::size_t k, double* gt) {
  GradientImpl(x, m, d, dz, k, gt);
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace softreg::detail {

HWY_EXPORT(LogitsF32);
HWY_EXPORT(LogitsF64);
HWY_EXPORT(GradientF32);
HWY_EXPORT(GradientF64);

void dense_logits(const float* x, std::size_t m, std::size_t d, const float* wt, const float* bias,
                  std::size_t k, float* z, const std::size_t* rows) {
  HWY_DYNAMIC_DISPATCH(LogitsF32)(RowSource<float>{x, d, rows}, m, d, wt, bias, k, z);
}
void dense_logits(const double* x, std::size_t m, std::size_t d, const double* wt,
                  const double* bias, std::size_t k, double* z, const std::size_t* rows) {
  HWY_DYNAMIC_DISPATCH(LogitsF64)(RowSource<double>{x, d, rows}, m, d, wt, bias, k, z);
}
void dense_gradient(const float* x, std::size_t m, std::size_t d, const float* dz, std::size_t k,
                    float* gt, const std::size_t* rows) {
  HWY_DYNAMIC_DISPATCH(GradientF32)(RowSource<float>{x, d, rows}, m, d, dz, k, gt);
}
void dense_gradient(const double* x, std::size_t m, std::size_t d, const double* dz, std::size_t k,
                    double* gt, const std::size_t* rows) {
  HWY_DYNAMIC_DISPATCH(GradientF64)(RowSource<double>{x, d, rows}, m, d, dz, k, gt);
}

}  // namespace softreg::detail
#endif  // HWY_ONCE
