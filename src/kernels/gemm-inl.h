// The register-tiled block product of the GEMM-shaped kernels (attention, the fused linear +
// cross-entropy), included once per Highway target by their foreach_target files:
// C (m x n) = or += A (m x kd) B (kd x n), A read through two strides (so a transposed operand
// is a stride, never a copy), B row-major with a row stride, C row-major with a row stride.
// Each C entry is its own sum over the inner index in order (one fused multiply-add per step),
// so results do not depend on how callers block m or n.
#if defined(SOFTREG_KERNELS_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SOFTREG_KERNELS_GEMM_INL_H_
#undef SOFTREG_KERNELS_GEMM_INL_H_
#else
#define SOFTREG_KERNELS_GEMM_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cstddef>

#include "kernels/row_simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Rows of A per register tile.
constexpr std::size_t kTileRows = 6;

/// C (MR x w) = or += A (MR x kd) B (kd x w), w <= kVecs vectors (the last one holding `last`
/// lanes when kTail). A(r, p) = a[r ars + p acs]; row p of B starts at b + p brs; row r of C
/// at c + r crs. The sum over p runs in order, one fused multiply-add per step.
template <std::size_t MR, std::size_t kVecs, bool kTail, class D, class T = hn::TFromD<D>>
HWY_INLINE void GemmTile(D d, std::size_t kd, const T* HWY_RESTRICT a, std::size_t ars,
                         std::size_t acs, const T* HWY_RESTRICT b, std::size_t brs,
                         T* HWY_RESTRICT c, std::size_t crs, std::size_t last, bool accumulate) {
  using V = hn::Vec<D>;
  const std::size_t N = hn::Lanes(d);
  V acc[MR][kVecs];
  for (std::size_t r = 0; r < MR; ++r) {
    for (std::size_t v = 0; v < kVecs; ++v) acc[r][v] = hn::Zero(d);
  }
  for (std::size_t p = 0; p < kd; ++p) {
    const T* bp = b + p * brs;
    V bv[kVecs];
    for (std::size_t v = 0; v < kVecs; ++v) {
      bv[v] = (kTail && v + 1 == kVecs) ? LoadTail(d, bp + v * N, last, T(0))
                                        : hn::LoadU(d, bp + v * N);
    }
    const T* ap = a + p * acs;
    for (std::size_t r = 0; r < MR; ++r) {
      const V av = hn::Set(d, ap[r * ars]);
      for (std::size_t v = 0; v < kVecs; ++v) acc[r][v] = hn::MulAdd(av, bv[v], acc[r][v]);
    }
  }
  for (std::size_t r = 0; r < MR; ++r) {
    for (std::size_t v = 0; v < kVecs; ++v) {
      T* cp = c + r * crs + v * N;
      const bool tail = kTail && v + 1 == kVecs;
      V x = acc[r][v];
      if (accumulate) x = hn::Add(x, tail ? LoadTail(d, cp, last, T(0)) : hn::LoadU(d, cp));
      if (tail) {
        StoreTail(d, x, cp, last);
      } else {
        hn::StoreU(x, d, cp);
      }
    }
  }
}

/// Columns per register tile, in vectors: four where the target has 32 vector registers
/// (AVX-512: 6 x 4 accumulators, 4 loads of B and a broadcast), two elsewhere (6 x 2, 16
/// registers). Measured on Zen 5 (1024 x 1024 keys, d = 64 and 128): 6 x 4, 6 x 2 and 4 x 4
/// within 5% of each other at 85-90% of the core's measured FMA peak, 8 x 2 10% slower.
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
constexpr std::size_t kTileVecs = 4;
#else
constexpr std::size_t kTileVecs = 2;
#endif

