// Tests of the optimizers on functions with known minima.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "softreg/error.hpp"
#include "softreg/optim.hpp"

namespace {

double rosenbrock(std::span<const double> x, std::span<double> g) {
  double f = 0.0;
  std::fill(g.begin(), g.end(), 0.0);
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const double a = x[i + 1] - x[i] * x[i];
    const double b = 1.0 - x[i];
    f += 100.0 * a * a + b * b;
    g[i] += -400.0 * x[i] * a - 2.0 * b;
    g[i + 1] += 200.0 * a;
  }
  return f;
}

TEST(Lbfgs, FindsTheRosenbrockMinimum) {
  std::vector<double> x{-1.2, 1.0, -1.2, 1.0, 0.5, -0.3};
  softreg::LbfgsOptions o;
  o.max_iterations = 500;
  o.grad_tol = 1e-9;
  const auto r = softreg::lbfgs(rosenbrock, x, o);
  EXPECT_TRUE(r.converged) << r.message;
  for (const double v : x) EXPECT_NEAR(v, 1.0, 1e-6);
  EXPECT_LT(r.loss, 1e-12);
  EXPECT_EQ(static_cast<std::size_t>(r.iterations), r.history.size());
}

TEST(Lbfgs, ConvergesOnAnIllConditionedQuadratic) {
  // f = sum_i c_i (x_i - i)^2 / 2 with condition number 1e3 (scipy L-BFGS-B needs 331
  // iterations at memory 10).
  const std::size_t n = 50;
  auto f = [&](std::span<const double> x, std::span<double> g) {
    double v = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double c = std::pow(10.0, 3.0 * double(i) / double(n - 1));
      v += 0.5 * c * (x[i] - double(i)) * (x[i] - double(i));
      g[i] = c * (x[i] - double(i));
    }
    return v;
  };
  std::vector<double> x(n, 0.0);
  softreg::LbfgsOptions o;
  o.max_iterations = 2000;
  o.grad_tol = 1e-8;
  o.rel_loss_tol = 0.0;
  const auto r = softreg::lbfgs(f, x, o);
  EXPECT_TRUE(r.converged) << r.message;
  for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(x[i], double(i), 1e-6);
}

// sum_i (1 + i) (x_i - 0.5)^2 / 2 + 1 over 20 coordinates, value and gradient rounded to float.
constexpr std::size_t kRoundedN = 20;
double rounded_quadratic(std::span<const double> x, std::span<double> g) {
  double v = 1.0;
  for (std::size_t i = 0; i < kRoundedN; ++i) {
    const double c = 1.0 + double(i);
    v += 0.5 * c * (x[i] - 0.5) * (x[i] - 0.5);
    g[i] = double(float(c * (x[i] - 0.5)));
  }
  return double(float(v));
}

// An objective whose values carry float32 rounding (as the float32 passes do): with tol 0 the
// line search eventually finds no decrease. With f_resolution covering that rounding this is
// convergence at the precision limit, near the optimum; without it, it is not.
TEST(Lbfgs, AFailedLineSearchAtTheObjectivesResolutionIsConvergence) {
  const std::size_t n = kRoundedN;
  const auto f = rounded_quadratic;
  for (const double resolution : {0.0, 64.0 * 6e-8}) {
    std::vector<double> x(n, 0.0);
    softreg::LbfgsOptions o;
    o.max_iterations = 500;
    o.grad_tol = 0.0;
    o.rel_loss_tol = 0.0;
    o.f_resolution = resolution;
    const auto r = softreg::lbfgs(f, x, o);
    EXPECT_LT(r.iterations, 500) << "the line search never failed: the test tests nothing";
    EXPECT_NE(r.message.find("precision limit"), std::string::npos) << r.message;
    EXPECT_EQ(r.converged, resolution > 0.0) << r.message;
    for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(x[i], 0.5, 1e-2) << i;
  }
}

