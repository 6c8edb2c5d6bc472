// Tests of SoftmaxRegression: fitting, optimality, classes, preprocessing, determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "model_fixtures.hpp"
#include "softreg/error.hpp"
#include "softreg/model.hpp"
#include "softreg/objective.hpp"

namespace {

using softreg_test::blobs;

std::vector<std::int64_t> indices(const softreg::SoftmaxRegression& m,
                                  const std::vector<std::string>& labels) {
  std::vector<std::int64_t> y;
  for (const auto& l : labels) y.push_back(m.class_index(l));
  return y;
}

TEST(Model, SeparableBlobsAreLearnedByEverySolver) {
  const auto data = blobs<float>(600, 5, 4, 8.0, 1);
  for (const auto solver : {softreg::Solver::lbfgs, softreg::Solver::sgd, softreg::Solver::adam}) {
    softreg::TrainOptions o;
    o.solver = solver;
    o.epochs = 20;
    o.lr = solver == softreg::Solver::adam ? 0.05 : 0.1;
    const auto m = softreg::SoftmaxRegression::fit(data, o);
    EXPECT_GE(m.score(data.features, data.labels), 0.99) << softreg::solver_name(solver);
  }
}

TEST(Model, LbfgsReachesAStationaryPointOfTheObjective) {
  // Overlapping blobs so the optimum is interior; its gradient, computed independently by the
  // objective in double, must vanish.
  const auto data = blobs<double>(500, 6, 3, 1.0, 7);
  softreg::TrainOptions o;
  o.l2 = 1e-2;
  o.max_iter = 500;
  o.tol = 1e-10;
  o.dtype = softreg::DType::float64;
  const auto m = softreg::SoftmaxRegression::fit(data, o);
  EXPECT_TRUE(m.info().converged) << m.info().message;
  std::vector<double> theta = m.weights();
  theta.insert(theta.end(), m.bias().begin(), m.bias().end());
  const auto y = indices(m, data.labels);
  softreg::ObjectiveOptions oo;
  oo.l2 = 1e-2;
  softreg::SoftmaxObjective<double> f(data.features, y, 3, oo);
  std::vector<double> g(f.n_params());
  const double value = f.evaluate(theta, g);
  EXPECT_NEAR(value, m.info().final_loss, 1e-12);
  // L-BFGS stops on a relative decrease of 1e-10 first; a gradient of 1e-6 then bounds the
  // distance to the optimum's objective by |g|^2 / lambda ~ 1e-10.
  for (const double v : g) EXPECT_LT(std::fabs(v), 1e-6);
}

// The Adam warm-up of L-BFGS changes the path, not the optimum: with and without it the fit
// reaches the same objective (to the stopping tolerance), and the record says it ran. It is
// automatic from kAutoWarmupRows rows, and off below that or when asked.
TEST(Model, LbfgsWarmupReachesTheSameOptimumAndIsRecorded) {
  const auto data = blobs<float>(softreg::TrainOptions::kAutoWarmupRows, 8, 4, 1.5, 21);
  softreg::TrainOptions o;
  o.max_iter = 300;
  o.tol = 1e-7;
  const auto automatic = softreg::SoftmaxRegression::fit(data, o);
  EXPECT_NE(automatic.info().message.find("3-epoch Adam warm-up"), std::string::npos)
      << automatic.info().message;
  o.lbfgs_warmup = 0;
  const auto cold = softreg::SoftmaxRegression::fit(data, o);
  EXPECT_EQ(cold.info().message.find("warm-up"), std::string::npos) << cold.info().message;
  EXPECT_NEAR(automatic.info().final_loss, cold.info().final_loss, 1e-6 * cold.info().final_loss);

  const auto fewer = blobs<float>(softreg::TrainOptions::kAutoWarmupRows - 1, 8, 4, 1.5, 21);
  o.lbfgs_warmup = -1;
  EXPECT_EQ(softreg::SoftmaxRegression::fit(fewer, o).info().message.find("warm-up"),
            std::string::npos);
}

// The warm-up is kept only if it lowers the full objective: from the optimum, Adam's noisy
// steps cannot, so L-BFGS starts from the optimum itself and says nothing of a warm-up.
TEST(Model, LbfgsWarmupThatDoesNotHelpIsDropped) {
  const auto data = blobs<double>(2000, 5, 3, 1.0, 22);
  softreg::TrainOptions o;
  o.dtype = softreg::DType::float64;
  o.max_iter = 500;
  o.tol = 1e-9;
  const auto optimum = softreg::SoftmaxRegression::fit(data, o);
  o.lbfgs_warmup = 3;
  o.max_iter = 0;
  const auto again = softreg::SoftmaxRegression::fit(data, o, &optimum);
  EXPECT_EQ(again.info().message.find("warm-up"), std::string::npos) << again.info().message;
  EXPECT_EQ(again.weights(), optimum.weights());
}

// A stop request during the warm-up ends the fit there: no L-BFGS, the start kept, and the
// record says why. lbfgs_warmup below -1 is rejected.
TEST(Model, StopDuringTheLbfgsWarmupEndsTheFit) {
  const auto data = blobs<float>(3000, 4, 3, 1.5, 23);
  softreg::TrainOptions o;
  o.lbfgs_warmup = 2;
  int calls = 0;
  o.progress = [&](const softreg::Progress& p) {
    ++calls;
    EXPECT_TRUE(p.warmup);
    return false;
  };
  const auto m = softreg::SoftmaxRegression::fit(data, o);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(m.info().iterations, 0);
  EXPECT_EQ(m.info().message, "stopped by the caller (during the Adam warm-up)");
  for (const double w : m.weights()) EXPECT_EQ(w, 0.0);
  o.progress = nullptr;
  o.lbfgs_warmup = -2;
  EXPECT_THROW(softreg::SoftmaxRegression::fit(data, o), softreg::InvalidArgument);
}

TEST(Model, TwoClassesAndStringLabelsRoundTrip) {
  const auto data = blobs<float>(200, 3, 2, 6.0, 3, {"dog", "cat"});
  const auto m = softreg::SoftmaxRegression::fit(data, {});
  ASSERT_EQ(m.classes(), (std::vector<std::string>{"cat", "dog"}));
  const auto pred = m.predict(data.features);
  std::size_t hits = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) hits += m.classes()[pred[i]] == data.labels[i];
  EXPECT_GE(hits, 198u);
}

