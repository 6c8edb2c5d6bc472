// OnlineSoftmax: random splits merged in any order, its edge-case states, and normalize().
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include "oracle.hpp"
#include "softreg/error.hpp"
#include "softreg/online_softmax.hpp"

namespace {

using oracle::Real;

// The header's bound for logsumexp(): 4 eps_f64 (1 + |r|), whatever the input type.
Real online_tol(Real r) {
  return 4 * 0x1p-53L * (1 + std::fabs(r));
}

template <class T>
Real exact_lse(const std::vector<T>& x, double t) {
  return oracle::evaluate<T>(std::span<const T>(x), {x.size()}, -1, static_cast<Real>(t)).lse[0];
}

// Cut [0, n) at random points into `pieces` ranges, some of them possibly empty.
std::vector<std::pair<std::size_t, std::size_t>> random_split(std::size_t n, std::size_t pieces,
                                                              std::mt19937_64& rng) {
  std::uniform_int_distribution<std::size_t> cut(0, n);
  std::vector<std::size_t> cuts{0, n};
  for (std::size_t i = 1; i < pieces; ++i) cuts.push_back(cut(rng));
  std::sort(cuts.begin(), cuts.end());
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) out.emplace_back(cuts[i], cuts[i + 1]);
  return out;
}

template <class T>
class OnlineSoftmaxTest : public testing::Test {};
using Types = testing::Types<float, double>;
TYPED_TEST_SUITE(OnlineSoftmaxTest, Types);

TYPED_TEST(OnlineSoftmaxTest, WholeRowMatchesOracle) {
  using T = TypeParam;
  std::mt19937_64 rng(1);
  for (const std::size_t n : {1UL, 7UL, 16UL, 17UL, 1000UL, 50257UL}) {
    for (const auto dist : {oracle::Dist::kUniform, oracle::Dist::kNormal}) {
      const std::vector<T> x = oracle::random_logits<T>(n, rng, dist);
      for (const double t : {1.0, 0.5, 0.1, 7.3}) {
        softreg::OnlineSoftmax s(t);
        s.update(std::span<const T>(x));
        const Real want = exact_lse(x, t);
        EXPECT_LE(std::fabs(s.logsumexp() - want), online_tol(want)) << "n " << n << " T " << t;
        EXPECT_EQ(s.max(), static_cast<double>(*std::max_element(x.begin(), x.end())));
        EXPECT_FALSE(s.has_nan());
        EXPECT_EQ(s.temperature(), t);
      }
    }
  }
}

// Pieces folded into separate normalizers and merged by a left fold in a shuffled order, by a
// pairwise tree, and fed in shuffled order to one normalizer must all give the row's value.
TYPED_TEST(OnlineSoftmaxTest, RandomSplitsMergeToTheWholeRow) {
  using T = TypeParam;
  std::mt19937_64 rng(2);
  for (const std::size_t n : {5UL, 100UL, 5000UL}) {
    const std::vector<T> x = oracle::random_logits<T>(n, rng, oracle::Dist::kNormal);
    for (const double t : {1.0, 0.3, 4.0}) {
      const Real want = exact_lse(x, t);
      for (const std::size_t k : {2UL, 3UL, 7UL, 20UL}) {
        const auto ranges = random_split(n, k, rng);
        std::vector<softreg::OnlineSoftmax> parts;
        for (const auto& [b, e] : ranges) {
          parts.emplace_back(t);
          parts.back().update(std::span<const T>(x).subspan(b, e - b));
        }
        std::vector<std::size_t> order(parts.size());
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);

        softreg::OnlineSoftmax fold(t);
        for (const std::size_t i : order) fold.merge(parts[i]);
        EXPECT_LE(std::fabs(fold.logsumexp() - want), online_tol(want)) << "fold n " << n;

        std::vector<softreg::OnlineSoftmax> level = parts;
        while (level.size() > 1) {
          std::vector<softreg::OnlineSoftmax> next;
          for (std::size_t i = 0; i + 1 < level.size(); i += 2) {
            next.push_back(level[i + 1]);
            next.back().merge(level[i]);
          }
          if (level.size() % 2 == 1) next.push_back(level.back());
          level = std::move(next);
        }
        EXPECT_LE(std::fabs(level[0].logsumexp() - want), online_tol(want)) << "tree n " << n;

        softreg::OnlineSoftmax seq(t);
        for (const std::size_t i : order) {
          seq.update(
              std::span<const T>(x).subspan(ranges[i].first, ranges[i].second - ranges[i].first));
        }
        EXPECT_LE(std::fabs(seq.logsumexp() - want), online_tol(want)) << "sequential n " << n;
        EXPECT_EQ(fold.max(), seq.max());
      }
    }
  }
}

