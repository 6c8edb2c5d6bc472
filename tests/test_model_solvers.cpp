// Tests of the second-order and variance-reduced solvers (newton-cg, saga): they reach the
// optimum L-BFGS reaches, on dense and sparse data, with weights and a validation split; they
// are bitwise independent of the thread count; SAGA refuses scaling.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "model/saga.hpp"
#include "model_fixtures.hpp"
#include "softreg/error.hpp"
#include "softreg/model.hpp"
#include "softreg/model_io.hpp"
#include "softreg/objective.hpp"

namespace {

using softreg_test::blobs;

// Overlapping blobs with a third of the entries zeroed, as dense and as CSR data.
softreg::Dataset<double> problem_data(bool sparse) {
  auto data = blobs<double>(700, 9, 4, 1.0, 23);
  auto& x = std::get<softreg::DenseMatrix<double>>(data.features);
  for (std::size_t i = 0; i < x.data.size(); i += 3) x.data[i] = 0.0;
  if (sparse) data.features = softreg_test::to_csr(x);
  return data;
}

softreg::TrainOptions tight(softreg::Solver solver) {
  softreg::TrainOptions o;
  o.solver = solver;
  o.l2 = 1e-3;
  o.max_iter = solver == softreg::Solver::saga ? 3000 : 500;
  o.tol = 1e-9;
  o.dtype = softreg::DType::float64;
  return o;
}

// The objective's value and gradient max-norm at a model's parameters, evaluated afresh.
std::pair<double, double> objective_at(const softreg::SoftmaxRegression& m,
                                       const softreg::Dataset<double>& data, double l2,
                                       const std::vector<double>& sample_weight = {}) {
  std::vector<double> theta = m.weights();
  theta.insert(theta.end(), m.bias().begin(), m.bias().end());
  std::vector<std::int64_t> y;
  for (const auto& l : data.labels) y.push_back(m.class_index(l));
  softreg::ObjectiveOptions oo;
  oo.l2 = l2;
  oo.sample_weight = sample_weight;
  softreg::SoftmaxObjective<double> f(data.features, y, m.n_classes(), oo);
  std::vector<double> g(f.n_params());
  const double value = f.evaluate(theta, g);
  double gmax = 0.0;
  for (const double v : g) gmax = std::max(gmax, std::fabs(v));
  return {value, gmax};
}

TEST(ModelSolvers, NewtonAndSagaReachTheLbfgsOptimumDenseAndSparse) {
  for (const bool sparse : {false, true}) {
    const auto data = problem_data(sparse);
    const auto reference = softreg::SoftmaxRegression::fit(data, tight(softreg::Solver::lbfgs));
    const auto [f_ref, g_ref] = objective_at(reference, data, 1e-3);
    for (const auto solver : {softreg::Solver::newton_cg, softreg::Solver::saga}) {
      const auto m = softreg::SoftmaxRegression::fit(data, tight(solver));
      const auto [value, gmax] = objective_at(m, data, 1e-3);
      const std::string what =
          std::string(softreg::solver_name(solver)) + (sparse ? " sparse" : " dense");
      EXPECT_TRUE(m.info().converged) << what << ": " << m.info().message;
      EXPECT_EQ(m.info().solver, solver) << what;
      EXPECT_NEAR(value, m.info().final_loss, 1e-12) << what;
      // tol 1e-9 on the gradient: the objective is within |g|^2 / lambda of the optimum.
      EXPECT_LE(gmax, 1e-9) << what;
      EXPECT_NEAR(value, f_ref, 1e-9) << what;
      // Strong convexity (at least lambda in W): ||w - w*|| <= ||g|| / lambda for each fit,
      // and ||g||_2 <= sqrt(parameters) max |g|.
      const double bound = std::sqrt(double(m.weights().size() + 4)) * (gmax + g_ref) / 1e-3 + 1e-9;
      for (std::size_t j = 0; j < m.weights().size(); ++j) {
        ASSERT_NEAR(m.weights()[j], reference.weights()[j], bound) << what << " weight " << j;
      }
    }
  }
}

// A step 16 times too long makes SAGA's objective rise; the guard halves the step until it
// descends, and the run still reaches L-BFGS's optimum (without the guard it does not).
TEST(ModelSolvers, SagaHalvesATooLongStepAndStillConverges) {
  const auto data = problem_data(true);
  const auto reference = softreg::SoftmaxRegression::fit(data, tight(softreg::Solver::lbfgs));
  const double f_ref = objective_at(reference, data, 1e-3).first;
  std::vector<std::int64_t> y;
  for (const auto& l : data.labels) y.push_back(reference.class_index(l));
  softreg::ObjectiveOptions oo;
  oo.l2 = 1e-3;
  softreg::SoftmaxObjective<double> f(data.features, y, 4, oo);
  softreg::detail::SagaProblem problem;
  problem.y = y;
  problem.k = 4;
  problem.l2 = 1e-3;
  for (const int threads : {1, 2}) {
    softreg::detail::SagaOptions o;
    o.epochs = 3000;
    o.grad_tol = 1e-9;
    o.step_scale = 16.0;
    o.threads = threads;
    std::vector<double> theta(f.n_params(), 0.0);
    const auto result = softreg::detail::saga<double>(
        data.features, problem, theta, o,
        [&](std::span<const double> th, std::span<double> g) { return f.evaluate(th, g); }, {}, {});
    EXPECT_TRUE(result.converged) << result.message;
    EXPECT_NEAR(result.loss, f_ref, 1e-9);
    bool rose = false;
    for (std::size_t e = 1; e < result.history.size(); ++e)
      rose = rose || result.history[e] > result.history[e - 1];
    EXPECT_TRUE(rose) << "the step was not too long: the test tests nothing";
  }
}

TEST(ModelSolvers, SampleWeightsAreHonouredBySaga) {
  const auto data = problem_data(true);
  std::vector<double> w(data.rows());
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.25 + double(i % 5);
  auto o = tight(softreg::Solver::saga);
  o.sample_weight = w;
  auto ref_options = tight(softreg::Solver::lbfgs);
  ref_options.sample_weight = w;
  const auto m = softreg::SoftmaxRegression::fit(data, o);
  const auto reference = softreg::SoftmaxRegression::fit(data, ref_options);
  EXPECT_NEAR(objective_at(m, data, 1e-3, w).first, objective_at(reference, data, 1e-3, w).first,
              1e-9);
}

TEST(ModelSolvers, BitwiseTheSameForAnyThreadCount) {
  const auto data = problem_data(true);
  for (const auto solver : {softreg::Solver::newton_cg, softreg::Solver::saga}) {
    auto o = tight(solver);
    o.max_iter = 20;
    o.dtype = softreg::DType::float32;
    o.valid_fraction = 0.2;
    o.threads = 1;
    softreg::Dataset<float> data32;
    data32.labels = data.labels;
    data32.features = softreg_test::cast_features<float>(data.features);
    const auto one = softreg::SoftmaxRegression::fit(data32, o);
    for (const int threads : {2, 3}) {
      o.threads = threads;
      const auto many = softreg::SoftmaxRegression::fit(data32, o);
      EXPECT_EQ(many.weights(), one.weights()) << softreg::solver_name(solver) << threads;
      EXPECT_EQ(many.info().final_loss, one.info().final_loss) << threads;
    }
  }
}

TEST(ModelSolvers, SagaRefusesScalingAndSaysWhy) {
  const auto data = problem_data(true);
  auto o = tight(softreg::Solver::saga);
  o.scale = softreg::Scaling::standard;
  try {
    softreg::SoftmaxRegression::fit(data, o);
    FAIL() << "no error";
  } catch (const softreg::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("saga"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("standard"), std::string::npos) << e.what();
  }
}

// A sparse problem of `cols` features and 4 classes: row i has features i % cols and
// (7 i) % cols, the first telling the class.
softreg::Dataset<double> wide_sparse(std::size_t cols) {
  softreg::Dataset<double> data;
  softreg::CsrMatrix<double> x;
  x.rows = 400;
  x.cols = cols;
  for (std::size_t i = 0; i < x.rows; ++i) {
    const std::size_t a = i % 4, b = 4 + (7 * i) % (cols - 4);
    x.indices.push_back(std::int32_t(a));
    x.indices.push_back(std::int32_t(b));
    x.values.push_back(1.0);
    x.values.push_back(0.5);
    x.indptr.push_back(std::int64_t(x.indices.size()));
    data.labels.push_back("c" + std::to_string(a));
  }
  data.features = std::move(x);
  return data;
}

TEST(ModelSolvers, AutoPicksSagaForLargeSparseDataElseLbfgs) {
  using softreg::Solver;
  softreg::TrainOptions o;
  EXPECT_EQ(o.solver, Solver::automatic);  // the default
  ASSERT_EQ(softreg::kSagaMinParameters, 100000u);
  // 4 classes: 25,000 features make 100,000 weights, 24,999 one short.
  EXPECT_EQ(softreg::choose_solver(wide_sparse(25000), o), Solver::saga);
  EXPECT_EQ(softreg::choose_solver(wide_sparse(24999), o), Solver::lbfgs);
  EXPECT_EQ(softreg::choose_solver(problem_data(true), o), Solver::lbfgs);   // small
  EXPECT_EQ(softreg::choose_solver(problem_data(false), o), Solver::lbfgs);  // dense
  auto scaled = o;
  scaled.scale = softreg::Scaling::standard;
  EXPECT_EQ(softreg::choose_solver(wide_sparse(25000), scaled), Solver::lbfgs);
  for (const Solver s : {Solver::lbfgs, Solver::newton_cg, Solver::sgd, Solver::adam}) {
    auto given = o;
    given.solver = s;
    EXPECT_EQ(softreg::choose_solver(wide_sparse(25000), given), s);
  }
  // A fit records the solver that ran; a warm start from a scaled model cannot take SAGA.
  o.max_iter = 5;
  const auto data = wide_sparse(25000);
  const auto fitted = softreg::SoftmaxRegression::fit(data, o);
  EXPECT_EQ(fitted.info().solver, Solver::saga);
  scaled.max_iter = 2;
  const auto scaled_model = softreg::SoftmaxRegression::fit(data, scaled);
  EXPECT_EQ(scaled_model.info().solver, Solver::lbfgs);
  const auto warm = softreg::SoftmaxRegression::fit(data, o, &scaled_model);
  EXPECT_EQ(warm.info().solver, Solver::lbfgs);
  auto record = fitted.info();
  record.solver = Solver::automatic;  // never stored: a fit resolves it
  const softreg::SoftmaxRegression odd(fitted.classes(), fitted.n_features(), fitted.weights(),
                                       fitted.bias(), fitted.preprocessing(), record);
  EXPECT_THROW(softreg::save_model(odd, ::testing::TempDir() + "/auto.srm"),
               softreg::InvalidArgument);
}

}  // namespace

