// Row building blocks shared by the vectorized kernels (included once per Highway target):
// double-width sums of exponentials, partial vectors at row ends, the row range, the shifted
// exponential and the batched reciprocals and logarithms of short rows.
#if defined(SOFTREG_KERNELS_ROW_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SOFTREG_KERNELS_ROW_SIMD_INL_H_
#undef SOFTREG_KERNELS_ROW_SIMD_INL_H_
#else
#define SOFTREG_KERNELS_ROW_SIMD_INL_H_
#endif

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/row.hpp"
#include "kernels/simd_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Per-lane sums of exponentials in double. Float lanes are widened (the lower and upper halves
/// of a float vector become two double vectors); double lanes keep a two-sum compensation.
template <class D>
class LaneSums {
  using T = hn::TFromD<D>;
  using V = hn::Vec<D>;

 public:
  explicit LaneSums(D d) : d_(d) {
    if constexpr (kFloat) {
      lo_ = hn::Zero(dw_);
      hi_ = hn::Zero(dw_);
    } else {
      sum_ = hn::Zero(d);
      comp_ = hn::Zero(d);
    }
  }

  void add(V v) {
    if constexpr (kFloat) {
#if HWY_TARGET == HWY_SCALAR
      lo_ = hn::Add(lo_, hn::PromoteTo(dw_, v));
#else
      lo_ = hn::Add(lo_, hn::PromoteTo(dw_, hn::LowerHalf(dh_, v)));
      hi_ = hn::Add(hi_, hn::PromoteTo(dw_, hn::UpperHalf(dh_, v)));
#endif
    } else {
      const V s = hn::Add(sum_, v);
      const V bp = hn::Sub(s, sum_);
      const V err = hn::Add(hn::Sub(sum_, hn::Sub(s, bp)), hn::Sub(v, bp));
      comp_ = hn::Add(comp_, err);
      sum_ = s;
    }
  }

  /// The sum over all lanes.
  double total() const {
    if constexpr (kFloat) {
#if HWY_TARGET == HWY_SCALAR
      return hn::GetLane(lo_);
#else
      return hn::GetLane(hn::SumOfLanes(dw_, hn::Add(lo_, hi_)));
#endif
    } else {
      HWY_ALIGN T sums[hn::MaxLanes(D())];
      HWY_ALIGN T comps[hn::MaxLanes(D())];
      hn::Store(sum_, d_, sums);
      hn::Store(comp_, d_, comps);
      CompensatedSum s;
      double c = 0.0;
      for (std::size_t i = 0; i < hn::Lanes(d_); ++i) {
        s.add(sums[i]);
        c += comps[i];
      }
      return s.value() + c;
    }
  }

  /// Per lane: 1 / sum (as_log false) or log(sum) (as_log true), rounded to T.
  V per_lane(bool as_log) const {
    if constexpr (kFloat) {
      auto f = [&](hn::Vec<decltype(dw_)> s) {
        return as_log ? Log(dw_, s) : hn::Div(hn::Set(dw_, 1.0), s);
      };
#if HWY_TARGET == HWY_SCALAR
      return hn::DemoteTo(d_, f(lo_));
#else
      return hn::Combine(d_, hn::DemoteTo(dh_, f(hi_)), hn::DemoteTo(dh_, f(lo_)));
#endif
    } else {
      const V s = hn::Add(sum_, comp_);
      return as_log ? Log(d_, s) : hn::Div(hn::Set(d_, T(1)), s);
    }
  }

 private:
  static constexpr bool kFloat = sizeof(T) == 4;
#if HWY_TARGET == HWY_SCALAR
  using DW = hn::Rebind<double, D>;
#else
  using DW = hn::Rebind<double, hn::Half<D>>;
  hn::Half<D> dh_;
#endif
  D d_;
  DW dw_;
  hn::Vec<DW> lo_, hi_;
  V sum_, comp_;
};

