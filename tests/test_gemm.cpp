// Tests of the register-tiled product shared by attention and the fused linear + cross-entropy
// (src/kernels/gemm-inl.h), compiled here once per Highway target: against a float64 product
// within the bound of a fused multiply-add chain, and bitwise the same whole (B packed into
// panels from 96 rows on) and one row per call (no buffer: B read in place), so that callers'
// blocking and the packing never change a result. Every entry of C outside the product stays.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "test_gemm.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cstddef>
#include <vector>

#include "kernels/gemm-inl.h"

#ifndef SOFTREG_TEST_GEMM_ARGS
#define SOFTREG_TEST_GEMM_ARGS
namespace softreg_test_gemm {
/// The GEMM arguments of one case (layouts as Gemm's), for float or double.
template <class T>
struct Args {
  std::size_t m, n, kd;
  const T* a;
  std::size_t ars, acs;
  const T* b;
  std::size_t brs;
  T* c;
  std::size_t crs;
  bool accumulate;
  int path;  // 0 one call, 1 one row per call
};

}  // namespace softreg_test_gemm
#endif

HWY_BEFORE_NAMESPACE();
namespace softreg_test_gemm::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace sd = softreg::detail::HWY_NAMESPACE;

template <class T>
void Run(const Args<T>& x) {
  const hn::ScalableTag<T> d;
  if (x.path == 1) {
    for (std::size_t r = 0; r < x.m; ++r) {
      sd::Gemm(d, 1, x.n, x.kd, x.a + r * x.ars, x.ars, x.acs, x.b, x.brs, x.c + r * x.crs, x.crs,
               x.accumulate);
    }
    return;
  }
  std::vector<T> pack;
  sd::Gemm(d, x.m, x.n, x.kd, x.a, x.ars, x.acs, x.b, x.brs, x.c, x.crs, x.accumulate, &pack);
}

void RunF32(const Args<float>& x) {
  Run(x);
}
void RunF64(const Args<double>& x) {
  Run(x);
}

}  // namespace softreg_test_gemm::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "targets.hpp"

namespace softreg_test_gemm {

HWY_EXPORT(RunF32);
HWY_EXPORT(RunF64);

void Dispatch(const Args<float>& x) {
  HWY_DYNAMIC_DISPATCH(RunF32)(x);
}
void Dispatch(const Args<double>& x) {
  HWY_DYNAMIC_DISPATCH(RunF64)(x);
}

struct Shape {
  std::size_t m, n, kd;
};

// Rows below, at and past the packing threshold (96) and the tile (6); columns below, at and
// past one panel (4 vectors) with every kind of tail; depths of 0, 1 and a few hundred.
const Shape kShapes[] = {{1, 1, 1},     {5, 17, 3},    {6, 64, 8},    {13, 70, 9},
                         {95, 130, 40}, {96, 16, 5},   {97, 70, 300}, {100, 33, 64},
                         {96, 200, 0},  {131, 7, 257}, {102, 129, 1}};

template <class T>
void CheckShape(const Shape& s, bool transposed_a, bool accumulate, std::mt19937_64& rng) {
  const std::size_t m = s.m, n = s.n, kd = s.kd;
  // A (m x kd) either row-major (ars = kd + 3) or column-major (acs = m + 5), B and C with row
  // strides past their widths; the gaps hold a sentinel that must survive.
  const std::size_t ars = transposed_a ? 1 : kd + 3, acs = transposed_a ? m + 5 : 1;
  const std::size_t brs = n + 7, crs = n + 9;
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> a(std::max<std::size_t>(1, transposed_a ? kd * acs : m * ars));
  std::vector<T> b(std::max<std::size_t>(1, kd * brs));
  for (auto& v : a) v = static_cast<T>(u(rng));
  for (auto& v : b) v = static_cast<T>(u(rng));
  const T sentinel = T(1234.5);
  std::vector<T> c0(m * crs, sentinel);
  for (std::size_t r = 0; r < m; ++r) {
    for (std::size_t j = 0; j < n; ++j) c0[r * crs + j] = static_cast<T>(u(rng));
  }
  std::vector<std::vector<T>> out;
  for (int path = 0; path < 2; ++path) {
    std::vector<T> c = c0;
    Dispatch(Args<T>{m, n, kd, a.data(), ars, acs, b.data(), brs, c.data(), crs, accumulate, path});
    out.push_back(std::move(c));
  }
  const double eps = std::numeric_limits<T>::epsilon() / 2;
  for (std::size_t r = 0; r < m; ++r) {
    for (std::size_t j = 0; j < crs; ++j) {
      const std::size_t at = r * crs + j;
      SCOPED_TRACE(testing::Message()
                   << "m " << m << " n " << n << " kd " << kd << " transposed " << transposed_a
                   << " accumulate " << accumulate << " C(" << r << ", " << j << ")");
      if (j >= n) {
        for (int path = 0; path < 2; ++path) ASSERT_EQ(out[path][at], sentinel) << "path " << path;
        continue;
      }
      // Both paths are the same chain of operations, so the same bits.
      ASSERT_EQ(out[0][at], out[1][at]);
      double exact = accumulate ? double(c0[at]) : 0.0, mag = std::abs(exact);
      for (std::size_t p = 0; p < kd; ++p) {
        const double t = double(a[r * ars + p * acs]) * double(b[p * brs + j]);
        exact += t;
        mag += std::abs(t);
      }
      // A chain of kd fused multiply-adds and one addition: within (kd + 1) u of the sum of
      // magnitudes (u the unit roundoff), plus slack for the rounding of that bound.
      ASSERT_LE(std::abs(double(out[0][at]) - exact), (double(kd) + 2) * eps * mag + 1e-300);
    }
  }
}

TEST(Gemm, MatchesFloat64AndIsTheSameThroughEveryPath) {
  simd_targets::for_each([](std::int64_t) {
    std::mt19937_64 rng(42);
    for (const Shape& s : kShapes) {
      for (bool transposed : {false, true}) {
        for (bool accumulate : {false, true}) {
          CheckShape<float>(s, transposed, accumulate, rng);
          CheckShape<double>(s, transposed, accumulate, rng);
        }
      }
    }
  });
}

}  // namespace softreg_test_gemm
#endif  // HWY_ONCE