// The same for Newton-CG: a rejected step whose predicted decrease is within the resolution.
TEST(Newton, ARejectedStepAtTheObjectivesResolutionIsConvergence) {
  const std::size_t n = kRoundedN;
  const auto f = rounded_quadratic;
  // The exact Hessian is diagonal; its products rounded as the gradient is.
  auto hv = [&](std::span<const double> v, std::span<double> out) {
    for (std::size_t i = 0; i < n; ++i) out[i] = double(float((1.0 + double(i)) * v[i]));
  };
  for (const double resolution : {0.0, 64.0 * 6e-8}) {
    std::vector<double> x(n, 0.0);
    softreg::NewtonOptions o;
    o.max_iterations = 500;
    o.grad_tol = 0.0;
    o.rel_loss_tol = 0.0;
    o.f_resolution = resolution;
    const auto r = softreg::newton_cg(f, hv, x, o);
    EXPECT_LT(r.iterations, 500) << "no step was ever rejected: the test tests nothing";
    EXPECT_NE(r.message.find("precision limit"), std::string::npos) << r.message;
    EXPECT_EQ(r.converged, resolution > 0.0) << r.message;
    for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(x[i], 0.5, 1e-3) << i;
  }
}

TEST(Lbfgs, AStoppedRunResumesToTheUninterruptedResultBitForBit) {
  softreg::LbfgsOptions o;
  o.max_iterations = 300;
  o.grad_tol = 1e-10;
  o.memory = 5;  // fewer pairs than iterations: the oldest must be dropped in the same order
  const std::vector<double> x0{-1.2, 1.0, -1.2, 1.0, 0.5, -0.3};
  std::vector<double> whole = x0;
  const auto full = softreg::lbfgs(rosenbrock, whole, o);
  ASSERT_GT(full.iterations, 20);
  for (int stop_at = 1; stop_at <= full.iterations; ++stop_at) {
    std::vector<double> x = x0;
    softreg::LbfgsState state;
    softreg::LbfgsOptions first = o;
    first.save = &state;
    const auto cut = softreg::lbfgs(
        rosenbrock, x, first, [&](const softreg::Progress& p) { return p.iteration < stop_at; });
    ASSERT_EQ(cut.iterations, stop_at);
    softreg::LbfgsOptions second = o;
    second.resume = &state;
    const auto rest = softreg::lbfgs(rosenbrock, x, second);
    EXPECT_EQ(x, whole) << "stopped at " << stop_at;
    EXPECT_EQ(rest.iterations, full.iterations) << stop_at;
    EXPECT_EQ(rest.evaluations, full.evaluations) << stop_at;
    EXPECT_EQ(rest.history, full.history) << stop_at;
    EXPECT_EQ(rest.message, full.message) << stop_at;
    EXPECT_EQ(rest.converged, full.converged) << stop_at;
  }
  softreg::LbfgsState wrong;
  wrong.s = {std::vector<double>(3, 1.0)};
  wrong.y = {std::vector<double>(3, 1.0)};
  wrong.rho = {1.0};
  softreg::LbfgsOptions bad = o;
  bad.resume = &wrong;
  std::vector<double> x = x0;
  EXPECT_THROW(softreg::lbfgs(rosenbrock, x, bad), softreg::InvalidArgument);
}

TEST(Lbfgs, ExactDiagonalPreconditionerSolvesAQuadraticAtOnce) {
  // With h0 = the exact inverse Hessian of a diagonal quadratic, the first direction -h0 g
  // points at the minimum; the run must finish in a handful of iterations where plain L-BFGS
  // needs hundreds (see the test above).
  const std::size_t n = 50;
  std::vector<double> c(n), h0(n);
  for (std::size_t i = 0; i < n; ++i) {
    c[i] = std::pow(10.0, 3.0 * double(i) / double(n - 1));
    h0[i] = 1.0 / c[i];
  }
  auto f = [&](std::span<const double> x, std::span<double> g) {
    double v = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      v += 0.5 * c[i] * (x[i] - 1.0) * (x[i] - 1.0);
      g[i] = c[i] * (x[i] - 1.0);
    }
    return v;
  };
  std::vector<double> x(n, 0.0);
  softreg::LbfgsOptions o;
  o.grad_tol = 1e-9;
  o.h0_diagonal = h0;
  const auto r = softreg::lbfgs(f, x, o);
  EXPECT_TRUE(r.converged) << r.message;
  EXPECT_LE(r.iterations, 5);
  for (const double v : x) EXPECT_NEAR(v, 1.0, 1e-9);
  o.h0_diagonal.assign(n - 1, 1.0);
  EXPECT_THROW(softreg::lbfgs(f, x, o), softreg::InvalidArgument);
}