/// Loads the first `count` (< lanes) entries of p; the other lanes get `fill`. AVX2 and
/// AVX-512 have masked loads and stores that never touch the masked-off memory; elsewhere the
/// partial vector goes through a stack buffer (a full-width access could cross the end of the
/// array, and a full-width store would race with the thread that owns the next row; the short
/// rows avoid these calls where that cannot happen, see MaySpill).
#undef SOFTREG_NATIVE_MASKED_ACCESS
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
#define SOFTREG_NATIVE_MASKED_ACCESS 1
#else
#define SOFTREG_NATIVE_MASKED_ACCESS 0
#endif

template <class D>
HWY_INLINE hn::Vec<D> LoadTail(D d, const hn::TFromD<D>* p, std::size_t count, hn::TFromD<D> fill) {
#if SOFTREG_NATIVE_MASKED_ACCESS
  const auto mask = hn::FirstN(d, count);
  return hn::IfThenElse(mask, hn::MaskedLoad(mask, d, p), hn::Set(d, fill));
#else
  using T = hn::TFromD<D>;
  HWY_ALIGN T buf[hn::MaxLanes(D())];
  for (std::size_t i = 0; i < hn::Lanes(d); ++i) buf[i] = i < count ? p[i] : fill;
  return hn::Load(d, buf);
#endif
}

template <class D>
HWY_INLINE void StoreTail(D d, hn::Vec<D> v, hn::TFromD<D>* p, std::size_t count) {
#if SOFTREG_NATIVE_MASKED_ACCESS
  hn::BlendedStore(v, hn::FirstN(d, count), d, p);
#else
  using T = hn::TFromD<D>;
  HWY_ALIGN T buf[hn::MaxLanes(D())];
  hn::Store(v, d, buf);
  std::memcpy(p, buf, count * sizeof(T));
#endif
}

template <class T>
struct Range {
  T max;
  T min;
};

/// Replaces -inf lanes by +inf, so that a minimum skips masked entries.
template <class D, class V>
HWY_INLINE V SkipMasked(D d, V a) {
  using T = hn::TFromD<D>;
  const T inf = std::numeric_limits<T>::infinity();
  return hn::IfThenElse(hn::Eq(a, hn::Set(d, -inf)), hn::Set(d, inf), a);
}

/// The largest entry of x[0, n) and, with kMin, the smallest one other than -inf (+inf if
/// none, or without kMin). The minimum matters only for T > 1, where x - max can overflow
/// although (x - max) / T would not. With a NaN in the row either may be NaN or ignore it;
/// callers catch that through the checks or the NaN it puts in the sum.
template <bool kMin, class D>
HWY_INLINE Range<hn::TFromD<D>> RowRange(D d, const hn::TFromD<D>* HWY_RESTRICT x, std::size_t n) {
  using T = hn::TFromD<D>;
  const std::size_t N = hn::Lanes(d);
  const T inf = std::numeric_limits<T>::infinity();
  auto mx0 = hn::Set(d, -inf), mx1 = mx0, mn0 = hn::Set(d, inf), mn1 = mn0;
  std::size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto a = hn::LoadU(d, x + i);
    const auto b = hn::LoadU(d, x + i + N);
    mx0 = hn::Max(mx0, a);
    mx1 = hn::Max(mx1, b);
    if constexpr (kMin) {
      mn0 = hn::Min(mn0, SkipMasked(d, a));
      mn1 = hn::Min(mn1, SkipMasked(d, b));
    }
  }
  for (; i + N <= n; i += N) {
    const auto a = hn::LoadU(d, x + i);
    mx0 = hn::Max(mx0, a);
    if constexpr (kMin) mn0 = hn::Min(mn0, SkipMasked(d, a));
  }
  if (i < n) {
    mx1 = hn::Max(mx1, LoadTail(d, x + i, n - i, -inf));
    if constexpr (kMin) mn1 = hn::Min(mn1, SkipMasked(d, LoadTail(d, x + i, n - i, inf)));
  }
  return {hn::GetLane(hn::MaxOfLanes(d, hn::Max(mx0, mx1))),
          hn::GetLane(hn::MinOfLanes(d, hn::Min(mn0, mn1)))};
}

