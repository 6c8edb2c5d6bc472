// Tests of SAGA's packed float kernels (kernels/linear.hpp: saga_gather, saga_scatter,
// saga_row_gradient) against plain double loops over the same float inputs: K below, at and
// past a vector's width, a feature repeated within a row, lags of zero and not.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/linear.hpp"

namespace {

using softreg::detail::saga_packed_width;

struct Packed {
  Packed(std::size_t d, std::size_t k, std::uint64_t seed)
      : k(k), kp(saga_packed_width(k)), data(d * 2 * kp, 0.0f) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (std::size_t j = 0; j < d; ++j) {
      for (std::size_t c = 0; c < k; ++c) {
        w(j)[c] = u(rng);
        sums(j)[c] = u(rng);
      }
    }
  }
  float* w(std::size_t j) { return data.data() + j * 2 * kp; }
  float* sums(std::size_t j) { return w(j) + kp; }
  std::size_t k, kp;
  std::vector<float> data;
};

// A row with feature 3 twice: every entry is applied in order.
const std::vector<std::int32_t> kIndices = {1, 3, 4, 3, 0};
const std::vector<float> kValues = {0.5f, -1.25f, 2.0f, 0.75f, 0.1f};

TEST(SagaKernels, GatherBringsFeaturesUpToDateThenSumsTheRow) {
  for (const std::size_t k : {3u, 16u, 17u, 58u}) {
    SCOPED_TRACE("k " + std::to_string(k));
    Packed p(6, k, 1 + k);
    Packed ref = p;
    const std::vector<float> lag = {0.5f, 0.0f, -0.25f, 0.125f, 1.0f};
    std::vector<float> z(p.kp, 7.0f);  // overwritten, padding included
    softreg::detail::saga_gather(kIndices.data(), kValues.data(), kIndices.size(), lag.data(),
                                 p.data.data(), 2 * p.kp, p.kp, z.data());
    std::vector<double> expect(k, 0.0);
    for (std::size_t q = 0; q < kIndices.size(); ++q) {
      float* w = ref.w(std::size_t(kIndices[q]));
      for (std::size_t c = 0; c < k; ++c) {
        w[c] = float(double(w[c]) - double(lag[q]) * double(ref.sums(std::size_t(kIndices[q]))[c]));
        expect[c] += double(kValues[q]) * double(w[c]);
      }
    }
    for (std::size_t c = 0; c < k; ++c) {
      // float FMAs against double: a few ULP of the terms' sizes (|terms| <= 2.5 * 1.5).
      EXPECT_NEAR(z[c], expect[c], 1e-5) << c;
    }
    for (std::size_t c = k; c < p.kp; ++c) EXPECT_EQ(z[c], 0.0f) << "padding " << c;
    for (std::size_t j = 0; j < 6; ++j) {
      for (std::size_t c = 0; c < k; ++c) EXPECT_NEAR(p.w(j)[c], ref.w(j)[c], 1e-6);
      for (std::size_t c = k; c < p.kp; ++c) EXPECT_EQ(p.w(j)[c], 0.0f);
    }
  }
}

TEST(SagaKernels, ScatterAppliesTheStepAndTheChangeToTheSums) {
  for (const std::size_t k : {3u, 16u, 17u, 58u}) {
    SCOPED_TRACE("k " + std::to_string(k));
    Packed p(6, k, 11 + k);
    Packed ref = p;
    const std::vector<float> avg = {0.5f, 0.25f, 0.0f, 0.0f, 1.0f};
    const float direct = 0.3f;
    std::vector<float> delta(p.kp, 0.0f);
    for (std::size_t c = 0; c < k; ++c) delta[c] = float(c % 7) * 0.125f - 0.4f;
    softreg::detail::saga_scatter(kIndices.data(), kValues.data(), kIndices.size(), avg.data(),
                                  direct, delta.data(), p.data.data(), 2 * p.kp, p.kp);
    for (std::size_t q = 0; q < kIndices.size(); ++q) {
      float* w = ref.w(std::size_t(kIndices[q]));
      float* s = ref.sums(std::size_t(kIndices[q]));
      for (std::size_t c = 0; c < k; ++c) {
        const double change = double(kValues[q]) * double(delta[c]);
        w[c] = float(double(w[c]) - (double(avg[q]) * double(s[c]) + double(direct) * change));
        s[c] = float(double(s[c]) + change);
      }
    }
    for (std::size_t j = 0; j < 6; ++j) {
      for (std::size_t c = 0; c < k; ++c) {
        EXPECT_NEAR(p.w(j)[c], ref.w(j)[c], 1e-5) << j << " " << c;
        EXPECT_NEAR(p.sums(j)[c], ref.sums(j)[c], 1e-5) << j << " " << c;
      }
      for (std::size_t c = k; c < 2 * p.kp; ++c) {
        if (c >= p.kp && c < p.kp + k) continue;
        EXPECT_EQ(p.w(j)[c], 0.0f) << "padding " << c;
      }
    }
  }
}

TEST(SagaKernels, RowGradientIsTheScaledSoftmaxMinusTheLabelAndItsChange) {
  for (const std::size_t k : {1u, 3u, 16u, 17u, 58u}) {
    for (const std::size_t label : {std::size_t{0}, k - 1}) {
      SCOPED_TRACE("k " + std::to_string(k) + " label " + std::to_string(label));
      const std::size_t kp = saga_packed_width(k);
      std::vector<float> z(kp, 0.0f), mem(kp, 0.0f);
      for (std::size_t c = 0; c < k; ++c) {
        z[c] = 30.0f * std::sin(float(c) * 1.7f) + 50.0f;  // far from 0: the shift matters
        mem[c] = 0.01f * float(c);
      }
      const std::vector<float> logits = z, old = mem;
      const float scale = 1.5f;
      if (!softreg::detail::saga_row_gradient(z.data(), mem.data(), k, kp, label, scale)) {
        GTEST_SKIP() << "this target's vectors do not divide " << kp;
      }
      double m = logits[0], sum = 0.0;
      for (std::size_t c = 0; c < k; ++c) m = std::max(m, double(logits[c]));
      for (std::size_t c = 0; c < k; ++c) sum += std::exp(double(logits[c]) - m);
      for (std::size_t c = 0; c < k; ++c) {
        const double g =
            double(scale) * (std::exp(double(logits[c]) - m) / sum - (c == label ? 1.0 : 0.0));
        // Softmax in float (<= 1 ULP exponentials, a float sum of k terms): within
        // 4 (k + 4) u of each probability, scaled.
        const double tol = 1.5 * 4.0 * double(k + 4) * 6e-8 + 1e-7;
        EXPECT_NEAR(mem[c], g, tol) << c;
        EXPECT_NEAR(z[c], g - double(old[c]), tol) << c;
      }
      for (std::size_t c = k; c < kp; ++c) {
        EXPECT_EQ(z[c], 0.0f) << "padding " << c;
        EXPECT_EQ(mem[c], 0.0f) << "padding " << c;
      }
    }
  }
}

}  // namespace