// normalize() of each piece, after every piece is merged, is the softmax of the whole row and
// meets the softmax() bound of softmax.hpp for the input type.
TYPED_TEST(OnlineSoftmaxTest, NormalizedPiecesAreTheSoftmaxOfTheRow) {
  using T = TypeParam;
  std::mt19937_64 rng(3);
  for (const std::size_t n : {1UL, 17UL, 2000UL}) {
    const std::vector<T> x = oracle::random_logits<T>(n, rng);
    for (const double t : {1.0, 0.5, 7.3}) {
      const auto ref = oracle::evaluate<T>(std::span<const T>(x), {n}, -1, static_cast<Real>(t));
      const auto ranges = random_split(n, 4, rng);
      softreg::OnlineSoftmax all(t);
      for (auto it = ranges.rbegin(); it != ranges.rend(); ++it) {
        softreg::OnlineSoftmax part(t);
        part.update(std::span<const T>(x).subspan(it->first, it->second - it->first));
        all.merge(part);
      }
      std::vector<T> p(n, T(777));
      for (std::size_t i = 0; i < ranges.size(); ++i) {
        const auto [b, e] = ranges[i];
        if (i % 2 == 0) {
          all.normalize(std::span<T>(p).subspan(b, e - b), std::span<const T>(x).subspan(b, e - b));
        } else {
          std::copy(x.begin() + static_cast<std::ptrdiff_t>(b),
                    x.begin() + static_cast<std::ptrdiff_t>(e),
                    p.begin() + static_cast<std::ptrdiff_t>(b));
          const std::span<T> piece = std::span<T>(p).subspan(b, e - b);
          all.normalize(piece, std::span<const T>(piece));
        }
      }
      EXPECT_TRUE(oracle::softmax_ok<T>(p, ref)) << "n " << n << " T " << t;
    }
  }
}

