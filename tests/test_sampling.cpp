// Token sampling against its sorting reference token for token (every filter, both orders,
// penalties, bias, top lists, float32 and float64, long rows, rows split across threads), the
// drawn distribution against the exact one (chi-square), greedy limits, and thread-count and
// batch-split independence.
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

// ---- against the sorting reference

template <class T>
void expect_matches_reference(std::size_t vocab, std::size_t rows, unsigned seed) {
  const std::vector<T> z = tied_logits<T>(rows, vocab, vocab > 1000 ? 3.0 : 1.5, seed);
  std::mt19937 rng(seed);
  std::vector<double> uniforms(rows);
  std::vector<T> bias(vocab);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (double& x : uniforms) x = u(rng);
  for (std::size_t i = 0; i < vocab; ++i)
    bias[i] = i % 7 == 3 ? -std::numeric_limits<T>::infinity() : T(u(rng) - 0.5);
  std::vector<std::int64_t> history;
  std::vector<std::size_t> offsets{0};
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t h = 0; h < r % 6; ++h)
      history.push_back(std::int64_t((r * 31 + h * 7) % vocab));
    offsets.push_back(history.size());
  }
  const std::int64_t ks[] = {0, 1, 5, 40, std::int64_t(vocab) + 3};
  const double ps[] = {1.0, 0.9, 0.5, 0.0};
  const double mins[] = {0.0, 0.05, 1.0};
  const double temps[] = {1.0, 0.7, 2.5};
  int cases = 0;
  for (const auto order : {SamplingOrder::temperature_first, SamplingOrder::temperature_last}) {
    for (const std::int64_t k : ks) {
      for (const double p : ps) {
        for (const double mp : mins) {
          SamplingOptions o;
          o.order = order;
          o.top_k = k;
          o.top_p = p;
          o.min_p = mp;
          o.temperature = temps[cases % 3];
          SamplingInputs<T> in;
          in.uniforms = uniforms;
          if (cases % 2 == 1) {
            in.logit_bias = bias;
            in.history = history;
            in.history_offsets = offsets;
            o.repetition_penalty = 1.3;
            o.presence_penalty = 0.4;
            o.frequency_penalty = 0.2;
          }
          const std::size_t top_n = cases % 4 == 0 ? 3 : 0;
          SCOPED_TRACE(testing::Message()
                       << "V " << vocab << " k " << k << " p " << p << " min_p " << mp << " T "
                       << o.temperature << " order " << int(order) << " case " << cases);
          const Drawn want = reference<T>(z, rows, vocab, o, in, top_n);
          const Drawn got = fast<T>(z, rows, vocab, o, in, top_n);
          EXPECT_EQ(got.tokens, want.tokens);
          EXPECT_EQ(got.logprobs, want.logprobs);
          EXPECT_EQ(got.top_tokens, want.top_tokens);
          EXPECT_EQ(got.top_logprobs, want.top_logprobs);
          ++cases;
        }
      }
    }
  }
}

TEST(Sampling, EqualsTheSortingReferenceFloat) {
  for (const std::size_t v : {1u, 2u, 17u, 300u, 5000u})
    expect_matches_reference<float>(v, 12, 11 + unsigned(v));
}

TEST(Sampling, EqualsTheSortingReferenceDouble) {
  for (const std::size_t v : {1u, 3u, 64u, 2000u})
    expect_matches_reference<double>(v, 10, 21 + unsigned(v));
}

TEST(Sampling, EqualsTheSortingReferenceOnEveryTarget) {
  simd_targets::for_each([](std::int64_t) { expect_matches_reference<float>(700, 6, 99); });
}

// A long row with realistic spread: top-p needs its window grown; min-p with a tiny threshold
// keeps too many tokens to list and is drawn by the vectorized pass.
TEST(Sampling, LongRowsMatchTheReference) {
  const std::size_t v = 40000, rows = 4;
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 2.0f);
  std::vector<float> z(rows * v);
  for (float& x : z) x = g(rng);
  for (const double p : {0.95, 0.3, 1.0}) {
    for (const double mp : {0.0, 1e-9, 0.05}) {
      for (const double t : {0.8, 1.0, 3.0}) {
        SamplingOptions o;
        o.top_p = p;
        o.min_p = mp;
        o.temperature = t;
        o.seed = 17;
        SCOPED_TRACE(testing::Message() << "p " << p << " min_p " << mp << " T " << t);
        EXPECT_EQ(fast<float>(z, rows, v, o, {}, 2), reference<float>(z, rows, v, o, {}, 2));
      }
    }
  }
}