TEST(Model, IntegerClassesSortNumerically) {
  const auto data = blobs<float>(120, 2, 12, 5.0, 4);  // labels "0".."11"
  softreg::TrainOptions o;
  o.max_iter = 5;
  const auto m = softreg::SoftmaxRegression::fit(data, o);
  ASSERT_EQ(m.n_classes(), 12u);
  for (std::size_t c = 0; c < 12; ++c) EXPECT_EQ(m.classes()[c], std::to_string(c));
}

TEST(Model, ScalingIsExactReparametrization) {
  // Standardizing by hand and training without scaling must give the same predictions as
  // training with --scale standard (the model folds the map into the weights).
  auto data = blobs<double>(300, 4, 3, 2.0, 5);
  auto& x = std::get<softreg::DenseMatrix<double>>(data.features);
  for (std::size_t i = 0; i < x.rows; ++i) {
    x(i, 0) = 1000.0 + 50.0 * x(i, 0);
    x(i, 2) = 0.001 * x(i, 2);
  }
  softreg::TrainOptions o;
  o.scale = softreg::Scaling::standard;
  o.dtype = softreg::DType::float64;
  o.max_iter = 1000;
  o.tol = 1e-10;
  const auto scaled = softreg::SoftmaxRegression::fit(data, o);
  auto manual = data;
  auto& mx = std::get<softreg::DenseMatrix<double>>(manual.features);
  const auto& pre = scaled.preprocessing();
  for (std::size_t i = 0; i < mx.rows; ++i) {
    for (std::size_t j = 0; j < mx.cols; ++j) mx(i, j) = (mx(i, j) - pre.offset[j]) * pre.scale[j];
  }
  o.scale = softreg::Scaling::none;
  const auto plain = softreg::SoftmaxRegression::fit(manual, o);
  std::vector<double> p1(300 * 3), p2(300 * 3);
  scaled.predict_proba(data.features, std::span<double>(p1));
  plain.predict_proba(manual.features, std::span<double>(p2));
  for (std::size_t i = 0; i < p1.size(); ++i) EXPECT_NEAR(p1[i], p2[i], 1e-6);
  // The stored map is the training mean and 1 / standard deviation (population form).
  double mean = 0.0, sq = 0.0;
  for (std::size_t i = 0; i < x.rows; ++i) mean += x(i, 0) / double(x.rows);
  for (std::size_t i = 0; i < x.rows; ++i) sq += (x(i, 0) - mean) * (x(i, 0) - mean);
  EXPECT_NEAR(pre.offset[0], mean, 1e-9 * std::fabs(mean));
  EXPECT_NEAR(pre.scale[0], 1.0 / std::sqrt(sq / double(x.rows)), 1e-9 * pre.scale[0]);
}

