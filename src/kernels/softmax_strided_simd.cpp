// Highway implementations of the strided passes of softmax_simd.hpp (simd_strided: softmax over a
// non-last axis), compiled once per SIMD target. Same accuracy as the contiguous rows
// (softmax_simd.cpp): exponentials from simd_math-inl.h, sums in double.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/softmax_strided_simd.cpp"
#include <hwy/cache_control.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>

#include "kernels/reference.hpp"
#include "kernels/row_simd-inl.h"
#include "kernels/simd_math-inl.h"
#include "kernels/softmax_simd.hpp"

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// One block of `cols` columns (a whole number of vectors, 1 or 2) of the slice at x / out.
template <std::size_t kVectors, bool kScaled, class D>
HWY_INLINE bool StridedBlock(D d, RowOp op, hn::TFromD<D>* out, const hn::TFromD<D>* x,
                             std::size_t n, std::size_t inner, hn::TFromD<D> inv_t, bool wide,
                             hn::TFromD<D>* lse_out) {
  using T = hn::TFromD<D>;
  using V = hn::Vec<D>;
  const std::size_t N = hn::Lanes(d);
  const T inf = std::numeric_limits<T>::infinity();
  V mx[kVectors], mn[kVectors];
  for (std::size_t v = 0; v < kVectors; ++v) {
    mx[v] = hn::Set(d, -inf);
    mn[v] = hn::Set(d, inf);
  }
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t v = 0; v < kVectors; ++v) {
      const V a = hn::LoadU(d, x + k * inner + v * N);
      mx[v] = hn::Max(mx[v], a);
      if (wide) mn[v] = hn::Min(mn[v], SkipMasked(d, a));
    }
  }
  for (std::size_t v = 0; v < kVectors; ++v) {
    if (!hn::AllTrue(d, hn::IsFinite(mx[v])) ||
        (wide && !hn::AllTrue(d, hn::IsFinite(hn::Sub(mx[v], mn[v]))))) {
      return false;  // nothing written yet
    }
  }
  const V vt = hn::Set(d, inv_t);
  LaneSums<D> sums0(d), sums1(d);
  LaneSums<D>* sums[2] = {&sums0, &sums1};
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t v = 0; v < kVectors; ++v) {
      const V e = ShiftedExp<kScaled>(d, hn::LoadU(d, x + k * inner + v * N), mx[v], vt);
      if (op == RowOp::softmax) hn::StoreU(e, d, out + k * inner + v * N);
      sums[v]->add(e);
    }
  }
  for (std::size_t v = 0; v < kVectors; ++v) {
    if (op == RowOp::softmax) {
      const V inv = sums[v]->per_lane(false);
      for (std::size_t k = 0; k < n; ++k) {
        T* p = out + k * inner + v * N;
        hn::StoreU(hn::Mul(hn::LoadU(d, p), inv), d, p);
      }
    } else if (op == RowOp::log_softmax) {
      const V lg = sums[v]->per_lane(true);
      for (std::size_t k = 0; k < n; ++k) {
        const V y = hn::Sub(hn::Mul(hn::Sub(hn::LoadU(d, x + k * inner + v * N), mx[v]), vt), lg);
        hn::StoreU(y, d, out + k * inner + v * N);
      }
    } else {
      hn::StoreU(hn::Add(mx[v], sums[v]->per_lane(true)), d, lse_out + v * N);
    }
  }
  return true;
}

template <class T>
std::size_t BlockWidth() {
  return 2 * hn::Lanes(hn::ScalableTag<T>());
}

/// Columns [j, j_end) of one slice (xs / os at the slice's start) in blocks of two vectors,
/// then one, then the scalar reference for what is left.
template <bool kScaled, class T>
void StridedColumns(RowOp op, T* os, const T* xs, std::size_t n, std::size_t inner, std::size_t j,
                    std::size_t j_end, double temperature) {
  const hn::ScalableTag<T> d;
  const std::size_t N = hn::Lanes(d);
  const T inv_t = static_cast<T>(1.0 / temperature);
  const bool wide = temperature > 1.0;
  auto reference = [&](std::size_t from, std::size_t to) {
    for (std::size_t c = from; c < to; ++c) {
      reference_row(op, os + c, xs + c, inner, n, temperature);
    }
  };
  for (; j + 2 * N <= j_end; j += 2 * N) {
    if (!StridedBlock<2, kScaled>(d, op, os + j, xs + j, n, inner, inv_t, wide, os + j))
      reference(j, j + 2 * N);
  }
  if (j + N <= j_end) {
    if (!StridedBlock<1, kScaled>(d, op, os + j, xs + j, n, inner, inv_t, wide, os + j))
      reference(j, j + N);
    j += N;
  }
  reference(j, j_end);
}

