// Highway implementations of dense_pass.hpp, compiled once per SIMD target and dispatched at
// run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "model/dense_pass.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstddef>

#include "model/dense_pass.hpp"

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// z[c0 .. c0 + C) of one row: C dot products sharing each load of x.
template <std::size_t C, class T>
HWY_INLINE void dots(const T* HWY_RESTRICT x, std::size_t d, const T* HWY_RESTRICT wt,
                     std::size_t c0, T* HWY_RESTRICT z) {
  const hn::ScalableTag<T> dt;
  const std::size_t n = hn::Lanes(dt);
  using V = hn::Vec<decltype(dt)>;
  V acc[C];
  for (std::size_t c = 0; c < C; ++c) acc[c] = hn::Zero(dt);
  std::size_t j = 0;
  for (; j + n <= d; j += n) {
    const V xv = hn::LoadU(dt, x + j);
    for (std::size_t c = 0; c < C; ++c) acc[c] = hn::MulAdd(xv, hn::LoadU(dt, wt + (c0 + c) * d + j), acc[c]);
  }
  if (j < d) {
    const auto mask = hn::FirstN(dt, d - j);
    const V xv = hn::MaskedLoad(mask, dt, x + j);
    for (std::size_t c = 0; c < C; ++c) {
      acc[c] = hn::MulAdd(xv, hn::MaskedLoad(mask, dt, wt + (c0 + c) * d + j), acc[c]);
    }
  }
  for (std::size_t c = 0; c < C; ++c) z[c0 + c] += hn::GetLane(hn::SumOfLanes(dt, acc[c]));
}

template <class T>
void logits_impl(const T* HWY_RESTRICT x, std::size_t m, std::size_t d, const T* HWY_RESTRICT wt,
                 const T* HWY_RESTRICT bias, std::size_t k, T* HWY_RESTRICT z) {
  for (std::size_t i = 0; i < m; ++i) {
    T* zr = z + i * k;
    std::copy(bias, bias + k, zr);
    const T* xr = x + i * d;
    std::size_t c0 = 0;
    for (; c0 + 8 <= k; c0 += 8) dots<8>(xr, d, wt, c0, zr);
    switch (k - c0) {
      case 7: dots<7>(xr, d, wt, c0, zr); break;
      case 6: dots<6>(xr, d, wt, c0, zr); break;
      case 5: dots<5>(xr, d, wt, c0, zr); break;
      case 4: dots<4>(xr, d, wt, c0, zr); break;
      case 3: dots<3>(xr, d, wt, c0, zr); break;
      case 2: dots<2>(xr, d, wt, c0, zr); break;
      case 1: dots<1>(xr, d, wt, c0, zr); break;
      default: break;
    }
  }
}

/// gt[c] += sum over R rows of dz[r][c] * x[r], R in 1..4.
template <std::size_t R, class T>
HWY_INLINE void rank_update(const T* HWY_RESTRICT x, std::size_t d, const T* HWY_RESTRICT dz,
                            std::size_t k, T* HWY_RESTRICT gt) {
  const hn::ScalableTag<T> dt;
  const std::size_t n = hn::Lanes(dt);
  using V = hn::Vec<decltype(dt)>;
  std::size_t j = 0;
  for (; j + n <= d; j += n) {
    V xv[R];
    for (std::size_t r = 0; r < R; ++r) xv[r] = hn::LoadU(dt, x + r * d + j);
    for (std::size_t c = 0; c < k; ++c) {
      V g = hn::LoadU(dt, gt + c * d + j);
      for (std::size_t r = 0; r < R; ++r) g = hn::MulAdd(hn::Set(dt, dz[r * k + c]), xv[r], g);
      hn::StoreU(g, dt, gt + c * d + j);
    }
  }
  for (; j < d; ++j) {
    for (std::size_t c = 0; c < k; ++c) {
      T g = gt[c * d + j];
      for (std::size_t r = 0; r < R; ++r) g += dz[r * k + c] * x[r * d + j];
      gt[c * d + j] = g;
    }
  }
}

template <class T>
void gradient_impl(const T* HWY_RESTRICT x, std::size_t m, std::size_t d,
                   const T* HWY_RESTRICT dz, std::size_t k, T* HWY_RESTRICT gt) {
  std::fill(gt, gt + k * d, T(0));
  std::size_t i = 0;
  for (; i + 4 <= m; i += 4) rank_update<4>(x + i * d, d, dz + i * k, k, gt);
  switch (m - i) {
    case 3: rank_update<3>(x + i * d, d, dz + i * k, k, gt); break;
    case 2: rank_update<2>(x + i * d, d, dz + i * k, k, gt); break;
    case 1: rank_update<1>(x + i * d, d, dz + i * k, k, gt); break;
    default: break;
  }
}

void LogitsF32(const float* x, std::size_t m, std::size_t d, const float* wt, const float* b,
               std::size_t k, float* z) {
  logits_impl(x, m, d, wt, b, k, z);
}
void LogitsF64(const double* x, std::size_t m, std::size_t d, const double* wt, const double* b,
               std::size_t k, double* z) {
  logits_impl(x, m, d, wt, b, k, z);
}
void GradientF32(const float* x, std::size_t m, std::size_t d, const float* dz, std::size_t k,
                 float* gt) {
  gradient_impl(x, m, d, dz, k, gt);
}
void GradientF64(const double* x, std::size_t m, std::size_t d, const double* dz, std::size_t k,
                 double* gt) {
  gradient_impl(x, m, d, dz, k, gt);
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace softreg::detail {

HWY_EXPORT(LogitsF32);
HWY_EXPORT(LogitsF64);
HWY_EXPORT(GradientF32);
HWY_EXPORT(GradientF64);

void dense_logits(const float* x, std::size_t m, std::size_t d, const float* wt,
                  const float* bias, std::size_t k, float* z) {
  HWY_DYNAMIC_DISPATCH(LogitsF32)(x, m, d, wt, bias, k, z);
}
void dense_logits(const double* x, std::size_t m, std::size_t d, const double* wt,
                  const double* bias, std::size_t k, double* z) {
  HWY_DYNAMIC_DISPATCH(LogitsF64)(x, m, d, wt, bias, k, z);
}
void dense_gradient(const float* x, std::size_t m, std::size_t d, const float* dz,
                    std::size_t k, float* gt) {
  HWY_DYNAMIC_DISPATCH(GradientF32)(x, m, d, dz, k, gt);
}
void dense_gradient(const double* x, std::size_t m, std::size_t d, const double* dz,
                    std::size_t k, double* gt) {
  HWY_DYNAMIC_DISPATCH(GradientF64)(x, m, d, dz, k, gt);
}

}  // namespace softreg::detail
#endif  // HWY_ONCE