// Rows like a language model's (a few tokens far above the rest): top-p's cut lies among the
// first-ranked candidates and is decided from bounds on the rest of the row. A top_p that lands
// on a prefix to within the bounds' width cannot be decided so and takes the exact path. Both
// equal the reference.
TEST(Sampling, TopPFromBoundsMatchesTheReference) {
  const std::size_t v = 20000, rows = 24;
  std::mt19937 rng(12);
  std::normal_distribution<float> g(0.0f, 1.5f), boost(10.0f, 2.0f);
  std::uniform_int_distribution<std::size_t> pick(0, v - 1);
  std::vector<float> z(rows * v);
  for (float& x : z) x = g(rng);
  for (std::size_t r = 0; r < rows; ++r) {
    for (int j = 0; j < 32; ++j) z[r * v + pick(rng)] += boost(rng);
  }
  for (const double p : {0.95, 0.5, 0.99, 0.999}) {
    for (const double t : {0.8, 1.0}) {
      for (const auto order : {SamplingOrder::temperature_first, SamplingOrder::temperature_last}) {
        SamplingOptions o;
        o.top_p = p;
        o.temperature = t;
        o.order = order;
        o.seed = 5;
        SCOPED_TRACE(testing::Message() << "p " << p << " T " << t << " order " << int(order));
        // With a top list the first pass lists candidates; without, a window of the top
        // tokens is listed: both bounded paths.
        for (const std::size_t top_n : {0u, 3u}) {
          EXPECT_EQ(fast<float>(z, rows, v, o, {}, top_n),
                    reference<float>(z, rows, v, o, {}, top_n));
        }
      }
    }
  }
  // Four tokens at 10, the rest at 0: the prefix of three tokens is 3 * 2^40 and top_p * total
  // sits half a unit above it, so the fourth token stays (by a margin no bound can resolve)
  // and the fifth goes.
  const std::size_t n = 2000;
  std::vector<float> flat(n, 0.0f);
  for (const std::size_t i : {3u, 700u, 1200u, 1999u}) flat[i] = 10.0f;
  const std::uint64_t q0 = softreg::detail::weight_of(0.0f, 10.0f, 1.0f);
  const double total = 4.0 * 0x1p40 + double(n - 4) * double(q0);
  SamplingOptions o;
  o.top_p = (3.0 * 0x1p40 + 0.5) / total;
  for (const double u : {0.1, 0.8, 0.9999}) {
    SamplingInputs<float> in;
    const std::vector<double> us{u};
    in.uniforms = us;
    const Drawn want = reference<float>(flat, 1, n, o, in, 5);
    EXPECT_EQ(fast<float>(flat, 1, n, o, in, 5), want);
    EXPECT_EQ(fast<float>(flat, 1, n, o, in).tokens, reference<float>(flat, 1, n, o, in).tokens);
    EXPECT_EQ(want.top_tokens, (std::vector<std::int64_t>{3, 700, 1200, 1999, -1}));
  }
}

// ---- the distribution

/// The exact kept-set probabilities of one row (temperature first), in float64 by sorting.
std::vector<double> exact_distribution(const std::vector<float>& z, double t, std::size_t k,
                                       double top_p, double min_p) {
  const std::size_t v = z.size();
  std::vector<std::size_t> order(v);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return z[a] > z[b]; });
  const double m = z[order[0]];
  std::vector<double> w(v);
  for (std::size_t i = 0; i < v; ++i) w[i] = std::exp((z[i] - m) / t);
  std::size_t kept = k > 0 ? std::min(k, v) : v;
  double total = 0.0;
  for (std::size_t j = 0; j < kept; ++j) total += w[order[j]];
  double before = 0.0;
  for (std::size_t j = 0; j < kept; ++j) {
    if (j > 0 && before >= top_p * total) {
      kept = j;
      break;
    }
    before += w[order[j]];
  }
  for (std::size_t j = 0; j < kept; ++j) {
    if (w[order[j]] < min_p) {
      kept = j;
      break;
    }
  }
  std::vector<double> p(v, 0.0);
  double s = 0.0;
  for (std::size_t j = 0; j < kept; ++j) s += w[order[j]];
  for (std::size_t j = 0; j < kept; ++j) p[order[j]] = w[order[j]] / s;
  return p;
}

