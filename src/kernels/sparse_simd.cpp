// Highway implementations of the sparse products of linear.hpp (one CSR row's logits, one
// column's share of X^T dZ), compiled once per SIMD target and dispatched at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/sparse_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "kernels/linear.hpp"
#include "kernels/simd_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Stores the first `count` lanes of NV vectors at out (count > (NV - 1) lanes): whole vectors
/// where they fit, the last through a buffer, so nothing past out + count is written.
template <std::size_t NV, class D, class V>
HWY_INLINE void StoreFirst(D d, const V (&acc)[NV], std::size_t count,
                           hn::TFromD<D>* HWY_RESTRICT out) {
  const std::size_t n = hn::Lanes(d);
  for (std::size_t v = 0; v + 1 < NV; ++v) hn::StoreU(acc[v], d, out + v * n);
  HWY_ALIGN hn::TFromD<D> last[hn::MaxLanes(d)];
  hn::Store(acc[NV - 1], d, last);
  std::copy(last, last + (count - (NV - 1) * n), out + (NV - 1) * n);
}

/// z[c0 .. c0 + count) of one row: bias plus value * w row, for NV vectors of classes.
template <std::size_t NV, class T>
HWY_INLINE void RowStrip(const std::int32_t* HWY_RESTRICT indices, const T* HWY_RESTRICT values,
                         std::size_t nnz, const T* HWY_RESTRICT w, const T* HWY_RESTRICT bias,
                         std::size_t k, std::size_t c0, std::size_t count, T* HWY_RESTRICT z) {
  const hn::ScalableTag<T> d;
  const std::size_t n = hn::Lanes(d);
  hn::Vec<decltype(d)> acc[NV];
  for (std::size_t v = 0; v < NV; ++v) acc[v] = hn::LoadU(d, bias + c0 + v * n);
  for (std::size_t p = 0; p < nnz; ++p) {
    const auto value = hn::Set(d, values[p]);
    const T* row = w + std::size_t(indices[p]) * k + c0;
    for (std::size_t v = 0; v < NV; ++v)
      acc[v] = hn::MulAdd(value, hn::LoadU(d, row + v * n), acc[v]);
  }
  StoreFirst<NV>(d, acc, count, z + c0);
}

template <class T>
void RowLogits(const std::int32_t* HWY_RESTRICT indices, const T* HWY_RESTRICT values,
               std::size_t nnz, const T* HWY_RESTRICT w, const T* HWY_RESTRICT bias, std::size_t k,
               T* HWY_RESTRICT z) {
  const hn::ScalableTag<T> d;
  const std::size_t n = hn::Lanes(d);
  for (std::size_t c0 = 0; c0 < k; c0 += 4 * n) {
    const std::size_t count = std::min(4 * n, k - c0);
    switch ((count + n - 1) / n) {
      case 4:
        RowStrip<4>(indices, values, nnz, w, bias, k, c0, count, z);
        break;
      case 3:
        RowStrip<3>(indices, values, nnz, w, bias, k, c0, count, z);
        break;
      case 2:
        RowStrip<2>(indices, values, nnz, w, bias, k, c0, count, z);
        break;
      default:
        RowStrip<1>(indices, values, nnz, w, bias, k, c0, count, z);
    }
  }
}

/// g[c0 .. c0 + count) += the column's sum for NV vectors of classes: in T over runs of
/// kSparseRun entries, each run's total added in double.
template <std::size_t NV, class T>
HWY_INLINE void ColumnStrip(const std::uint32_t* HWY_RESTRICT pos, const T* HWY_RESTRICT values,
                            std::size_t entries, const T* HWY_RESTRICT dz, std::size_t k,
                            std::size_t c0, std::size_t count, double* HWY_RESTRICT g) {
  const hn::ScalableTag<T> d;
  const std::size_t n = hn::Lanes(d);
  HWY_ALIGN T run[4 * hn::MaxLanes(d)];
  for (std::size_t e0 = 0; e0 < entries; e0 += kSparseRun) {
    const std::size_t e1 = std::min(entries, e0 + kSparseRun);
    hn::Vec<decltype(d)> acc[NV];
    for (std::size_t v = 0; v < NV; ++v) acc[v] = hn::Zero(d);
    for (std::size_t e = e0; e < e1; ++e) {
      const auto value = hn::Set(d, values[e]);
      const T* row = dz + std::size_t(pos[e]) * k + c0;
      for (std::size_t v = 0; v < NV; ++v)
        acc[v] = hn::MulAdd(value, hn::LoadU(d, row + v * n), acc[v]);
    }
    for (std::size_t v = 0; v < NV; ++v) hn::Store(acc[v], d, run + v * n);
    for (std::size_t c = 0; c < count; ++c) g[c0 + c] += double(run[c]);
  }
}

