// Token sampling: the weight function against float64 and across SIMD targets, Philox's
// published answers, the sampler against its sorting reference token for token (every filter,
// both orders, penalties, bias, top lists, float32 and float64), the drawn distribution against
// the exact one (chi-square), greedy limits, thread-count and batch-split independence, and
// every edge case and error.
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
#include "softreg/error.hpp"
#include "softreg/sampling.hpp"
#include "targets.hpp"

namespace {

using softreg::SamplingInputs;
using softreg::SamplingOptions;
using softreg::SamplingOrder;
using softreg::SamplingOutputs;

constexpr double kInf = std::numeric_limits<double>::infinity();

/// Results of one call: tokens, log-probabilities, top lists.
struct Drawn {
  std::vector<std::int64_t> tokens, top_tokens;
  std::vector<double> logprobs, top_logprobs;
  bool operator==(const Drawn&) const = default;
};

template <class T, class F>
Drawn run(F&& sampler, const std::vector<T>& logits, std::size_t rows, std::size_t vocab,
          const SamplingOptions& o, const SamplingInputs<T>& in = {}, std::size_t top_n = 0) {
  Drawn d;
  d.tokens.assign(rows, -7);
  d.logprobs.assign(rows, 99.0);
  d.top_tokens.assign(rows * top_n, -7);
  d.top_logprobs.assign(rows * top_n, 99.0);
  SamplingOutputs out{d.tokens, d.logprobs, top_n, d.top_tokens, d.top_logprobs};
  sampler(std::span<const T>(logits), rows, vocab, o, in, out);
  return d;
}

template <class T>
Drawn fast(const std::vector<T>& logits, std::size_t rows, std::size_t vocab,
           const SamplingOptions& o, const SamplingInputs<T>& in = {}, std::size_t top_n = 0) {
  return run<T>([](auto... a) { softreg::sample(a...); }, logits, rows, vocab, o, in, top_n);
}

template <class T>
Drawn reference(const std::vector<T>& logits, std::size_t rows, std::size_t vocab,
                const SamplingOptions& o, const SamplingInputs<T>& in = {}, std::size_t top_n = 0) {
  return run<T>([](auto... a) { softreg::sample_reference(a...); }, logits, rows, vocab, o, in,
                top_n);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const softreg::InvalidArgument& e) {
    return e.what();
  }
  return "no exception";
}

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
// fixed-point mass lies between them, for the rough mass of the top-k pass and for the tail
// pass, over rows of several shapes and temperatures; and they stay tight enough to decide.
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
      ApproxMass mass{row.z[0], row.inv_t * kLog2e, 0.0, 0};
      simd_sampling_top_k(row.z.data(), n, 0, stream, nan, &mass);
      const auto& c = stream.finish();
      ASSERT_EQ(c.size(), 64u);
      const float max = c.front().z;
      std::vector<bool> listed(n, false);
      long double listed_terms = 0.0L;
      std::uint64_t at_bound = 0;
      for (const auto& x : c) {
        listed[x.id] = true;
        listed_terms += approx_term(x.z, mass.shift, mass.scale);
        if (x.z == c.back().z) at_bound += weight_of(x.z, max, row.inv_t);
      }
      long double exact = 0.0L, total = 0.0L;
      for (std::size_t i = 0; i < n; ++i) {
        const auto q = (long double)weight_of(row.z[i], max, row.inv_t);
        total += q;
        if (!listed[i]) exact += q;
      }
      ASSERT_LT((max - mass.shift) * mass.scale, kApproxHigh - 1.0f);
      const MassBounds rough = rough_tail_bounds(mass, listed_terms, max, n);
      EXPECT_LE(rough.low, exact);
      EXPECT_GE(rough.high, exact);
      const TailSum tail = simd_sampling_tail_sum(row.z.data(), n, max, row.inv_t, c.back().z);
      const MassBounds pass = tail_pass_bounds(tail, n, at_bound);
      EXPECT_LE(pass.low, exact);
      EXPECT_GE(pass.high, exact);
      // Tight enough to decide: within 7% of the tail plus (for the float sums) 0.2% of the
      // row's whole mass.
      EXPECT_LT(rough.high - rough.low, 0.07L * exact + 2e-3L * total);
      EXPECT_LT(pass.high - pass.low, 0.07L * exact + 2e-3L * total);
    }
  });
}

// ---- against the sorting reference

/// Logits with ties: values on a coarse grid, a few -inf, one row of equal values.
template <class T>
std::vector<T> tied_logits(std::size_t rows, std::size_t vocab, double spread, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.0, spread);
  std::vector<T> z(rows * vocab);
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = static_cast<T>(std::round(g(rng) * 8.0) / 8.0);
  if (vocab >= 4) {
    for (std::size_t i = 5; i < z.size(); i += 13) z[i] = -std::numeric_limits<T>::infinity();
  }
  if (rows > 2)
    std::fill(z.begin() + std::ptrdiff_t(vocab), z.begin() + std::ptrdiff_t(2 * vocab), T(1.5));
  return z;
}

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
        EXPECT_EQ(fast<float>(z, rows, v, o, {}, 3), reference<float>(z, rows, v, o, {}, 3));
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