TEST(Lbfgs, StopsWhenTheCallbackSaysSo) {
  std::vector<double> x{-1.2, 1.0};
  int calls = 0;
  const auto r = softreg::lbfgs(rosenbrock, x, {}, [&](const softreg::Progress& p) {
    ++calls;
    EXPECT_EQ(p.iteration, calls);
    return calls < 3;
  });
  EXPECT_EQ(r.iterations, 3);
  EXPECT_FALSE(r.converged);
}

TEST(Lbfgs, RejectsBadOptionsAndNonFiniteStart) {
  std::vector<double> x{1.0};
  softreg::LbfgsOptions o;
  o.c2 = 1e-5;  // below c1
  EXPECT_THROW(softreg::lbfgs(rosenbrock, x, o), softreg::InvalidArgument);
  auto nan_f = [](std::span<const double>, std::span<double> g) {
    g[0] = 0.0;
    return NAN;
  };
  EXPECT_THROW(softreg::lbfgs(nan_f, x, {}), softreg::Error);
}

// Least squares over n rows: f = mean_i (a_i . x - t_i)^2 / 2, minimum at x* = (1, -2, 3).
struct LeastSquares {
  std::vector<std::vector<double>> a;
  std::vector<double> t;
  LeastSquares() {
    for (int i = 0; i < 400; ++i) {
      std::vector<double> row{std::sin(i * 0.7), std::cos(i * 1.3), 1.0};
      t.push_back(row[0] - 2.0 * row[1] + 3.0 * row[2]);
      a.push_back(row);
    }
  }
  double operator()(std::span<const double> x, std::span<double> g,
                    std::span<const std::size_t> rows) const {
    std::fill(g.begin(), g.end(), 0.0);
    double f = 0.0;
    for (const std::size_t i : rows) {
      double r = -t[i];
      for (std::size_t j = 0; j < 3; ++j) r += a[i][j] * x[j];
      f += 0.5 * r * r;
      for (std::size_t j = 0; j < 3; ++j) g[j] += r * a[i][j];
    }
    for (double& v : g) v /= double(rows.size());
    return f / double(rows.size());
  }
};

TEST(OwlQn, SolvesASeparableLassoExactly) {
  // f = sum_i c_i (x_i - t_i)^2 / 2 + l1 sum_{i < m} |x_i|: each penalized coordinate is the
  // soft threshold sign(t_i) max(|t_i| - l1 / c_i, 0), exactly 0 inside the threshold; the
  // last two coordinates are not penalized.
  const std::vector<double> c{1.0, 4.0, 0.5, 2.0, 10.0, 1.0, 3.0, 0.25};
  const std::vector<double> t{2.0, -0.1, 0.3, -3.0, 0.05, -0.7, 0.2, -0.1};
  auto f = [&](std::span<const double> x, std::span<double> g) {
    double v = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      v += 0.5 * c[i] * (x[i] - t[i]) * (x[i] - t[i]);
      g[i] = c[i] * (x[i] - t[i]);
    }
    return v;
  };
  softreg::LbfgsOptions o;
  o.l1 = 0.6;
  o.l1_count = 6;
  o.grad_tol = 1e-12;
  o.rel_loss_tol = 0.0;
  o.max_iterations = 200;
  std::vector<double> x(8, 1.0);
  const auto r = softreg::lbfgs(f, x, o);
  EXPECT_TRUE(r.converged) << r.message;
  double expected_loss = 0.0;
  for (std::size_t i = 0; i < 8; ++i) {
    const double shrink = i < 6 ? o.l1 / c[i] : 0.0;
    const double want = std::copysign(std::max(std::fabs(t[i]) - shrink, 0.0), t[i]);
    if (want == 0.0) {
      EXPECT_EQ(x[i], 0.0) << i;  // exactly
    } else {
      EXPECT_NEAR(x[i], want, 1e-10) << i;
    }
    expected_loss +=
        0.5 * c[i] * (want - t[i]) * (want - t[i]) + (i < 6 ? o.l1 * std::fabs(want) : 0.0);
  }
  EXPECT_NEAR(r.loss, expected_loss, 1e-12);
  EXPECT_EQ(r.history.back(), r.loss);
  EXPECT_LE(r.grad_norm, 1e-12);
}

