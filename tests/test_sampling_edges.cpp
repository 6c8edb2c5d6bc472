// Token sampling's edge cases and errors, as docs/NUMERICS.md ("Sampling") lists them.
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

// Cases a review found where the sampler and its reference once disagreed; each now agrees.
TEST(Sampling, ReviewedCornersAgreeWithTheReference) {
  const std::vector<double> u{0.9};
  SamplingInputs<float> in;
  in.uniforms = u;
  // Top-p without top-k with more top-list slots than the 64 candidates it lists itself.
  const std::vector<float> flat(1000, 0.0f);
  for (const std::size_t top_n : {64u, 65u, 100u}) {
    SamplingOptions o;
    o.top_p = 0.5;
    EXPECT_EQ(fast<float>(flat, 1, 1000, o, in, top_n),
              reference<float>(flat, 1, 1000, o, in, top_n))
        << top_n;
  }
  // Temperatures so small that the tail pass's scale leaves float's range (but 1 / T does not).
  for (const double t : {1e-35, 3e-32, 4e-32}) {
    SamplingOptions o;
    o.top_p = 0.5;
    o.temperature = t;
    const std::vector<float> zeros(200, 0.0f);
    EXPECT_EQ(fast<float>(zeros, 1, 200, o, in), reference<float>(zeros, 1, 200, o, in)) << t;
  }
  // A temperature whose inverse rounds to 0: min-p must not list -inf tokens.
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> z{1.0f, 2.0f, -inf, 0.0f};
  SamplingOptions hot;
  hot.temperature = 1e50;
  hot.min_p = 0.1;
  EXPECT_EQ(fast<float>(z, 1, 4, hot, in, 4), reference<float>(z, 1, 4, hot, in, 4));
}

// A long row split across threads whose ties straddle the chunks: candidates merge by id, so
// the top-k list does not depend on the split.
TEST(Sampling, SplitRowsMergeTiesByIdentifier) {
  const std::size_t v = 262144;
  std::vector<float> z(v, -std::numeric_limits<float>::infinity());
  std::mt19937 rng(3);
  for (std::size_t i = 0; i < 10; ++i) z[i] = 10.0f;
  for (std::size_t i = 10; i < 138; ++i) z[i] = -5.0f;
  for (std::size_t i = 131072; i < 131472; ++i) z[i] = rng() % 2 ? 0.0f : -1.0f;
  for (const std::int64_t k : {64, 0}) {
    SamplingOptions o;
    o.top_k = k;
    o.seed = 4;
    o.threads = 1;
    const Drawn one = fast<float>(z, 1, v, o, {}, 64);
    EXPECT_EQ(one, reference<float>(z, 1, v, o, {}, 64));
    o.threads = 2;
    EXPECT_EQ(fast<float>(z, 1, v, o, {}, 64), one) << "top_k " << k;
  }
}

TEST(Sampling, PenaltiesAndSizesThatWouldOverflowAreErrors) {
  const std::vector<float> z(4, 0.0f);
  std::vector<std::int64_t> history{0, 0};
  std::vector<std::size_t> offsets{0, 2};
  SamplingInputs<float> in;
  in.history = history;
  in.history_offsets = offsets;
  SamplingOptions o;
  o.repetition_penalty = 1e-50;  // finite and > 0 in double, 0 in float
  EXPECT_EQ(error_of([&] { fast<float>(z, 1, 4, o, in); }),
            "softreg::sample: repetition_penalty = 1e-50 is 0 or infinite in the logits' type");
  o = {};
  o.frequency_penalty = 3e38;  // twice that overflows float
  EXPECT_EQ(error_of([&] { fast<float>(z, 1, 4, o, in); }),
            "softreg::sample: presence_penalty + frequency_penalty x 2 history tokens overflows "
            "the logits' type");
  std::vector<std::int64_t> tokens(2);
  std::vector<std::int64_t> top(2);
  SamplingOutputs out;
  out.tokens = tokens;
  out.top_n = (std::size_t{1} << 63) + 1;  // 2 x top_n wraps to 2
  out.top_tokens = top;
  const std::vector<float> two(8, 0.0f);
  EXPECT_NE(error_of([&] {
              softreg::sample(std::span<const float>(two), 2, 4, {}, {}, out);
            }).find("rows x top_n"),
            std::string::npos);
}

}  // namespace