template <std::size_t MR, std::size_t NV, class D, class T = hn::TFromD<D>>
HWY_INLINE void GemmVecs(D d, std::size_t w, std::size_t kd, const T* a, std::size_t ars,
                         std::size_t acs, const T* b, std::size_t brs, T* c, std::size_t crs,
                         bool accumulate) {
  const std::size_t N = hn::Lanes(d);
  const std::size_t last = w - (NV - 1) * N;
  if (last == N) {
    GemmTile<MR, NV, false>(d, kd, a, ars, acs, b, brs, c, crs, N, accumulate);
  } else {
    GemmTile<MR, NV, true>(d, kd, a, ars, acs, b, brs, c, crs, last, accumulate);
  }
}

template <std::size_t MR, class D, class T = hn::TFromD<D>>
HWY_INLINE void GemmColumns(D d, std::size_t w, std::size_t kd, const T* a, std::size_t ars,
                            std::size_t acs, const T* b, std::size_t brs, T* c, std::size_t crs,
                            bool accumulate) {
  const std::size_t N = hn::Lanes(d);
  const std::size_t nv = (w + N - 1) / N;
  if constexpr (kTileVecs >= 4) {
    if (nv == 4) return GemmVecs<MR, 4>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
    if (nv == 3) return GemmVecs<MR, 3>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
  }
  if (nv == 2) return GemmVecs<MR, 2>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
  GemmVecs<MR, 1>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
}

/// C (m x n) = or += A (m x kd) B (kd x n), in panels of kTileVecs vectors of columns,
/// kTileRows rows of A at a time (layouts as GemmTile). Each C entry is its own sum over p in
/// order, so the result does not depend on m, n or how the caller blocks them.
/// The rows [r, r + mr) of C (mr <= kTileRows) over columns [j, j + w).
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void GemmRows(D d, std::size_t mr, std::size_t w, std::size_t kd, const T* a,
                         std::size_t ars, std::size_t acs, const T* b, std::size_t brs, T* c,
                         std::size_t crs, bool accumulate) {
  switch (mr) {
    case kTileRows:
      GemmColumns<kTileRows>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
      break;
    case 5:
      GemmColumns<5>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
      break;
    case 4:
      GemmColumns<4>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
      break;
    case 3:
      GemmColumns<3>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
      break;
    case 2:
      GemmColumns<2>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
      break;
    case 1:
      GemmColumns<1>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
      break;
    default:
      break;
  }
}

/// Which loop of Gemm is outermost. columns_outer: one panel of B (kd x kTileVecs vectors)
/// stays in L1 while the rows of A go by (B reused, the usual order). rows_outer: one tile of
/// kTileRows rows of C is finished across all its columns before the next (C's rows are then
/// read and written front to back, which the prefetchers follow when C is far larger than any
/// cache: the accumulation of d_weight).
enum class GemmOrder { columns_outer, rows_outer };

template <class D, class T = hn::TFromD<D>>
void Gemm(D d, std::size_t m, std::size_t n, std::size_t kd, const T* a, std::size_t ars,
          std::size_t acs, const T* b, std::size_t brs, T* c, std::size_t crs, bool accumulate,
          GemmOrder order = GemmOrder::columns_outer) {
  const std::size_t panel = kTileVecs * hn::Lanes(d);
  if (order == GemmOrder::rows_outer) {
    for (std::size_t r = 0; r < m; r += kTileRows) {
      const std::size_t mr = std::min(kTileRows, m - r);
      for (std::size_t j = 0; j < n; j += panel) {
        GemmRows(d, mr, std::min(panel, n - j), kd, a + r * ars, ars, acs, b + j, brs,
                 c + r * crs + j, crs, accumulate);
      }
    }
    return;
  }
  for (std::size_t j = 0; j < n; j += panel) {
    const std::size_t w = std::min(panel, n - j);
    for (std::size_t r = 0; r < m; r += kTileRows) {
      GemmRows(d, std::min(kTileRows, m - r), w, kd, a + r * ars, ars, acs, b + j, brs,
               c + r * crs + j, crs, accumulate);
    }
  }
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SOFTREG_KERNELS_GEMM_INL_H_
