// Tests of temperature scaling (fit_temperature) and the calibration metrics (ECE, MCE, Brier,
// reliability bins), and of a model's temperature in its predictions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "softreg/calibration.hpp"
#include "softreg/error.hpp"
#include "softreg/metrics.hpp"
#include "softreg/model.hpp"

namespace {

using softreg::fit_temperature;

/// n rows of K logits z ~ N(0, spread^2) with labels drawn from softmax(z): calibrated by
/// construction. The logits returned are scale * z.
struct Problem {
  std::vector<double> logits;
  std::vector<std::int64_t> y;
};

Problem calibrated_problem(std::size_t n, std::size_t k, double spread, double scale,
                           std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, spread);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Problem p;
  std::vector<double> z(k), prob(k);
  for (std::size_t i = 0; i < n; ++i) {
    double m = -INFINITY, s = 0.0;
    for (auto& v : z) m = std::max(m, v = normal(rng));
    for (std::size_t c = 0; c < k; ++c) s += prob[c] = std::exp(z[c] - m);
    double u = uniform(rng) * s;
    std::size_t label = k - 1;
    for (std::size_t c = 0; c < k; ++c) {
      if ((u -= prob[c]) < 0) {
        label = c;
        break;
      }
    }
    p.y.push_back(std::int64_t(label));
    for (double v : z) p.logits.push_back(scale * v);
  }
  return p;
}

std::vector<double> softmax_rows(const std::vector<double>& z, std::size_t k, double t) {
  std::vector<double> p(z.size());
  for (std::size_t i = 0; i < z.size() / k; ++i) {
    double m = -INFINITY, s = 0.0;
    for (std::size_t c = 0; c < k; ++c) m = std::max(m, z[i * k + c] / t);
    for (std::size_t c = 0; c < k; ++c) s += p[i * k + c] = std::exp(z[i * k + c] / t - m);
    for (std::size_t c = 0; c < k; ++c) p[i * k + c] /= s;
  }
  return p;
}

TEST(FitTemperature, RecoversTheScaleOfOverconfidentLogitsAndLowersEce) {
  const std::size_t k = 5;
  const Problem p = calibrated_problem(40000, k, 2.0, 3.0, 1);
  const auto fit = fit_temperature(std::span<const double>(p.logits), k, p.y);
  EXPECT_NEAR(fit.temperature, 3.0, 0.02 * 3.0);
  EXPECT_FALSE(fit.at_bound);
  EXPECT_LT(fit.loss_after, fit.loss_before);
  const auto before = softreg::calibration_metrics(
      std::span<const double>(softmax_rows(p.logits, k, 1.0)), k, p.y, 15);
  const auto after = softreg::calibration_metrics(
      std::span<const double>(softmax_rows(p.logits, k, fit.temperature)), k, p.y, 15);
  EXPECT_GT(before.ece, 0.1);  // scaled by 3: far too sure
  EXPECT_LT(after.ece, 0.02);
  EXPECT_LT(after.brier, before.brier);
  // Underconfident logits (scale 1/2) give T near 1/2; float logits the same T.
  const Problem q = calibrated_problem(40000, k, 2.0, 0.5, 2);
  EXPECT_NEAR(fit_temperature(std::span<const double>(q.logits), k, q.y).temperature, 0.5, 0.01);
  const std::vector<float> qf(q.logits.begin(), q.logits.end());
  EXPECT_NEAR(fit_temperature(std::span<const float>(qf), k, q.y).temperature, 0.5, 0.01);
}

TEST(FitTemperature, TheFittedTemperatureIsTheMinimumOfTheLogLoss) {
  const std::size_t k = 3;
  const Problem p = calibrated_problem(500, k, 1.5, 1.7, 3);
  const std::span<const double> z(p.logits);
  const auto fit = fit_temperature(z, k, p.y);
  const double at = softreg::temperature_log_loss(z, k, p.y, fit.temperature);
  EXPECT_DOUBLE_EQ(at, fit.loss_after);
  EXPECT_DOUBLE_EQ(softreg::temperature_log_loss(z, k, p.y, 1.0), fit.loss_before);
  for (double f : {0.99, 0.999, 1.001, 1.01}) {
    EXPECT_GT(softreg::temperature_log_loss(z, k, p.y, fit.temperature * f), at) << f;
  }
  EXPECT_LE(fit.iterations, 12);
}

TEST(FitTemperature, SeparableDataStopsAtTheSmallestTemperature) {
  // Every row's true class has the largest logit: the loss falls all the way to T -> 0.
  const std::vector<double> z = {3, 1, 0, 0, 2, -1, -1, 0, 0.5};
  const std::vector<std::int64_t> y = {0, 1, 2};
  const auto fit = fit_temperature(std::span<const double>(z), 3, y);
  EXPECT_TRUE(fit.at_bound);
  EXPECT_EQ(fit.temperature, 1e-2);
  softreg::TemperatureOptions o;
  o.min_temperature = 0.5;
  EXPECT_EQ(fit_temperature(std::span<const double>(z), 3, y, o).temperature, 0.5);
  // The true class below its row's mean: T goes to the largest value.
  const std::vector<std::int64_t> wrong = {2, 2, 0};
  const auto up = fit_temperature(std::span<const double>(z), 3, wrong);
  EXPECT_TRUE(up.at_bound);
  EXPECT_EQ(up.temperature, 1e2);
}