// 10^5 draws of one row (streams 0 .. 10^5 - 1 under one seed) against the exact distribution:
// Pearson's chi-square below its 10^-6 upper quantile (Wilson-Hilferty), for several chains.
TEST(Sampling, DrawsFollowTheFilteredDistribution) {
  const std::size_t v = 60, n = 100000;
  std::vector<float> row(v);
  for (std::size_t i = 0; i < v; ++i) row[i] = float(std::sin(double(i) * 1.7) * 3.0);
  std::vector<float> z;
  for (std::size_t r = 0; r < n; ++r) z.insert(z.end(), row.begin(), row.end());
  struct Chain {
    double t;
    std::int64_t k;
    double p, min_p;
  };
  for (const Chain c : {Chain{1.0, 0, 1.0, 0.0}, Chain{0.8, 20, 0.95, 0.0}, Chain{0.8, 0, 0.9, 0.0},
                        Chain{1.3, 0, 1.0, 0.05}}) {
    SamplingOptions o;
    o.temperature = c.t;
    o.top_k = c.k;
    o.top_p = c.p;
    o.min_p = c.min_p;
    o.seed = 2026;
    const Drawn d = fast<float>(z, n, v, o);
    const std::vector<double> p = exact_distribution(row, c.t, std::size_t(c.k), c.p, c.min_p);
    std::vector<double> count(v, 0.0);
    for (const auto t : d.tokens) count[std::size_t(t)] += 1.0;
    double chi2 = 0.0;
    int df = -1;
    for (std::size_t i = 0; i < v; ++i) {
      if (p[i] == 0.0) {
        EXPECT_EQ(count[i], 0.0) << "token " << i << " is filtered out but was drawn";
        continue;
      }
      const double e = p[i] * double(n);
      chi2 += (count[i] - e) * (count[i] - e) / e;
      ++df;
    }
    ASSERT_GT(df, 0);
    const double a = 2.0 / (9.0 * df);
    const double crit = df * std::pow(1.0 - a + 4.753 * std::sqrt(a), 3.0);  // z(1e-6) = 4.753
    EXPECT_LT(chi2, crit) << "T " << c.t << " k " << c.k << " p " << c.p << " min_p " << c.min_p;
  }
}

// ---- greedy and its limits