template <class T>
void ColumnSum(const std::uint32_t* HWY_RESTRICT pos, const T* HWY_RESTRICT values,
               std::size_t entries, const T* HWY_RESTRICT dz, std::size_t k,
               double* HWY_RESTRICT g) {
  const hn::ScalableTag<T> d;
  const std::size_t n = hn::Lanes(d);
  for (std::size_t c0 = 0; c0 < k; c0 += 4 * n) {
    const std::size_t count = std::min(4 * n, k - c0);
    switch ((count + n - 1) / n) {
      case 4:
        ColumnStrip<4>(pos, values, entries, dz, k, c0, count, g);
        break;
      case 3:
        ColumnStrip<3>(pos, values, entries, dz, k, c0, count, g);
        break;
      case 2:
        ColumnStrip<2>(pos, values, entries, dz, k, c0, count, g);
        break;
      default:
        ColumnStrip<1>(pos, values, entries, dz, k, c0, count, g);
    }
  }
}

/// y[0 .. k) += a x.
template <class S>
HWY_INLINE void Axpy(S a, const S* HWY_RESTRICT x, S* HWY_RESTRICT y, std::size_t k) {
  const hn::ScalableTag<S> d;
  const std::size_t n = hn::Lanes(d);
  const auto va = hn::Set(d, a);
  std::size_t c = 0;
  for (; c + n <= k; c += n)
    hn::StoreU(hn::MulAdd(va, hn::LoadU(d, x + c), hn::LoadU(d, y + c)), d, y + c);
  for (; c < k; ++c) y[c] += a * x[c];
}

/// change = xv delta; w -= avg sum + direct change; sum += change (one SAGA feature row).
template <class S>
HWY_INLINE void SagaRow(S avg, S direct, S xv, const S* HWY_RESTRICT delta, S* HWY_RESTRICT w,
                        S* HWY_RESTRICT sum, std::size_t k) {
  const hn::ScalableTag<S> d;
  const std::size_t n = hn::Lanes(d);
  const auto va = hn::Set(d, avg), vd = hn::Set(d, direct), vx = hn::Set(d, xv);
  std::size_t c = 0;
  for (; c + n <= k; c += n) {
    const auto change = hn::Mul(vx, hn::LoadU(d, delta + c));
    const auto vs = hn::LoadU(d, sum + c);
    const auto step = hn::MulAdd(va, vs, hn::Mul(vd, change));
    hn::StoreU(hn::Sub(hn::LoadU(d, w + c), step), d, w + c);
    hn::StoreU(hn::Add(vs, change), d, sum + c);
  }
  for (; c < k; ++c) {
    const S change = xv * delta[c];
    w[c] -= avg * sum[c] + direct * change;
    sum[c] += change;
  }
}

/// A SAGA row's reads in packed float storage (feature j's W at base + j stride, its sums kp
/// further, padding zero): each feature's W brought up to date, W -= lag[q] sums, then
/// z[0 .. kp) = sum_q values[q] W.
void SagaGatherF32(const std::int32_t* HWY_RESTRICT indices, const float* HWY_RESTRICT values,
                   std::size_t nnz, const float* HWY_RESTRICT lag, float* HWY_RESTRICT base,
                   std::size_t stride, std::size_t kp, float* HWY_RESTRICT z) {
  const hn::ScalableTag<float> d;
  const std::size_t n = hn::Lanes(d);
  const std::size_t whole = kp - kp % n;  // all of kp where the vectors divide it
  std::fill(z, z + kp, 0.0f);
  for (std::size_t q = 0; q < nnz; ++q) {
    float* w = base + std::size_t(indices[q]) * stride;
    const float* sum = w + kp;
    const auto vx = hn::Set(d, values[q]);
    const auto vl = hn::Set(d, lag[q]);
    if (lag[q] != 0.0f) {
      for (std::size_t c = 0; c < whole; c += n) {
        const auto vw = hn::NegMulAdd(vl, hn::LoadU(d, sum + c), hn::LoadU(d, w + c));
        hn::StoreU(vw, d, w + c);
        hn::StoreU(hn::MulAdd(vx, vw, hn::LoadU(d, z + c)), d, z + c);
      }
      for (std::size_t c = whole; c < kp; ++c) w[c] -= lag[q] * sum[c];
    } else {
      for (std::size_t c = 0; c < whole; c += n)
        hn::StoreU(hn::MulAdd(vx, hn::LoadU(d, w + c), hn::LoadU(d, z + c)), d, z + c);
    }
    for (std::size_t c = whole; c < kp; ++c) z[c] += values[q] * w[c];
  }
}