// ---- edge cases

TEST(Sampling, LogProbabilitiesAreThoseOfTheFinalDistribution) {
  const std::vector<double> z{1.0, 3.0, 2.0, -4.0, 2.5};
  SamplingOptions o;
  o.temperature = 0.7;
  o.top_k = 3;
  const Drawn d = fast<double>(z, 1, 5, o, {}, 4);
  double s = 0.0;
  for (const int i : {1, 4, 2}) s += std::exp((z[i] - 3.0) / 0.7);
  const auto exact = [&](int i) { return (z[i] - 3.0) / 0.7 - std::log(s); };
  EXPECT_EQ(d.top_tokens, (std::vector<std::int64_t>{1, 4, 2, -1}));
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(d.top_logprobs[j], exact(int(d.top_tokens[j])), 1e-6);
  EXPECT_EQ(d.top_logprobs[3], -kInf);
  EXPECT_NEAR(d.logprobs[0], exact(int(d.tokens[0])), 1e-6);
}

TEST(Sampling, FilterEdgesBehaveAsDocumented) {
  const std::vector<float> z{0.0f, 1.0f, 3.0f, 2.0f, 3.0f};
  std::vector<double> us{0.999999};
  SamplingInputs<float> in;
  in.uniforms = us;
  SamplingOptions o;
  o.top_p = 0.0;  // the first-ranked token only: 3.0 at id 2 (before id 4)
  EXPECT_EQ(fast<float>(z, 1, 5, o, in).tokens[0], 2);
  o = {};
  o.min_p = 1.0;  // the tokens tied with the maximum: ids 2 and 4
  EXPECT_EQ(fast<float>(z, 1, 5, o, in).tokens[0], 4);
  o = {};
  o.top_k = 100;  // larger than V: off
  SamplingOptions off;
  EXPECT_EQ(fast<float>(z, 1, 5, o, in), fast<float>(z, 1, 5, off, in));
  o = {};
  o.top_p = 1.0;
  o.min_p = 0.0;
  EXPECT_EQ(fast<float>(z, 1, 5, o, in), fast<float>(z, 1, 5, off, in));
  // A kept token whose weight quantizes to 0 is never drawn, even by u = 0 (listed by top-k,
  // and through the whole-row pass).
  const std::vector<float> far{-100.0f, 0.0f, -200.0f};
  std::vector<double> zero{0.0};
  SamplingInputs<float> at_zero;
  at_zero.uniforms = zero;
  SamplingOptions listed;
  listed.top_k = 2;
  EXPECT_EQ(fast<float>(far, 1, 3, listed, at_zero).tokens[0], 1);
  EXPECT_EQ(fast<float>(far, 1, 3, off, at_zero).tokens[0], 1);
  EXPECT_EQ(reference<float>(far, 1, 3, off, at_zero).tokens[0], 1);
  // V = 1: always token 0, probability 1.
  const Drawn one = fast<float>({-3.0f}, 1, 1, off, {}, 2);
  EXPECT_EQ(one.tokens[0], 0);
  EXPECT_EQ(one.logprobs[0], 0.0);
  // No rows: nothing to do.
  EXPECT_TRUE(fast<float>({}, 0, 4, off).tokens.empty());
}

TEST(Sampling, InfiniteLogitsAndBans) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> z{1.0f, inf, 5.0f, inf, -inf};
  for (const double u : {0.0, 0.49, 0.51, 0.99}) {
    SamplingInputs<float> in;
    const std::vector<double> us{u};
    in.uniforms = us;
    const Drawn d = fast<float>(z, 1, 5, {}, in, 3);
    EXPECT_EQ(d.tokens[0], u < 0.5 ? 1 : 3);  // the +inf tokens, each with weight 1
    EXPECT_NEAR(d.logprobs[0], std::log(0.5), 1e-12);
    EXPECT_EQ(d.top_tokens, (std::vector<std::int64_t>{1, 3, -1}));
  }
  // A -inf bias bans a token, even a +inf one.
  const std::vector<float> bias{0.0f, -inf, 0.0f, -inf, 0.0f};
  SamplingInputs<float> banned;
  banned.logit_bias = bias;
  SamplingOptions greedy;
  greedy.temperature = 0.0;
  EXPECT_EQ(fast<float>(z, 1, 5, greedy, banned).tokens[0], 2);
}

