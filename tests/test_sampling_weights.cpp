// The sampler's arithmetic: the weight function against float64 and bit for bit across SIMD
// targets, Philox's published answers, and the tail-mass bounds that let top-p skip the exact
// mass.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "../src/kernels/sampling_core.hpp"
#include "../src/kernels/sampling_passes.hpp"
#include "sampling_fixtures.hpp"
#include "targets.hpp"

namespace {

using namespace sampling_fixtures;  // Drawn, fast, reference, error_of, the Sampling* names

// ---- the weight function and the generator

// Relative error against exp in float64 over [-30, 0], on a fine grid and on random points; 0
// below -30; exp(0) == 1 exactly (the maximum's weight is exactly 2^40).
TEST(Sampling, WeightFunctionWithinItsBoundOfFloat64) {
  double worst = 0.0;
  const auto check = [&](float x) {
    const double exact = std::exp(double(x));
    const double got = softreg::detail::sampling_exp(x);
    worst = std::max(worst, std::fabs(got - exact) / exact);
  };
  for (int i = 0; i <= 3000000; ++i) check(-30.0f * float(i) / 3000000.0f);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-30.0f, 0.0f);
  for (int i = 0; i < 1000000; ++i) check(u(rng));
  EXPECT_LE(worst, 4e-7);
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", worst);
  RecordProperty("max_relative_error", text);
  EXPECT_EQ(softreg::detail::sampling_exp(0.0f), 1.0f);
  EXPECT_EQ(softreg::detail::quantize_weight(1.0f), std::uint64_t{1} << 40);
  EXPECT_EQ(softreg::detail::sampling_exp(-30.001f), 0.0f);
  EXPECT_EQ(softreg::detail::sampling_exp(-float(kInf)), 0.0f);
  EXPECT_EQ(softreg::detail::sampling_exp(std::nanf("")), 0.0f);
}

// The vectorized weights equal the scalar ones bit for bit on every target.
TEST(Sampling, WeightFunctionIsTheSameOnEveryTarget) {
  std::vector<float> x;
  std::mt19937 rng(6);
  std::uniform_real_distribution<float> u(-31.0f, 0.0f);
  for (int i = 0; i < 200000; ++i) x.push_back(u(rng));
  for (float v = -30.5f; v <= 0.0f; v = std::nextafter(v, 1.0f) + 1e-4f) x.push_back(v);
  x.insert(x.end(), {0.0f, -0.0f, -30.0f, -1e-30f, -float(kInf), -44.0f, -29.999f});
  simd_targets::for_each([&](std::int64_t) {
    std::vector<float> got(x.size());
    softreg::detail::simd_sampling_exp(x.data(), x.size(), got.data());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (std::bit_cast<std::uint32_t>(got[i]) !=
          std::bit_cast<std::uint32_t>(softreg::detail::sampling_exp(x[i]))) {
        ++differ;
        if (differ < 5) ADD_FAILURE() << "x = " << x[i] << ": " << got[i];
      }
    }
    EXPECT_EQ(differ, 0u);
  });
}

// Random123's published known answers for Philox-4x32-10.
TEST(Sampling, PhiloxKnownAnswers) {
  std::uint32_t c[4] = {0, 0, 0, 0};
  softreg::detail::philox4x32_10(c, 0, 0);
  EXPECT_EQ(c[0], 0x6627e8d5u);
  EXPECT_EQ(c[1], 0xe169c58du);
  EXPECT_EQ(c[2], 0xbc57ac4cu);
  EXPECT_EQ(c[3], 0x9b00dbd8u);
  std::uint32_t f[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
  softreg::detail::philox4x32_10(f, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(f[0], 0x408f276du);
  EXPECT_EQ(f[1], 0x41c83b0eu);
  EXPECT_EQ(f[2], 0xa20bc7c6u);
  EXPECT_EQ(f[3], 0x6d5451fdu);
  const double u = softreg::sampling_uniform(1, 2, 3);
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
  EXPECT_NE(u, softreg::sampling_uniform(1, 2, 4));
  EXPECT_NE(u, softreg::sampling_uniform(1, 3, 3));
  EXPECT_NE(u, softreg::sampling_uniform(2, 2, 3));
}

// The bounds that let top-p skip the exact mass hold on every target: the tail's exact
// fixed-point mass lies between them, over rows of several shapes and temperatures; and they
// stay tight enough to decide.
TEST(Sampling, TailMassBoundsHoldOnEveryTarget) {
  using namespace softreg::detail;
  std::mt19937 rng(31);
  struct Row {
    std::vector<float> z;
    float inv_t;
  };
  std::vector<Row> rows;
  for (const float t : {0.5f, 0.8f, 1.0f, 2.0f, 7.0f}) {
    std::normal_distribution<float> g(0.0f, 1.5f), boost(10.0f, 2.0f);
    std::vector<float> z(30011);
    for (float& x : z) x = g(rng);
    rows.push_back({z, 1.0f / t});
    for (int j = 0; j < 32; ++j) z[std::size_t(rng() % z.size())] += boost(rng);
    rows.push_back({z, 1.0f / t});
    std::uniform_real_distribution<float> u(-40.0f, 3.0f);
    for (float& x : z) x = u(rng);
    rows.push_back({z, 1.0f / t});
  }
  simd_targets::for_each([&](std::int64_t) {
    for (const Row& row : rows) {
      const std::size_t n = row.z.size();
      TopKStream<float> stream(64);
      bool nan = false;
      simd_sampling_top_k(row.z.data(), n, 0, stream, nan);
      const auto& c = stream.finish();
      ASSERT_EQ(c.size(), 64u);
      const float max = c.front().z;
      std::vector<bool> listed(n, false);
      std::uint64_t at_bound = 0;
      for (const auto& x : c) {
        listed[x.id] = true;
        if (x.z == c.back().z) at_bound += weight_of(x.z, max, row.inv_t);
      }
      long double exact = 0.0L, total = 0.0L;
      for (std::size_t i = 0; i < n; ++i) {
        const auto q = (long double)weight_of(row.z[i], max, row.inv_t);
        total += q;
        if (!listed[i]) exact += q;
      }
      const TailSum tail = simd_sampling_tail_sum(row.z.data(), n, max, row.inv_t, c.back().z);
      const MassBounds pass = tail_pass_bounds(tail, n, at_bound);
      EXPECT_LE(pass.low, exact);
      EXPECT_GE(pass.high, exact);
      // Tight enough to decide: within 7% of the tail plus (for the float sums) 0.1% of the
      // row's whole mass.
      EXPECT_LT(pass.high - pass.low, 0.07L * exact + 1e-3L * total);
    }
  });
}

}  // namespace