TEST(OwlQn, MatchesAProximalGradientReferenceOnACoupledProblem) {
  // f = ||A x - b||^2 / 2 with a dense A: the L1 solution by plain proximal gradient (ISTA,
  // many iterations) as the reference.
  const std::size_t m = 12, n = 6;
  std::vector<double> a(m * n), b(m);
  for (std::size_t i = 0; i < m * n; ++i) a[i] = std::sin(1.7 * double(i) + 0.3);
  for (std::size_t i = 0; i < m; ++i) b[i] = std::cos(0.9 * double(i));
  auto f = [&](std::span<const double> x, std::span<double> g) {
    std::fill(g.begin(), g.end(), 0.0);
    double v = 0.0;
    for (std::size_t i = 0; i < m; ++i) {
      double r = -b[i];
      for (std::size_t j = 0; j < n; ++j) r += a[i * n + j] * x[j];
      v += 0.5 * r * r;
      for (std::size_t j = 0; j < n; ++j) g[j] += r * a[i * n + j];
    }
    return v;
  };
  const double l1 = 0.05;
  std::vector<double> ref(n, 0.0), g(n);
  double lipschitz = 0.0;  // the Frobenius norm squared bounds the largest eigenvalue
  for (const double v : a) lipschitz += v * v;
  for (int it = 0; it < 200000; ++it) {
    f(ref, g);
    for (std::size_t j = 0; j < n; ++j) {
      const double z = ref[j] - g[j] / lipschitz;
      ref[j] = std::copysign(std::max(std::fabs(z) - l1 / lipschitz, 0.0), z);
    }
  }
  softreg::LbfgsOptions o;
  o.l1 = l1;
  o.l1_count = n;
  o.grad_tol = 1e-11;
  o.rel_loss_tol = 0.0;
  o.max_iterations = 500;
  std::vector<double> x(n, 0.0);
  const auto r = softreg::lbfgs(f, x, o);
  EXPECT_TRUE(r.converged) << r.message;
  int zeros = 0;
  for (std::size_t j = 0; j < n; ++j) {
    EXPECT_NEAR(x[j], ref[j], 1e-8) << j;
    EXPECT_EQ(x[j] == 0.0, ref[j] == 0.0) << j;
    zeros += x[j] == 0.0;
  }
  EXPECT_GT(zeros, 0);  // the penalty is strong enough to zero some coordinates
  EXPECT_LT(zeros, int(n));
}

TEST(Stochastic, SgdAndAdamReachTheLeastSquaresMinimum) {
  const LeastSquares ls;
  softreg::StochasticOptions o;
  o.epochs = 200;
  o.batch_size = 32;
  o.lr = 0.05;
  o.schedule = softreg::LrSchedule::cosine;
  std::vector<double> x(3, 0.0);
  auto r = softreg::sgd(ls, 400, x, o);
  EXPECT_NEAR(x[0], 1.0, 1e-3);
  EXPECT_NEAR(x[1], -2.0, 1e-3);
  EXPECT_NEAR(x[2], 3.0, 1e-3);
  EXPECT_EQ(r.iterations, 200);
  std::vector<double> y(3, 0.0);
  o.lr = 0.05;
  r = softreg::adam(ls, 400, y, o);
  EXPECT_NEAR(y[0], 1.0, 1e-3);
  EXPECT_NEAR(y[1], -2.0, 1e-3);
  EXPECT_NEAR(y[2], 3.0, 1e-3);
}