TEST(Sampling, PenaltiesFollowTheirFormulas) {
  // Repetition divides a positive logit and multiplies a negative one; presence and frequency
  // subtract count * frequency + presence. Greedy shows which token wins.
  const std::vector<float> z{2.0f, 1.5f, -0.5f, -0.6f};
  std::vector<std::int64_t> history{0, 0, 2};
  std::vector<std::size_t> offsets{0, 3};
  SamplingInputs<float> in;
  in.history = history;
  in.history_offsets = offsets;
  SamplingOptions o;
  o.temperature = 0.0;
  o.repetition_penalty = 1.5;  // 2.0 -> 1.333 < 1.5: token 1 wins
  EXPECT_EQ(fast<float>(z, 1, 4, o, in).tokens[0], 1);
  o.repetition_penalty = 1.2;  // 2.0 -> 1.667: token 0 still wins
  EXPECT_EQ(fast<float>(z, 1, 4, o, in).tokens[0], 0);
  o.frequency_penalty = 0.1;  // 1.667 - 0.2 = 1.467 < 1.5
  EXPECT_EQ(fast<float>(z, 1, 4, o, in).tokens[0], 1);
  // Negative logits: -0.5 * 1.3 = -0.65 < -0.6, so token 3 beats token 2.
  const std::vector<float> neg{-0.5f, -0.6f};
  std::vector<std::int64_t> h2{0};
  std::vector<std::size_t> o2{0, 1};
  SamplingInputs<float> in2;
  in2.history = h2;
  in2.history_offsets = o2;
  SamplingOptions rep;
  rep.temperature = 0.0;
  rep.repetition_penalty = 1.3;
  EXPECT_EQ(fast<float>(neg, 1, 2, rep, in2).tokens[0], 1);
  rep.repetition_penalty = 1.0;
  rep.presence_penalty = 0.05;  // -0.55 > -0.6: token 0 stays
  EXPECT_EQ(fast<float>(neg, 1, 2, rep, in2).tokens[0], 0);
}

TEST(Sampling, BadInputIsAClearError) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> z(2 * 4, 0.0f);
  z[6] = nan;
  EXPECT_EQ(error_of([&] { fast<float>(z, 2, 4, {}); }),
            "softreg::sample: logits row 1 holds NaN at token 2; a NaN logit cannot be sampled");
  EXPECT_EQ(error_of([&] { reference<float>(z, 2, 4, {}); }),
            "softreg::sample_reference: logits row 1 holds NaN at token 2; a NaN logit cannot "
            "be sampled");
  const std::vector<float> dead(3, -inf);
  EXPECT_EQ(error_of([&] { fast<float>(dead, 1, 3, {}); }),
            "softreg::sample: row 0: every token's logit is -inf after the bias and penalties; "
            "there is nothing to draw");
  const std::vector<float> ok(4, 0.0f);
  const auto option_error = [&](auto set) {
    SamplingOptions o;
    set(o);
    return error_of([&] { fast<float>(ok, 1, 4, o); });
  };
  EXPECT_EQ(option_error([](auto& o) { o.temperature = -1.0; }),
            "softreg::sample: temperature must be finite and >= 0 (0: greedy); got -1");
  EXPECT_NE(option_error([](auto& o) { o.temperature = std::nan(""); }).find("temperature"),
            std::string::npos);
  EXPECT_NE(option_error([](auto& o) { o.top_k = -1; }).find("top_k must be >= 0"),
            std::string::npos);
  EXPECT_NE(option_error([](auto& o) { o.top_p = 1.5; }).find("top_p must be in [0, 1]"),
            std::string::npos);
  EXPECT_NE(option_error([](auto& o) { o.min_p = -0.1; }).find("min_p"), std::string::npos);
  EXPECT_NE(option_error([](auto& o) { o.repetition_penalty = 0.0; }).find("repetition_penalty"),
            std::string::npos);
  EXPECT_NE(option_error([](auto& o) { o.presence_penalty = kInf; }).find("presence_penalty"),
            std::string::npos);
  SamplingInputs<float> in;
  const std::vector<double> bad_u{1.0};
  in.uniforms = bad_u;
  EXPECT_EQ(error_of([&] { fast<float>(ok, 1, 4, {}, in); }),
            "softreg::sample: uniforms[0] = 1 is not in [0, 1)");
  SamplingInputs<float> b;
  const std::vector<float> bias{0.0f, nan, 0.0f, 0.0f};
  b.logit_bias = bias;
  EXPECT_NE(error_of([&] { fast<float>(ok, 1, 4, {}, b); }).find("logit_bias[1] is nan"),
            std::string::npos);
  SamplingInputs<float> h;
  const std::vector<std::int64_t> hist{4};
  const std::vector<std::size_t> offs{0, 1};
  h.history = hist;
  h.history_offsets = offs;
  EXPECT_EQ(error_of([&] { fast<float>(ok, 1, 4, {}, h); }),
            "softreg::sample: history[0] = 4 is not a token id in [0, 4)");
  EXPECT_NE(error_of([&] { fast<float>(ok, 1, 3, {}); }).find("expected 1 x 3"), std::string::npos);
  EXPECT_NE(error_of([&] { fast<float>(ok, 1, 0, {}); }).find("vocab == 0"), std::string::npos);
}

}  // namespace
