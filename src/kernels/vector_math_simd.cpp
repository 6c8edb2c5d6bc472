// Highway implementations of vector_exp and vector_log (softmax_simd.hpp): the array forms of
// simd_math-inl.h's exp and log, for the tests that hold their accuracy table and for callers
// that need whole arrays.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/vector_math_simd.cpp"
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

HWY_EXPORT(ExpF32);
HWY_EXPORT(ExpF64);
HWY_EXPORT(LogF32);
HWY_EXPORT(LogF64);
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
