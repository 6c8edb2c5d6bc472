// Highway implementation of cholesky_solve (linear.hpp), compiled once per SIMD target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/triangular_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstddef>

#include "kernels/linear.hpp"

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Row i of one triangular solve for kV vectors of columns starting at column c0 of b (row
/// stride w): b_i = (b_i - sum_{p in [p0, p1)} t[p] b_p) / t[i], t being row i of the factor.
template <std::size_t kV>
HWY_INLINE void SolveRow(const double* HWY_RESTRICT t, std::size_t i, std::size_t p0,
                         std::size_t p1, double* HWY_RESTRICT b, std::size_t w, std::size_t c0) {
  const hn::ScalableTag<double> d;
  const std::size_t N = hn::Lanes(d);
  using V = hn::Vec<decltype(d)>;
  V acc[kV];
  for (std::size_t v = 0; v < kV; ++v) acc[v] = hn::LoadU(d, b + i * w + c0 + v * N);
  for (std::size_t p = p0; p < p1; ++p) {
    const V f = hn::Set(d, t[p]);
    const double* bp = b + p * w + c0;
    for (std::size_t v = 0; v < kV; ++v)
      acc[v] = hn::NegMulAdd(f, hn::LoadU(d, bp + v * N), acc[v]);
  }
  const V inv = hn::Set(d, 1.0 / t[i]);
  for (std::size_t v = 0; v < kV; ++v) hn::StoreU(hn::Mul(acc[v], inv), d, b + i * w + c0 + v * N);
}

/// Both triangular solves for kV vectors of columns starting at column c0: the columns are
/// independent, so each group keeps its kV accumulators in registers and reads the factors
/// once per group.
template <std::size_t kV>
HWY_INLINE void SolveGroup(const double* HWY_RESTRICT lower, const double* HWY_RESTRICT upper,
                           std::size_t d1, double* HWY_RESTRICT b, std::size_t w, std::size_t c0) {
  // L Y = B, row by row from the first.
  for (std::size_t i = 0; i < d1; ++i) SolveRow<kV>(lower + i * d1, i, 0, i, b, w, c0);
  // L^T X = Y from the last row up, with U = L^T stored row-major (contiguous rows).
  for (std::size_t i = d1; i-- > 0;) SolveRow<kV>(upper + i * d1, i, i + 1, d1, b, w, c0);
}

std::size_t SolveWidth(std::size_t k) {
  const std::size_t N = hn::Lanes(hn::ScalableTag<double>());
  return (k + N - 1) / N * N;
}

void CholeskySolve(const double* lower, const double* upper, std::size_t d1, double* b,
                   std::size_t w) {
  const std::size_t N = hn::Lanes(hn::ScalableTag<double>());
  const std::size_t vectors = w / N;
  std::size_t v = 0;
  for (; v + 4 <= vectors; v += 4) SolveGroup<4>(lower, upper, d1, b, w, v * N);
  switch (vectors - v) {
    case 3:
      SolveGroup<3>(lower, upper, d1, b, w, v * N);
      break;
    case 2:
      SolveGroup<2>(lower, upper, d1, b, w, v * N);
      break;
    case 1:
      SolveGroup<1>(lower, upper, d1, b, w, v * N);
      break;
    default:
      break;
  }
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace softreg::detail {

HWY_EXPORT(SolveWidth);
HWY_EXPORT(CholeskySolve);

std::size_t cholesky_solve_width(std::size_t k) {
  return HWY_DYNAMIC_DISPATCH(SolveWidth)(k);
}

void cholesky_solve(const double* lower, const double* upper, std::size_t d1, double* b,
                    std::size_t w) {
  HWY_DYNAMIC_DISPATCH(CholeskySolve)(lower, upper, d1, b, w);
}

}  // namespace softreg::detail
#endif  // HWY_ONCE
