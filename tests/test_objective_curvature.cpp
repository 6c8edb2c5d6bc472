// Tests of the objective's Hessian-vector products (SoftmaxObjective::hessian_vector_sum)
// against central differences of its gradient, dense and sparse, weighted, over row subsets,
// and for thread-count independence; and of the sparse gradient's column pass on large,
// skewed columns.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "model_fixtures.hpp"
#include "softreg/error.hpp"
#include "softreg/objective.hpp"

namespace {

using softreg_test::blobs;

struct Problem {
  softreg::DenseMatrix<double> x;
  std::vector<std::int64_t> y;
  std::size_t k;
  std::vector<double> theta, v;
};

// Dense blobs with a third of the entries zeroed (so the CSR form is really sparse), a random
// theta and a random direction.
Problem make_problem(std::size_t n, std::size_t d, std::size_t k, std::uint64_t seed) {
  auto data = blobs<double>(n, d, k, 1.0, seed);
  Problem p{std::get<softreg::DenseMatrix<double>>(data.features), {}, k, {}, {}};
  for (std::size_t i = 0; i < p.x.data.size(); i += 3) p.x.data[i] = 0.0;
  for (const auto& l : data.labels) p.y.push_back(std::stoll(l));
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<double> normal(0.0, 0.5);
  p.theta.resize(d * k + k);
  p.v.resize(d * k + k);
  for (auto& t : p.theta) t = normal(rng);
  for (auto& t : p.v) t = normal(rng);
  return p;
}

// (grad sums(theta + h v) - grad sums(theta - h v)) / 2h, the reference for H v.
std::vector<double> difference_quotient(softreg::SoftmaxObjective<double>& f, const Problem& p,
                                        std::span<const std::size_t> rows) {
  const double h = 1e-5;
  std::vector<double> plus = p.theta, minus = p.theta, gp(f.n_params()), gm(f.n_params());
  for (std::size_t j = 0; j < plus.size(); ++j) {
    plus[j] += h * p.v[j];
    minus[j] -= h * p.v[j];
  }
  if (rows.empty()) {
    f.sums(plus, gp);
    f.sums(minus, gm);
  } else {
    f.sums(plus, gp, rows);
    f.sums(minus, gm, rows);
  }
  std::vector<double> out(gp.size());
  for (std::size_t j = 0; j < out.size(); ++j) out[j] = (gp[j] - gm[j]) / (2 * h);
  return out;
}

void expect_hessian_product(softreg::FeatureMatrix<double>& fx, const Problem& p,
                            const softreg::ObjectiveOptions& o, std::span<const std::size_t> rows) {
  softreg::SoftmaxObjective<double> f(fx, p.y, p.k, o);
  const std::vector<double> reference = difference_quotient(f, p, rows);
  f.keep_probabilities(true);
  std::vector<double> g(f.n_params()), hv(f.n_params());
  if (rows.empty()) {
    f.sums(p.theta, g);
  } else {
    f.sums(p.theta, g, rows);
  }
  f.hessian_vector_sum(p.v, hv);
  double scale = 0.0;
  for (const double r : reference) scale = std::max(scale, std::fabs(r));
  // Central differences of a smooth function: error O(h^2 |third derivative|) ~ 1e-9 here.
  for (std::size_t j = 0; j < hv.size(); ++j) {
    EXPECT_NEAR(hv[j], reference[j], 1e-7 * std::max(1.0, scale)) << "parameter " << j;
  }
}

TEST(ObjectiveCurvature, HessianProductMatchesDifferencesOfTheGradient) {
  const Problem p = make_problem(301, 7, 4, 5);
  softreg::ObjectiveOptions o;
  o.block_rows = 32;
  softreg::FeatureMatrix<double> dense = p.x;
  softreg::FeatureMatrix<double> sparse = softreg_test::to_csr(p.x);
  expect_hessian_product(dense, p, o, {});
  expect_hessian_product(sparse, p, o, {});
}

TEST(ObjectiveCurvature, WeightsAndRowSubsetsAreHonoured) {
  const Problem p = make_problem(257, 6, 5, 9);
  softreg::ObjectiveOptions o;
  o.block_rows = 16;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.0, 2.0);
  for (std::size_t i = 0; i < 257; ++i) o.sample_weight.push_back(u(rng));
  o.class_weight = {1.0, 0.5, 2.0, 0.0, 1.5};
  const std::vector<std::size_t> rows{0, 5, 9, 100, 101, 102, 200, 256, 3, 77, 140};
  softreg::FeatureMatrix<double> dense = p.x;
  softreg::FeatureMatrix<double> sparse = softreg_test::to_csr(p.x);
  for (auto* fx : {&dense, &sparse}) {
    expect_hessian_product(*fx, p, o, {});
    expect_hessian_product(*fx, p, o, rows);
  }
}

