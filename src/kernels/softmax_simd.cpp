// Highway implementations of softmax_simd.hpp, compiled once per SIMD target.
//
// Accuracy: the exponentials come from simd_math-inl.h (<= 1 ULP), the shift x - max and the
// temperature are applied in the kernel's type, and the sum of exponentials is accumulated in
// double (float kernels: four vectors are added in float, then widened; double kernels: a
// compensated two-sum per lane). The results stay within the bounds of docs/NUMERICS.md.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/softmax_simd.cpp"
#include "kernels/softmax_simd.hpp"

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

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// A log_softmax row's vector at element i (count lanes valid): (x - m) * inv_t - c, with
/// c = log(sum).
template <class D>
struct LogSoftmaxRow {
  using T = hn::TFromD<D>;
  using V = hn::Vec<D>;
  D d;
  const T* x;
  V vm, vt, vc;

  HWY_INLINE V operator()(std::size_t i, std::size_t count) const {
    return hn::Sub(hn::Mul(hn::Sub(LoadCount(d, x + i, count, T(0)), vm), vt), vc);
  }
};

/// out = (x - m) * inv_t - c.
template <bool kStream, class D>
HWY_INLINE void RowShift(D d, hn::TFromD<D>* out, const hn::TFromD<D>* x, std::size_t n,
                         hn::TFromD<D> m, hn::TFromD<D> inv_t, hn::TFromD<D> c) {
  WriteRow<kStream>(d, out, n,
                    LogSoftmaxRow<D>{d, x, hn::Set(d, m), hn::Set(d, inv_t), hn::Set(d, c)});
}

/// Rows of at most kV vectors. Each row is read once into registers and written once; four rows
/// go through the same statements side by side (their long dependency chains, max -> exp ->
/// sum, then overlap; four measured 5-30% faster than two at K = 5-30), and the divisions or
/// logarithms of a batch of rows are done as one vector operation. A partial last vector is
/// read and written whole where the memory past it is the thread's next row (MaySpill). This
/// is what makes short classifier rows (K = 10) fast.
template <std::size_t kV, bool kScaled, class T>
void SmallRows(RowOp op, T* out, const T* x, std::size_t n, std::size_t begin, std::size_t end,
               double temperature, T inv_t, bool wide) {
  const hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  const T inf = std::numeric_limits<T>::infinity();
  const V vt = hn::Set(d, inv_t);
  // The rows [begin, end) are this thread's: partial vectors may reach into the next row.
  const T* x_limit = x + end * n;
  const T* out_limit = op == RowOp::logsumexp ? nullptr : out + end * n;
  constexpr std::size_t kBatch = 16;
  constexpr std::size_t kGroup = 4;
  for (std::size_t r0 = begin; r0 < end; r0 += kBatch) {
    const std::size_t count = std::min(kBatch, end - r0);
    double sums[kBatch];
    for (double& v : sums) v = 1.0;  // entries past count are read (masked) but unused
    T maxes[kBatch];
    bool ordinary[kBatch];
    for (std::size_t b = 0; b < count; b += kGroup) {
      const std::size_t group = std::min<std::size_t>(kGroup, count - b);
      V v[kGroup][kV], e[kGroup][kV], mx[kGroup];
      GroupMaxExp<kGroup, kV, kScaled>(d, x + (r0 + b) * n, n, group, x_limit, vt, v, e, mx);
      for (std::size_t j = 0; j < group; ++j) {
        const std::size_t r = r0 + b + j;
        Range<T> range{hn::GetLane(mx[j]), inf};
        if (wide) {
          V mn = SkipMasked(d, v[j][0]);
          for (std::size_t i = 1; i < kV; ++i) mn = hn::Min(mn, SkipMasked(d, v[j][i]));
          range.min = hn::GetLane(hn::MinOfLanes(d, mn));
        }
        ordinary[b + j] = Ordinary(range, wide);
        if (!ordinary[b + j]) {
          reference_row(op, op == RowOp::logsumexp ? out + r : out + r * n, x + r * n, 1, n,
                        temperature);
          sums[b + j] = 1.0;
          continue;
        }
        maxes[b + j] = range.max;
        // A NaN in the row makes the sum, and with it the row, NaN.
        sums[b + j] = SmallRowSum<kV>(d, e[j]);
        if (op == RowOp::softmax) StoreSmall<kV>(d, e[j], out + r * n, n, out_limit);
      }
    }
    LogOrInverseBatch(op != RowOp::softmax, sums, count);
    for (std::size_t b = 0; b < count; ++b) {
      if (!ordinary[b]) continue;
      const std::size_t r = r0 + b;
      if (op == RowOp::logsumexp) {
        out[r] = static_cast<T>(static_cast<double>(maxes[b]) + sums[b]);
        continue;
      }
      V y[kV];
      if (op == RowOp::softmax) {  // the exponentials stored above, from L1
        LoadSmall<kV>(d, out + r * n, n, y, out_limit);
        const V inv = hn::Set(d, static_cast<T>(sums[b]));
        for (std::size_t i = 0; i < kV; ++i) y[i] = hn::Mul(y[i], inv);
      } else {
        LoadSmall<kV>(d, x + r * n, n, y, x_limit);
        const V mx = hn::Set(d, maxes[b]);
        const V c = hn::Set(d, static_cast<T>(sums[b]));
        for (std::size_t i = 0; i < kV; ++i) y[i] = hn::Sub(hn::Mul(hn::Sub(y[i], mx), vt), c);
      }
      StoreSmall<kV>(d, y, out + r * n, n, out_limit);
    }
  }
}