TEST(FitTemperature, EdgeCases) {
  // K = 1: every probability is 1 whatever T.
  const std::vector<double> one = {5, -3, 0};
  const std::vector<std::int64_t> zeros = {0, 0, 0};
  const auto k1 = fit_temperature(std::span<const double>(one), 1, zeros);
  EXPECT_EQ(k1.temperature, 1.0);
  EXPECT_EQ(k1.loss_before, 0.0);
  // Rows that are constant: T cannot matter.
  const std::vector<double> flat = {2, 2, 2, -1, -1, -1};
  EXPECT_EQ(fit_temperature(std::span<const double>(flat), 3, std::vector<std::int64_t>{0, 2})
                .temperature,
            1.0);
  // No rows.
  try {
    fit_temperature(std::span<const double>(), 3, std::vector<std::int64_t>{});
    ADD_FAILURE() << "n = 0 was accepted";
  } catch (const softreg::InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "softreg::fit_temperature: no rows to calibrate on (n = 0)");
  }
  // A NaN logit names its row and column.
  std::vector<double> bad = {1, 2, 3, 4, 5, std::nan("")};
  try {
    fit_temperature(std::span<const double>(bad), 3, std::vector<std::int64_t>{0, 1});
    ADD_FAILURE() << "a NaN logit was accepted";
  } catch (const softreg::InvalidArgument& e) {
    EXPECT_STREQ(e.what(),
                 "softreg::fit_temperature: logit [1, 2] (row 1) is NaN; temperature scaling "
                 "needs finite logits");
  }
  bad[5] = -INFINITY;
  EXPECT_THROW(fit_temperature(std::span<const double>(bad), 3, std::vector<std::int64_t>{0, 1}),
               softreg::InvalidArgument);
  EXPECT_THROW(fit_temperature(std::span<const double>(flat), 3, std::vector<std::int64_t>{0, 3}),
               softreg::InvalidArgument);
  EXPECT_THROW(fit_temperature(std::span<const double>(flat), 4, std::vector<std::int64_t>{0, 1}),
               softreg::InvalidArgument);
  softreg::TemperatureOptions o;
  o.min_temperature = 2.0;
  EXPECT_THROW(
      fit_temperature(std::span<const double>(flat), 3, std::vector<std::int64_t>{0, 1}, o),
      softreg::InvalidArgument);
  EXPECT_THROW(softreg::temperature_log_loss(std::span<const double>(flat), 3,
                                             std::vector<std::int64_t>{0, 1}, 0.0),
               softreg::InvalidArgument);
  EXPECT_TRUE(std::isnan(softreg::temperature_log_loss(std::span<const double>(), 3,
                                                       std::vector<std::int64_t>{}, 1.0)));
}