TEST(Sampling, GreedyTiesGoToTheLowestIdAndLimitsAgree) {
  const std::vector<float> z{0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
  SamplingOptions o;
  o.temperature = 0.0;
  EXPECT_EQ(fast<float>(z, 1, 5, o).tokens[0], 1);
  o = {};
  o.greedy = true;
  o.temperature = 5.0;
  const Drawn g = fast<float>(z, 1, 5, o, {}, 2);
  EXPECT_EQ(g.tokens[0], 1);
  EXPECT_EQ(g.logprobs[0], 0.0);
  EXPECT_EQ(g.top_tokens, (std::vector<std::int64_t>{1, -1}));
  EXPECT_EQ(g.top_logprobs, (std::vector<double>{0.0, -kInf}));
  // top_k = 1 and a vanishing temperature give the greedy token for every uniform.
  const std::vector<float> w{0.3f, -2.0f, 4.0f, 3.9f, 0.0f};
  for (const double u : {0.0, 0.3, 0.999999}) {
    SamplingOptions k1;
    k1.top_k = 1;
    SamplingInputs<float> in;
    const std::vector<double> us{u};
    in.uniforms = us;
    EXPECT_EQ(fast<float>(w, 1, 5, k1, in).tokens[0], 2);
    SamplingOptions cold;
    cold.temperature = 1e-3;
    EXPECT_EQ(fast<float>(w, 1, 5, cold, in).tokens[0], 2);
    cold.temperature = 1e-300;  // 1 / T overflows float: greedy
    EXPECT_EQ(fast<float>(w, 1, 5, cold, in).tokens[0], 2);
  }
}

// ---- reproducibility

TEST(Sampling, SameTokensForAnyThreadCountAndBatchSplit) {
  const std::size_t v = 3000, rows = 37;
  const std::vector<float> z = tied_logits<float>(rows, v, 2.0, 8);
  SamplingOptions o;
  o.seed = 99;
  o.step = 12;
  o.top_p = 0.9;
  o.temperature = 0.9;
  o.threads = 1;
  const Drawn one = fast<float>(z, rows, v, o, {}, 4);
  for (const int t : {2, 3, 7}) {
    o.threads = t;
    EXPECT_EQ(fast<float>(z, rows, v, o, {}, 4), one) << t << " threads";
  }
  // Rows 20..36 on their own, with their stream ids: the same tokens.
  const std::vector<float> tail(z.begin() + 20 * v, z.end());
  std::vector<std::uint64_t> streams(rows - 20);
  std::iota(streams.begin(), streams.end(), 20u);
  SamplingInputs<float> in;
  in.streams = streams;
  const Drawn part = fast<float>(tail, rows - 20, v, o, in, 4);
  EXPECT_EQ(part.tokens, std::vector<std::int64_t>(one.tokens.begin() + 20, one.tokens.end()));
  // A stream resumed at a step: the uniform of (seed, stream, step), per-row steps.
  std::vector<std::uint64_t> steps(rows - 20, 40);
  in.steps = steps;
  std::vector<double> us(rows - 20);
  for (std::size_t r = 0; r < us.size(); ++r) us[r] = softreg::sampling_uniform(99, 20 + r, 40);
  SamplingInputs<float> given;
  given.uniforms = us;
  EXPECT_EQ(fast<float>(tail, rows - 20, v, o, in).tokens,
            fast<float>(tail, rows - 20, v, o, given).tokens);
}

// Long rows with fewer rows than threads: each row's passes split across the threads (chunks of
// whole blocks, merged in order). Same results as one thread and as the reference.
TEST(Sampling, LongRowsSplitAcrossThreadsGiveTheSameTokens) {
  const std::size_t v = 140001;
  std::mt19937 rng(44);
  std::normal_distribution<float> g(0.0f, 1.5f), boost(10.0f, 2.0f);
  std::vector<float> z(3 * v);
  for (float& x : z) x = g(rng);
  for (int j = 0; j < 40; ++j) z[rng() % z.size()] += boost(rng);
  z[5] = z[v - 1] = z[2 * v + 80000] = 30.0f;  // ties for the greedy rows, across chunks
  struct Chain {
    double t;
    std::int64_t k;
    double p, min_p;
  };
  for (const Chain c :
       {Chain{0.8, 40, 0.95, 0.0}, Chain{0.8, 0, 0.95, 0.0}, Chain{1.0, 0, 1.0, 0.05},
        Chain{1.0, 0, 1.0, 0.0}, Chain{0.0, 0, 1.0, 0.0}, Chain{3.0, 0, 0.999, 0.0}}) {
    for (const std::size_t rows : {1u, 3u}) {
      SamplingOptions o;
      o.temperature = c.t;
      o.top_k = c.k;
      o.top_p = c.p;
      o.min_p = c.min_p;
      o.seed = 8;
      o.threads = 1;
      const std::vector<float> part(z.begin(), z.begin() + std::ptrdiff_t(rows * v));
      const Drawn one = fast<float>(part, rows, v, o, {}, 3);
      EXPECT_EQ(one, reference<float>(part, rows, v, o, {}, 3));
      for (const int t : {2, 3, 7}) {
        o.threads = t;
        EXPECT_EQ(fast<float>(part, rows, v, o, {}, 3), one)
            << t << " threads, " << rows << " rows";
      }
    }
  }
}

}  // namespace