/// Cached log_softmax rows of a large output: the write of row r - 1 (non-temporal stores) is
/// interleaved with the exponentials of row r while row r + 1 is fetched, so one thread keeps
/// memory busy while it computes. (Softmax would need two scratch rows of exponentials for
/// this, which with the input rows overflow L2 at the sizes where it matters: measured slower.)
template <bool kScaled, class T>
void PipelinedLogRows(T* out, const T* x, std::size_t n, std::size_t begin, std::size_t end,
                      double temperature) {
  const hn::ScalableTag<T> d;
  using D = decltype(d);
  const T inv_t = static_cast<T>(1.0 / temperature);
  const bool wide = temperature > 1.0;
  const auto vt = hn::Set(d, inv_t);
  std::optional<StreamWriter<D, LogSoftmaxRow<D>>> pending;
  auto drain = [&] {
    if (pending) pending->finish();
    pending.reset();
  };
  for (std::size_t r = begin; r < end; ++r) {
    const T* xr = x + r * n;
    T* outr = out + r * n;
    const Range<T> range = wide ? RowRange<true>(d, xr, n) : RowRange<false>(d, xr, n);
    if (!Ordinary(range, wide)) {
      drain();
      reference_row(RowOp::log_softmax, outr, xr, 1, n, temperature);
      continue;
    }
    // A NaN in the row makes s NaN, and with it the whole row.
    const double s =
        RowSumExp<false, kScaled>(d, static_cast<T*>(nullptr), xr, n, range.max, inv_t,
                                  r + 1 < end ? xr + n : nullptr, pending ? &*pending : nullptr);
    drain();
    pending.emplace(d, outr, n,
                    LogSoftmaxRow<D>{d, xr, hn::Set(d, range.max), vt,
                                     hn::Set(d, static_cast<T>(std::log(s)))});
  }
  drain();
}

