// Highway implementation of cross_entropy_simd.hpp, compiled once per SIMD target.
//
// A row is read once to find its maximum and once more to compute the exponentials (stored in
// the gradient) and their sum in double; the gradient is then scaled in place, from cache, and
// its target entry set to (w_c p_c - w_c) scale computed in double. Short rows (up to four
// vectors) stay in registers and share their divisions and logarithms with their neighbours.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cross_entropy_simd.cpp"
#include "kernels/cross_entropy_simd.hpp"

#include <hwy/cache_control.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "common/thread_scratch.hpp"
#include "kernels/row_simd-inl.h"
#include "kernels/simd_math-inl.h"
#include "kernels/softmax_simd.hpp"

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class T>
struct RowTarget {
  bool ignored;
  std::size_t c;
  double w;
};

template <class T>
HWY_INLINE RowTarget<T> TargetOf(const CrossEntropyRows<T>& job, std::size_t r) {
  const std::int64_t t = job.target[r];
  if (t == job.ignore_index) return {true, 0, 0.0};
  const auto c = static_cast<std::size_t>(t);
  return {false, c, job.weights != nullptr ? static_cast<double>(job.weights[c]) : 1.0};
}

template <class T>
HWY_INLINE void ZeroRow(T* g, std::size_t n) {
  std::fill(g, g + n, T(0));
}

/// loss = w (log s - (x_c - m)); 0 for a zero weight (even if x_c is -inf), but NaN for a row
/// holding a NaN, whose sum s is then NaN.
HWY_INLINE double RowLoss(double w, double log_s, double xc, double m) {
  if (w == 0.0) return std::isnan(log_s) ? log_s : 0.0;
  return w * (log_s - (xc - m));
}

template <class T>
HWY_INLINE void Record(const CrossEntropyRows<T>& job, std::size_t r, double loss,
                       CompensatedSum& total) {
  if (job.row_losses != nullptr) job.row_losses[r] = static_cast<T>(loss);
  total.add(loss);
}

/// v with lane c - i replaced by `value` when the vector at element i (count lanes) holds entry
/// c; the branch is taken once per row.
template <class D>
HWY_INLINE hn::Vec<D> WithTarget(D d, hn::Vec<D> v, std::size_t i, std::size_t count, std::size_t c,
                                 hn::TFromD<D> value) {
  using T = hn::TFromD<D>;
  if (c < i || c >= i + count) return v;
  const auto lane = hn::Eq(hn::Iota(d, T(0)), hn::Set(d, static_cast<T>(c - i)));
  return hn::IfThenElse(lane, hn::Set(d, value), v);
}

/// The gradient row written once: e f, with the target entry (f e_c - target_term, computed
/// in double) put in its vector on the way, so streamed rows need no fence between them.
template <bool kStream, class D>
HWY_INLINE void WriteGradient(D d, hn::TFromD<D>* gr, const hn::TFromD<D>* e, std::size_t n,
                              double f, std::size_t c, double ec, double target_term) {
  using T = hn::TFromD<D>;
  const auto vf = hn::Set(d, static_cast<T>(f));
  const T target = static_cast<T>(f * ec - target_term);
  WriteRow<kStream>(d, gr, n, [&](std::size_t i, std::size_t count) {
    const auto y = hn::Mul(LoadCount(d, e + i, count, T(0)), vf);
    return WithTarget(d, y, i, count, c, target);
  });
}

template <bool kStream, class T>
void LongRows(const CrossEntropyRows<T>& job, std::size_t begin, std::size_t end,
              CompensatedSum& total) {
  const hn::ScalableTag<T> d;
  const std::size_t n = job.n;
  const bool online = n * sizeof(T) > kOnlineRowBytes;
  T* scratch = nullptr;
  if (kStream && !online && job.grad != nullptr) scratch = ThreadScratch::mine().row<T>(n);
  for (std::size_t r = begin; r < end; ++r) {
    const RowTarget<T> t = TargetOf(job, r);
    const T* xr = job.x + r * n;
    T* gr = job.grad != nullptr ? job.grad + r * n : nullptr;
    if (t.ignored) {
      if (gr != nullptr) ZeroRow(gr, n);
      Record(job, r, 0.0, total);
      continue;
    }
    T m;
    double s;
    const double xc = xr[t.c];  // read before the gradient may overwrite it
    if (online) {
      if (!OnlineMaxSum<false>(d, xr, n, T(1), false, m, s)) {
        Record(job, r, job.fallback(job.context, r), total);
        continue;
      }
      if (gr != nullptr) {
        const double f = job.scale * t.w / s;
        const T target = static_cast<T>(f * std::exp(xc - double(m)) - job.scale * t.w);
        const auto vm = hn::Set(d, m);
        const auto vf = hn::Set(d, static_cast<T>(f));
        const auto one = hn::Set(d, T(1));
        const T inf = std::numeric_limits<T>::infinity();
        WriteRow<kStream>(d, gr, n, [&](std::size_t i, std::size_t count) {
          const auto v = LoadCount(d, xr + i, count, -inf);
          return WithTarget(d, hn::Mul(ShiftedExp<false>(d, v, vm, one), vf), i, count, t.c,
                            target);
        });
      }
    } else {
      const Range<T> range = RowRange<false>(d, xr, n);
      if (!std::isfinite(range.max)) {
        Record(job, r, job.fallback(job.context, r), total);
        continue;
      }
      m = range.max;
      if (gr != nullptr) {
        T* e = scratch != nullptr ? scratch : gr;
        s = RowSumExp<true, false>(d, e, xr, n, m, T(1), kStream && r + 1 < end ? xr + n : nullptr);
        const double f = job.scale * t.w / s;
        WriteGradient<kStream>(d, gr, e, n, f, t.c, double(e[t.c]), job.scale * t.w);
      } else {
        s = RowSumExp<false, false>(d, static_cast<T*>(nullptr), xr, n, m, T(1));
      }
    }
    Record(job, r, RowLoss(t.w, std::log(s), xc, m), total);
  }
  if constexpr (kStream) hwy::FlushStream();
}