TEST(CalibrationMetrics, HandComputedValues) {
  // Confidences 0.9 (right), 0.6 (wrong), 0.7 (right), 0.55 (right); 2 bins: [0, 0.5), [0.5, 1].
  const std::vector<double> p = {0.9, 0.1, 0.4, 0.6, 0.7, 0.3, 0.55, 0.45};
  const std::vector<std::int64_t> y = {0, 0, 0, 0};
  const auto c = softreg::calibration_metrics(std::span<const double>(p), 2, y, 2);
  ASSERT_EQ(c.bins.size(), 2u);
  EXPECT_EQ(c.bins[0].count, 0u);
  EXPECT_TRUE(std::isnan(c.bins[0].confidence));
  EXPECT_EQ(c.bins[1].count, 4u);
  EXPECT_DOUBLE_EQ(c.bins[1].confidence, (0.9 + 0.6 + 0.7 + 0.55) / 4);
  EXPECT_DOUBLE_EQ(c.bins[1].accuracy, 0.75);
  EXPECT_DOUBLE_EQ(c.ece, std::fabs(0.75 - 0.6875));
  EXPECT_DOUBLE_EQ(c.mce, c.ece);
  // Brier: (0.1^2 + 0.1^2) + (0.6^2 + 0.6^2) + (0.3^2 + 0.3^2) + (0.45^2 + 0.45^2), over 4.
  EXPECT_NEAR(c.brier, (0.02 + 0.72 + 0.18 + 0.405) / 4, 1e-15);
  // Bin edges: a score on an edge goes up (searchsorted right); 1 is in the last bin.
  const std::vector<double> s = {0.0, 0.1, 0.3, 0.30000000000000004, 0.5, 1.0};
  const std::vector<std::uint8_t> o = {0, 1, 1, 0, 1, 1};
  const auto bins = softreg::reliability_bins(s, o, 10);
  std::vector<std::size_t> counts;
  for (const auto& b : bins) counts.push_back(b.count);
  EXPECT_EQ(counts, (std::vector<std::size_t>{1, 1, 1, 1, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(bins[3].lower, 3 * 0.1);
  EXPECT_EQ(bins[9].upper, 1.0);
  EXPECT_THROW(softreg::reliability_bins(std::vector<double>{1.5}, std::vector<std::uint8_t>{1}, 4),
               softreg::InvalidArgument);
  EXPECT_THROW(softreg::reliability_bins(s, o, 0), softreg::InvalidArgument);
  const auto empty =
      softreg::calibration_metrics(std::span<const double>(), 2, std::vector<std::int64_t>{}, 15);
  EXPECT_TRUE(std::isnan(empty.ece) && std::isnan(empty.mce) && std::isnan(empty.brier));
}

TEST(CalibrationMetrics, EvaluatePredictionsCarriesThem) {
  const std::size_t k = 4;
  const Problem p = calibrated_problem(300, k, 1.0, 2.0, 5);
  const auto prob = softmax_rows(p.logits, k, 1.0);
  std::vector<double> logp(prob.size());
  for (std::size_t i = 0; i < prob.size(); ++i) logp[i] = std::log(prob[i]);
  const auto e = softreg::evaluate_predictions(std::span<const double>(logp), k, p.y, 7);
  const auto c = softreg::calibration_metrics(std::span<const double>(prob), k, p.y, 7);
  EXPECT_EQ(e.calibration.bins.size(), 7u);
  EXPECT_NEAR(e.calibration.ece, c.ece, 1e-12);
  EXPECT_NEAR(e.calibration.mce, c.mce, 1e-12);
  EXPECT_NEAR(e.calibration.brier, c.brier, 1e-12);
}

TEST(ModelTemperature, DividesTheLogitsOfTheProbabilitiesOnly) {
  const softreg::SoftmaxRegression m({"a", "b", "c"}, 2, {1, -1, 0.5, 2, 0, -2}, {0.1, 0.2, 0.3},
                                     {}, {});
  EXPECT_EQ(m.temperature(), 1.0);
  const auto hot = m.with_temperature(2.5);
  EXPECT_EQ(hot.temperature(), 2.5);
  softreg::DenseMatrix<double> x(2, 2);
  x.data = {1.0, 2.0, -0.5, 0.25};
  const softreg::FeatureMatrix<double> fx(x);
  std::vector<double> z(6), p(6), logp(6), z2(6);
  m.decision_function(fx, std::span<double>(z));
  hot.decision_function(fx, std::span<double>(z2));
  EXPECT_EQ(z, z2);
  hot.predict_proba(fx, std::span<double>(p));
  hot.predict_log_proba(fx, std::span<double>(logp));
  const auto want = softmax_rows(z, 3, 2.5);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(p[i], want[i], 1e-15);
    EXPECT_NEAR(logp[i], std::log(want[i]), 1e-14);
  }
  EXPECT_EQ(hot.predict(fx), m.predict(fx));
  EXPECT_THROW(m.with_temperature(0.0), softreg::InvalidArgument);
  EXPECT_THROW(m.with_temperature(std::nan("")), softreg::InvalidArgument);
  EXPECT_THROW(softreg::SoftmaxRegression({"a"}, 0, {}, {0.0}, {}, {}, {}, -1.0),
               softreg::InvalidArgument);
}

TEST(ModelTemperature, FitRecordsTheAccuracyAndValidationHistories) {
  const Problem p = calibrated_problem(600, 3, 1.0, 1.0, 7);
  softreg::Dataset<double> data;
  softreg::DenseMatrix<double> x(600, 3);
  x.data = p.logits;  // features: the logits themselves
  data.features = x;
  for (auto c : p.y) data.labels.push_back(std::to_string(c));
  softreg::TrainOptions o;
  o.solver = softreg::Solver::lbfgs;
  o.max_iter = 8;
  o.valid_fraction = 0.25;
  const auto m = softreg::SoftmaxRegression::fit(data, o);
  const auto& info = m.info();
  ASSERT_FALSE(info.loss_history.empty());
  EXPECT_EQ(info.accuracy_history.size(), info.loss_history.size());
  EXPECT_EQ(info.valid_loss_history.size(), info.loss_history.size());
  EXPECT_EQ(info.valid_accuracy_history.size(), info.loss_history.size());
  for (std::size_t i = 0; i < info.loss_history.size(); ++i) {
    EXPECT_GT(info.accuracy_history[i], 0.4);
    EXPECT_LE(info.accuracy_history[i], 1.0);
    EXPECT_GT(info.valid_loss_history[i], 0.0);
    EXPECT_GE(info.valid_accuracy_history[i], 0.0);
  }
  EXPECT_EQ(m.temperature(), 1.0);
  for (auto solver : {softreg::Solver::sgd, softreg::Solver::newton_cg, softreg::Solver::saga}) {
    o.solver = solver;
    o.valid_fraction = 0.0;
    o.epochs = 3;
    const auto n = softreg::SoftmaxRegression::fit(data, o);
    EXPECT_EQ(n.info().accuracy_history.size(), n.info().loss_history.size())
        << softreg::solver_name(solver);
    EXPECT_TRUE(n.info().valid_loss_history.empty());
  }
}

}  // namespace
