// L-BFGS's second-moment preconditioner and the vectorized Cholesky solves under it, against
// long-double references: the solves on every SIMD target for class counts on both sides of
// the vector widths, and the preconditioner as a whole against its definition
// M = q E[x~ x~^T] + lambda I_W + delta I (preconditioner.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <span>
#include <vector>

#include "../src/kernels/linear.hpp"
#include "../src/model/preconditioner.hpp"
#include "../src/model/preprocess.hpp"
#include "targets.hpp"

namespace {

using Real = long double;

/// A random symmetric positive definite n x n matrix A A^T / n + I (condition number ~ 10).
std::vector<double> random_spd(std::size_t n, std::mt19937_64& rng) {
  std::normal_distribution<double> g;
  std::vector<double> a(n * n), m(n * n);
  for (double& v : a) v = g(rng);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      Real s = 0;
      for (std::size_t p = 0; p < n; ++p) s += Real(a[i * n + p]) * Real(a[j * n + p]);
      m[i * n + j] = double(s / Real(n)) + (i == j ? 1.0 : 0.0);
    }
  }
  return m;
}

/// The lower Cholesky factor in long double, rounded to double.
std::vector<double> cholesky(const std::vector<double>& m, std::size_t n) {
  std::vector<Real> l(n * n, 0);
  for (std::size_t j = 0; j < n; ++j) {
    Real diag = m[j * n + j];
    for (std::size_t p = 0; p < j; ++p) diag -= l[j * n + p] * l[j * n + p];
    l[j * n + j] = std::sqrt(diag);
    for (std::size_t i = j + 1; i < n; ++i) {
      Real s = m[i * n + j];
      for (std::size_t p = 0; p < j; ++p) s -= l[i * n + p] * l[j * n + p];
      l[i * n + j] = s / l[j * n + j];
    }
  }
  return {l.begin(), l.end()};
}

/// max_i |(M x - b)_i| / max |b| over a d1 x k block (x and b with row strides wx and wb).
double relative_residual(const std::vector<double>& m, std::size_t d1, const double* x,
                         std::size_t wx, const double* b, std::size_t wb, std::size_t k) {
  Real worst = 0, scale = 0;
  for (std::size_t i = 0; i < d1; ++i) {
    for (std::size_t c = 0; c < k; ++c) {
      Real s = 0;
      for (std::size_t p = 0; p < d1; ++p) s += Real(m[i * d1 + p]) * Real(x[p * wx + c]);
      worst = std::max(worst, std::fabs(s - Real(b[i * wb + c])));
      scale = std::max(scale, std::fabs(Real(b[i * wb + c])));
    }
  }
  return double(worst / scale);
}

// Every column of b is solved, the padding columns stay 0, and M x = b to 1e-12 relative
// (the condition number is about 10, so a few hundred roundings of 1.1e-16 at most).
TEST(CholeskySolve, SolvesEveryColumnOnEveryTarget) {
  std::mt19937_64 rng(785);
  for (const std::size_t d1 : {1UL, 2UL, 37UL, 130UL}) {
    const std::vector<double> m = random_spd(d1, rng);
    const std::vector<double> lower = cholesky(m, d1);
    std::vector<double> upper(d1 * d1);
    for (std::size_t i = 0; i < d1; ++i) {
      for (std::size_t j = 0; j < d1; ++j) upper[j * d1 + i] = lower[i * d1 + j];
    }
    simd_targets::for_each([&](std::int64_t) {
      for (const std::size_t k : {1UL, 2UL, 3UL, 4UL, 5UL, 8UL, 10UL, 17UL, 33UL}) {
        SCOPED_TRACE(testing::Message() << "d1 " << d1 << ", k " << k);
        const std::size_t w = softreg::detail::cholesky_solve_width(k);
        ASSERT_GE(w, k);
        std::normal_distribution<double> g;
        std::vector<double> b(d1 * w, 0.0);
        for (std::size_t i = 0; i < d1; ++i) {
          for (std::size_t c = 0; c < k; ++c) b[i * w + c] = g(rng);
        }
        std::vector<double> x = b;
        softreg::detail::cholesky_solve(lower.data(), upper.data(), d1, x.data(), w);
        EXPECT_LE(relative_residual(m, d1, x.data(), w, b.data(), w, k), 1e-12);
        for (std::size_t i = 0; i < d1; ++i) {
          for (std::size_t c = k; c < w; ++c) ASSERT_EQ(x[i * w + c], 0.0) << "padding column";
        }
      }
    });
  }
}