TEST(ObjectiveCurvature, FloatProductsAgreeWithDoubleAndThreadsDoNotMatter) {
  const Problem p = make_problem(3001, 9, 6, 13);
  softreg::DenseMatrix<float> xf(p.x.rows, p.x.cols);
  for (std::size_t i = 0; i < xf.data.size(); ++i) xf.data[i] = float(p.x.data[i]);
  softreg::DenseMatrix<double> xd = p.x;
  for (auto& v : xd.data) v = double(float(v));
  softreg::FeatureMatrix<double> fd = softreg_test::to_csr(xd);
  softreg::FeatureMatrix<float> ff = softreg_test::to_csr(xf);
  softreg::ObjectiveOptions o;
  o.block_rows = 64;
  softreg::SoftmaxObjective<double> f64(fd, p.y, p.k, o);
  f64.keep_probabilities(true);
  std::vector<double> g(f64.n_params()), h64(f64.n_params());
  f64.sums(p.theta, g);
  f64.hessian_vector_sum(p.v, h64);
  std::vector<std::vector<double>> h32;
  for (const int threads : {1, 2, 3}) {
    o.threads = threads;
    softreg::SoftmaxObjective<float> f32(ff, p.y, p.k, o);
    f32.keep_probabilities(true);
    std::vector<double> h(f32.n_params());
    f32.sums(p.theta, g);
    f32.hessian_vector_sum(p.v, h);
    h32.push_back(h);
  }
  EXPECT_EQ(h32[0], h32[1]);
  EXPECT_EQ(h32[0], h32[2]);
  double scale = 0.0;
  for (const double r : h64) scale = std::max(scale, std::fabs(r));
  // float32 rows: each entry a sum of 3001 products rounded at 2^-24 relative.
  for (std::size_t j = 0; j < h64.size(); ++j) EXPECT_NEAR(h32[0][j], h64[j], 1e-4 * scale);
}

TEST(ObjectiveCurvature, ProductsNeedKeptProbabilities) {
  const Problem p = make_problem(50, 3, 2, 1);
  softreg::FeatureMatrix<double> fx = p.x;
  softreg::SoftmaxObjective<double> f(fx, p.y, p.k, {});
  std::vector<double> g(f.n_params()), hv(f.n_params());
  EXPECT_THROW(f.hessian_vector_sum(p.v, hv), softreg::InvalidArgument);
  f.sums(p.theta, g);  // a pass without keeping: still nothing to multiply by
  EXPECT_THROW(f.hessian_vector_sum(p.v, hv), softreg::InvalidArgument);
  f.keep_probabilities(true);
  f.sums(p.theta, g);
  EXPECT_NO_THROW(f.hessian_vector_sum(p.v, hv));
  std::vector<double> short_out(3);
  EXPECT_THROW(f.hessian_vector_sum(p.v, short_out), softreg::InvalidArgument);
  f.keep_probabilities(false);
  EXPECT_THROW(f.hessian_vector_sum(p.v, hv), softreg::InvalidArgument);
}

// Sparse gradients by columns against the dense pass, on a Zipf-like matrix whose first
// columns hold most entries (the thread split by entries then cuts inside the column range
// unevenly), for 1 to 4 threads, bitwise across counts.
TEST(ObjectiveCurvature, SparseColumnPassMatchesDenseOnSkewedColumns) {
  const std::size_t n = 2000, d = 300, k = 7;
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  softreg::DenseMatrix<double> x(n, d);
  std::vector<std::int64_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    y[i] = std::int64_t(i % k);
    for (std::size_t j = 0; j < d; ++j) {
      if (u(rng) < 0.5 / double(j + 1)) x(i, j) = u(rng) + 0.1 * double(y[i]);
    }
  }
  std::vector<double> theta(d * k + k);
  for (auto& t : theta) t = u(rng) - 0.5;
  softreg::FeatureMatrix<double> dense = x;
  softreg::FeatureMatrix<double> sparse = softreg_test::to_csr(x);
  softreg::ObjectiveOptions o;
  softreg::SoftmaxObjective<double> fd(dense, y, k, o);
  std::vector<double> gd(fd.n_params());
  const double vd = fd.evaluate(theta, gd);
  std::vector<std::vector<double>> grads;
  for (const int threads : {1, 2, 3, 4}) {
    o.threads = threads;
    softreg::SoftmaxObjective<double> fs(sparse, y, k, o);
    std::vector<double> gs(fs.n_params());
    EXPECT_NEAR(fs.evaluate(theta, gs), vd, 1e-12);
    grads.push_back(gs);
  }
  for (std::size_t j = 0; j < gd.size(); ++j) EXPECT_NEAR(grads[0][j], gd[j], 1e-12);
  for (std::size_t t = 1; t < grads.size(); ++t) EXPECT_EQ(grads[t], grads[0]);
}

}  // namespace
