// The fused linear + cross-entropy against the materialised path (float64 logits, the library's
// cross_entropy_with_grad, the z-loss and cap added by hand, then the two products), finite
// differences, both weight layouts, chunk and thread independence, edge cases and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "softreg/error.hpp"
#include "softreg/linear_loss.hpp"
#include "softreg/loss.hpp"
#include "targets.hpp"

namespace {

using softreg::LinearCrossEntropyGrads;
using softreg::LinearCrossEntropyOptions;
using softreg::Reduction;
using softreg::WeightLayout;

struct Case {
  std::size_t n, d, k;
  bool bias = false;
  bool weights = false;
  double smoothing = 0, z_loss = 0, cap = 0;
  Reduction reduction = Reduction::mean;
  int ignored = 0;  // every `ignored`-th row is ignored (0: none)
};

/// Inputs in float64 (values exact in float32 too); weight in dk layout.
struct Data {
  std::vector<double> h, w, b, cw;
  std::vector<std::int64_t> t;
  Data(const Case& c, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    auto fill = [&](std::vector<double>& x, std::size_t n, double s) {
      x.resize(n);
      for (auto& e : x) e = double(float(s * g(rng)));
    };
    fill(h, c.n * c.d, 1.0);
    fill(w, c.d * c.k, 1.0 / std::sqrt(double(c.d)));
    if (c.bias) fill(b, c.k, 0.5);
    if (c.weights) {
      std::uniform_real_distribution<double> u(0.2, 2.0);
      for (std::size_t i = 0; i < c.k; ++i) cw.push_back(double(float(u(rng))));
    }
    std::uniform_int_distribution<std::int64_t> cls(0, std::int64_t(c.k) - 1);
    for (std::size_t i = 0; i < c.n; ++i) {
      t.push_back(c.ignored > 0 && i % std::size_t(c.ignored) == 1 ? -100 : cls(rng));
    }
  }
  std::vector<double> w_kd(const Case& c) const {
    std::vector<double> out(c.k * c.d);
    for (std::size_t j = 0; j < c.d; ++j) {
      for (std::size_t q = 0; q < c.k; ++q) out[q * c.d + j] = w[j * c.k + q];
    }
    return out;
  }
};

struct Out {
  double loss = 0;
  std::vector<double> rows, dh, dw, db;  // dw in dk layout
};

/// The materialised path in float64.
Out materialised(const Case& c, const Data& x) {
  const std::size_t n = c.n, d = c.d, k = c.k;
  std::vector<double> z(n * k), zraw(n * k);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t q = 0; q < k; ++q) {
      double s = c.bias ? x.b[q] : 0.0;
      for (std::size_t j = 0; j < d; ++j) s += x.h[i * d + j] * x.w[j * k + q];
      zraw[i * k + q] = s;
      z[i * k + q] = c.cap > 0 ? c.cap * std::tanh(s / c.cap) : s;
    }
  }
  softreg::CrossEntropyOptions<double> o;
  o.reduction = c.reduction;
  o.class_weights = x.cw;
  o.label_smoothing = c.smoothing;
  Out r;
  r.rows.assign(n, 0.0);
  std::vector<double> g(n * k);
  r.loss = softreg::cross_entropy_with_grad(std::span<double>(g), std::span<const double>(z),
                                            softreg::Shape{n, k}, x.t, o, r.rows);
  double denom = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (x.t[i] != -100) denom += x.cw.empty() ? 1.0 : x.cw[std::size_t(x.t[i])];
  }
  const double scale = c.reduction == Reduction::mean ? (denom > 0 ? 1 / denom : 0) : 1.0;
  double zsum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (x.t[i] == -100) continue;
    double m = -1e300, l = 0;
    for (std::size_t q = 0; q < k; ++q) m = std::max(m, z[i * k + q]);
    for (std::size_t q = 0; q < k; ++q) l += std::exp(z[i * k + q] - m);
    const double lse = m + std::log(l);
    r.rows[i] += c.z_loss * lse * lse;
    zsum += c.z_loss * lse * lse;
    for (std::size_t q = 0; q < k; ++q) {
      g[i * k + q] += scale * 2 * c.z_loss * lse * std::exp(z[i * k + q] - lse);
    }
  }
  r.loss += zsum * (c.reduction == Reduction::mean ? scale : 1.0);
  if (c.cap > 0) {
    for (std::size_t e = 0; e < n * k; ++e) {
      const double u = z[e] / c.cap;
      g[e] *= 1 - u * u;
    }
  }
  r.dh.assign(n * d, 0.0);
  r.dw.assign(d * k, 0.0);
  r.db.assign(k, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t q = 0; q < k; ++q) {
      const double gv = g[i * k + q];
      r.db[q] += gv;
      for (std::size_t j = 0; j < d; ++j) {
        r.dh[i * d + j] += gv * x.w[j * k + q];
        r.dw[j * k + q] += gv * x.h[i * d + j];
      }
    }
  }
  return r;
}

