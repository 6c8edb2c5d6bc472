// Tests of the fused softmax-regression objective: value against plain loops, gradient against
// finite differences, dense against sparse, float against double, threads and mini-batches.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "model_fixtures.hpp"
#include "softreg/error.hpp"
#include "softreg/objective.hpp"

namespace {

using softreg_test::blobs;
using softreg_test::naive_objective;

struct Problem {
  softreg::DenseMatrix<double> x;
  std::vector<std::int64_t> y;
  std::size_t k;
  std::vector<double> theta;
};

Problem make_problem(std::size_t n, std::size_t d, std::size_t k, std::uint64_t seed) {
  auto data = blobs<double>(n, d, k, 1.0, seed);
  Problem p{std::get<softreg::DenseMatrix<double>>(data.features), {}, k, {}};
  for (const auto& l : data.labels) p.y.push_back(std::stoll(l));
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<double> normal(0.0, 0.5);
  p.theta.resize(d * k + k);
  for (auto& t : p.theta) t = normal(rng);
  return p;
}

TEST(Objective, ValueMatchesPlainLoopsWithWeightsAndPenalty) {
  // 613 rows: not a multiple of the block size, so the last block is partial.
  Problem p = make_problem(613, 7, 4, 11);
  softreg::FeatureMatrix<double> fx = p.x;
  softreg::ObjectiveOptions o;
  o.l2 = 0.3;
  o.block_rows = 64;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.1, 2.0);
  for (std::size_t i = 0; i < 613; ++i) o.sample_weight.push_back(u(rng));
  o.class_weight = {1.0, 0.5, 2.0, 0.0};
  softreg::SoftmaxObjective<double> f(fx, p.y, p.k, o);
  std::vector<double> g(f.n_params());
  const double value = f.evaluate(p.theta, g);
  const long double ref =
      naive_objective(p.x, p.y, p.k, p.theta, 0.3, o.sample_weight, o.class_weight);
  EXPECT_NEAR(value, double(ref), 1e-12 * std::fabs(double(ref)));
}

TEST(Objective, GradientMatchesCentralDifferences) {
  Problem p = make_problem(97, 5, 3, 3);
  softreg::FeatureMatrix<double> fx = p.x;
  softreg::ObjectiveOptions o;
  o.l2 = 0.05;
  o.block_rows = 16;
  o.class_weight = {1.0, 3.0, 0.5};
  softreg::SoftmaxObjective<double> f(fx, p.y, p.k, o);
  std::vector<double> g(f.n_params()), dummy;
  f.evaluate(p.theta, g);
  for (std::size_t j = 0; j < p.theta.size(); ++j) {
    const double h = 1e-5;
    auto plus = p.theta, minus = p.theta;
    plus[j] += h;
    minus[j] -= h;
    const double fd = (f.evaluate(plus, dummy) - f.evaluate(minus, dummy)) / (2 * h);
    EXPECT_NEAR(g[j], fd, 1e-8) << "parameter " << j;
  }
}

TEST(Objective, SparseEqualsDense) {
  Problem p = make_problem(300, 12, 5, 8);
  for (std::size_t i = 0; i < p.x.data.size(); i += 3) p.x.data[i] = 0.0;  // real sparsity
  softreg::FeatureMatrix<double> dense = p.x;
  softreg::FeatureMatrix<double> sparse = softreg_test::to_csr(p.x);
  softreg::ObjectiveOptions o;
  o.l2 = 0.01;
  softreg::SoftmaxObjective<double> fd(dense, p.y, p.k, o);
  softreg::SoftmaxObjective<double> fs(sparse, p.y, p.k, o);
  std::vector<double> gd(fd.n_params()), gs(fs.n_params());
  EXPECT_NEAR(fd.evaluate(p.theta, gd), fs.evaluate(p.theta, gs), 1e-12);
  for (std::size_t j = 0; j < gd.size(); ++j) EXPECT_NEAR(gd[j], gs[j], 1e-12);
}

TEST(Objective, FloatAgreesWithDouble) {
  Problem p = make_problem(1000, 20, 10, 4);
  softreg::DenseMatrix<float> xf(p.x.rows, p.x.cols);
  for (std::size_t i = 0; i < xf.data.size(); ++i) xf.data[i] = float(p.x.data[i]);
  for (auto& v : p.x.data) v = double(float(v));  // the same inputs for both
  softreg::FeatureMatrix<double> fx = p.x;
  softreg::FeatureMatrix<float> ff = xf;
  softreg::ObjectiveOptions o;
  o.l2 = 1e-3;
  softreg::SoftmaxObjective<double> f64(fx, p.y, p.k, o);
  softreg::SoftmaxObjective<float> f32(ff, p.y, p.k, o);
  std::vector<double> g64(f64.n_params()), g32(f32.n_params());
  const double v64 = f64.evaluate(p.theta, g64);
  const double v32 = f32.evaluate(p.theta, g32);
  EXPECT_NEAR(v32, v64, 1e-5 * v64);
  for (std::size_t j = 0; j < g64.size(); ++j) EXPECT_NEAR(g32[j], g64[j], 1e-5);
}