TEST(Model, SameSeedSameModel) {
  const auto data = blobs<float>(400, 5, 3, 1.5, 6);
  softreg::TrainOptions o;
  o.solver = softreg::Solver::sgd;
  o.epochs = 3;
  o.valid_fraction = 0.2;
  o.seed = 17;
  const auto a = softreg::SoftmaxRegression::fit(data, o);
  const auto b = softreg::SoftmaxRegression::fit(data, o);
  EXPECT_EQ(a.weights(), b.weights());
  EXPECT_EQ(a.info().n_valid, 80u);
  EXPECT_GE(a.info().valid_loss, 0.0);
  o.seed = 18;
  const auto c = softreg::SoftmaxRegression::fit(data, o);
  EXPECT_NE(a.weights(), c.weights());
}

// The objective splits its rows into a number of groups fixed by the problem alone and adds the
// groups in order; the preconditioner's products do not depend on the split either. So a fit is
// bitwise the same for any thread count: L-BFGS with its Adam warm-up (more than 20000 rows),
// and SGD with a validation split.
TEST(Model, FitsAreBitwiseTheSameForAnyThreadCount) {
  const auto data = blobs<float>(21000, 12, 4, 1.0, 31);
  for (const auto solver : {softreg::Solver::lbfgs, softreg::Solver::sgd}) {
    softreg::TrainOptions o;
    o.solver = solver;
    o.max_iter = 15;
    o.epochs = 2;
    o.valid_fraction = solver == softreg::Solver::sgd ? 0.1 : 0.0;
    o.threads = 1;
    const auto one = softreg::SoftmaxRegression::fit(data, o);
    for (const int threads : {2, 3, 7}) {
      o.threads = threads;
      const auto many = softreg::SoftmaxRegression::fit(data, o);
      EXPECT_EQ(many.weights(), one.weights()) << threads << " threads";
      EXPECT_EQ(many.bias(), one.bias()) << threads << " threads";
      EXPECT_EQ(many.info().final_loss, one.info().final_loss) << threads << " threads";
    }
  }
}

TEST(Model, WarmStartContinuesFromTheModel) {
  const auto data = blobs<double>(300, 4, 3, 1.0, 9);
  softreg::TrainOptions o;
  o.dtype = softreg::DType::float64;
  o.max_iter = 3;
  const auto first = softreg::SoftmaxRegression::fit(data, o);
  o.max_iter = 0;
  const auto same = softreg::SoftmaxRegression::fit(data, o, &first);
  EXPECT_EQ(same.weights(), first.weights());
  o.max_iter = 50;
  const auto more = softreg::SoftmaxRegression::fit(data, o, &first);
  EXPECT_LT(more.info().final_loss, first.info().final_loss);
}

TEST(Model, TargetLossStopsTrainingThereAndSaysSo) {
  const auto data = blobs<double>(300, 4, 3, 1.0, 10);
  softreg::TrainOptions o;
  o.max_iter = 200;
  const auto full = softreg::SoftmaxRegression::fit(data, o);
  // A target between the first iterate and the optimum: reached after some, not all,
  // iterations, and the loss at the stop is at or below it.
  const double target = 0.5 * (full.info().loss_history.front() + full.info().final_loss);
  o.target_loss = target;
  const auto stopped = softreg::SoftmaxRegression::fit(data, o);
  EXPECT_LE(stopped.info().final_loss, target);
  EXPECT_LT(stopped.info().iterations, full.info().iterations);
  EXPECT_EQ(stopped.info().message, "reached the target loss");
  EXPECT_TRUE(stopped.info().converged);
}

TEST(Model, NanLogitsAreAnErrorNotClassZero) {
  const auto data = blobs<float>(50, 2, 2, 5.0, 2);
  const auto m = softreg::SoftmaxRegression::fit(data, {});
  softreg::DenseMatrix<float> x(2, 2);
  x(1, 0) = NAN;
  EXPECT_THROW(m.predict(softreg::FeatureMatrix<float>(x)), softreg::Error);
}

TEST(Model, RejectsBadTrainingInput) {
  auto data = blobs<float>(20, 2, 2, 5.0, 2);
  softreg::TrainOptions o;
  auto one_class = data;
  std::fill(one_class.labels.begin(), one_class.labels.end(), std::string("a"));
  EXPECT_THROW(softreg::SoftmaxRegression::fit(one_class, o), softreg::InvalidArgument);
  auto missing = data;
  missing.labels.pop_back();
  EXPECT_THROW(softreg::SoftmaxRegression::fit(missing, o), softreg::InvalidArgument);
  o.valid_fraction = 1.0;
  EXPECT_THROW(softreg::SoftmaxRegression::fit(data, o), softreg::InvalidArgument);
  const auto m = softreg::SoftmaxRegression::fit(data, {});
  softreg::DenseMatrix<float> wrong(3, 5);
  EXPECT_THROW(m.predict(softreg::FeatureMatrix<float>(wrong)), softreg::InvalidArgument);
}