// The preconditioner against its definition, built here in long double from the same rows:
// M theta' = theta to 1e-5 relative (the second moments are accumulated from float products,
// 6e-8 relative per entry, and M's condition number is a few hundred here).
TEST(SecondMomentPreconditioner, AppliesTheInverseOfItsDefinition) {
  const std::size_t n = 700, d = 23, k = 10;
  const double l2 = 1e-2;
  std::mt19937_64 rng(2300);
  std::normal_distribution<float> g;
  softreg::DenseMatrix<float> x(n, d);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < d; ++j) x(i, j) = g(rng) + (j % 3 == 0 ? x(i, 0) : 0.5f);
  }
  softreg::Preprocessing pre;
  pre.kind = softreg::Scaling::standard;
  for (std::size_t j = 0; j < d; ++j) {
    pre.offset.push_back(0.1 * double(j));
    pre.scale.push_back(1.0 + 0.05 * double(j));
  }
  const softreg::FeatureMatrix<float> features = x;
  const auto p =
      softreg::detail::SecondMomentPreconditioner::build<float>(features, pre, {}, {}, k, l2);
  ASSERT_NE(p, nullptr);

  const std::size_t d1 = d + 1;
  std::vector<Real> c(d1 * d1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<Real> v(d1, 1);
    for (std::size_t j = 0; j < d; ++j) v[j] = (Real(x(i, j)) - pre.offset[j]) * pre.scale[j];
    for (std::size_t a = 0; a < d1; ++a) {
      for (std::size_t b = 0; b < d1; ++b) c[a * d1 + b] += v[a] * v[b];
    }
  }
  const Real q = (Real(1) / Real(k)) * (Real(1) - Real(1) / Real(k));
  std::vector<double> m(d1 * d1);
  Real trace = 0;
  for (std::size_t i = 0; i < d1 * d1; ++i) c[i] *= q / Real(n);
  for (std::size_t i = 0; i < d; ++i) c[i * d1 + i] += l2;
  for (std::size_t i = 0; i < d1; ++i) trace += c[i * d1 + i];
  for (std::size_t i = 0; i < d1; ++i) c[i * d1 + i] += Real(1e-9) * trace / Real(d1);
  for (std::size_t i = 0; i < d1 * d1; ++i) m[i] = double(c[i]);

  std::normal_distribution<double> gd;
  std::vector<double> theta(d1 * k);
  for (double& v : theta) v = gd(rng);
  simd_targets::for_each([&](std::int64_t) {
    std::vector<double> out = theta;
    p->apply(out);
    EXPECT_LE(relative_residual(m, d1, out.data(), k, theta.data(), k, k), 1e-5);
  });
}