TYPED_TEST(OnlineSoftmaxTest, MergeWithEmptyAndOrderInvariance) {
  using T = TypeParam;
  std::mt19937_64 rng(4);
  const std::vector<T> x = oracle::random_logits<T>(300, rng);
  const std::vector<T> y = oracle::random_logits<T>(200, rng);
  std::vector<T> xy = x;
  xy.insert(xy.end(), y.begin(), y.end());
  const Real want_x = exact_lse(x, 1.0);
  const Real want_xy = exact_lse(xy, 1.0);

  softreg::OnlineSoftmax full;
  full.update(std::span<const T>(x));
  const softreg::OnlineSoftmax empty;
  softreg::OnlineSoftmax a = full;
  a.merge(empty);
  softreg::OnlineSoftmax b = empty;
  b.merge(full);
  for (const auto* s : {&a, &b}) {
    EXPECT_EQ(s->max(), full.max());
    EXPECT_LE(std::fabs(s->logsumexp() - want_x), online_tol(want_x));
  }
  softreg::OnlineSoftmax none;
  none.merge(empty);
  EXPECT_EQ(none.max(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(none.sum(), 0.0);
  EXPECT_EQ(none.logsumexp(), -std::numeric_limits<double>::infinity());
  EXPECT_FALSE(none.has_nan());

  softreg::OnlineSoftmax sy;
  sy.update(std::span<const T>(y));
  softreg::OnlineSoftmax ab = full;
  ab.merge(sy);
  softreg::OnlineSoftmax ba = sy;
  ba.merge(full);
  EXPECT_LE(std::fabs(ab.logsumexp() - want_xy), online_tol(want_xy));
  EXPECT_LE(std::fabs(ba.logsumexp() - want_xy), online_tol(want_xy));
  EXPECT_EQ(ab.max(), ba.max());
  EXPECT_LE(std::fabs(ab.sum() - ba.sum()), 8 * 0x1p-53 * ab.sum());
}

TYPED_TEST(OnlineSoftmaxTest, NanPiecePoisonsTheRow) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> p1{1, 2};
  const std::vector<T> p2{3, nan, 4};
  const std::vector<T> p3{5};
  softreg::OnlineSoftmax s1;
  softreg::OnlineSoftmax s2;
  softreg::OnlineSoftmax s3;
  s1.update(std::span<const T>(p1));
  s2.update(std::span<const T>(p2));
  s3.update(std::span<const T>(p3));
  EXPECT_TRUE(s2.has_nan());
  EXPECT_EQ(s2.max(), 4.0);
  s3.merge(s2);
  s3.merge(s1);
  EXPECT_TRUE(s3.has_nan());
  EXPECT_EQ(s3.max(), 5.0);
  EXPECT_TRUE(std::isnan(s3.logsumexp()));
  for (const auto* piece : {&p1, &p2, &p3}) {
    std::vector<T> out(piece->size(), T(777));
    s3.normalize(out, *piece);
    for (const T v : out) EXPECT_TRUE(std::isnan(v));
  }
  softreg::OnlineSoftmax single;
  single.update(2.0);
  single.update(std::numeric_limits<double>::quiet_NaN());
  EXPECT_TRUE(single.has_nan());
  EXPECT_TRUE(std::isnan(single.logsumexp()));
}

TYPED_TEST(OnlineSoftmaxTest, PlusInfinityInOnePiece) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity();
  for (const std::size_t n_inf : {1UL, 2UL}) {
    const std::vector<T> p1{1, 2, 40};
    const std::vector<T> p2{inf, 3};
    const std::vector<T> p3 = n_inf == 2 ? std::vector<T>{-1, inf} : std::vector<T>{-1, 7};
    for (const bool reverse : {false, true}) {
      softreg::OnlineSoftmax all(0.5);
      for (const auto* piece : reverse ? std::vector{&p3, &p2, &p1} : std::vector{&p1, &p2, &p3}) {
        softreg::OnlineSoftmax s(0.5);
        s.update(std::span<const T>(*piece));
        all.merge(s);
      }
      EXPECT_EQ(all.max(), std::numeric_limits<double>::infinity());
      EXPECT_EQ(all.sum(), static_cast<double>(n_inf));
      EXPECT_EQ(all.logsumexp(), std::numeric_limits<double>::infinity());
      EXPECT_FALSE(all.has_nan());
      const T share = T(1) / static_cast<T>(n_inf);
      std::vector<T> out(3);
      all.normalize(std::span<T>(out).first(2), p2);
      EXPECT_EQ(out[0], share);
      EXPECT_EQ(out[1], T(0));
      all.normalize(out, p1);
      EXPECT_EQ(out, std::vector<T>(3, T(0)));
      all.normalize(std::span<T>(out).first(2), p3);
      EXPECT_EQ(out[0], T(0));
      EXPECT_EQ(out[1], n_inf == 2 ? share : T(0));
    }
  }
}

