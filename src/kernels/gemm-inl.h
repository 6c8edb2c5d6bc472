// The register-tiled block product of the GEMM-shaped kernels (attention, the fused linear +
// cross-entropy), included once per Highway target by their foreach_target files:
// C (m x n) = or += A (m x kd) B (kd x n), A read through two strides (so a transposed operand
// is a stride, never a copy), B row-major with a row stride, C row-major with a row stride.
// Each C entry is its own sum over the inner index in order (one fused multiply-add per step,
// then added to C when accumulating), so results do not depend on how callers block m or n, nor
// on whether B is packed.
#if defined(SOFTREG_KERNELS_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SOFTREG_KERNELS_GEMM_INL_H_
#undef SOFTREG_KERNELS_GEMM_INL_H_
#else
#define SOFTREG_KERNELS_GEMM_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/row_simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Rows of A per register tile.
constexpr std::size_t kTileRows = 6;

/// C (MR x w) = or += A (MR x kd) B (kd x w), w <= kVecs vectors (the last one holding `last`
/// lanes when kTail). A(r, p) = a[r ars + p acs]; row p of B starts at b + p brs; row r of C
/// at c + r crs. kPacked: B is a packed panel (full vectors, zero beyond w). The
/// accumulators take one fused multiply-add per p, in order, from 0, and are then added to C
/// when accumulating (C's loads come after the arithmetic, so a C far out in memory does not
/// hold it up).
template <std::size_t MR, std::size_t kVecs, bool kTail, bool kPacked, class D,
          class T = hn::TFromD<D>>
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
      if constexpr (kPacked) {
        bv[v] = hn::LoadU(d, bp + v * N);
      } else {
        bv[v] = (kTail && v + 1 == kVecs) ? LoadTail(d, bp + v * N, last, T(0))
                                          : hn::LoadU(d, bp + v * N);
      }
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
      if (accumulate) {
        x = hn::Add(x, tail ? LoadTail(d, cp, last, T(0)) : hn::LoadU(d, cp));
      }
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

template <std::size_t MR, std::size_t NV, bool kPacked, class D, class T = hn::TFromD<D>>
HWY_INLINE void GemmVecs(D d, std::size_t w, std::size_t kd, const T* a, std::size_t ars,
                         std::size_t acs, const T* b, std::size_t brs, T* c, std::size_t crs,
                         bool accumulate) {
  const std::size_t N = hn::Lanes(d);
  const std::size_t last = w - (NV - 1) * N;
  if (last == N) {
    GemmTile<MR, NV, false, kPacked>(d, kd, a, ars, acs, b, brs, c, crs, N, accumulate);
  } else {
    GemmTile<MR, NV, true, kPacked>(d, kd, a, ars, acs, b, brs, c, crs, last, accumulate);
  }
}

template <std::size_t MR, bool kPacked, class D, class T = hn::TFromD<D>>
HWY_INLINE void GemmColumns(D d, std::size_t w, std::size_t kd, const T* a, std::size_t ars,
                            std::size_t acs, const T* b, std::size_t brs, T* c, std::size_t crs,
                            bool accumulate) {
  const std::size_t N = hn::Lanes(d);
  const std::size_t nv = (w + N - 1) / N;
  if constexpr (kTileVecs >= 4) {
    if (nv == 4) return GemmVecs<MR, 4, kPacked>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
    if (nv == 3) return GemmVecs<MR, 3, kPacked>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
  }
  if (nv == 2) return GemmVecs<MR, 2, kPacked>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
  GemmVecs<MR, 1, kPacked>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
}

/// The rows [r, r + mr) of C (mr <= kTileRows) over one panel of columns (w wide).
template <bool kPacked, class D, class T = hn::TFromD<D>>
HWY_INLINE void GemmRows(D d, std::size_t mr, std::size_t w, std::size_t kd, const T* a,
                         std::size_t ars, std::size_t acs, const T* b, std::size_t brs, T* c,
                         std::size_t crs, bool accumulate) {
  switch (mr) {
    case kTileRows:
      GemmColumns<kTileRows, kPacked>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
      break;
    case 5:
      GemmColumns<5, kPacked>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
      break;
    case 4:
      GemmColumns<4, kPacked>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
      break;
    case 3:
      GemmColumns<3, kPacked>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
      break;
    case 2:
      GemmColumns<2, kPacked>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
      break;
    case 1:
      GemmColumns<1, kPacked>(d, w, kd, a, ars, acs, b, brs, c, crs, accumulate);
      break;
    default:
      break;
  }
}

