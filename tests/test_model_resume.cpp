// Tests of resuming stopped fits that keep more than the solver's counters: SAGA (its
// remembered gradients, and the epoch its overlapped evaluation ran ahead), a validation split
// (early stopping's best point and patience) and L-BFGS with l1 (OWL-QN). Each stops a fit
// through the progress callback, resumes it from the stopped model and compares the result
// with the fit never stopped, bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "model/saga.hpp"
#include "model_fixtures.hpp"
#include "softreg/model.hpp"
#include "softreg/names.hpp"
#include "softreg/objective.hpp"

namespace {

using softreg::SoftmaxRegression;
using softreg::Solver;
using softreg::TrainOptions;
using softreg_test::blobs;

/// The bit patterns of v: equal exactly when v is bitwise equal (NaN and -0 included).
std::vector<std::uint64_t> bits(const std::vector<double>& v) {
  std::vector<std::uint64_t> out;
  for (const double x : v) out.push_back(std::bit_cast<std::uint64_t>(x));
  return out;
}

/// Stops a fit with `options` after each iteration in `stops` (0: every iteration before the
/// last), resumes it from the stopped model and expects the uninterrupted fit's model and
/// record; `resumed_threads` (0: the same) is the thread count of the resumed fit.
template <class T>
void expect_resumes(const softreg::Dataset<T>& data, const TrainOptions& options,
                    const std::string& key, std::vector<int> stops = {}, int resumed_threads = 0) {
  const auto full = SoftmaxRegression::fit(data, options);
  ASSERT_GT(full.info().iterations, 2);
  if (stops.empty()) {
    for (int i = 1; i < full.info().iterations; ++i) stops.push_back(i);
  }
  for (const int stop_at : stops) {
    SCOPED_TRACE(std::string(softreg::solver_name(options.solver)) + " stopped at " +
                 std::to_string(stop_at));
    TrainOptions first = options;
    first.progress = [&](const softreg::Progress& p) { return p.iteration < stop_at; };
    const auto stopped = SoftmaxRegression::fit(data, first);
    ASSERT_EQ(stopped.info().iterations, stop_at);
    ASSERT_EQ(stopped.info().parameters.count(key), 1u);
    TrainOptions second = options;
    second.resume = true;
    if (resumed_threads > 0) second.threads = resumed_threads;
    const auto resumed = SoftmaxRegression::fit(data, second, &stopped);
    EXPECT_EQ(bits(resumed.weights()), bits(full.weights()));
    EXPECT_EQ(bits(resumed.bias()), bits(full.bias()));
    EXPECT_EQ(bits(resumed.info().loss_history), bits(full.info().loss_history));
    EXPECT_EQ(bits(resumed.info().valid_loss_history), bits(full.info().valid_loss_history));
    EXPECT_EQ(resumed.info().accuracy_history, full.info().accuracy_history);
    EXPECT_EQ(resumed.info().iterations, full.info().iterations);
    EXPECT_EQ(resumed.info().evaluations, full.info().evaluations);
    EXPECT_EQ(resumed.info().message, full.info().message);
    EXPECT_EQ(resumed.info().parameters.count(key), 0u);  // it ran to the end
  }
}

/// Sparse blobs for SAGA (its home ground; dense rows take the same path).
softreg::Dataset<double> sparse_blobs(std::size_t n, std::uint64_t seed) {
  auto data = blobs<double>(n, 8, 3, 0.8, seed);
  auto& dense = std::get<softreg::DenseMatrix<double>>(data.features);
  for (std::size_t i = 0; i < dense.rows; ++i) {
    for (std::size_t j = 0; j < dense.cols; ++j) {
      if ((i + j) % 3 == 0) dense(i, j) = 0.0;
    }
  }
  data.features = softreg_test::to_csr(dense);
  return data;
}

TrainOptions saga_options(int threads) {
  TrainOptions o;
  o.solver = Solver::saga;
  o.tol = 0.0;
  o.max_iter = 12;
  o.l2 = 1e-3;
  o.threads = threads;
  return o;
}

TEST(ModelResume, AStoppedSagaFitResumesBitForBit) {
  const auto data = sparse_blobs(300, 61);
  expect_resumes(data, saga_options(1), "resume.saga");
}

TEST(ModelResume, SagaStoppedWhileItsNextEpochRanResumesBitForBit) {
  // Two threads: the stop is seen with the next epoch already run, so the checkpoint holds
  // that epoch's state, and the resumed fit evaluates it first.
  const auto data = sparse_blobs(300, 62);
  const TrainOptions o = saga_options(2);
  expect_resumes(data, o, "resume.saga");
  // The iterates do not depend on the thread count: one thread continues it alike.
  expect_resumes(data, o, "resume.saga", {3, 7}, 1);
}

/// Stops setup's SAGA run with options o after every epoch before the last, resumes it from
/// the saved state and expects the uninterrupted run's iterate, history and evaluations;
/// `check` sees each saved state. Returns the uninterrupted iterate.
template <class T, class Check>
std::vector<double> expect_saga_resumes(softreg_test::SagaSetup<T>& setup,
                                        const softreg::detail::SagaOptions& o, Check check) {
  std::vector<double> whole;
  const auto uninterrupted = setup.run(o, whole);
  for (int stop_at = 1; stop_at < o.epochs; ++stop_at) {
    SCOPED_TRACE("threads " + std::to_string(o.threads) + ", stopped at " +
                 std::to_string(stop_at));
    softreg::detail::SagaState state;
    softreg::detail::SagaOptions first = o;
    first.save = &state;
    std::vector<double> theta;
    setup.run(first, theta, [&](const softreg::Progress& p) { return p.iteration < stop_at; });
    EXPECT_EQ(state.evaluated, stop_at);
    check(stop_at, state);
    softreg::detail::SagaOptions second = o;
    second.resume = &state;
    const auto resumed =
        softreg::detail::saga<T>(setup.x, setup.problem, theta, second, setup.full, {}, {});
    EXPECT_EQ(bits(theta), bits(whole));
    EXPECT_EQ(bits(resumed.history), bits(uninterrupted.history));
    EXPECT_EQ(resumed.evaluations, uninterrupted.evaluations);
  }
  return whole;
}

TEST(ModelResume, SagaWithAHalvedStepResumesBitForBit) {
  // Through the solver itself: a step 16 times too long rises and is halved, so the
  // checkpoints before and after a halving carry the step and the halving to come.
  softreg_test::SagaSetup<double> setup(sparse_blobs(200, 63), 3, 1e-3);
  std::vector<std::vector<double>> results;
  for (const int threads : {1, 2}) {
    softreg::detail::SagaOptions o;
    o.epochs = 30;
    o.grad_tol = 0.0;
    o.step_scale = 16.0;
    o.threads = threads;
    std::vector<double> whole;
    const auto uninterrupted = setup.run(o, whole);
    bool rose = false;
    for (std::size_t e = 1; e < uninterrupted.history.size(); ++e)
      rose = rose || uninterrupted.history[e] > uninterrupted.history[e - 1];
    ASSERT_TRUE(rose) << "the step was not too long: the test tests nothing";
    results.push_back(expect_saga_resumes(setup, o, [](int, const auto&) {}));
  }
  // The halvings, like the iterates, do not depend on the overlap of the evaluations.
  EXPECT_EQ(bits(results[0]), bits(results[1]));
}

TEST(ModelResume, SagaResumesAcrossItsWideningBitForBit) {
  // Float data: float storage first, double from the widening on. The threshold is the
  // gradient of epoch 4, so epoch 6 widens; checkpoints before, at and after it carry it.
  softreg_test::SagaSetup<float> setup(sparse_blobs(200, 66), 3, 1e-3);
  softreg::detail::SagaOptions o;
  o.epochs = 12;
  o.grad_tol = 0.0;
  std::vector<double> grads, theta;
  setup.run(o, theta, [&](const softreg::Progress& p) {
    grads.push_back(p.grad_norm);
    return true;
  });
  ASSERT_EQ(grads.size(), 12u);
  // Epoch 4's gradient is the first at or below the threshold.
  ASSERT_LT(grads[3], std::min({grads[0], grads[1], grads[2]}));
  o.widen_below = grads[3];
  for (const int threads : {1, 2}) {
    o.threads = threads;
    expect_saga_resumes(setup, o, [](int stop_at, const softreg::detail::SagaState& st) {
      EXPECT_EQ(st.widen_at, stop_at >= 4 ? 6 : 0);
    });
  }
}

/// Options of fits with a validation split that stop early on it (patience 3, no tolerance),
/// on blobs<double>(240, 5, 3, 0.6, 64).
TrainOptions validated(Solver solver) {
  TrainOptions o;
  o.solver = solver;
  o.valid_fraction = 0.25;
  o.patience = 3;
  o.tol = 0.0;
  o.l2 = 0.0;
  o.max_iter = 40;
  o.epochs = 30;
  o.batch_size = 16;
  o.lr = solver == Solver::sgd ? 0.5 : 0.05;
  o.threads = 2;
  return o;
}

TrainOptions validated_saga() {
  TrainOptions o = saga_options(2);
  o.valid_fraction = 0.25;
  o.patience = 2;
  o.l2 = 0.0;
  o.max_iter = 60;
  return o;
}

constexpr Solver kValidated[] = {Solver::lbfgs, Solver::newton_cg, Solver::sgd, Solver::adam};

TEST(ModelResume, FitsWithAValidationSplitResumeBitForBit) {
  // The uninterrupted fits stop early on the validation loss and return its best point (see
  // the test below), so the resumed ones must have kept the best point, its loss and the
  // count since.
  const auto data = blobs<double>(240, 5, 3, 0.6, 64);
  for (const Solver solver : kValidated) {
    const std::string key = solver == Solver::lbfgs       ? "resume.lbfgs"
                            : solver == Solver::newton_cg ? "resume.newton"
                                                          : "resume.stochastic";
    expect_resumes(data, validated(solver), key);
  }
  expect_resumes(sparse_blobs(60, 65), validated_saga(), "resume.saga");
}

TEST(ModelResume, TheValidationFitsStopEarly) {
  // The premise of the test above: without early stopping the best point would be the last.
  const auto data = blobs<double>(240, 5, 3, 0.6, 64);
  const std::string early = "validation loss stopped improving (early stopping)";
  for (const Solver solver : kValidated) {
    const auto m = SoftmaxRegression::fit(data, validated(solver));
    EXPECT_EQ(m.info().message, early) << softreg::solver_name(solver);
  }
  EXPECT_EQ(SoftmaxRegression::fit(sparse_blobs(60, 65), validated_saga()).info().message, early);
}

TEST(ModelResume, AStoppedOwlqnFitResumesBitForBit) {
  const auto data = blobs<double>(300, 10, 4, 0.8, 66);
  TrainOptions o;
  o.solver = Solver::lbfgs;
  o.l1 = 0.02;
  o.tol = 0.0;
  o.max_iter = 40;
  o.scale = softreg::Scaling::standard;
  o.threads = 2;
  expect_resumes(data, o, "resume.lbfgs");
  // The l1 term made exact zeros: it is OWL-QN's path that was continued.
  const auto m = SoftmaxRegression::fit(data, o);
  int zeros = 0;
  for (const double w : m.weights()) zeros += w == 0.0;
  EXPECT_GT(zeros, 0);
}

}  // namespace
