// Highway implementations of the contiguous rows of softmax_simd.hpp (simd_rows), compiled once
// per SIMD target.
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
#include <type_traits>

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

template <class T>
void Rows(const RowsJob<T>& j) {
  const bool scaled = static_cast<T>(1.0 / j.temperature) != T(1);
  const auto run = [&](auto scaled_tag, auto stream_tag) {
    RowsImpl<decltype(scaled_tag)::value, decltype(stream_tag)::value>(
        j.op, j.passes, j.out, j.x, j.n, j.begin, j.end, j.temperature, j.scratch);
  };
  if (j.stream) {
    if (scaled) {
      run(std::true_type{}, std::true_type{});
    } else {
      run(std::false_type{}, std::true_type{});
    }
    hwy::FlushStream();
  } else if (scaled) {
    run(std::true_type{}, std::false_type{});
  } else {
    run(std::false_type{}, std::false_type{});
  }
}

template <class T>
bool SegmentMaxSum(const T* x, std::size_t n, double temperature, T* max, double* sum, T* lowest) {
  const hn::ScalableTag<T> d;
  const T inv_t = static_cast<T>(1.0 / temperature);
  const bool wide = temperature > 1.0;
  return inv_t != T(1) ? OnlineMaxSum<true>(d, x, n, inv_t, wide, *max, *sum, lowest)
                       : OnlineMaxSum<false>(d, x, n, inv_t, wide, *max, *sum, lowest);
}

template <class T>
void SegmentWrite(RowOp op, T* out, const T* x, std::size_t n, double temperature, T max,
                  double sum) {
  const hn::ScalableTag<T> d;
  const T inv_t = static_cast<T>(1.0 / temperature);
  if (op == RowOp::log_softmax) {
    RowShift<false>(d, out, x, n, max, inv_t, static_cast<T>(std::log(sum)));
  } else if (inv_t != T(1)) {
    RowExpScale<false, true>(d, out, x, n, max, inv_t, static_cast<T>(1.0 / sum));
  } else {
    RowExpScale<false, false>(d, out, x, n, max, inv_t, static_cast<T>(1.0 / sum));
  }
}

bool SegmentMaxSumF32(const float* x, std::size_t n, double t, float* m, double* s, float* low) {
  return SegmentMaxSum(x, n, t, m, s, low);
}
bool SegmentMaxSumF64(const double* x, std::size_t n, double t, double* m, double* s, double* low) {
  return SegmentMaxSum(x, n, t, m, s, low);
}
void SegmentWriteF32(RowOp op, float* out, const float* x, std::size_t n, double t, float m,
                     double s) {
  SegmentWrite(op, out, x, n, t, m, s);
}
void SegmentWriteF64(RowOp op, double* out, const double* x, std::size_t n, double t, double m,
                     double s) {
  SegmentWrite(op, out, x, n, t, m, s);
}

void RowsF32(const RowsJob<float>& job) {
  Rows(job);
}
void RowsF64(const RowsJob<double>& job) {
  Rows(job);
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace softreg::detail {

HWY_EXPORT(RowsF32);
HWY_EXPORT(RowsF64);
HWY_EXPORT(SegmentMaxSumF32);
HWY_EXPORT(SegmentMaxSumF64);
HWY_EXPORT(SegmentWriteF32);
HWY_EXPORT(SegmentWriteF64);

bool segment_max_sum(const float* x, std::size_t n, double t, float* m, double* s, float* low) {
  return HWY_DYNAMIC_DISPATCH(SegmentMaxSumF32)(x, n, t, m, s, low);
}
bool segment_max_sum(const double* x, std::size_t n, double t, double* m, double* s, double* low) {
  return HWY_DYNAMIC_DISPATCH(SegmentMaxSumF64)(x, n, t, m, s, low);
}
void segment_write(RowOp op, float* out, const float* x, std::size_t n, double t, float m,
                   double s) {
  HWY_DYNAMIC_DISPATCH(SegmentWriteF32)(op, out, x, n, t, m, s);
}
void segment_write(RowOp op, double* out, const double* x, std::size_t n, double t, double m,
                   double s) {
  HWY_DYNAMIC_DISPATCH(SegmentWriteF64)(op, out, x, n, t, m, s);
}

void simd_rows(const RowsJob<float>& job) {
  HWY_DYNAMIC_DISPATCH(RowsF32)(job);
}
void simd_rows(const RowsJob<double>& job) {
  HWY_DYNAMIC_DISPATCH(RowsF64)(job);
}

}  // namespace softreg::detail
#endif  // HWY_ONCE