/// The fused layer in T, either layout; dw returned in dk layout.
template <class T>
Out fused(const Case& c, const Data& x, WeightLayout layout, int threads = 0, bool grads = true,
          bool filter = false) {
  const std::size_t n = c.n, d = c.d, k = c.k;
  const std::vector<T> h(x.h.begin(), x.h.end()), b(x.b.begin(), x.b.end());
  const std::vector<T> cw(x.cw.begin(), x.cw.end());
  const auto wsrc = layout == WeightLayout::kd ? x.w_kd(c) : x.w;
  const std::vector<T> w(wsrc.begin(), wsrc.end());
  LinearCrossEntropyOptions<T> o;
  o.reduction = c.reduction;
  o.class_weights = cw;
  o.label_smoothing = c.smoothing;
  o.z_loss = c.z_loss;
  o.softcap = c.cap;
  o.layout = layout;
  o.threads = threads;
  o.filter_gradient = filter;
  std::vector<T> rows(n, T(-7)), dh(n * d, T(-7)), dw(d * k, T(-7)), db(c.bias ? k : 0, T(-7));
  Out r;
  if (grads) {
    LinearCrossEntropyGrads<T> g{dh, dw, db};
    r.loss =
        softreg::linear_cross_entropy_with_grad(std::span<const T>(h), n, d, std::span<const T>(w),
                                                k, std::span<const T>(b), x.t, g, o, rows);
  } else {
    r.loss = softreg::linear_cross_entropy(std::span<const T>(h), n, d, std::span<const T>(w), k,
                                           std::span<const T>(b), x.t, o, rows);
  }
  r.rows.assign(rows.begin(), rows.end());
  r.dh.assign(dh.begin(), dh.end());
  r.db.assign(db.begin(), db.end());
  r.dw.resize(d * k);
  for (std::size_t j = 0; j < d; ++j) {
    for (std::size_t q = 0; q < k; ++q) {
      r.dw[j * k + q] = layout == WeightLayout::kd ? double(dw[q * d + j]) : double(dw[j * k + q]);
    }
  }
  return r;
}

/// max |a - b| over max |b|, the latter at least 1e-3: K = 1 gradients are exactly 0 in exact
/// arithmetic and rounding noise in floating point, which an unfloored ratio would magnify.
double max_rel(const std::vector<double>& a, const std::vector<double>& b) {
  double err = 0, mag = 1e-3;
  for (std::size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, std::abs(a[i] - b[i]));
    mag = std::max(mag, std::abs(b[i]));
  }
  return err / mag;
}

std::string name(const Case& c) {
  return "n=" + std::to_string(c.n) + " d=" + std::to_string(c.d) + " K=" + std::to_string(c.k) +
         " bias=" + std::to_string(c.bias) + " weights=" + std::to_string(c.weights) +
         " eps=" + std::to_string(c.smoothing) + " z=" + std::to_string(c.z_loss) +
         " cap=" + std::to_string(c.cap) + " red=" + std::to_string(int(c.reduction)) +
         " ignored=" + std::to_string(c.ignored);
}