/// Whether a row with this range can take the vectorized path: a finite maximum and, for
/// T > 1 (wide), a shift x - max that does not overflow.
template <class T>
HWY_INLINE bool Ordinary(const Range<T>& r, bool wide) {
  return std::isfinite(r.max) && (!wide || std::isfinite(r.max - r.min));
}

/// exp((x - m) * inv_t) lane-wise, for m >= x; kScaled false skips the multiply (T = 1).
template <bool kScaled, class D, class V>
HWY_INLINE V ShiftedExp(D d, V x, V m, V inv_t) {
  V z = hn::Sub(x, m);
  if constexpr (kScaled) z = hn::Mul(z, inv_t);
  return ExpNonPositive(d, z);
}

/// A companion of RowSumExp that does nothing.
struct NoWriter {
  HWY_INLINE void step() {}
};

/// sum_j exp((x_j - m) * inv_t) in double; with kStore the exponentials are also written to
/// out (which may be x). `prefetch`, if not null, is fetched alongside (the next row), and
/// writer.step() is called once per four vectors (the write of the previous row, see
/// StreamWriter), so memory traffic overlaps with the exponentials.
template <bool kStore, bool kScaled, class D, class W = NoWriter>
HWY_INLINE double RowSumExp(D d, hn::TFromD<D>* out, const hn::TFromD<D>* x, std::size_t n,
                            hn::TFromD<D> m, hn::TFromD<D> inv_t,
                            const hn::TFromD<D>* prefetch = nullptr, W* writer = nullptr) {
  using T = hn::TFromD<D>;
  const std::size_t N = hn::Lanes(d);
  const auto vm = hn::Set(d, m);
  const auto vt = hn::Set(d, inv_t);
  LaneSums<D> sums(d);
  std::size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    if (prefetch != nullptr) {  // the next row, fetched while this one is computed
      const char* p = reinterpret_cast<const char*>(prefetch + i);
      for (std::size_t b = 0; b < 4 * N * sizeof(T); b += 64) hwy::Prefetch(p + b);
    }
    const auto e0 = ShiftedExp<kScaled>(d, hn::LoadU(d, x + i), vm, vt);
    const auto e1 = ShiftedExp<kScaled>(d, hn::LoadU(d, x + i + N), vm, vt);
    const auto e2 = ShiftedExp<kScaled>(d, hn::LoadU(d, x + i + 2 * N), vm, vt);
    const auto e3 = ShiftedExp<kScaled>(d, hn::LoadU(d, x + i + 3 * N), vm, vt);
    if constexpr (kStore) {
      hn::StoreU(e0, d, out + i);
      hn::StoreU(e1, d, out + i + N);
      hn::StoreU(e2, d, out + i + 2 * N);
      hn::StoreU(e3, d, out + i + 3 * N);
    }
    sums.add(hn::Add(hn::Add(e0, e1), hn::Add(e2, e3)));
    if (writer != nullptr) writer->step();
  }
  for (; i + N <= n; i += N) {
    const auto e = ShiftedExp<kScaled>(d, hn::LoadU(d, x + i), vm, vt);
    if constexpr (kStore) hn::StoreU(e, d, out + i);
    sums.add(e);
  }
  if (i < n) {
    const T fill = -std::numeric_limits<T>::infinity();
    const auto e = ShiftedExp<kScaled>(d, LoadTail(d, x + i, n - i, fill), vm, vt);
    if constexpr (kStore) StoreTail(d, e, out + i, n - i);
    sums.add(e);
  }
  return sums.total();
}

