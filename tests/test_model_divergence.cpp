// Tests of fits whose loss becomes NaN or infinite: they stop with the epoch, and keep the
// model of the last finite epoch, which a fit given only those epochs reproduces.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "model/saga.hpp"
#include "model_fixtures.hpp"
#include "softreg/model.hpp"
#include "softreg/objective.hpp"

namespace {

using softreg::SoftmaxRegression;
using softreg::Solver;
using softreg_test::blobs;

TEST(ModelDivergence, SgdThrowsWithTheLastFiniteModel) {
  // lr l2 = 100: each step multiplies W by about -99, so the loss overflows after some
  // epochs. (Adam's steps are of size lr whatever the gradient: it overflows in its first
  // epoch or not at all; it shares SGD's loop.)
  const auto data = blobs<double>(200, 4, 3, 2.0, 71);
  {
    softreg::TrainOptions o;
    o.solver = Solver::sgd;
    o.epochs = 200;
    o.batch_size = 20;
    o.lr = 1e6;
    o.l2 = 1e-4;
    o.momentum = 0.0;
    try {
      SoftmaxRegression::fit(data, o);
      FAIL() << "no divergence";
    } catch (const softreg::FitDiverged& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("diverged in epoch " + std::to_string(e.epoch())), std::string::npos)
          << what;
      EXPECT_FALSE(std::isfinite(e.loss()));
      ASSERT_GE(e.epoch(), 2) << "diverged in the first epoch: the test tests little";
      const SoftmaxRegression& last = e.last_good();
      EXPECT_EQ(last.info().iterations, e.epoch() - 1);
      EXPECT_EQ(last.info().loss_history.size(), std::size_t(e.epoch() - 1));
      for (const double w : last.weights()) ASSERT_TRUE(std::isfinite(w));
      // The reference: the same fit given only the finite epochs.
      softreg::TrainOptions shorter = o;
      shorter.epochs = e.epoch() - 1;
      const auto ref = SoftmaxRegression::fit(data, shorter);
      EXPECT_EQ(last.weights(), ref.weights());
      EXPECT_EQ(last.bias(), ref.bias());
      EXPECT_EQ(last.info().loss_history, ref.info().loss_history);
      EXPECT_EQ(last.info().parameters.at("epochs"), std::to_string(o.epochs));
    }
  }
}

/// SAGA with l2 = 0.1 and a step `scale` times too long, on 200 rows in 3 blobs: the
/// penalty's shrinkage factor 1 - step l2 is below -1, so W grows geometrically, the objective
/// rises and the step is halved after each rise. Returns the result; theta holds the iterate.
softreg::OptimResult long_steps(double scale, int epochs, int threads, std::vector<double>& theta) {
  static const auto data = blobs<double>(200, 6, 3, 1.0, 72);
  std::vector<std::int64_t> y;
  for (const auto& l : data.labels) y.push_back(std::stoll(l));
  softreg::ObjectiveOptions oo;
  oo.l2 = 0.1;
  softreg::SoftmaxObjective<double> f(data.features, y, 3, oo);
  softreg::detail::SagaProblem problem;
  problem.y = y;
  problem.k = 3;
  problem.l2 = 0.1;
  softreg::detail::SagaOptions o;
  o.epochs = epochs;
  o.grad_tol = 0.0;
  o.step_scale = scale;
  o.threads = threads;
  // Double storage from the start: W's geometric growth would pass float's range (and
  // diverge) within the first epoch, before a halving could be seen.
  o.widen_below = std::numeric_limits<double>::infinity();
  theta.assign(f.n_params(), 0.0);
  return softreg::detail::saga<double>(
      data.features, problem, theta, o,
      [&](std::span<const double> th, std::span<double> g) { return f.evaluate(th, g); }, {}, {});
}

TEST(ModelDivergence, SagaReturnsTheLastFiniteIterate) {
  // 1500 times too long: the objective overflows in the second epoch.
  for (const int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    std::vector<double> theta, ref;
    const auto r = long_steps(1500.0, 50, threads, theta);
    ASSERT_TRUE(r.diverged) << r.message;
    EXPECT_EQ(r.message.rfind("diverged in epoch " + std::to_string(r.iterations + 1), 0), 0u)
        << r.message;
    ASSERT_GE(r.iterations, 1) << "diverged in the first epoch: the test tests little";
    for (const double v : theta) ASSERT_TRUE(std::isfinite(v));
    const auto s = long_steps(1500.0, r.iterations, threads, ref);
    EXPECT_FALSE(s.diverged);
    EXPECT_EQ(theta, ref);
    EXPECT_EQ(r.history, s.history);
  }
}

TEST(ModelDivergence, SagaHalvesItsStepAlikeForAnyThreadCount) {
  // 1000 times too long: the objective rises in two epochs in a row, so the second rise is
  // judged while the first one's halving is pending (one thread) or applied (two, whose
  // evaluation overlaps the next epoch); both must halve both times.
  std::vector<double> one, two;
  const auto r1 = long_steps(1000.0, 6, 1, one);
  const auto r2 = long_steps(1000.0, 6, 2, two);
  ASSERT_GE(r1.history.size(), 3u);
  ASSERT_TRUE(r1.history[1] > r1.history[0]) << "no second rise in a row: the test tests nothing";
  EXPECT_EQ(one, two);
  EXPECT_EQ(r1.history, r2.history);
}

}  // namespace
