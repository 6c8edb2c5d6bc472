// Attention forward: the tiled float32 kernels against the float64 reference with the header's
// bound, over shapes that straddle the blocks, every mask mode, grouped heads and decoding;
// thread-count independence; the edge cases of docs/NUMERICS.md; argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "attention_fixtures.hpp"
#include "softreg/error.hpp"
#include "targets.hpp"

namespace {

using namespace attention_fixtures;

/// Shapes around the block sizes (64 rows, 256 keys forward, 64 keys backward), grouped and
/// multi-query heads, seq_q != seq_k, head dims that are not a multiple of any vector width.
std::vector<AttentionShape> straddling_shapes() {
  return {
      make_shape(1, 2, 2, 65, 257, 16),    make_shape(2, 4, 2, 33, 300, 24, 8),
      make_shape(1, 4, 1, 64, 64, 32),     make_shape(1, 1, 1, 130, 129, 7, 5),
      make_shape(2, 3, 3, 1, 513, 20),     make_shape(1, 2, 1, 3, 2, 3),
      make_shape(1, 8, 2, 17, 70, 64, 64), make_shape(3, 2, 2, 100, 40, 9, 13),
  };
}

std::vector<Terms> mask_modes() {
  std::vector<Terms> modes(9);
  modes[1].causal = CausalMask::top_left;
  modes[2].causal = CausalMask::bottom_right;
  modes[3].keep = true;
  modes[4].mask = true;
  modes[5].bias = true;
  modes[6].lengths = true;
  modes[7].causal = CausalMask::bottom_right;
  modes[7].lengths = true;
  modes[7].bias = true;
  modes[8].causal = CausalMask::top_left;
  modes[8].keep = true;
  modes[8].mask = true;
  modes[8].scale = -0.7;
  return modes;
}

TEST(Attention, TiledFloat32WithinBoundOfFloat64Reference) {
  simd_targets::for_each([](std::int64_t) {
    unsigned seed = 1;
    for (const auto& shape : straddling_shapes()) {
      for (const auto& terms : mask_modes()) {
        const Problem pr(shape, terms, seed++, 2.0);
        SCOPED_TRACE(describe(pr.shape, terms));
        const auto ref = run<double>(pr, AttentionMethod::naive, 0, false);
        const auto got = run<float>(pr, AttentionMethod::tiled, 0, false);
        expect_forward_within_bound(pr, got, ref);
      }
    }
  });
}

TEST(Attention, TiledFloat64AgreesWithReferenceToRounding) {
  unsigned seed = 100;
  for (const auto& shape : straddling_shapes()) {
    for (const auto& terms : mask_modes()) {
      const Problem pr(shape, terms, seed++);
      SCOPED_TRACE(describe(pr.shape, terms));
      const auto ref = run<double>(pr, AttentionMethod::naive, 0, false);
      const auto got = run<double>(pr, AttentionMethod::tiled, 0, false);
      EXPECT_LE(max_rel(got.out, ref.out), 1e-12);
      EXPECT_LE(max_rel(got.lse, ref.lse), 1e-12);
    }
  }
}

TEST(Attention, DecodeAgainstLongCachesSplitsKeysAndStaysWithinBound) {
  // seq_q = 1 reads scores as dot products; seq_k >= 4096 with few rows splits the keys into
  // chunks whose partial results are merged.
  for (const std::size_t sk : {1, 7, 4096, 100000}) {
    for (const bool lengths : {false, true}) {
      Terms t;
      t.lengths = lengths;
      const Problem pr(make_shape(2, 4, 2, 1, sk, 64), t, unsigned(sk) + lengths, 1.5);
      SCOPED_TRACE(describe(pr.shape, t));
      const auto ref = run<double>(pr, AttentionMethod::naive, 0, false);
      simd_targets::for_each([&](std::int64_t) {
        const auto got = run<float>(pr, AttentionMethod::tiled, 0, false);
        expect_forward_within_bound(pr, got, ref);
      });
    }
  }
}

TEST(Attention, ResultsAreBitwiseTheSameForAnyThreadCount) {
  // One shape per way of splitting: plain row blocks, key chunks (decode), few and many
  // (batch, kv head) pairs in the backward.
  const std::vector<AttentionShape> shapes = {make_shape(1, 4, 2, 150, 300, 32),
                                              make_shape(1, 2, 1, 1, 9000, 64),
                                              make_shape(2, 8, 8, 70, 90, 16)};
  Terms t;
  t.causal = CausalMask::bottom_right;
  t.bias = true;
  for (const auto& shape : shapes) {
    const Problem pr(shape, t, 7);
    SCOPED_TRACE(describe(pr.shape, t));
    const auto one = run<float>(pr, AttentionMethod::tiled, 1);
    for (const int threads : {2, 3, 7}) {
      const auto many = run<float>(pr, AttentionMethod::tiled, threads);
      EXPECT_EQ(0, std::memcmp(one.out.data(), many.out.data(), one.out.size() * 4));
      EXPECT_EQ(0, std::memcmp(one.lse.data(), many.lse.data(), one.lse.size() * 4));
      EXPECT_EQ(0, std::memcmp(one.dq.data(), many.dq.data(), one.dq.size() * 4));
      EXPECT_EQ(0, std::memcmp(one.dk.data(), many.dk.data(), one.dk.size() * 4));
      EXPECT_EQ(0, std::memcmp(one.dv.data(), many.dv.data(), one.dv.size() * 4));
    }
  }
}

TEST(Attention, FullyMaskedRowsGiveZerosAndMinusInfinity) {
  // Top-left causal with seq_q > seq_k and key length 0 for batch 1; bottom-right with
  // seq_q > seq_k leaves the first rows without keys.
  for (const auto method : {AttentionMethod::tiled, AttentionMethod::naive}) {
    Terms t;
    t.causal = CausalMask::bottom_right;
    Problem pr(make_shape(2, 2, 1, 9, 4, 8), t, 3);
    pr.lengths = {4, 0};
    const auto r = run<float>(pr, method);
    for (std::size_t h = 0; h < 2; ++h) {
      for (std::size_t i = 0; i < 9; ++i) {
        const bool empty0 = i < 5;  // batch 0: row i sees keys j <= i - 5
        for (std::size_t b = 0; b < 2; ++b) {
          const std::size_t row = (b * 2 + h) * 9 + i;
          if (b == 1 || empty0) {
            EXPECT_EQ(r.lse[row], -std::numeric_limits<float>::infinity()) << row;
            for (std::size_t c = 0; c < 8; ++c) {
              EXPECT_EQ(r.out[row * 8 + c], 0.0f);
              EXPECT_EQ(r.dq[row * 8 + c], 0.0f);
            }
          } else {
            EXPECT_TRUE(std::isfinite(r.lse[row])) << row;
          }
        }
      }
    }
    for (std::size_t j = 0; j < 4 * 8; ++j) {  // batch 1's keys: no row sees them
      EXPECT_EQ(r.dk[4 * 8 + j], 0.0f);
      EXPECT_EQ(r.dv[4 * 8 + j], 0.0f);
    }
  }
}

TEST(Attention, NanInOneRowStaysInThatRow) {
  for (const auto method : {AttentionMethod::tiled, AttentionMethod::naive}) {
    for (const std::size_t sq : {std::size_t(1), std::size_t(70)}) {
      Problem pr(make_shape(1, 2, 2, sq, 300, 16), Terms{}, 11);
      const std::size_t bad = sq / 2;
      pr.q[bad * 16 + 3] = std::nan("");  // head 0, row `bad`
      const auto r = run<float>(pr, method, 0, false);
      for (std::size_t row = 0; row < 2 * sq; ++row) {
        const bool nan_row = row == bad;
        EXPECT_EQ(std::isnan(r.lse[row]), nan_row) << row;
        for (std::size_t c = 0; c < 16; ++c) EXPECT_EQ(std::isnan(r.out[row * 16 + c]), nan_row);
      }
    }
  }
}

TEST(Attention, InfiniteScoresAndWhatMasksHide) {
  for (const auto method : {AttentionMethod::tiled, AttentionMethod::naive}) {
    const std::size_t sq = 6, sk = 9, d = 8;
    // A +inf bias makes its row NaN (exp(inf - inf)) and no other.
    Terms with_bias;
    with_bias.bias = true;
    Problem pr(make_shape(1, 1, 1, sq, sk, d), with_bias, 21);
    pr.bias[2 * sk + 3] = kInf;
    auto r = run<float>(pr, method, 0, false);
    for (std::size_t i = 0; i < sq; ++i) EXPECT_EQ(std::isnan(r.lse[i]), i == 2) << i;
    // A NaN key excluded by the boolean mask changes nothing; under an additive -inf it makes
    // every row NaN.
    Terms keep;
    keep.keep = true;
    Problem pk(make_shape(1, 1, 1, sq, sk, d), keep, 22);
    for (std::size_t i = 0; i < sq; ++i) pk.keep[i * sk + 3] = 0;
    const auto clean = run<float>(pk, method, 0, false);
    for (std::size_t c = 0; c < d; ++c) pk.k[3 * d + c] = std::nan("");
    const auto dirty = run<float>(pk, method, 0, false);
    EXPECT_EQ(0, std::memcmp(clean.out.data(), dirty.out.data(), clean.out.size() * 4));
    Terms add;
    add.mask = true;
    Problem pm(make_shape(1, 1, 1, sq, sk, d), add, 23);
    for (std::size_t i = 0; i < sq; ++i) pm.mask[i * sk + 3] = -kInf;
    for (std::size_t c = 0; c < d; ++c) pm.k[3 * d + c] = std::nan("");
    r = run<float>(pm, method, 0, false);
    for (std::size_t i = 0; i < sq; ++i) EXPECT_TRUE(std::isnan(r.lse[i])) << i;
  }
}

TEST(Attention, PaddingPastKeyLengthIsNeverRead) {
  Terms t;
  t.lengths = true;
  Problem pr(make_shape(2, 2, 2, 40, 600, 16), t, 5);
  pr.lengths = {600, 123};
  const auto clean = run<float>(pr, AttentionMethod::tiled, 0, false);
  for (std::size_t h = 0; h < 2; ++h) {
    for (std::size_t j = 123; j < 600; ++j) {
      for (std::size_t c = 0; c < 16; ++c) {
        pr.k[((2 + h) * 600 + j) * 16 + c] = std::nan("");
        pr.v[((2 + h) * 600 + j) * 16 + c] = std::numeric_limits<double>::infinity();
      }
    }
  }
  const auto dirty = run<float>(pr, AttentionMethod::tiled, 0, false);
  EXPECT_EQ(0, std::memcmp(clean.out.data(), dirty.out.data(), clean.out.size() * 4));
  EXPECT_EQ(0, std::memcmp(clean.lse.data(), dirty.lse.data(), clean.lse.size() * 4));
}

TEST(Attention, EmptySequencesAndSingleKeys) {
  for (const auto method : {AttentionMethod::tiled, AttentionMethod::naive}) {
    // seq_q = 0: nothing to write forward; dk and dv are zero.
    const auto a = run<float>(Problem(make_shape(2, 2, 2, 0, 5, 4), Terms{}, 1), method);
    for (float x : a.dk) EXPECT_EQ(x, 0.0f);
    for (float x : a.dv) EXPECT_EQ(x, 0.0f);
    // seq_k = 0: every row sees nothing.
    const auto b = run<float>(Problem(make_shape(2, 2, 2, 3, 0, 4), Terms{}, 2), method);
    for (float x : b.out) EXPECT_EQ(x, 0.0f);
    for (float x : b.dq) EXPECT_EQ(x, 0.0f);
    for (float x : b.lse) EXPECT_EQ(x, -std::numeric_limits<float>::infinity());
    // One key: out = v, lse = the score.
    const Problem pr(make_shape(1, 1, 1, 1, 1, 4), Terms{}, 3);
    const auto c = run<double>(pr, method);
    for (std::size_t j = 0; j < 4; ++j) EXPECT_DOUBLE_EQ(c.out[j], pr.v[j]);
    double s = 0;
    for (std::size_t j = 0; j < 4; ++j) s += pr.q[j] * pr.k[j];
    EXPECT_NEAR(c.lse[0], s / 2.0, 1e-15);
  }
}

std::string error_of(const AttentionShape& shape, const Terms& t, AttentionMethod m,
                     const std::vector<std::int64_t>& lengths = {}) {
  Problem pr(shape, t, 1);
  if (!lengths.empty()) pr.lengths = lengths;
  try {
    run<float>(pr, m, 0, false);
  } catch (const softreg::InvalidArgument& e) {
    return e.what();
  }
  return "no error";
}

TEST(Attention, BadArgumentsAreNamed) {
  for (const auto m : {AttentionMethod::tiled, AttentionMethod::naive}) {
    EXPECT_EQ(error_of(make_shape(1, 3, 2, 2, 2, 4), Terms{}, m),
              "attention: heads (3) must be a multiple of kv_heads (2)");
    EXPECT_EQ(error_of(make_shape(1, 2, 2, 2, 2, 0), Terms{}, m),
              "attention: head_dim must be >= 1");
    EXPECT_EQ(error_of(make_shape(2, 2, 2, 2, 5, 4), Terms{}, m, {5, 6}),
              "attention: key_lengths[1] = 6 is outside [0, seq_k = 5]");
    EXPECT_EQ(error_of(make_shape(2, 2, 2, 2, 5, 4), Terms{}, m, {5}),
              "attention: key_lengths has 1 entries, expected batch = 2");
    Terms big;
    big.scale = 1e300;
    EXPECT_EQ(error_of(make_shape(1, 1, 1, 2, 2, 4), big, m),
              "attention: scale must be finite in the data type, got 1e+300");
  }
  // The tiled backward needs the forward's lse.
  const auto z = make_shape(1, 1, 1, 2, 2, 4);
  std::vector<float> x(8, 0.5f), g(8);
  softreg::AttentionBackward<float> a;
  a.q = a.k = a.v = a.out = a.dout = softreg::dense_view<const float>(x.data(), 1, 2, 4);
  a.dq = a.dk = a.dv = softreg::dense_view<float>(g.data(), 1, 2, 4);
  EXPECT_THROW(softreg::attention_backward(z, a, {}, {}), softreg::InvalidArgument);
}

}  // namespace
