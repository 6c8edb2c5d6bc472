// The machine's float32 peak, measured: every thread runs independent chains of vector fused
// multiply-adds (16 accumulators, more than the FMA latency times the FMA ports needs) on the
// widest SIMD target the CPU has, and the program prints 2 x lanes x FMAs / second for 1 and for
// N threads. The attention benchmark sets its GFLOP/s against this.
// usage: fma_peak [THREADS]
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fma_peak.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

HWY_BEFORE_NAMESPACE();
namespace fma_peak::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Runs `iters` rounds of 16 independent FMAs; returns the float32 operations done (2 per lane
/// per FMA) and a checksum that keeps the compiler from removing the work.
double Chains(long iters, float seed, float* checksum) {
  const hn::ScalableTag<float> d;
  const auto x = hn::Set(d, 0.999999f), y = hn::Set(d, 1e-7f);
  // Distinct starting values, so that no two chains are the same computation.
  auto a0 = hn::Set(d, seed), a1 = hn::Set(d, seed + 1), a2 = hn::Set(d, seed + 2);
  auto a3 = hn::Set(d, seed + 3), a4 = hn::Set(d, seed + 4), a5 = hn::Set(d, seed + 5);
  auto a6 = hn::Set(d, seed + 6), a7 = hn::Set(d, seed + 7), a8 = hn::Set(d, seed + 8);
  auto a9 = hn::Set(d, seed + 9), a10 = hn::Set(d, seed + 10), a11 = hn::Set(d, seed + 11);
  auto a12 = hn::Set(d, seed + 12), a13 = hn::Set(d, seed + 13), a14 = hn::Set(d, seed + 14);
  auto a15 = hn::Set(d, seed + 15);
  for (long i = 0; i < iters; ++i) {
    a0 = hn::MulAdd(a0, x, y);
    a1 = hn::MulAdd(a1, x, y);
    a2 = hn::MulAdd(a2, x, y);
    a3 = hn::MulAdd(a3, x, y);
    a4 = hn::MulAdd(a4, x, y);
    a5 = hn::MulAdd(a5, x, y);
    a6 = hn::MulAdd(a6, x, y);
    a7 = hn::MulAdd(a7, x, y);
    a8 = hn::MulAdd(a8, x, y);
    a9 = hn::MulAdd(a9, x, y);
    a10 = hn::MulAdd(a10, x, y);
    a11 = hn::MulAdd(a11, x, y);
    a12 = hn::MulAdd(a12, x, y);
    a13 = hn::MulAdd(a13, x, y);
    a14 = hn::MulAdd(a14, x, y);
    a15 = hn::MulAdd(a15, x, y);
  }
  auto s =
      hn::Add(hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)), hn::Add(hn::Add(a4, a5), hn::Add(a6, a7)));
  s = hn::Add(s, hn::Add(hn::Add(hn::Add(a8, a9), hn::Add(a10, a11)),
                         hn::Add(hn::Add(a12, a13), hn::Add(a14, a15))));
  *checksum = hn::GetLane(hn::SumOfLanes(d, s));
  return 2.0 * 16.0 * double(hn::Lanes(d)) * double(iters);
}

}  // namespace fma_peak::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fma_peak {
HWY_EXPORT(Chains);

double gflops(int threads, long iters) {
  std::vector<std::thread> pool;
  std::vector<double> flops(threads);
  std::vector<float> sums(threads);
  const auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back(
        [&, t] { flops[t] = HWY_DYNAMIC_DISPATCH(Chains)(iters, 1.0f + t, &sums[t]); });
  }
  for (auto& th : pool) th.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double total = 0;
  for (double f : flops) total += f;
  if (sums[0] == 12345.0f) std::puts("");  // uses the checksum
  return total / s / 1e9;
}
}  // namespace fma_peak

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : int(std::thread::hardware_concurrency());
  const long iters = 100000000;
  double one = 0, all = 0;
  for (int r = 0; r < 3; ++r) {  // the best of three: the peak, not an average
    one = std::max(one, fma_peak::gflops(1, iters));
    all = std::max(all, fma_peak::gflops(threads, iters));
  }
  std::printf("{\"target\": \"%s\", \"threads\": %d, \"gflops_1\": %.1f, \"gflops_n\": %.1f}\n",
              hwy::TargetName(hwy::SupportedAndGeneratedTargets()[0]), threads, one, all);
}
#endif