/// A SAGA row's writes in the same storage: per feature, change = values[q] delta, W -=
/// avg[q] sums + direct change, sums += change (delta's padding zero).
void SagaScatterF32(const std::int32_t* HWY_RESTRICT indices, const float* HWY_RESTRICT values,
                    std::size_t nnz, const float* HWY_RESTRICT avg, float direct,
                    const float* HWY_RESTRICT delta, float* HWY_RESTRICT base, std::size_t stride,
                    std::size_t kp) {
  const hn::ScalableTag<float> d;
  const std::size_t n = hn::Lanes(d);
  const std::size_t whole = kp - kp % n;
  const auto vd = hn::Set(d, direct);
  for (std::size_t q = 0; q < nnz; ++q) {
    float* w = base + std::size_t(indices[q]) * stride;
    float* sum = w + kp;
    const auto va = hn::Set(d, avg[q]), vx = hn::Set(d, values[q]);
    for (std::size_t c = 0; c < whole; c += n) {
      const auto change = hn::Mul(vx, hn::LoadU(d, delta + c));
      const auto vs = hn::LoadU(d, sum + c);
      const auto step = hn::MulAdd(va, vs, hn::Mul(vd, change));
      hn::StoreU(hn::Sub(hn::LoadU(d, w + c), step), d, w + c);
      hn::StoreU(hn::Add(vs, change), d, sum + c);
    }
    for (std::size_t c = whole; c < kp; ++c) {
      const float change = values[q] * delta[c];
      w[c] -= avg[q] * sum[c] + direct * change;
      sum[c] += change;
    }
  }
}

/// A SAGA row's gradient in packed storage: z[0 .. k) holds the logits, mem the row's
/// remembered gradient (kp floats, padding 0). g = scale (softmax(z) - onehot(label)); z
/// becomes g - mem (padding 0) and mem g. False, with nothing written, when the vectors do
/// not divide kp (the caller takes the general path).
bool SagaRowGradientF32(float* HWY_RESTRICT z, float* HWY_RESTRICT mem, std::size_t k,
                        std::size_t kp, std::size_t label, float scale) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const std::size_t n = hn::Lanes(d);
  if (kp % n != 0) return false;
  const V lowest = hn::Set(d, -std::numeric_limits<float>::infinity());
  const auto valid = [&](std::size_t c, V v, V other) {
    return c + n <= k ? v : hn::IfThenElse(hn::FirstN(d, k > c ? k - c : 0), v, other);
  };
  V vmax = lowest;
  for (std::size_t c = 0; c < kp; c += n)
    vmax = hn::Max(vmax, valid(c, hn::LoadU(d, z + c), lowest));
  const V m = hn::MaxOfLanes(d, vmax);
  V vsum = hn::Zero(d);
  for (std::size_t c = 0; c < kp; c += n) {
    const V e = valid(c, ExpNonPositive(d, hn::Sub(hn::LoadU(d, z + c), m)), hn::Zero(d));
    hn::StoreU(e, d, z + c);
    vsum = hn::Add(vsum, e);
  }
  const V factor = hn::Set(d, scale / hn::GetLane(hn::SumOfLanes(d, vsum)));
  for (std::size_t c = 0; c < kp; c += n)
    hn::StoreU(hn::Mul(hn::LoadU(d, z + c), factor), d, z + c);
  z[label] -= scale;
  for (std::size_t c = 0; c < kp; c += n) {
    const V g = hn::LoadU(d, z + c);
    hn::StoreU(hn::Sub(g, hn::LoadU(d, mem + c)), d, z + c);
    hn::StoreU(g, d, mem + c);
  }
  return true;
}

void AxpyF32(float a, const float* x, float* y, std::size_t k) {
  Axpy(a, x, y, k);
}
void AxpyF64(double a, const double* x, double* y, std::size_t k) {
  Axpy(a, x, y, k);
}
void SagaRowF32(float avg, float direct, float xv, const float* delta, float* w, float* sum,
                std::size_t k) {
  SagaRow(avg, direct, xv, delta, w, sum, k);
}
void SagaRowF64(double avg, double direct, double xv, const double* delta, double* w, double* sum,
                std::size_t k) {
  SagaRow(avg, direct, xv, delta, w, sum, k);
}