/// SAGA on the float32 copy of problem_data(sparse), with the objective of the same float
/// values evaluated in float64 (the one SAGA's fixed point minimizes exactly).
using FloatSaga = softreg_test::SagaSetup<float, double>;

// Float data runs SAGA in float storage, then widens to double near the optimum with the sums
// recomputed: it reaches a gradient below float storage's floor (the optimum of the float
// values, evaluated in float64; kept in float throughout, widen_below 0, the same runs stall
// at a max-norm of 1.2e-9), dense and sparse, on 1 and 2 threads with the same bits.
TEST(ModelSolvers, SagaOnFloatDataWidensAndReachesTheOptimum) {
  for (const bool sparse : {true, false}) {
    SCOPED_TRACE(sparse ? "sparse" : "dense");
    FloatSaga run(problem_data(sparse), 4, 1e-3);
    std::vector<std::vector<double>> thetas;
    for (const int threads : {1, 2}) {
      softreg::detail::SagaOptions o;
      o.epochs = 3000;
      o.grad_tol = 1e-9;
      o.threads = threads;
      std::vector<double> theta;
      const auto result = run.run(o, theta);
      EXPECT_TRUE(result.converged) << result.message;
      std::vector<double> g(theta.size());
      run.f.evaluate(theta, g);
      double gmax = 0.0;
      for (const double v : g) gmax = std::max(gmax, std::fabs(v));
      EXPECT_LE(gmax, 1e-9);
      thetas.push_back(theta);
    }
    EXPECT_EQ(thetas[0], thetas[1]);
  }
}

// The float storage follows the double one's path to float precision (the losses of the first
// epochs agree to 1e-5 relative) without being it (the bits differ: it is in use).
TEST(ModelSolvers, SagaFloatStorageTracksTheDoubleOne) {
  for (const bool sparse : {true, false}) {
    SCOPED_TRACE(sparse ? "sparse" : "dense");
    FloatSaga run(problem_data(sparse), 4, 1e-3);
    std::vector<std::vector<double>> histories;
    for (const double widen_below : {0.0, std::numeric_limits<double>::infinity()}) {
      softreg::detail::SagaOptions o;
      o.epochs = 8;
      o.grad_tol = 0.0;
      o.widen_below = widen_below;
      std::vector<double> theta;
      histories.push_back(run.run(o, theta).history);
    }
    ASSERT_EQ(histories[0].size(), 8u);
    ASSERT_EQ(histories[1].size(), 8u);
    EXPECT_NE(histories[0], histories[1]);
    for (std::size_t e = 0; e < 8; ++e)
      EXPECT_NEAR(histories[0][e], histories[1][e], 1e-5 * histories[1][e]) << "epoch " << e + 1;
  }
}