template <bool kScaled, bool kStream, class T>
void RowsImpl(RowOp op, Passes passes, T* out, const T* x, std::size_t n, std::size_t begin,
              std::size_t end, double temperature, T* scratch) {
  const hn::ScalableTag<T> d;
  const T inv_t = static_cast<T>(1.0 / temperature);
  const bool online =
      passes == Passes::online || (passes == Passes::automatic && n * sizeof(T) > kOnlineRowBytes);
  const bool wide = temperature > 1.0;
  const std::size_t N = hn::Lanes(d);
  if (n <= 4 * N) {
    if (n <= N) {
      SmallRows<1, kScaled>(op, out, x, n, begin, end, temperature, inv_t, wide);
    } else if (n <= 2 * N) {
      SmallRows<2, kScaled>(op, out, x, n, begin, end, temperature, inv_t, wide);
    } else {
      SmallRows<4, kScaled>(op, out, x, n, begin, end, temperature, inv_t, wide);
    }
    return;
  }
  if (kStream && !online && op == RowOp::log_softmax && n * sizeof(T) >= kPipelineRowBytes) {
    PipelinedLogRows<kScaled>(out, x, n, begin, end, temperature);
    return;
  }
  for (std::size_t r = begin; r < end; ++r) {
    const T* xr = x + r * n;
    T* outr = op == RowOp::logsumexp ? out + r : out + r * n;
    T m;
    double s;
    if (online) {
      if (!OnlineMaxSum<kScaled>(d, xr, n, inv_t, wide, m, s)) {
        reference_row(op, outr, xr, 1, n, temperature);
        continue;
      }
      if (op == RowOp::softmax) {
        RowExpScale<kStream, kScaled>(d, outr, xr, n, m, inv_t, static_cast<T>(1.0 / s));
        continue;
      }
    } else {
      const Range<T> range = wide ? RowRange<true>(d, xr, n) : RowRange<false>(d, xr, n);
      if (!Ordinary(range, wide)) {
        reference_row(op, outr, xr, 1, n, temperature);
        continue;
      }
      m = range.max;
      if (op == RowOp::softmax) {
        // A NaN in the row makes s NaN, and with it the whole row. The exponentials wait in
        // the scratch row (in L2), so out is written once, without being read.
        if (scratch != nullptr) {
          s = RowSumExp<true, kScaled>(d, scratch, xr, n, m, inv_t, r + 1 < end ? xr + n : nullptr);
          RowScaleFrom<kStream>(d, outr, scratch, n, static_cast<T>(1.0 / s));
        } else {
          s = RowSumExp<true, kScaled>(d, outr, xr, n, m, inv_t);
          RowScale(d, outr, n, static_cast<T>(1.0 / s));
        }
        continue;
      }
      s = RowSumExp<false, kScaled>(d, static_cast<T*>(nullptr), xr, n, m, inv_t,
                                    kStream && r + 1 < end ? xr + n : nullptr);
    }
    if (op == RowOp::logsumexp) {
      *outr = static_cast<T>(static_cast<double>(m) + std::log(s));
    } else {
      RowShift<kStream>(d, outr, xr, n, m, inv_t, static_cast<T>(std::log(s)));
    }
  }
}

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

/// out[i] = f(x[i]) for the vector function f; the tail is padded with `fill`.
template <class T, class F>
void MapArray(T* out, const T* x, std::size_t n, T fill, F f) {
  const hn::ScalableTag<T> d;
  const std::size_t N = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(f(d, hn::LoadU(d, x + i)), d, out + i);
  if (i < n) StoreTail(d, f(d, LoadTail(d, x + i, n - i, fill)), out + i, n - i);
}

template <class T>
void ExpArray(T* out, const T* x, std::size_t n) {
  MapArray(out, x, n, T(0), [](auto d, auto v) { return Exp(d, v); });
}

template <class T>
void LogArray(T* out, const T* x, std::size_t n) {
  MapArray(out, x, n, T(1), [](auto d, auto v) { return Log(d, v); });
}

template <class T>
void Rows(RowOp op, Passes passes, T* out, const T* x, std::size_t n, std::size_t begin,
          std::size_t end, double t, T* scratch, bool stream) {
  const bool scaled = static_cast<T>(1.0 / t) != T(1);
  if (stream) {
    if (scaled) {
      RowsImpl<true, true>(op, passes, out, x, n, begin, end, t, scratch);
    } else {
      RowsImpl<false, true>(op, passes, out, x, n, begin, end, t, scratch);
    }
    hwy::FlushStream();
  } else if (scaled) {
    RowsImpl<true, false>(op, passes, out, x, n, begin, end, t, scratch);
  } else {
    RowsImpl<false, false>(op, passes, out, x, n, begin, end, t, scratch);
  }
}

template <class T>
void Strided(RowOp op, T* out, const T* x, std::size_t n, std::size_t inner, std::size_t begin,
             std::size_t end, double t, std::size_t range) {
  const bool scaled = static_cast<T>(1.0 / t) != T(1);
  if (range != 0) {
    if (scaled) {
      StridedWideImpl<true>(op, out, x, n, inner, range, begin, end, t);
    } else {
      StridedWideImpl<false>(op, out, x, n, inner, range, begin, end, t);
    }
  } else if (scaled) {
    StridedImpl<true>(op, out, x, n, inner, begin, end, t);
  } else {
    StridedImpl<false>(op, out, x, n, inner, begin, end, t);
  }
}