/// Packing pays once a panel serves this many rows of A; below it B is read in place. Measured
/// on Zen 5: the fused loss's products (160 to 256 rows, B strided or from memory) gain 5-15%
/// packed; attention's 64-row blocks (B in cache) are no faster, so they read in place.
constexpr std::size_t kGemmPackRows = 96;

/// Gemm's packing buffer, owned by the caller (one per thread) and grown as needed: kd x
/// kTileVecs vectors plus a cache line (192 KiB for float at kd = 768 with 512-bit vectors).
template <class T>
T* GemmPanelBuffer(std::vector<T>& buffer, std::size_t count) {
  constexpr std::size_t kLine = 64;
  buffer.resize(count + kLine / sizeof(T));
  const auto at = reinterpret_cast<std::uintptr_t>(buffer.data());
  return buffer.data() + ((kLine - at % kLine) % kLine) / sizeof(T);
}

/// C (m x n) = or += A (m x kd) B (kd x n) (layouts as GemmTile): for each panel of kTileVecs
/// vectors of columns, the rows of A go by kTileRows at a time while the panel stays in cache.
/// Given a buffer (`pack`, one per thread) and m >= kGemmPackRows, the panel is first packed
/// into zero-padded vectors on cache-line boundaries, its whole depth (GemmPanelBuffer), so
/// each tile reads B from contiguous lines and its rows of A front to back (a depth split would
/// cut those streams short: slower where A streams from memory, measured on the 128K-vocabulary
/// loss). Each C entry is its own fused multiply-add chain over p in order from 0, added to C
/// when accumulating: the result does not depend on m, n or the packing.
template <class D, class T = hn::TFromD<D>>
void Gemm(D d, std::size_t m, std::size_t n, std::size_t kd, const T* a, std::size_t ars,
          std::size_t acs, const T* b, std::size_t brs, T* c, std::size_t crs, bool accumulate,
          std::vector<T>* pack = nullptr) {
  const std::size_t N = hn::Lanes(d);
  const std::size_t panel = kTileVecs * N;
  // A panel of B already contiguous (one panel, rows back to back) gains nothing from a copy.
  const bool contiguous = n <= panel && brs == (n + N - 1) / N * N;
  if (pack == nullptr || m < kGemmPackRows || kd == 0 || contiguous) {
    for (std::size_t j = 0; j < n; j += panel) {
      const std::size_t w = std::min(panel, n - j);
      for (std::size_t r = 0; r < m; r += kTileRows) {
        GemmRows<false>(d, std::min(kTileRows, m - r), w, kd, a + r * ars, ars, acs, b + j, brs,
                        c + r * crs + j, crs, accumulate);
      }
    }
    return;
  }
  T* packed = GemmPanelBuffer(*pack, kd * panel);
  for (std::size_t j = 0; j < n; j += panel) {
    const std::size_t w = std::min(panel, n - j);
    const std::size_t nv = (w + N - 1) / N;
    for (std::size_t p = 0; p < kd; ++p) {
      const T* src = b + p * brs + j;
      T* dst = packed + p * nv * N;
      for (std::size_t v = 0; v < nv; ++v) {
        const std::size_t lanes = std::min(N, w - v * N);
        hn::StoreU(lanes == N ? hn::LoadU(d, src + v * N) : LoadTail(d, src + v * N, lanes, T(0)),
                   d, dst + v * N);
      }
    }
    for (std::size_t r = 0; r < m; r += kTileRows) {
      GemmRows<true>(d, std::min(kTileRows, m - r), w, kd, a + r * ars, ars, acs, packed, nv * N,
                     c + r * crs + j, crs, accumulate);
    }
  }
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SOFTREG_KERNELS_GEMM_INL_H_