/// Option combinations over shapes that cross the vocabulary blocks (256), slices (1024) and
/// row chunks (16 rows and up).
std::vector<Case> cases() {
  std::vector<Case> out;
  const std::size_t shapes[][3] = {{5, 3, 7}, {37, 20, 300}, {70, 33, 2100}, {17, 8, 1}};
  for (const auto& s : shapes) {
    for (int variant = 0; variant < 6; ++variant) {
      Case c{s[0], s[1], s[2]};
      c.bias = variant % 2 == 1;
      c.weights = variant >= 2;
      c.smoothing = variant == 3 || variant == 5 ? 0.1 : 0.0;
      c.z_loss = variant == 4 || variant == 5 ? 1e-3 : 0.0;
      c.cap = variant == 5 ? 3.0 : 0.0;
      c.reduction = variant == 2   ? Reduction::sum
                    : variant == 4 ? Reduction::none
                                   : Reduction::mean;
      c.ignored = variant >= 3 ? 3 : 0;
      out.push_back(c);
    }
  }
  return out;
}

TEST(LinearCrossEntropy, Float64MatchesTheMaterialisedPathInBothLayouts) {
  unsigned seed = 1;
  for (const Case& c : cases()) {
    SCOPED_TRACE(name(c));
    const Data x(c, seed++);
    const Out ref = materialised(c, x);
    for (const auto layout : {WeightLayout::dk, WeightLayout::kd}) {
      const Out got = fused<double>(c, x, layout);
      EXPECT_NEAR(got.loss, ref.loss, 1e-12 * (1 + std::abs(ref.loss)));
      EXPECT_LE(max_rel(got.rows, ref.rows), 1e-12);
      EXPECT_LE(max_rel(got.dh, ref.dh), 1e-11);
      EXPECT_LE(max_rel(got.dw, ref.dw), 1e-11);
      if (c.bias) {
        EXPECT_LE(max_rel(got.db, ref.db), 1e-11);
      }
    }
  }
}

TEST(LinearCrossEntropy, Float32WithinBoundOfFloat64OnEveryTarget) {
  // Bound: logits carry u (d + 2) max_c sum_j |h_j w_jc| (the product in float32, the cap's
  // few ulp); the row's loss and gradient inherit it times their magnitude, plus u K for the
  // float32 sums over the vocabulary. Tested as 4 u (d sigma + K + 16) per unit of magnitude.
  unsigned seed = 500;
  simd_targets::for_each([&](std::int64_t) {
    for (const Case& c : cases()) {
      SCOPED_TRACE(name(c));
      const Data x(c, seed++);
      const Out ref = materialised(c, x);
      double sigma = 0;
      for (std::size_t i = 0; i < c.n; ++i) {
        for (std::size_t q = 0; q < c.k; ++q) {
          double s = c.bias ? std::abs(x.b[q]) : 0.0;
          for (std::size_t j = 0; j < c.d; ++j) s += std::abs(x.h[i * c.d + j] * x.w[j * c.k + q]);
          sigma = std::max(sigma, s);
        }
      }
      const double tol = 4.0 / 16777216.0 * (double(c.d) * sigma + double(c.k) + 16);
      for (const auto layout : {WeightLayout::dk, WeightLayout::kd}) {
        const Out got = fused<float>(c, x, layout);
        EXPECT_LE(std::abs(got.loss - ref.loss), tol * (1 + std::abs(ref.loss)));
        EXPECT_LE(max_rel(got.rows, ref.rows), tol);
        // K = 1: every gradient is 0 up to rounding; held to an absolute 1e-6 instead.
        const double gtol = c.k == 1 ? 1e-6 / 1e-3 : tol * 4;
        EXPECT_LE(max_rel(got.dh, ref.dh), gtol);
        EXPECT_LE(max_rel(got.dw, ref.dw), gtol);
      }
    }
  });
}