void RowsF32(RowOp op, Passes passes, float* out, const float* x, std::size_t n, std::size_t begin,
             std::size_t end, double t, float* scratch, bool stream) {
  Rows(op, passes, out, x, n, begin, end, t, scratch, stream);
}
void RowsF64(RowOp op, Passes passes, double* out, const double* x, std::size_t n,
             std::size_t begin, std::size_t end, double t, double* scratch, bool stream) {
  Rows(op, passes, out, x, n, begin, end, t, scratch, stream);
}
void StridedF32(RowOp op, float* out, const float* x, std::size_t n, std::size_t inner,
                std::size_t begin, std::size_t end, double t, std::size_t range) {
  Strided(op, out, x, n, inner, begin, end, t, range);
}
void StridedF64(RowOp op, double* out, const double* x, std::size_t n, std::size_t inner,
                std::size_t begin, std::size_t end, double t, std::size_t range) {
  Strided(op, out, x, n, inner, begin, end, t, range);
}
std::size_t WidthF32() {
  return BlockWidth<float>();
}
std::size_t WidthF64() {
  return BlockWidth<double>();
}
void ExpF32(float* out, const float* x, std::size_t n) {
  ExpArray(out, x, n);
}
void ExpF64(double* out, const double* x, std::size_t n) {
  ExpArray(out, x, n);
}
void LogF32(float* out, const float* x, std::size_t n) {
  LogArray(out, x, n);
}
void LogF64(double* out, const double* x, std::size_t n) {
  LogArray(out, x, n);
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace softreg::detail {

HWY_EXPORT(RowsF32);
HWY_EXPORT(RowsF64);
HWY_EXPORT(StridedF32);
HWY_EXPORT(StridedF64);
HWY_EXPORT(WidthF32);
HWY_EXPORT(WidthF64);
HWY_EXPORT(ExpF32);
HWY_EXPORT(ExpF64);
HWY_EXPORT(LogF32);
HWY_EXPORT(LogF64);

void simd_rows(RowOp op, Passes passes, float* out, const float* x, std::size_t n,
               std::size_t begin, std::size_t end, double temperature, float* scratch,
               bool stream) {
  HWY_DYNAMIC_DISPATCH(RowsF32)(op, passes, out, x, n, begin, end, temperature, scratch, stream);
}
void simd_rows(RowOp op, Passes passes, double* out, const double* x, std::size_t n,
               std::size_t begin, std::size_t end, double temperature, double* scratch,
               bool stream) {
  HWY_DYNAMIC_DISPATCH(RowsF64)(op, passes, out, x, n, begin, end, temperature, scratch, stream);
}
std::size_t strided_block_width_f32() {
  return HWY_DYNAMIC_DISPATCH(WidthF32)();
}
std::size_t strided_block_width_f64() {
  return HWY_DYNAMIC_DISPATCH(WidthF64)();
}
void simd_strided(RowOp op, float* out, const float* x, std::size_t n, std::size_t inner,
                  std::size_t begin, std::size_t end, double temperature, std::size_t range) {
  HWY_DYNAMIC_DISPATCH(StridedF32)(op, out, x, n, inner, begin, end, temperature, range);
}
void simd_strided(RowOp op, double* out, const double* x, std::size_t n, std::size_t inner,
                  std::size_t begin, std::size_t end, double temperature, std::size_t range) {
  HWY_DYNAMIC_DISPATCH(StridedF64)(op, out, x, n, inner, begin, end, temperature, range);
}
void vector_exp(float* out, const float* x, std::size_t n) {
  HWY_DYNAMIC_DISPATCH(ExpF32)(out, x, n);
}
void vector_exp(double* out, const double* x, std::size_t n) {
  HWY_DYNAMIC_DISPATCH(ExpF64)(out, x, n);
}
void vector_log(float* out, const float* x, std::size_t n) {
  HWY_DYNAMIC_DISPATCH(LogF32)(out, x, n);
}
void vector_log(double* out, const double* x, std::size_t n) {
  HWY_DYNAMIC_DISPATCH(LogF64)(out, x, n);
}

}  // namespace softreg::detail
#endif  // HWY_ONCE