TYPED_TEST(OnlineSoftmaxTest, AllNegativeInfinityAndNothingSeen) {
  using T = TypeParam;
  const T ninf = -std::numeric_limits<T>::infinity();
  const softreg::OnlineSoftmax fresh(2.0);
  EXPECT_EQ(fresh.max(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(fresh.sum(), 0.0);
  EXPECT_EQ(fresh.logsumexp(), -std::numeric_limits<double>::infinity());
  EXPECT_FALSE(fresh.has_nan());
  EXPECT_EQ(fresh.temperature(), 2.0);

  const std::vector<T> p1{ninf, ninf};
  const std::vector<T> p2{ninf};
  const std::vector<T> p3;
  softreg::OnlineSoftmax all;
  for (const auto* piece : {&p1, &p2, &p3}) {
    softreg::OnlineSoftmax s;
    s.update(std::span<const T>(*piece));
    all.merge(s);
  }
  all.update(-std::numeric_limits<double>::infinity());
  EXPECT_EQ(all.max(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(all.sum(), 0.0);
  EXPECT_EQ(all.logsumexp(), -std::numeric_limits<double>::infinity());
  EXPECT_FALSE(all.has_nan());
  std::vector<T> out(2, T(777));
  all.normalize(out, p1);
  EXPECT_EQ(out, std::vector<T>(2, T(0)));

  // A masked piece merged into a live one changes nothing.
  const std::vector<T> live{0.25, -3, 2};
  softreg::OnlineSoftmax s;
  s.update(std::span<const T>(live));
  s.merge(all);
  const Real want = exact_lse(live, 1.0);
  EXPECT_LE(std::fabs(s.logsumexp() - want), online_tol(want));
  all.merge(s);
  EXPECT_LE(std::fabs(all.logsumexp() - want), online_tol(want));
}

TYPED_TEST(OnlineSoftmaxTest, SingleEntryUpdatesMatchSpanUpdates) {
  using T = TypeParam;
  std::mt19937_64 rng(5);
  const std::vector<T> x = oracle::random_logits<T>(777, rng, oracle::Dist::kNormal);
  for (const double t : {1.0, 0.7}) {
    softreg::OnlineSoftmax one(t);
    for (const T v : x) one.update(static_cast<double>(v));
    softreg::OnlineSoftmax span(t);
    span.update(std::span<const T>(x));
    const Real want = exact_lse(x, t);
    EXPECT_LE(std::fabs(one.logsumexp() - want), online_tol(want));
    EXPECT_LE(std::fabs(span.logsumexp() - want), online_tol(want));
    EXPECT_EQ(one.max(), span.max());
  }
}

// Sorted input makes the maximum grow at every entry, so every entry rescales the sum; the
// ascending runs stress the rescaling, the descending ones the compensated sum.
TYPED_TEST(OnlineSoftmaxTest, MonotoneSequencesRescaleAccurately) {
  using T = TypeParam;
  std::mt19937_64 rng(6);
  for (const std::size_t n : {1000UL, 20000UL}) {
    std::vector<T> x = oracle::random_logits<T>(n, rng);
    for (T& v : x) v /= T(50);
    std::sort(x.begin(), x.end());
    for (const bool descending : {false, true}) {
      if (descending) std::reverse(x.begin(), x.end());
      for (const double t : {1.0, 0.25}) {
        softreg::OnlineSoftmax s(t);
        s.update(std::span<const T>(x));
        const Real want = exact_lse(x, t);
        EXPECT_LE(std::fabs(s.logsumexp() - want), online_tol(want))
            << "n " << n << " descending " << descending << " T " << t;
      }
    }
  }
}

// probability(x) is one entry of normalize(); its output is double, so the double softmax bound
// applies, and the edge cases follow the header's list.
TEST(OnlineSoftmax, ProbabilityMatchesOracleAndEdgeCases) {
  std::mt19937_64 rng(7);
  const std::vector<double> x = oracle::random_logits<double>(500, rng, oracle::Dist::kNormal);
  for (const double t : {1.0, 0.5, 7.3}) {
    const auto ref =
        oracle::evaluate<double>(std::span<const double>(x), {x.size()}, -1, static_cast<Real>(t));
    softreg::OnlineSoftmax a(t);
    softreg::OnlineSoftmax b(t);
    a.update(std::span<const double>(x).first(123));
    b.update(std::span<const double>(x).subspan(123));
    b.merge(a);
    for (std::size_t j = 0; j < x.size(); ++j) {
      ASSERT_TRUE(oracle::within(b.probability(x[j]), ref.p[j],
                                 oracle::softmax_tol<double>(ref.p[j], ref.d[j])))
          << "T " << t << " j " << j;
    }
  }
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  softreg::OnlineSoftmax live;
  live.update(1.0);
  EXPECT_TRUE(std::isnan(live.probability(nan)));
  EXPECT_EQ(live.probability(-inf), 0.0);
  softreg::OnlineSoftmax poisoned = live;
  poisoned.update(nan);
  EXPECT_TRUE(std::isnan(poisoned.probability(1.0)));
  softreg::OnlineSoftmax masked;
  masked.update(-inf);
  EXPECT_EQ(masked.probability(-inf), 0.0);
  softreg::OnlineSoftmax hot;
  for (const double v : {3.0, inf, -inf, inf, inf}) hot.update(v);
  EXPECT_EQ(hot.probability(inf), 1.0 / 3.0);
  EXPECT_EQ(hot.probability(3.0), 0.0);
  EXPECT_EQ(hot.probability(-inf), 0.0);
}

TEST(OnlineSoftmax, ArgumentErrorsThrow) {
  for (const double t :
       {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
        std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW(softreg::OnlineSoftmax{t}, softreg::InvalidArgument) << "T " << t;
  }
  softreg::OnlineSoftmax a(1.0);
  const softreg::OnlineSoftmax b(2.0);
  EXPECT_THROW(a.merge(b), softreg::InvalidArgument);
  const std::vector<double> x{1, 2, 3};
  a.update(std::span<const double>(x));
  std::vector<double> out(2);
  EXPECT_THROW(a.normalize(out, x), softreg::InvalidArgument);
}

}  // namespace