void RowLogitsF32(const std::int32_t* indices, const float* values, std::size_t nnz, const float* w,
                  const float* bias, std::size_t k, float* z) {
  RowLogits(indices, values, nnz, w, bias, k, z);
}
void RowLogitsF64(const std::int32_t* indices, const double* values, std::size_t nnz,
                  const double* w, const double* bias, std::size_t k, double* z) {
  RowLogits(indices, values, nnz, w, bias, k, z);
}
void ColumnSumF32(const std::uint32_t* pos, const float* values, std::size_t entries,
                  const float* dz, std::size_t k, double* g) {
  ColumnSum(pos, values, entries, dz, k, g);
}
void ColumnSumF64(const std::uint32_t* pos, const double* values, std::size_t entries,
                  const double* dz, std::size_t k, double* g) {
  ColumnSum(pos, values, entries, dz, k, g);
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace softreg::detail {

HWY_EXPORT(RowLogitsF32);
HWY_EXPORT(RowLogitsF64);
HWY_EXPORT(ColumnSumF32);
HWY_EXPORT(ColumnSumF64);
HWY_EXPORT(AxpyF32);
HWY_EXPORT(AxpyF64);
HWY_EXPORT(SagaRowF32);
HWY_EXPORT(SagaRowF64);
HWY_EXPORT(SagaGatherF32);
HWY_EXPORT(SagaScatterF32);
HWY_EXPORT(SagaRowGradientF32);

bool saga_row_gradient(float* z, float* mem, std::size_t k, std::size_t kp, std::size_t label,
                       float scale) {
  return HWY_DYNAMIC_DISPATCH(SagaRowGradientF32)(z, mem, k, kp, label, scale);
}

void saga_gather(const std::int32_t* indices, const float* values, std::size_t nnz,
                 const float* lag, float* base, std::size_t stride, std::size_t kp, float* z) {
  HWY_DYNAMIC_DISPATCH(SagaGatherF32)(indices, values, nnz, lag, base, stride, kp, z);
}
void saga_scatter(const std::int32_t* indices, const float* values, std::size_t nnz,
                  const float* avg, float direct, const float* delta, float* base,
                  std::size_t stride, std::size_t kp) {
  HWY_DYNAMIC_DISPATCH(SagaScatterF32)(indices, values, nnz, avg, direct, delta, base, stride, kp);
}

void axpy(float a, const float* x, float* y, std::size_t k) {
  HWY_DYNAMIC_DISPATCH(AxpyF32)(a, x, y, k);
}
void axpy(double a, const double* x, double* y, std::size_t k) {
  HWY_DYNAMIC_DISPATCH(AxpyF64)(a, x, y, k);
}
void saga_row_update(float avg, float direct, float xv, const float* delta, float* w, float* sum,
                     std::size_t k) {
  HWY_DYNAMIC_DISPATCH(SagaRowF32)(avg, direct, xv, delta, w, sum, k);
}
void saga_row_update(double avg, double direct, double xv, const double* delta, double* w,
                     double* sum, std::size_t k) {
  HWY_DYNAMIC_DISPATCH(SagaRowF64)(avg, direct, xv, delta, w, sum, k);
}

void sparse_row_logits(const std::int32_t* indices, const float* values, std::size_t nnz,
                       const float* w, const float* bias, std::size_t k, float* z) {
  HWY_DYNAMIC_DISPATCH(RowLogitsF32)(indices, values, nnz, w, bias, k, z);
}
void sparse_row_logits(const std::int32_t* indices, const double* values, std::size_t nnz,
                       const double* w, const double* bias, std::size_t k, double* z) {
  HWY_DYNAMIC_DISPATCH(RowLogitsF64)(indices, values, nnz, w, bias, k, z);
}
void sparse_column_sum(const std::uint32_t* pos, const float* values, std::size_t entries,
                       const float* dz, std::size_t k, double* g) {
  HWY_DYNAMIC_DISPATCH(ColumnSumF32)(pos, values, entries, dz, k, g);
}
void sparse_column_sum(const std::uint32_t* pos, const double* values, std::size_t entries,
                       const double* dz, std::size_t k, double* g) {
  HWY_DYNAMIC_DISPATCH(ColumnSumF64)(pos, values, entries, dz, k, g);
}

}  // namespace softreg::detail
#endif  // HWY_ONCE