// Sample weights enter the moments as the objective weighs the rows: rows with integer weights
// give the preconditioner of the data with each row repeated that many times (weight 0: left
// out), for the second moments and for the diagonal. Both are accumulated in a different order
// (sqrt(w) x products in float against repeated ones), so they agree to 1e-5 relative.
TEST(SecondMomentPreconditioner, IntegerWeightsActAsRepeatedRows) {
  const std::size_t n = 60, d = 9, k = 4;
  std::mt19937_64 rng(4711);
  std::normal_distribution<float> g;
  std::uniform_int_distribution<int> pick(0, 4);
  softreg::DenseMatrix<float> x(n, d);
  for (float& v : x.data) v = g(rng);
  std::vector<double> weights(n);
  std::vector<std::size_t> weighted_rows, repeated_rows;
  for (std::size_t i = 0; i < n; ++i) {
    weights[i] = double(pick(rng));
    if (weights[i] > 0) weighted_rows.push_back(i);
    for (int c = 0; c < int(weights[i]); ++c) repeated_rows.push_back(i);
  }
  const softreg::FeatureMatrix<float> features = x;
  const softreg::Preprocessing pre;
  const auto weighted = softreg::detail::SecondMomentPreconditioner::build<float>(
      features, pre, weighted_rows, weights, k, 1e-3);
  const auto repeated = softreg::detail::SecondMomentPreconditioner::build<float>(
      features, pre, repeated_rows, {}, k, 1e-3);
  ASSERT_NE(weighted, nullptr);
  ASSERT_NE(repeated, nullptr);
  std::normal_distribution<double> gd;
  std::vector<double> theta((d + 1) * k);
  for (double& v : theta) v = gd(rng);
  std::vector<double> a = theta, b = theta;
  weighted->apply(a);
  repeated->apply(b);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5 * std::fabs(b[i]) + 1e-9);

  const auto diag_weighted =
      softreg::detail::inverse_hessian_diagonal(features, pre, weighted_rows, weights, k, 1e-3);
  const auto diag_repeated =
      softreg::detail::inverse_hessian_diagonal(features, pre, repeated_rows, {}, k, 1e-3);
  ASSERT_EQ(diag_weighted.size(), diag_repeated.size());
  for (std::size_t i = 0; i < diag_weighted.size(); ++i) {
    EXPECT_NEAR(diag_weighted[i], diag_repeated[i], 1e-12 * diag_repeated[i]);
  }
}

// CSR input (unsorted entries and a duplicate among them) gives the dense input's
// preconditioner bit for bit, centred scaling included; data wider than kMaxFeatures gets none.
TEST(SecondMomentPreconditioner, CsrRowsGiveTheDenseRowsPreconditioner) {
  const std::size_t n = 300, d = 17, k = 5;
  std::mt19937_64 rng(99);
  std::normal_distribution<float> g;
  std::bernoulli_distribution keep(0.3);
  softreg::DenseMatrix<float> x(n, d);
  softreg::CsrMatrix<float> csr;
  csr.rows = n;
  csr.cols = d;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = d; j-- > 0;) {  // backwards: unsorted within the row
      if (!keep(rng)) continue;
      const float v = g(rng);
      x(i, j) = v;
      if (j == 3) {  // entered as two halves, summed as the reader sums duplicates
        csr.indices.insert(csr.indices.end(), {3, 3});
        csr.values.insert(csr.values.end(), {v * 0.5f, v * 0.5f});
      } else {
        csr.indices.push_back(std::int32_t(j));
        csr.values.push_back(v);
      }
    }
    csr.indptr.push_back(std::int64_t(csr.indices.size()));
  }
  for (const auto kind : {softreg::Scaling::none, softreg::Scaling::standard}) {
    softreg::Preprocessing pre;
    pre.kind = kind;
    if (kind != softreg::Scaling::none) {
      for (std::size_t j = 0; j < d; ++j) {
        pre.offset.push_back(0.01 * double(j));
        pre.scale.push_back(2.0 - 0.03 * double(j));
      }
    }
    const softreg::FeatureMatrix<float> dense_features = x, sparse_features = csr;
    const auto a = softreg::detail::SecondMomentPreconditioner::build<float>(dense_features, pre,
                                                                             {}, {}, k, 1e-3);
    const auto b = softreg::detail::SecondMomentPreconditioner::build<float>(sparse_features, pre,
                                                                             {}, {}, k, 1e-3);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    std::normal_distribution<double> gd;
    std::vector<double> theta((d + 1) * k);
    for (double& v : theta) v = gd(rng);
    std::vector<double> ta = theta, tb = theta;
    a->apply(ta);
    b->apply(tb);
    EXPECT_EQ(ta, tb);
  }
  softreg::CsrMatrix<float> wide;
  wide.rows = 1;
  wide.cols = softreg::detail::SecondMomentPreconditioner::kMaxFeatures + 1;
  wide.indices = {0};
  wide.values = {1.0f};
  wide.indptr = {0, 1};
  const softreg::FeatureMatrix<float> wide_features = wide;
  EXPECT_EQ(
      softreg::detail::SecondMomentPreconditioner::build<float>(wide_features, {}, {}, {}, k, 1e-3),
      nullptr);
}

}  // namespace