TEST(Objective, ThreadsAreDeterministicAndAgree) {
  Problem p = make_problem(5000, 10, 6, 9);
  softreg::FeatureMatrix<double> fx = p.x;
  std::vector<double> results;
  std::vector<std::vector<double>> grads;
  for (const int threads : {1, 2, 2, 3}) {
    softreg::ObjectiveOptions o;
    o.threads = threads;
    o.block_rows = 128;
    softreg::SoftmaxObjective<double> f(fx, p.y, p.k, o);
    std::vector<double> g(f.n_params());
    results.push_back(f.evaluate(p.theta, g));
    grads.push_back(g);
  }
  EXPECT_EQ(results[1], results[2]);  // bitwise: same thread count
  EXPECT_EQ(grads[1], grads[2]);
  EXPECT_NEAR(results[0], results[1], 1e-12 * results[0]);
  EXPECT_NEAR(results[0], results[3], 1e-12 * results[0]);
}

TEST(Objective, RowSubsetEqualsObjectiveOfThoseRows) {
  Problem p = make_problem(200, 6, 3, 21);
  std::vector<std::size_t> rows{3, 7, 7, 150, 199, 0};
  softreg::DenseMatrix<double> sub(rows.size(), p.x.cols);
  std::vector<std::int64_t> sub_y;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (std::size_t j = 0; j < p.x.cols; ++j) sub(r, j) = p.x(rows[r], j);
    sub_y.push_back(p.y[rows[r]]);
  }
  softreg::FeatureMatrix<double> fx = p.x, fs = sub;
  softreg::ObjectiveOptions o;
  o.l2 = 0.2;
  softreg::SoftmaxObjective<double> f(fx, p.y, 3, o), fsub(fs, sub_y, 3, o);
  std::vector<double> g1(f.n_params()), g2(f.n_params());
  EXPECT_NEAR(f.evaluate_rows(p.theta, g1, rows), fsub.evaluate(p.theta, g2), 1e-13);
  for (std::size_t j = 0; j < g1.size(); ++j) EXPECT_NEAR(g1[j], g2[j], 1e-13);
}

// The raw sums are what data-parallel shards add up: the sums of two disjoint row sets add to
// the sums of their union (loss, weight, gradient, counts), and penalized_mean() of the total
// is evaluate(), to rounding (1e-12 relative; the shards sum in another order).
TEST(Objective, SumsOfShardsAddUpToTheWholeAndNormaliseOnce) {
  Problem p = make_problem(301, 5, 4, 31);
  softreg::FeatureMatrix<double> fx = p.x;
  softreg::ObjectiveOptions o;
  o.l2 = 0.25;
  o.block_rows = 32;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(0.2, 3.0);
  for (std::size_t i = 0; i < 301; ++i) o.sample_weight.push_back(u(rng));
  o.class_weight = {1.0, 2.0, 0.5, 1.5};
  softreg::SoftmaxObjective<double> f(fx, p.y, p.k, o);
  std::vector<std::size_t> a, b;
  for (std::size_t i = 0; i < 301; ++i) (i % 3 == 1 ? a : b).push_back(i);
  const std::size_t np = f.n_params();
  std::vector<double> ga(np), gb(np), g_all(np);
  const softreg::ObjectiveSums sa = f.sums(p.theta, ga, a);
  const softreg::ObjectiveSums sb = f.sums(p.theta, gb, b);
  const softreg::ObjectiveSums whole = f.sums(p.theta, g_all);
  EXPECT_NEAR(sa.loss + sb.loss, whole.loss, 1e-12 * whole.loss);
  EXPECT_NEAR(sa.weight + sb.weight, whole.weight, 1e-12 * whole.weight);
  EXPECT_EQ(sa.rows + sb.rows, 301u);
  EXPECT_EQ(sa.correct + sb.correct, whole.correct);
  double total_weight = 0.0;
  for (const double w : o.sample_weight) total_weight += w;
  EXPECT_NEAR(whole.weight, total_weight, 1e-12 * total_weight);
  // An empty row list is none of the rows (not all of them).
  std::vector<double> g_none(np, 7.0);
  const softreg::ObjectiveSums none = f.sums(p.theta, g_none, std::span<const std::size_t>{});
  EXPECT_EQ(none.rows, 0u);
  EXPECT_EQ(none.loss, 0.0);
  EXPECT_EQ(none.weight, 0.0);
  for (const double v : g_none) EXPECT_EQ(v, 0.0);

  softreg::ObjectiveSums combined = sa;
  combined.loss += sb.loss;
  combined.weight += sb.weight;
  std::vector<double> g(np);
  for (std::size_t j = 0; j < np; ++j) g[j] = ga[j] + gb[j];
  const double value = softreg::penalized_mean(combined, p.theta, p.k, g, o.l2);
  std::vector<double> g_eval(np);
  const double expected = f.evaluate(p.theta, g_eval);
  EXPECT_NEAR(value, expected, 1e-12 * std::fabs(expected));
  for (std::size_t j = 0; j < np; ++j)
    EXPECT_NEAR(g[j], g_eval[j], 1e-12 * (1 + std::fabs(g_eval[j])));
  const long double ref =
      naive_objective(p.x, p.y, p.k, p.theta, 0.25, o.sample_weight, o.class_weight);
  EXPECT_NEAR(value, double(ref), 1e-12 * std::fabs(double(ref)));
}