/// Whether the full vector at p (p <= limit) may be accessed although only part of it belongs
/// to the row: `limit` (null: never) is the end of the memory the calling thread owns, which
/// holds the rows it processes next. Masked stores are slow on some CPUs (about 18 cycles on
/// Zen 3), so the short rows of a contiguous batch use whole-vector accesses instead; rows
/// whose vector would reach past `limit` (the last one or, for rows shorter than a vector, the
/// last few of the thread's range or chunk) keep the masked path.
template <class D>
HWY_INLINE bool MaySpill(D d, const hn::TFromD<D>* p, const hn::TFromD<D>* limit) {
  return limit != nullptr && static_cast<std::size_t>(limit - p) >= hn::Lanes(d);
}

/// Loads a row of at most kV vectors; lanes past its end hold -inf. With `limit`, see MaySpill.
template <std::size_t kV, class D>
HWY_INLINE void LoadSmall(D d, const hn::TFromD<D>* x, std::size_t n, hn::Vec<D>* v,
                          const hn::TFromD<D>* limit = nullptr) {
  const std::size_t N = hn::Lanes(d);
  const auto fill = -std::numeric_limits<hn::TFromD<D>>::infinity();
  for (std::size_t i = 0; i < kV; ++i) {
    if ((i + 1) * N <= n) {
      v[i] = hn::LoadU(d, x + i * N);
    } else if (i * N < n) {
      const hn::TFromD<D>* p = x + i * N;
      v[i] = MaySpill(d, p, limit)
                 ? hn::IfThenElse(hn::FirstN(d, n - i * N), hn::LoadU(d, p), hn::Set(d, fill))
                 : LoadTail(d, p, n - i * N, fill);
    } else {
      v[i] = hn::Set(d, fill);
    }
  }
}

/// Stores a row of at most kV vectors. With `limit` (see MaySpill), a partial vector is
/// written whole, the lanes past the row end with what the memory already holds (the caller's
/// own next rows, so nothing another thread writes is touched).
template <std::size_t kV, class D>
HWY_INLINE void StoreSmall(D d, const hn::Vec<D>* y, hn::TFromD<D>* out, std::size_t n,
                           const hn::TFromD<D>* limit = nullptr) {
  const std::size_t N = hn::Lanes(d);
  for (std::size_t i = 0; i < kV; ++i) {
    if ((i + 1) * N <= n) {
      hn::StoreU(y[i], d, out + i * N);
    } else if (i * N < n) {
      hn::TFromD<D>* p = out + i * N;
      if (MaySpill(d, p, limit)) {
        hn::StoreU(hn::IfThenElse(hn::FirstN(d, n - i * N), y[i], hn::LoadU(d, p)), d, p);
      } else {
        StoreTail(d, y[i], p, n - i * N);
      }
    }
  }
}

/// `group` (<= kGroup) short rows at x, x + n, ...; the slots past `group` repeat the first
/// row, so the statements always run on kGroup rows. Each row is read once (LoadSmall, with
/// `limit`) into v[j], its maximum broadcast into mx[j] and exp((v - max) * inv_t) into e[j];
/// the kGroup rows go side by side, so their dependency chains (max -> exp) overlap.
template <std::size_t kGroup, std::size_t kV, bool kScaled, class D, class V = hn::Vec<D>>
HWY_INLINE void GroupMaxExp(D d, const hn::TFromD<D>* x, std::size_t n, std::size_t group,
                            const hn::TFromD<D>* limit, V vt, V (&v)[kGroup][kV],
                            V (&e)[kGroup][kV], V (&mx)[kGroup]) {
  for (std::size_t j = 0; j < kGroup; ++j) {
    LoadSmall<kV>(d, x + (j < group ? j : 0) * n, n, v[j], limit);
  }
  for (std::size_t j = 0; j < kGroup; ++j) {
    mx[j] = v[j][0];
    for (std::size_t i = 1; i < kV; ++i) mx[j] = hn::Max(mx[j], v[j][i]);
    mx[j] = hn::MaxOfLanes(d, mx[j]);
  }
  for (std::size_t j = 0; j < kGroup; ++j) {
    for (std::size_t i = 0; i < kV; ++i) e[j][i] = ShiftedExp<kScaled>(d, v[j][i], mx[j], vt);
  }
}