TEST(Stochastic, SameSeedSameResultOtherSeedOtherPath) {
  const LeastSquares ls;
  softreg::StochasticOptions o;
  o.epochs = 3;
  o.batch_size = 16;
  o.lr = 0.01;
  std::vector<double> a(3, 0.0), b(3, 0.0), c(3, 0.0);
  softreg::sgd(ls, 400, a, o);
  softreg::sgd(ls, 400, b, o);
  o.seed = 99;
  softreg::sgd(ls, 400, c, o);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Stochastic, AStoppedRunResumesToTheUninterruptedResultBitForBit) {
  const LeastSquares ls;
  for (const bool use_adam : {false, true}) {
    softreg::StochasticOptions o;
    o.epochs = 12;
    o.batch_size = 37;  // a short last batch
    o.lr = use_adam ? 0.05 : 0.05;
    o.schedule = softreg::LrSchedule::cosine;  // depends on the step count
    o.seed = 5;
    auto run = [&](std::vector<double>& x, const softreg::StochasticOptions& opt,
                   const softreg::ProgressCallback& cb) {
      return use_adam ? softreg::adam(ls, 400, x, opt, cb) : softreg::sgd(ls, 400, x, opt, cb);
    };
    std::vector<double> whole(3, 0.0);
    const auto full = run(whole, o, {});
    for (int stop_at = 1; stop_at < o.epochs; ++stop_at) {
      std::vector<double> x(3, 0.0);
      softreg::StochasticState state;
      softreg::StochasticOptions first = o;
      first.save = &state;
      run(x, first, [&](const softreg::Progress& p) { return p.iteration < stop_at; });
      ASSERT_EQ(state.epochs, stop_at);
      softreg::StochasticOptions second = o;
      second.resume = &state;
      const auto rest = run(x, second, {});
      EXPECT_EQ(x, whole) << (use_adam ? "adam" : "sgd") << " stopped at " << stop_at;
      EXPECT_EQ(rest.history, full.history) << stop_at;
      EXPECT_EQ(rest.evaluations, full.evaluations) << stop_at;
      EXPECT_EQ(rest.iterations, full.iterations) << stop_at;
    }
  }
}

TEST(Stochastic, DivergenceIsReportedNotHidden) {
  const LeastSquares ls;
  softreg::StochasticOptions o;
  o.epochs = 50;
  o.lr = 1e6;
  o.momentum = 0.0;
  std::vector<double> x(3, 0.0);
  const auto r = softreg::sgd(ls, 400, x, o);
  EXPECT_TRUE(r.diverged);
  EXPECT_FALSE(std::isfinite(r.loss));
  EXPECT_EQ(
      r.message.rfind("diverged in epoch " + std::to_string(r.iterations + 1) + " (mini-batch ", 0),
      0u)
      << r.message;
  EXPECT_NE(r.message.find("lower the learning rate (1000000"), std::string::npos) << r.message;
  // x is the last finite epoch's iterate: that of the same run given only those epochs.
  ASSERT_GE(r.iterations, 1) << "diverged in the first epoch: the test tests little";
  softreg::StochasticOptions shorter = o;
  shorter.epochs = r.iterations;
  std::vector<double> y(3, 0.0);
  const auto s = softreg::sgd(ls, 400, y, shorter);
  EXPECT_FALSE(s.diverged);
  EXPECT_EQ(x, y);
  EXPECT_EQ(r.history, s.history);
}

TEST(Stochastic, EarlyStoppingKeepsTheBestEpoch) {
  const LeastSquares ls;
  softreg::StochasticOptions o;
  o.epochs = 100;
  o.lr = 0.01;
  o.patience = 2;
  // A validation loss that is best at epoch 3 and worse after: the run stops at epoch 5 and
  // leaves x as it was after epoch 3.
  int epoch = 0;
  std::vector<double> at_best;
  std::vector<double> x(3, 0.0);
  auto valid = [&](std::span<const double> v) {
    ++epoch;
    if (epoch == 3) at_best.assign(v.begin(), v.end());
    return std::fabs(double(epoch) - 3.0);
  };
  const auto r = softreg::sgd(ls, 400, x, o, {}, valid);
  EXPECT_EQ(r.iterations, 5);
  EXPECT_EQ(std::vector<double>(x.begin(), x.end()), at_best);
}

}  // namespace