template <bool kScaled, class T>
void StridedImpl(RowOp op, T* out, const T* x, std::size_t n, std::size_t inner, std::size_t begin,
                 std::size_t end, double temperature) {
  const std::size_t w = BlockWidth<T>();
  const std::size_t blocks = (inner + w - 1) / w;
  for (std::size_t task = begin; task < end; ++task) {
    const std::size_t slice = task / blocks;
    const std::size_t j = (task % blocks) * w;
    const T* xs = x + slice * n * inner;
    T* os = op == RowOp::logsumexp ? out + slice * inner : out + slice * n * inner;
    StridedColumns<kScaled>(op, os, xs, n, inner, j, std::min(inner, j + w), temperature);
  }
}

/// Adds the lanes of e to per-column sums in double (float: widened halves; double: a two-sum
/// per column with its compensation in comp).
template <class D>
HWY_INLINE void AddToColumns(D d, hn::Vec<D> e, double* HWY_RESTRICT sum,
                             double* HWY_RESTRICT comp) {
  using T = hn::TFromD<D>;
  if constexpr (sizeof(T) == 4) {
#if HWY_TARGET == HWY_SCALAR
    sum[0] += static_cast<double>(hn::GetLane(e));
    (void)comp;
#else
    const hn::Half<D> dh;
    const hn::Rebind<double, decltype(dh)> dw;
    const std::size_t h = hn::Lanes(dw);
    hn::Store(hn::Add(hn::Load(dw, sum), hn::PromoteTo(dw, hn::LowerHalf(dh, e))), dw, sum);
    hn::Store(hn::Add(hn::Load(dw, sum + h), hn::PromoteTo(dw, hn::UpperHalf(dh, e))), dw, sum + h);
    (void)comp;
#endif
  } else {
    const auto s0 = hn::Load(d, sum);
    const auto s = hn::Add(s0, e);
    const auto bp = hn::Sub(s, s0);
    const auto err = hn::Add(hn::Sub(s0, hn::Sub(s, bp)), hn::Sub(e, bp));
    hn::Store(s, d, sum);
    hn::Store(hn::Add(hn::Load(d, comp), err), d, comp);
  }
}

/// A range of columns of one slice that is a whole number of vectors, kWideBytes of each row
/// at most: three passes (maxima, sums of exponentials, the write), each reading whole rows
/// of the range, so every memory page is used in full. For large n the column blocks of
/// StridedColumns touch one page per row in every pass, and page walks then bound them.
/// Returns false, having written nothing, if a column is not ordinary.
template <bool kScaled, class T>
bool WideColumns(RowOp op, T* os, const T* xs, std::size_t n, std::size_t inner, std::size_t w,
                 double temperature) {
  const hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  const std::size_t N = hn::Lanes(d);
  constexpr std::size_t kMax = kWideBytes / sizeof(T);
  HWY_ALIGN T mx[kMax];
  HWY_ALIGN T aux[kMax];  // minima (wide temperatures), then 1 / sum or log(sum) in T
  HWY_ALIGN double sum[kMax];
  HWY_ALIGN double comp[kMax];
  const T inf = std::numeric_limits<T>::infinity();
  const T inv_t = static_cast<T>(1.0 / temperature);
  const bool wide = temperature > 1.0;
  for (std::size_t i = 0; i < w; i += N) {
    hn::Store(hn::Set(d, -inf), d, mx + i);
    hn::Store(hn::Set(d, inf), d, aux + i);
  }
  for (std::size_t k = 0; k < n; ++k) {
    const T* xr = xs + k * inner;
    for (std::size_t i = 0; i < w; i += N) {
      const V a = hn::LoadU(d, xr + i);
      hn::Store(hn::Max(hn::Load(d, mx + i), a), d, mx + i);
      if (wide) hn::Store(hn::Min(hn::Load(d, aux + i), SkipMasked(d, a)), d, aux + i);
    }
  }
  for (std::size_t i = 0; i < w; i += N) {
    const V m = hn::Load(d, mx + i);
    if (!hn::AllTrue(d, hn::IsFinite(m)) ||
        (wide && !hn::AllTrue(d, hn::IsFinite(hn::Sub(m, hn::Load(d, aux + i)))))) {
      return false;
    }
  }
  std::fill(sum, sum + w, 0.0);
  std::fill(comp, comp + w, 0.0);
  const V vt = hn::Set(d, inv_t);
  for (std::size_t k = 0; k < n; ++k) {
    const T* xr = xs + k * inner;
    for (std::size_t i = 0; i < w; i += N) {
      const V e = ShiftedExp<kScaled>(d, hn::LoadU(d, xr + i), hn::Load(d, mx + i), vt);
      AddToColumns(d, e, sum + i, comp + i);
    }
  }
  // A NaN in a column makes its sum, and with it the column, NaN.
  for (std::size_t i = 0; i < w; ++i) {
    const double total = sum[i] + comp[i];
    if (op == RowOp::logsumexp) {
      os[i] = static_cast<T>(static_cast<double>(mx[i]) + std::log(total));
    } else {
      aux[i] = static_cast<T>(op == RowOp::softmax ? 1.0 / total : std::log(total));
    }
  }
  if (op == RowOp::logsumexp) return true;
  for (std::size_t k = 0; k < n; ++k) {
    const T* xr = xs + k * inner;
    T* orow = os + k * inner;
    for (std::size_t i = 0; i < w; i += N) {
      const V x = hn::LoadU(d, xr + i);
      const V m = hn::Load(d, mx + i);
      const V f = hn::Load(d, aux + i);
      const V y = op == RowOp::softmax ? hn::Mul(ShiftedExp<kScaled>(d, x, m, vt), f)
                                       : hn::Sub(hn::Mul(hn::Sub(x, m), vt), f);
      hn::StoreU(y, d, orow + i);
    }
  }
  return true;
}