// The penalty is (l2 / 2) ||W||^2 on W only, and a sum over no rows leaves the penalty alone.
TEST(Objective, PenalizedMeanLeavesTheBiasAlone) {
  const std::vector<double> theta{1.0, -2.0, 3.0, 4.0, 10.0, 20.0};  // W 2 x 2, b 2
  std::vector<double> grad{2.0, 4.0, 6.0, 8.0, 10.0, 12.0};
  softreg::ObjectiveSums sums;
  sums.loss = 3.0;
  sums.weight = 2.0;
  EXPECT_DOUBLE_EQ(softreg::penalized_mean(sums, theta, 2, grad, 0.5),
                   1.5 + 0.25 * (1.0 + 4.0 + 9.0 + 16.0));
  const std::vector<double> expected{1.5, 1.0, 4.5, 6.0, 5.0, 6.0};
  for (std::size_t j = 0; j < grad.size(); ++j) EXPECT_DOUBLE_EQ(grad[j], expected[j]) << j;
  EXPECT_DOUBLE_EQ(softreg::penalized_mean({}, theta, 2, {}, 0.5), 0.25 * 30.0);
}

TEST(Objective, TrainingAccuracyIsCounted) {
  Problem p = make_problem(400, 4, 4, 2);
  softreg::FeatureMatrix<double> fx = p.x;
  softreg::SoftmaxObjective<double> f(fx, p.y, 4, {});
  std::vector<double> g;
  f.evaluate(p.theta, g);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < p.x.rows; ++i) {
    std::vector<double> z(4);
    for (std::size_t c = 0; c < 4; ++c) {
      z[c] = p.theta[16 + c];
      for (std::size_t j = 0; j < 4; ++j) z[c] += p.x(i, j) * p.theta[j * 4 + c];
    }
    const auto best = std::max_element(z.begin(), z.end()) - z.begin();
    correct += best == p.y[i] ? 1 : 0;
  }
  EXPECT_DOUBLE_EQ(f.last_accuracy(), double(correct) / 400.0);
  // All logits tie at theta = 0: every row is predicted class 0, as predict and argmax do.
  std::fill(p.theta.begin(), p.theta.end(), 0.0);
  f.evaluate(p.theta, g);
  const auto zeros = std::count(p.y.begin(), p.y.end(), std::int64_t{0});
  ASSERT_GT(zeros, 0);
  EXPECT_DOUBLE_EQ(f.last_accuracy(), double(zeros) / 400.0);
}

TEST(Objective, RejectsBadInput) {
  Problem p = make_problem(10, 2, 2, 1);
  softreg::FeatureMatrix<double> fx = p.x;
  auto y = p.y;
  y[4] = 2;
  EXPECT_THROW(softreg::SoftmaxObjective<double>(fx, y, 2, {}), softreg::InvalidArgument);
  y.pop_back();
  EXPECT_THROW(softreg::SoftmaxObjective<double>(fx, y, 2, {}), softreg::InvalidArgument);
  softreg::ObjectiveOptions o;
  o.sample_weight.assign(10, 1.0);
  o.sample_weight[3] = -1.0;
  EXPECT_THROW(softreg::SoftmaxObjective<double>(fx, p.y, 2, o), softreg::InvalidArgument);
  o.sample_weight.clear();
  o.l2 = NAN;
  EXPECT_THROW(softreg::SoftmaxObjective<double>(fx, p.y, 2, o), softreg::InvalidArgument);
}

}  // namespace