/// The sum of a short row's kV vectors of exponentials, in double (a NaN makes it NaN).
template <std::size_t kV, class D>
HWY_INLINE double SmallRowSum(D d, const hn::Vec<D>* e) {
  LaneSums<D> acc(d);
  hn::Vec<D> partial = e[0];
  for (std::size_t i = 1; i < kV; ++i) partial = hn::Add(partial, e[i]);
  acc.add(partial);
  return acc.total();
}

/// log (as_log) or 1 / s of count sums at once.
HWY_INLINE void LogOrInverseBatch(bool as_log, double* s, std::size_t count) {
  const hn::ScalableTag<double> dd;
  const std::size_t N = hn::Lanes(dd);
  auto f = [&](hn::Vec<decltype(dd)> v) {
    return as_log ? Log(dd, v) : hn::Div(hn::Set(dd, 1.0), v);
  };
  std::size_t i = 0;
  for (; i + N <= count; i += N) hn::StoreU(f(hn::LoadU(dd, s + i)), dd, s + i);
  if (i < count) StoreTail(dd, f(LoadTail(dd, s + i, count - i, 1.0)), s + i, count - i);
}

/// out *= s.
template <class D>
HWY_INLINE void RowScale(D d, hn::TFromD<D>* out, std::size_t n, hn::TFromD<D> s) {
  const std::size_t N = hn::Lanes(d);
  const auto vs = hn::Set(d, s);
  std::size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, out + i), vs), d, out + i);
  for (; i < n; ++i) out[i] *= s;
}

/// Writes a row of n entries whose vector at element i (count lanes valid, count <= lanes) is
/// y(i, count). kStream uses non-temporal stores for the aligned middle: an output far larger
/// than cache then costs no read-for-ownership and does not evict the input. The caller ends
/// the batch with hwy::FlushStream().
template <bool kStream, class D, class F>
HWY_INLINE void WriteRow(D d, hn::TFromD<D>* out, std::size_t n, F&& y) {
  using T = hn::TFromD<D>;
  const std::size_t N = hn::Lanes(d);
  std::size_t i = 0;
  if constexpr (kStream) {
    const std::size_t misalign = (reinterpret_cast<std::uintptr_t>(out) / sizeof(T)) % N;
    if (misalign != 0) {
      const std::size_t head = std::min(n, N - misalign);
      StoreTail(d, y(i, head), out, head);
      i = head;
    }
    for (; i + N <= n; i += N) hn::Stream(y(i, N), d, out + i);
  } else {
    for (; i + N <= n; i += N) hn::StoreU(y(i, N), d, out + i);
  }
  if (i < n) StoreTail(d, y(i, n - i), out + i, n - i);
}

/// Writes a row of n entries with non-temporal stores a few vectors at a time, so that the
/// write of one row can be interleaved with the computation of the next (RowSumExp's writer).
/// y(i, count) gives the vector at element i (count lanes valid). The misaligned head is
/// written on construction, step() writes up to four aligned vectors, finish() the rest.
template <class D, class Y>
class StreamWriter {
  using T = hn::TFromD<D>;

 public:
  StreamWriter(D d, T* out, std::size_t n, Y y) : d_(d), out_(out), n_(n), y_(y) {
    const std::size_t N = hn::Lanes(d);
    const std::size_t misalign = (reinterpret_cast<std::uintptr_t>(out) / sizeof(T)) % N;
    if (misalign != 0) {
      i_ = std::min(n, N - misalign);
      StoreTail(d, y_(0, i_), out, i_);
    }
  }

  HWY_INLINE void step() {
    const std::size_t N = hn::Lanes(d_);
    for (int k = 0; k < 4 && i_ + N <= n_; ++k, i_ += N) hn::Stream(y_(i_, N), d_, out_ + i_);
  }