TEST(Model, ClassIndicesMapLabelsAndMarkUnknownOnes) {
  const std::vector<std::string> classes{"b", "a", "c"};
  const std::vector<std::string> labels{"a", "x", "c", "a", ""};
  EXPECT_EQ(softreg::class_indices(classes, labels), (std::vector<std::int64_t>{1, -1, 2, 1, -1}));
  EXPECT_TRUE(softreg::class_indices(classes, {}).empty());
  const auto m = softreg::SoftmaxRegression::fit(blobs<float>(20, 2, 2, 5.0, 2), {});
  const std::vector<std::string> asked{m.classes()[1], "nope", m.classes()[0]};
  EXPECT_EQ(m.class_indices(asked), (std::vector<std::int64_t>{1, -1, 0}));
}

// TrainOptions::validate() names the field, the rule and the value; fit says the same.
TEST(Model, OptionsNameTheBadField) {
  const auto message = [](const softreg::TrainOptions& o) {
    try {
      o.validate();
    } catch (const softreg::InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  softreg::TrainOptions o;
  EXPECT_EQ(message(o), "no exception");
  o.l2 = -1.0;
  EXPECT_EQ(message(o), "softreg::TrainOptions: l2 must be finite and >= 0; got -1");
  o = {};
  o.momentum = 1.0;
  EXPECT_EQ(message(o), "softreg::TrainOptions: momentum must be in [0, 1); got 1");
  o = {};
  o.batch_size = 0;
  EXPECT_EQ(message(o), "softreg::TrainOptions: batch_size must be >= 1; got 0");
  o = {};
  o.sample_weight = {1.0, std::nan("")};
  EXPECT_EQ(message(o), "softreg::TrainOptions: sample_weight[1] must be finite and >= 0; got nan");
  o = {};
  o.class_weight = {{"cat", -2.0}};
  EXPECT_EQ(message(o),
            "softreg::TrainOptions: class_weight[\"cat\"] must be finite and >= 0; got -2");
  o = {};
  o.lbfgs_warmup = -2;
  try {
    softreg::SoftmaxRegression::fit(blobs<float>(20, 2, 2, 5.0, 2), o);
    FAIL() << "no exception";
  } catch (const softreg::InvalidArgument& e) {
    EXPECT_STREQ(e.what(),
                 "softreg::SoftmaxRegression::fit: lbfgs_warmup must be in [0, 1000], or -1 for "
                 "automatic; got -2");
  }
}

// problem() gives the parts the front ends word in their own names; each rule's edge is in
// range and the value just past it is not.
TEST(Model, OptionProblemsGiveFieldRuleAndValue) {
  using Set = void (*)(softreg::TrainOptions&, bool);
  struct Case {
    const char* field;
    Set set;  // true: the value just past the rule's edge; false: the edge itself
  };
  const Case cases[] = {
      {"l2", [](auto& o, bool bad) { o.l2 = bad ? -1e-300 : 0.0; }},
      {"tol", [](auto& o, bool bad) { o.tol = bad ? std::nan("") : 0.0; }},
      {"valid_fraction", [](auto& o, bool bad) { o.valid_fraction = bad ? 1.0 : 0.999; }},
      {"max_iter", [](auto& o, bool bad) { o.max_iter = bad ? -1 : 0; }},
      {"epochs", [](auto& o, bool bad) { o.epochs = bad ? -1 : 0; }},
      {"lbfgs_memory", [](auto& o, bool bad) { o.lbfgs_memory = bad ? 10001 : 10000; }},
      {"lbfgs_warmup", [](auto& o, bool bad) { o.lbfgs_warmup = bad ? 1001 : 1000; }},
      {"batch_size", [](auto& o, bool bad) { o.batch_size = bad ? 0 : 1; }},
      {"lr", [](auto& o, bool bad) { o.lr = bad ? HUGE_VAL : 0.0; }},
      {"momentum", [](auto& o, bool bad) { o.momentum = bad ? -0.1 : 0.0; }},
      {"patience", [](auto& o, bool bad) { o.patience = bad ? 0 : 1; }},
  };
  for (const Case& c : cases) {
    softreg::TrainOptions o;
    c.set(o, false);
    EXPECT_FALSE(o.problem().has_value()) << c.field;
    c.set(o, true);
    const auto p = o.problem();
    ASSERT_TRUE(p.has_value()) << c.field;
    EXPECT_EQ(p->field, c.field);
    EXPECT_FALSE(p->need.empty()) << c.field;
    EXPECT_FALSE(p->got.empty()) << c.field;
  }
}

TEST(Model, BalancedClassWeightsShiftTheBoundaryTowardsTheMajority) {
  // 9:1 imbalance with overlap: balancing raises recall of the minority class.
  auto data = blobs<double>(1000, 2, 2, 0.8, 12);
  std::size_t kept = 0;
  softreg::Dataset<double> imbalanced;
  softreg::DenseMatrix<double> x(0, 2);
  const auto& src = std::get<softreg::DenseMatrix<double>>(data.features);
  for (std::size_t i = 0; i < src.rows; ++i) {
    if (data.labels[i] == "1" && (kept++ % 9) != 0) continue;
    x.data.push_back(src(i, 0));
    x.data.push_back(src(i, 1));
    ++x.rows;
    imbalanced.labels.push_back(data.labels[i]);
  }
  imbalanced.features = x;
  auto recall = [&](const softreg::SoftmaxRegression& m) {
    const auto pred = m.predict(imbalanced.features);
    double hit = 0, total = 0;
    for (std::size_t i = 0; i < pred.size(); ++i) {
      if (imbalanced.labels[i] != "1") continue;
      total += 1;
      hit += m.classes()[pred[i]] == "1";
    }
    return hit / total;
  };
  softreg::TrainOptions o;
  const double plain = recall(softreg::SoftmaxRegression::fit(imbalanced, o));
  o.balanced = true;
  const double balanced = recall(softreg::SoftmaxRegression::fit(imbalanced, o));
  EXPECT_GT(balanced, plain);
}

}  // namespace

namespace {

using softreg::SoftmaxRegression;

/// blobs with named columns "f0".."f{d-1}".
softreg::Dataset<double> named_blobs(std::size_t n, std::size_t d, std::uint64_t seed) {
  auto data = blobs<double>(n, d, 3, 2.0, seed);
  for (std::size_t j = 0; j < d; ++j) data.feature_names.push_back("f" + std::to_string(j));
  return data;
}

/// data with its columns in the order `order` (order[j]: the original column at position j),
/// names included.
softreg::Dataset<double> permuted(const softreg::Dataset<double>& data,
                                  const std::vector<std::size_t>& order) {
  auto out = data;
  const auto& x = std::get<softreg::DenseMatrix<double>>(data.features);
  softreg::DenseMatrix<double> y(x.rows, order.size());
  out.feature_names.clear();
  for (std::size_t j = 0; j < order.size(); ++j) {
    for (std::size_t i = 0; i < x.rows; ++i) y(i, j) = x(i, order[j]);
    out.feature_names.push_back(data.feature_names[order[j]]);
  }
  out.features = std::move(y);
  return out;
}

std::string thrown(const std::function<void()>& f) {
  try {
    f();
  } catch (const softreg::InvalidArgument& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace

TEST(ModelFeatureNames, FitKeepsTheNamesAndRecordsTheOptions) {
  const auto data = named_blobs(90, 4, 31);
  softreg::TrainOptions o;
  o.l2 = 0.1 / 3;  // not a short decimal: the record must read back exactly
  o.class_weight["2"] = 1.5;
  o.scale = softreg::Scaling::minmax;
  const auto model = SoftmaxRegression::fit(data, o);
  EXPECT_EQ(model.feature_names(), data.feature_names);
  const auto& p = model.info().parameters;
  EXPECT_EQ(p.at("solver"), "auto");
  EXPECT_EQ(p.at("scale"), "minmax");
  EXPECT_EQ(std::stod(p.at("l2")), o.l2);
  EXPECT_EQ(p.at("class_weight[2]"), "1.5");
  EXPECT_EQ(p.at("max_iter"), "100");
  EXPECT_EQ(p.count("sample_weight"), 0u);
  EXPECT_EQ(p.count("index_base"), 0u);
  // A model without names, from data without names.
  EXPECT_TRUE(SoftmaxRegression::fit(blobs<double>(60, 2, 3, 2.0, 32), o).feature_names().empty());
}

TEST(ModelFeatureNames, AlignFeaturesReordersNamedColumnsToTheModelsOrder) {
  const auto data = named_blobs(120, 5, 33);
  softreg::TrainOptions o;
  o.dtype = softreg::DType::float64;
  const auto model = SoftmaxRegression::fit(data, o);
  std::vector<double> expected(data.rows() * 3), got(data.rows() * 3);
  model.predict_proba(data.features, std::span<double>(expected));
  auto shuffled = permuted(data, {3, 0, 4, 2, 1});
  EXPECT_TRUE(softreg::align_features(shuffled, model).empty());
  EXPECT_EQ(shuffled.feature_names, data.feature_names);
  model.predict_proba(shuffled.features, std::span<double>(got));
  EXPECT_EQ(got, expected);  // the same numbers: the same columns in the same order
  // Sparse data with names is matched the same way.
  auto sparse = permuted(data, {4, 3, 2, 1, 0});
  sparse.features = softreg_test::to_csr(std::get<softreg::DenseMatrix<double>>(sparse.features));
  EXPECT_TRUE(softreg::align_features(sparse, model).empty());
  model.predict_proba(sparse.features, std::span<double>(got));
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-15);
}

TEST(ModelFeatureNames, UnknownAndMissingColumnsAreNamed) {
  const auto data = named_blobs(60, 3, 34);
  const auto model = SoftmaxRegression::fit(data, softreg::TrainOptions{});
  auto renamed = data;
  renamed.feature_names[1] = "sepal";
  EXPECT_EQ(thrown([&] { softreg::align_features(renamed, model); }),
            "blobs: column \"sepal\" is not among the model's features (\"f0\", \"f1\", \"f2\")");
  auto fewer = permuted(data, {2, 0});
  EXPECT_EQ(thrown([&] { softreg::align_features(fewer, model); }),
            "blobs: the model's feature \"f1\" is missing from the columns");
  // Only one side named: by position, with a warning; neither: silence.
  auto unnamed = data;
  unnamed.feature_names.clear();
  const auto w = softreg::align_features(unnamed, model);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("names no columns; they are taken by position"), std::string::npos) << w[0];
  const auto anonymous = SoftmaxRegression::fit(unnamed, softreg::TrainOptions{});
  auto named = data;
  EXPECT_EQ(softreg::align_features(named, anonymous).size(), 1u);
  EXPECT_TRUE(softreg::align_features(unnamed, anonymous).empty());
}

TEST(ModelFeatureNames, WarmStartNeedsTheSameNamesInTheSameOrder) {
  const auto data = named_blobs(90, 3, 35);
  softreg::TrainOptions o;
  o.max_iter = 2;
  const auto first = SoftmaxRegression::fit(data, o);
  EXPECT_EQ(SoftmaxRegression::fit(data, o, &first).feature_names(), data.feature_names);
  auto unnamed = data;
  unnamed.feature_names.clear();
  EXPECT_EQ(SoftmaxRegression::fit(unnamed, o, &first).feature_names(), data.feature_names);
  EXPECT_NE(thrown([&] {
              SoftmaxRegression::fit(permuted(data, {1, 0, 2}), o, &first);
            })
                .find("the data's column 0 is \"f1\" where the warm start model has feature "
                      "\"f0\""),
            std::string::npos);
}

TEST(ModelFeatureNames, TheConstructorChecksTheNames) {
  auto make = [](std::vector<std::string> names) {
    return SoftmaxRegression({"a", "b"}, 2, std::vector<double>(4, 0.0), {0.0, 0.0}, {}, {},
                             std::move(names));
  };
  EXPECT_EQ(make({"x", "y"}).feature_names(), (std::vector<std::string>{"x", "y"}));
  EXPECT_NE(thrown([&] { make({"x"}); }).find("1 feature names for d = 2"), std::string::npos);
  EXPECT_NE(thrown([&] {
              make({"x", "x"});
            }).find("feature name 1 \"x\" repeats"),
            std::string::npos);
  EXPECT_NE(thrown([&] { make({"x", ""}); }).find("feature name 1 is empty"), std::string::npos);
}

TEST(Model, WithoutAnInterceptTheBiasStaysZeroAndWIsStationary) {
  auto data = blobs<double>(240, 3, 3, 1.5, 41);
  auto& x = std::get<softreg::DenseMatrix<double>>(data.features);
  for (double& v : x.data) v += 2.0;  // far from centred: an intercept would help
  for (const auto solver : {softreg::Solver::lbfgs, softreg::Solver::newton_cg,
                            softreg::Solver::saga, softreg::Solver::sgd, softreg::Solver::adam}) {
    softreg::TrainOptions o;
    o.solver = solver;
    o.dtype = softreg::DType::float64;
    o.fit_intercept = false;
    o.tol = 1e-9;
    o.max_iter = 3000;
    o.l2 = 1e-2;
    const auto model = SoftmaxRegression::fit(data, o);
    EXPECT_EQ(model.bias(), std::vector<double>(3, 0.0)) << softreg::solver_name(solver);
    EXPECT_EQ(model.info().parameters.at("fit_intercept"), "false");
    if (solver == softreg::Solver::sgd || solver == softreg::Solver::adam) continue;
    // The gradient in W of the objective (b = 0) vanishes; in b it does not.
    const auto y = indices(model, data.labels);
    softreg::ObjectiveOptions oo;
    oo.l2 = o.l2;
    softreg::SoftmaxObjective<double> f(data.features, y, 3, oo);
    std::vector<double> theta(model.weights());
    theta.insert(theta.end(), 3, 0.0);
    std::vector<double> g(theta.size());
    f.evaluate(theta, g);
    double w_max = 0.0, b_max = 0.0;
    for (std::size_t j = 0; j < 9; ++j) w_max = std::max(w_max, std::abs(g[j]));
    for (std::size_t c = 9; c < 12; ++c) b_max = std::max(b_max, std::abs(g[c]));
    EXPECT_LT(w_max, 1e-6) << softreg::solver_name(solver);
    EXPECT_GT(b_max, 1e-3) << softreg::solver_name(solver);
  }
}

TEST(Model, TrainingMemoryFollowsTheDocumentedFormulas) {
  using softreg::Solver;
  using softreg::training_memory;
  // P = (d + 1) K = 4040 for d = 100, K = 40; n K = 40000.
  EXPECT_EQ(training_memory(1000, 100, 40, Solver::lbfgs, 7), std::size_t(8 * 4040 * (14 + 8)));
  EXPECT_EQ(training_memory(1000, 100, 40, Solver::lbfgs), std::size_t(8 * 4040 * (200 + 8)));
  EXPECT_EQ(training_memory(1000, 100, 40, Solver::newton_cg), std::size_t(8 * (8 * 4040 + 40000)));
  // SAGA: the widening holds float and double gradients (1.5 n K) when n K > 4 d K.
  EXPECT_EQ(training_memory(1000, 100, 40, Solver::saga), std::size_t(8 * (60000 + 3 * 4040)));
  EXPECT_EQ(training_memory(100, 1000, 40, Solver::saga),
            std::size_t(8 * (4000 + 2 * 40000 + 3 * 40040)));
  EXPECT_EQ(training_memory(1000, 100, 40, Solver::adam), std::size_t(48 * 4040));
}

TEST(Model, AProblemLargerThanTheMachineIsRefusedBeforeAllocating) {
  // 50 rows, one entry each, but the largest index makes 2^31 - 1 features: about 2.6 TiB of
  // solver state for 50 classes, on any machine.
  softreg::Dataset<float> data;
  softreg::CsrMatrix<float> x;
  x.rows = 50;
  x.cols = std::size_t{INT32_MAX};
  for (int i = 0; i < 50; ++i) {
    x.indices.push_back(i == 0 ? INT32_MAX - 1 : i);
    x.values.push_back(1.0f);
    x.indptr.push_back(i + 1);
    data.labels.push_back(std::to_string(i));
  }
  data.features = std::move(x);
  data.source = "wide.svm";
  const std::string msg = thrown([&] { SoftmaxRegression::fit(data, softreg::TrainOptions{}); });
  EXPECT_NE(msg.find("wide.svm: training needs about "), std::string::npos) << msg;
  EXPECT_NE(msg.find("GiB for 2147483647 features x 50 classes (solver saga)"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("is a feature index far larger than the others?"), std::string::npos) << msg;
}

TEST(Model, AStoppedLbfgsFitResumesBitForBit) {
  const auto data = blobs<double>(400, 6, 4, 1.0, 51);
  softreg::TrainOptions o;
  o.solver = softreg::Solver::lbfgs;
  o.scale = softreg::Scaling::standard;
  o.tol = 0.0;
  o.max_iter = 60;
  o.threads = 2;
  const auto full = SoftmaxRegression::fit(data, o);
  ASSERT_GT(full.info().iterations, 10);
  for (const int stop_at : {1, 7, full.info().iterations - 1}) {
    softreg::TrainOptions first = o;
    first.progress = [&](const softreg::Progress& p) { return p.iteration < stop_at; };
    const auto stopped = SoftmaxRegression::fit(data, first);
    ASSERT_EQ(stopped.info().iterations, stop_at);
    ASSERT_EQ(stopped.info().parameters.count("resume.lbfgs"), 1u);
    softreg::TrainOptions second = o;
    second.resume = true;
    const auto resumed = SoftmaxRegression::fit(data, second, &stopped);
    EXPECT_EQ(resumed.weights(), full.weights()) << stop_at;
    EXPECT_EQ(resumed.bias(), full.bias()) << stop_at;
    EXPECT_EQ(resumed.info().loss_history, full.info().loss_history) << stop_at;
    EXPECT_EQ(resumed.info().evaluations, full.info().evaluations) << stop_at;
    EXPECT_EQ(resumed.info().accuracy_history, full.info().accuracy_history) << stop_at;
    EXPECT_EQ(resumed.info().parameters.count("resume.lbfgs"), 0u);  // it was not stopped
  }
  // Without a state to continue, or with other options: refused.
  softreg::TrainOptions again = o;
  again.resume = true;
  EXPECT_NE(thrown([&] {
              SoftmaxRegression::fit(data, again, &full);
            }).find("this one holds no resume state"),
            std::string::npos);
  softreg::TrainOptions stop = o;
  stop.progress = [](const softreg::Progress& p) { return p.iteration < 3; };
  const auto stopped = SoftmaxRegression::fit(data, stop);
  again.l2 = 0.5;
  const std::string msg = thrown([&] { SoftmaxRegression::fit(data, again, &stopped); });
  EXPECT_NE(msg.find("resume needs the options of the stopped fit: l2 was 1e-04, now 0.5"),
            std::string::npos)
      << msg;
}

TEST(Model, StoppedSgdAndAdamFitsResumeBitForBit) {
  const auto data = blobs<double>(300, 5, 3, 1.0, 52);
  for (const auto solver : {softreg::Solver::sgd, softreg::Solver::adam}) {
    softreg::TrainOptions o;
    o.solver = solver;
    o.epochs = 9;
    o.batch_size = 40;
    o.schedule = softreg::LrSchedule::cosine;
    o.seed = 3;
    const auto full = SoftmaxRegression::fit(data, o);
    softreg::TrainOptions first = o;
    first.progress = [](const softreg::Progress& p) { return p.iteration < 4; };
    const auto stopped = SoftmaxRegression::fit(data, first);
    ASSERT_EQ(stopped.info().parameters.count("resume.stochastic"), 1u);
    softreg::TrainOptions second = o;
    second.resume = true;
    const auto resumed = SoftmaxRegression::fit(data, second, &stopped);
    EXPECT_EQ(resumed.weights(), full.weights()) << softreg::solver_name(solver);
    EXPECT_EQ(resumed.bias(), full.bias()) << softreg::solver_name(solver);
    EXPECT_EQ(resumed.info().loss_history, full.info().loss_history);
  }
  // A model with another solver's state (or none) is no checkpoint for this one.
  softreg::TrainOptions saga;
  saga.solver = softreg::Solver::saga;
  saga.resume = true;
  const auto any = SoftmaxRegression::fit(data, softreg::TrainOptions{});
  EXPECT_NE(thrown([&] {
              SoftmaxRegression::fit(data, saga, &any);
            }).find("resume needs the model of a stopped saga fit as the warm start"),
            std::string::npos);
}

TEST(Model, AStoppedNewtonFitResumesBitForBit) {
  const auto data = blobs<double>(300, 5, 3, 0.7, 53);
  softreg::TrainOptions o;
  o.solver = softreg::Solver::newton_cg;
  o.tol = 0.0;
  o.max_iter = 30;
  o.threads = 2;
  const auto full = SoftmaxRegression::fit(data, o);
  ASSERT_GT(full.info().iterations, 4);
  for (int stop_at = 1; stop_at < full.info().iterations; ++stop_at) {
    softreg::TrainOptions first = o;
    first.progress = [&](const softreg::Progress& p) { return p.iteration < stop_at; };
    const auto stopped = SoftmaxRegression::fit(data, first);
    ASSERT_EQ(stopped.info().parameters.count("resume.newton"), 1u);
    softreg::TrainOptions second = o;
    second.resume = true;
    const auto resumed = SoftmaxRegression::fit(data, second, &stopped);
    EXPECT_EQ(resumed.weights(), full.weights()) << stop_at;
    EXPECT_EQ(resumed.info().loss_history, full.info().loss_history) << stop_at;
    EXPECT_EQ(resumed.info().evaluations, full.info().evaluations) << stop_at;
    EXPECT_EQ(resumed.info().message, full.info().message) << stop_at;
  }
}