template <std::size_t kV, class T>
void ShortRows(const CrossEntropyRows<T>& job, std::size_t begin, std::size_t end,
               CompensatedSum& total) {
  const hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  const std::size_t n = job.n;
  const V one = hn::Set(d, T(1));
  // The rows [begin, end) are this thread's: partial vectors may reach into the next row.
  const T* x_limit = job.x + end * n;
  const T* g_limit = job.grad != nullptr ? job.grad + end * n : nullptr;
  constexpr std::size_t kBatch = 16;
  constexpr std::size_t kGroup = 4;
  for (std::size_t r0 = begin; r0 < end; r0 += kBatch) {
    const std::size_t count = std::min(kBatch, end - r0);
    // Set entry by entry below (an aggregate zeroing here costs more than the batch's maths).
    double logs[kBatch];
    double invs[kBatch];
    double shifted[kBatch];  // x_c - m
    double losses[kBatch];
    bool vector_row[kBatch];
    for (std::size_t b = 0; b < kBatch; ++b) {
      logs[b] = 1.0;
      invs[b] = 1.0;
      losses[b] = 0.0;
      vector_row[b] = false;
    }
    for (std::size_t b = 0; b < count; b += kGroup) {
      const std::size_t group = std::min<std::size_t>(kGroup, count - b);
      V v[kGroup][kV], e[kGroup][kV], mx[kGroup];
      GroupMaxExp<kGroup, kV, false>(d, job.x + (r0 + b) * n, n, group, x_limit, one, v, e, mx);
      for (std::size_t j = 0; j < group; ++j) {
        const std::size_t r = r0 + b + j;
        const RowTarget<T> t = TargetOf(job, r);
        T* gr = job.grad != nullptr ? job.grad + r * n : nullptr;
        if (t.ignored) {
          if (gr != nullptr) ZeroRow(gr, n);
          continue;  // loss 0
        }
        const T m = hn::GetLane(mx[j]);
        if (!std::isfinite(m)) {
          losses[b + j] = job.fallback(job.context, r);
          continue;
        }
        vector_row[b + j] = true;
        shifted[b + j] = static_cast<double>(job.x[r * n + t.c]) - static_cast<double>(m);
        logs[b + j] = SmallRowSum<kV>(d, e[j]);  // the sum for now
        if (gr != nullptr) StoreSmall<kV>(d, e[j], gr, n, g_limit);
      }
    }
    for (std::size_t b = 0; b < count; ++b) invs[b] = vector_row[b] ? logs[b] : 1.0;
    LogOrInverseBatch(true, logs, count);
    if (job.grad != nullptr) LogOrInverseBatch(false, invs, count);
    for (std::size_t b = 0; b < count; ++b) {
      const std::size_t r = r0 + b;
      if (vector_row[b]) {
        const RowTarget<T> t = TargetOf(job, r);
        losses[b] = RowLoss(t.w, logs[b], shifted[b], 0.0);
        if (job.grad != nullptr) {
          T* gr = job.grad + r * n;
          const double ec = gr[t.c];
          const double f = job.scale * t.w * invs[b];
          V y[kV];
          LoadSmall<kV>(d, gr, n, y, g_limit);
          const V vf = hn::Set(d, static_cast<T>(f));
          for (std::size_t i = 0; i < kV; ++i) y[i] = hn::Mul(y[i], vf);
          StoreSmall<kV>(d, y, gr, n, g_limit);
          gr[t.c] = static_cast<T>(f * ec - job.scale * t.w);
        }
      }
      Record(job, r, losses[b], total);
    }
  }
}

template <class T>
void CrossEntropyImpl(const CrossEntropyRows<T>& job, std::size_t begin, std::size_t end,
                      CompensatedSum& total) {
  const std::size_t N = hn::Lanes(hn::ScalableTag<T>());
  if (job.n <= N) {
    ShortRows<1>(job, begin, end, total);
  } else if (job.n <= 2 * N) {
    ShortRows<2>(job, begin, end, total);
  } else if (job.n <= 4 * N) {
    ShortRows<4>(job, begin, end, total);
  } else if (job.stream) {
    LongRows<true>(job, begin, end, total);
  } else {
    LongRows<false>(job, begin, end, total);
  }
}

void CrossEntropyF32(const CrossEntropyRows<float>& job, std::size_t begin, std::size_t end,
                     CompensatedSum& total) {
  CrossEntropyImpl(job, begin, end, total);
}
void CrossEntropyF64(const CrossEntropyRows<double>& job, std::size_t begin, std::size_t end,
                     CompensatedSum& total) {
  CrossEntropyImpl(job, begin, end, total);
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace softreg::detail {

HWY_EXPORT(CrossEntropyF32);
HWY_EXPORT(CrossEntropyF64);

void simd_cross_entropy_rows(const CrossEntropyRows<float>& job, std::size_t begin, std::size_t end,
                             CompensatedSum& total) {
  HWY_DYNAMIC_DISPATCH(CrossEntropyF32)(job, begin, end, total);
}
void simd_cross_entropy_rows(const CrossEntropyRows<double>& job, std::size_t begin,
                             std::size_t end, CompensatedSum& total) {
  HWY_DYNAMIC_DISPATCH(CrossEntropyF64)(job, begin, end, total);
}

}  // namespace softreg::detail
#endif  // HWY_ONCE