/// Task i covers slice i / ranges and columns [(i % ranges) range, ...) with ranges =
/// ceil(inner / range): WideColumns for the whole vectors of the range (StridedColumns if a
/// column of it is not ordinary), StridedColumns for the rest.
template <bool kScaled, class T>
void StridedWideImpl(RowOp op, T* out, const T* x, std::size_t n, std::size_t inner,
                     std::size_t range, std::size_t begin, std::size_t end, double temperature) {
  const std::size_t N = hn::Lanes(hn::ScalableTag<T>());
  const std::size_t ranges = (inner + range - 1) / range;
  for (std::size_t task = begin; task < end; ++task) {
    const std::size_t slice = task / ranges;
    const std::size_t j = (task % ranges) * range;
    const std::size_t j_end = std::min(inner, j + range);
    const std::size_t whole = (j_end - j) / N * N;
    const T* xs = x + slice * n * inner;
    T* os = op == RowOp::logsumexp ? out + slice * inner : out + slice * n * inner;
    if (whole > 0 && !WideColumns<kScaled>(op, os + j, xs + j, n, inner, whole, temperature)) {
      StridedColumns<kScaled>(op, os, xs, n, inner, j, j + whole, temperature);
    }
    StridedColumns<kScaled>(op, os, xs, n, inner, j + whole, j_end, temperature);
  }
}

template <class T>
void Strided(const StridedJob<T>& j) {
  const bool scaled = static_cast<T>(1.0 / j.temperature) != T(1);
  if (j.range != 0) {
    if (scaled) {
      StridedWideImpl<true>(j.op, j.out, j.x, j.n, j.inner, j.range, j.begin, j.end, j.temperature);
    } else {
      StridedWideImpl<false>(j.op, j.out, j.x, j.n, j.inner, j.range, j.begin, j.end,
                             j.temperature);
    }
  } else if (scaled) {
    StridedImpl<true>(j.op, j.out, j.x, j.n, j.inner, j.begin, j.end, j.temperature);
  } else {
    StridedImpl<false>(j.op, j.out, j.x, j.n, j.inner, j.begin, j.end, j.temperature);
  }
}

void StridedF32(const StridedJob<float>& job) {
  Strided(job);
}
void StridedF64(const StridedJob<double>& job) {
  Strided(job);
}
std::size_t WidthF32() {
  return BlockWidth<float>();
}
std::size_t WidthF64() {
  return BlockWidth<double>();
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace softreg::detail {

HWY_EXPORT(StridedF32);
HWY_EXPORT(StridedF64);
HWY_EXPORT(WidthF32);
HWY_EXPORT(WidthF64);
std::size_t strided_block_width_f32() {
  return HWY_DYNAMIC_DISPATCH(WidthF32)();
}
std::size_t strided_block_width_f64() {
  return HWY_DYNAMIC_DISPATCH(WidthF64)();
}
void simd_strided(const StridedJob<float>& job) {
  HWY_DYNAMIC_DISPATCH(StridedF32)(job);
}
void simd_strided(const StridedJob<double>& job) {
  HWY_DYNAMIC_DISPATCH(StridedF64)(job);
}

}  // namespace softreg::detail
#endif  // HWY_ONCE