  void finish() {
    const std::size_t N = hn::Lanes(d_);
    for (; i_ + N <= n_; i_ += N) hn::Stream(y_(i_, N), d_, out_ + i_);
    if (i_ < n_) StoreTail(d_, y_(i_, n_ - i_), out_ + i_, n_ - i_);
    i_ = n_;
  }

 private:
  D d_;
  T* out_;
  std::size_t n_;
  Y y_;
  std::size_t i_ = 0;
};

/// Loads count (<= lanes) entries at p; missing lanes hold `fill`.
template <class D>
HWY_INLINE hn::Vec<D> LoadCount(D d, const hn::TFromD<D>* p, std::size_t count,
                                hn::TFromD<D> fill) {
  return count == hn::Lanes(d) ? hn::LoadU(d, p) : LoadTail(d, p, count, fill);
}

/// out = exp((x - m) * inv_t) * s.
template <bool kStream, bool kScaled, class D>
HWY_INLINE void RowExpScale(D d, hn::TFromD<D>* out, const hn::TFromD<D>* x, std::size_t n,
                            hn::TFromD<D> m, hn::TFromD<D> inv_t, hn::TFromD<D> s) {
  using T = hn::TFromD<D>;
  const auto vm = hn::Set(d, m);
  const auto vt = hn::Set(d, inv_t);
  const auto vs = hn::Set(d, s);
  WriteRow<kStream>(d, out, n, [&](std::size_t i, std::size_t count) {
    const auto v = LoadCount(d, x + i, count, -std::numeric_limits<T>::infinity());
    return hn::Mul(ShiftedExp<kScaled>(d, v, vm, vt), vs);
  });
}

/// out = e * s for the exponentials e kept in a scratch row (readable a vector past n).
template <bool kStream, class D>
HWY_INLINE void RowScaleFrom(D d, hn::TFromD<D>* out, const hn::TFromD<D>* e, std::size_t n,
                             hn::TFromD<D> s) {
  const auto vs = hn::Set(d, s);
  WriteRow<kStream>(d, out, n,
                    [&](std::size_t i, std::size_t) { return hn::Mul(hn::LoadU(d, e + i), vs); });
}

/// The maximum and the sum of exp((x - max) * inv_t) of a row in one read, a block of
/// kOnlineBlock entries at a time (the block is read twice, from L1). Returns false when the
/// row is not ordinary (non-finite maximum, or a range whose shift overflows). `lowest`, if
/// not null, receives the smallest entry other than -inf (for wide, else +inf).
constexpr std::size_t kOnlineBlock = 2048;

template <bool kScaled, class D>
HWY_INLINE bool OnlineMaxSum(D d, const hn::TFromD<D>* x, std::size_t n, hn::TFromD<D> inv_t,
                             bool wide, hn::TFromD<D>& max, double& sum,
                             hn::TFromD<D>* lowest_out = nullptr) {
  using T = hn::TFromD<D>;
  T m = -std::numeric_limits<T>::infinity();
  T lowest = std::numeric_limits<T>::infinity();
  double s = 0.0;
  for (std::size_t b = 0; b < n; b += kOnlineBlock) {
    const std::size_t len = std::min(kOnlineBlock, n - b);
    const Range<T> r = wide ? RowRange<true>(d, x + b, len) : RowRange<false>(d, x + b, len);
    if (!std::isfinite(r.max) || std::isnan(r.min)) return false;
    lowest = std::min(lowest, r.min);
    const double block =
        RowSumExp<false, kScaled>(d, static_cast<T*>(nullptr), x + b, len, r.max, inv_t);
    if (r.max > m) {
      s = s * std::exp(static_cast<double>((m - r.max) * inv_t)) + block;
      m = r.max;
    } else {
      s += block * std::exp(static_cast<double>((r.max - m) * inv_t));
    }
  }
  if (!Ordinary(Range<T>{m, lowest}, wide)) return false;
  max = m;
  sum = s;
  if (lowest_out != nullptr) *lowest_out = lowest;
  return true;
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SOFTREG_KERNELS_ROW_SIMD_INL_H_