TEST(LinearCrossEntropy, GradientsMatchFiniteDifferences) {
  Case c{6, 4, 9, true, true, 0.2, 0.01, 2.0, Reduction::mean, 4};
  Data x(c, 77);
  const Out g = fused<double>(c, x, WeightLayout::dk);
  const double h = 1e-6;
  auto check = [&](std::vector<double>& v, const std::vector<double>& grad, const char* what) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      const double keep = v[i];
      v[i] = keep + h;
      const double up = fused<double>(c, x, WeightLayout::dk, 0, false).loss;
      v[i] = keep - h;
      const double down = fused<double>(c, x, WeightLayout::dk, 0, false).loss;
      v[i] = keep;
      EXPECT_NEAR(grad[i], (up - down) / (2 * h), 1e-8) << what << "[" << i << "]";
    }
  };
  check(x.h, g.dh, "d_hidden");
  check(x.w, g.dw, "d_weight");
  check(x.b, g.db, "d_bias");
}

TEST(LinearCrossEntropy, ResultsDoNotDependOnThreadsOrOnHowRowsAreChunked) {
  const Case c{600, 24, 3000, true, false, 0.1, 1e-4, 0.0, Reduction::sum, 5};
  const Data x(c, 9);
  const Out one = fused<float>(c, x, WeightLayout::kd, 1);
  for (const int threads : {2, 3, 7}) {
    const Out many = fused<float>(c, x, WeightLayout::kd, threads);
    EXPECT_EQ(one.loss, many.loss);
    EXPECT_EQ(one.dh, many.dh);
    EXPECT_EQ(one.dw, many.dw);
    EXPECT_EQ(one.db, many.db);
  }
  // 600 rows go in chunks of 16; any subset of rows gives the same row losses and d_hidden
  // rows (each row's values depend on that row alone).
  Case half = c;
  half.n = 37;
  Data xs = x;
  xs.h.resize(37 * c.d);
  xs.t.resize(37);
  const Out part = fused<float>(half, xs, WeightLayout::kd, 2);
  for (std::size_t i = 0; i < 37; ++i) EXPECT_EQ(part.rows[i], one.rows[i]) << i;
  for (std::size_t e = 0; e < 37 * c.d; ++e) EXPECT_EQ(part.dh[e], one.dh[e]) << e;
}

TEST(LinearCrossEntropy, GradientFilteringSkipsOnlyNegligibleBlocksWithinItsBound) {
  // Targets in the first block of 256 classes; every class from 256 on has a bias of -40, so
  // its probabilities are below e^-40 < 2^-24 and its blocks are skipped.
  Case c{40, 6, 2100, true};
  Data x(c, 31);
  for (auto& t : x.t) t %= 256;
  for (std::size_t q = 256; q < c.k; ++q) x.b[q] = -40;
  for (const auto layout : {WeightLayout::dk, WeightLayout::kd}) {
    const Out full = fused<double>(c, x, layout);
    const Out skip = fused<double>(c, x, layout, 0, true, true);
    EXPECT_EQ(skip.loss, full.loss);
    // The bound of the header: r_i (S_i + 2 z lse_i) is 1 / 40 here (mean over 40 rows).
    const double coef = 1.0 / 40 / 16777216.0;
    double wsum = 0, hsum = 0;
    for (std::size_t q = 256; q < c.k; ++q) {
      for (std::size_t j = 0; j < c.d; ++j) wsum = std::max(wsum, std::abs(x.w[j * c.k + q]));
    }
    for (double v : x.h) hsum += std::abs(v);
    for (std::size_t e = 0; e < full.dh.size(); ++e) {
      EXPECT_LE(std::abs(skip.dh[e] - full.dh[e]), coef * wsum * double(c.k - 256)) << e;
    }
    bool skipped = false;
    for (std::size_t j = 0; j < c.d; ++j) {
      for (std::size_t q = 0; q < c.k; ++q) {
        const std::size_t e = j * c.k + q;
        EXPECT_LE(std::abs(skip.dw[e] - full.dw[e]), coef * hsum) << e;
        if (q >= 256 && skip.dw[e] == 0.0 && full.dw[e] != 0.0) skipped = true;
        if (q < 256) {  // the block with the targets: untouched
          EXPECT_EQ(skip.dw[e], full.dw[e]) << e;
        }
      }
    }
    EXPECT_TRUE(skipped) << "no block was skipped";
    for (std::size_t q = 256; q < c.k; ++q) EXPECT_EQ(skip.db[q], 0.0) << q;
  }
  // With label smoothing every class has a gradient of its own: the filter does nothing.
  c.smoothing = 0.1;
  const Out full = fused<float>(c, x, WeightLayout::kd);
  const Out skip = fused<float>(c, x, WeightLayout::kd, 0, true, true);
  EXPECT_EQ(skip.dw, full.dw);
  EXPECT_EQ(skip.dh, full.dh);
}

TEST(LinearCrossEntropy, EdgeCases) {
  // Every target ignored: mean 0, zero gradients.
  Case c{8, 5, 11, true};
  Data x(c, 3);
  for (auto& t : x.t) t = -100;
  Out r = fused<double>(c, x, WeightLayout::dk);
  EXPECT_EQ(r.loss, 0.0);
  for (double v : r.dh) EXPECT_EQ(v, 0.0);
  for (double v : r.dw) EXPECT_EQ(v, 0.0);
  for (double v : r.db) EXPECT_EQ(v, 0.0);
  // n = 0.
  Case empty{0, 5, 11};
  r = fused<double>(empty, Data(empty, 4), WeightLayout::kd);
  EXPECT_EQ(r.loss, 0.0);
  for (double v : r.dw) EXPECT_EQ(v, 0.0);
  // K = 1: the loss is 0 (plus the z-loss), the gradient comes from the z-loss alone.
  Case one{4, 3, 1};
  one.z_loss = 0.5;
  const Data x1(one, 5);
  r = fused<double>(one, x1, WeightLayout::dk);
  const Out ref = materialised(one, x1);
  EXPECT_NEAR(r.loss, ref.loss, 1e-12);
  EXPECT_LE(max_rel(r.dh, ref.dh), 1e-12);
  // NaN in one hidden row: that row's loss is NaN, the others are not.
  Case nanc{40, 6, 500, false, false, 0.0, 0.0, 0.0, Reduction::none};
  Data xn(nanc, 6);
  xn.h[7 * 6 + 2] = std::nan("");
  r = fused<float>(nanc, xn, WeightLayout::dk, 0, false);
  for (std::size_t i = 0; i < 40; ++i) EXPECT_EQ(std::isnan(r.rows[i]), i == 7) << i;
}

TEST(LinearCrossEntropy, BadArgumentsAreNamed) {
  const Case c{3, 2, 4};
  Data x(c, 1);
  x.t[2] = 4;
  try {
    fused<float>(c, x, WeightLayout::dk);
    ADD_FAILURE() << "no error";
  } catch (const softreg::InvalidArgument& e) {
    EXPECT_STREQ(e.what(),
                 "linear_cross_entropy_with_grad: target[2] = 4 is outside [0, 4) and not "
                 "ignore_index (-100)");
  }
  Case bad = c;
  bad.smoothing = 1.5;
  EXPECT_THROW(fused<float>(bad, Data(bad, 2), WeightLayout::dk), softreg::InvalidArgument);
  bad = c;
  bad.cap = -1;
  EXPECT_THROW(fused<float>(bad, Data(bad, 2), WeightLayout::dk), softreg::InvalidArgument);
  bad = c;
  bad.z_loss = std::numeric_limits<double>::infinity();
  EXPECT_THROW(fused<float>(bad, Data(bad, 2), WeightLayout::dk), softreg::InvalidArgument);
}

}  // namespace
