// Tests of evaluate_predictions: a case counted by hand (accuracy, ties, top-k, log loss,
// confusion, per-class precision / recall / F1, macro F1), and the edge cases.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "softreg/error.hpp"
#include "softreg/metrics.hpp"

namespace {

std::vector<double> logs(const std::vector<double>& p) {
  std::vector<double> out;
  for (const double v : p) out.push_back(std::log(v));
  return out;
}

// Five rows, three classes. Row 4 ties classes 0 and 1: the prediction is the first largest
// (class 0), and the true class 1 ranks second.
TEST(Metrics, HandCountedCase) {
  const auto lp = logs({0.7, 0.2, 0.1,  //
                        0.1, 0.6, 0.3,  //
                        0.2, 0.3, 0.5,  //
                        0.4, 0.4, 0.2,  //
                        0.3, 0.3, 0.4});
  const std::vector<std::int64_t> y{0, 2, 2, 1, 0};
  const auto e = softreg::evaluate_predictions<double>(lp, 3, y);
  EXPECT_EQ(e.n, 5u);
  EXPECT_DOUBLE_EQ(e.accuracy, 0.4);
  EXPECT_EQ(e.top_k, 3u);
  EXPECT_DOUBLE_EQ(e.top_k_accuracy, 1.0);
  const double ll =
      -(std::log(0.7) + std::log(0.3) + std::log(0.5) + std::log(0.4) + std::log(0.3)) / 5.0;
  EXPECT_NEAR(e.log_loss, ll, 1e-15);
  EXPECT_EQ(e.confusion, (std::vector<std::size_t>{1, 0, 1, 1, 0, 0, 0, 1, 1}));
  EXPECT_DOUBLE_EQ(e.per_class[0].precision, 0.5);
  EXPECT_DOUBLE_EQ(e.per_class[0].recall, 0.5);
  EXPECT_DOUBLE_EQ(e.per_class[0].f1, 0.5);
  EXPECT_EQ(e.per_class[0].support, 2u);
  EXPECT_EQ(e.per_class[1].precision, 0.0);  // predicted once, wrongly
  EXPECT_EQ(e.per_class[1].recall, 0.0);
  EXPECT_EQ(e.per_class[1].f1, 0.0);
  EXPECT_EQ(e.per_class[1].support, 1u);
  EXPECT_DOUBLE_EQ(e.per_class[2].f1, 0.5);
  EXPECT_NEAR(e.macro_f1, 1.0 / 3.0, 1e-15);
}

// Top-k is top-5 when K > 5, with ties broken towards the lower index as the argmax does.
TEST(Metrics, TopFiveOfSevenClassesWithTies) {
  std::vector<float> lp(7, std::log(0.1f));
  lp[6] = std::log(0.4f);  // rank 0; classes 0..5 tie at 0.1: ranks 1..6 by index
  const std::vector<std::int64_t> in_top{3}, out_of_top{5};
  EXPECT_EQ(softreg::evaluate_predictions<float>(lp, 7, in_top).top_k_accuracy, 1.0);
  EXPECT_EQ(softreg::evaluate_predictions<float>(lp, 7, out_of_top).top_k_accuracy, 0.0);
  EXPECT_EQ(softreg::evaluate_predictions<float>(lp, 7, in_top).top_k, 5u);
}

// Macro F1 averages over the classes that occur as truth or prediction, as scikit-learn's
// f1_score(average="macro") does: here classes 0 and 2 of four (class 1 only predicted, F1 0;
// class 3 neither, left out): (F1_0 + F1_1 + F1_2) / 3 with F1_0 = 2/3, F1_2 = 1.
TEST(Metrics, MacroF1OverOccurringClasses) {
  const auto lp = logs({0.7, 0.1, 0.1, 0.1,  //
                        0.1, 0.6, 0.2, 0.1,  //
                        0.1, 0.1, 0.7, 0.1});
  const std::vector<std::int64_t> y{0, 0, 2};
  const auto e = softreg::evaluate_predictions<double>(lp, 4, y);
  EXPECT_DOUBLE_EQ(e.per_class[0].f1, 2.0 / 3.0);
  EXPECT_EQ(e.per_class[1].f1, 0.0);
  EXPECT_EQ(e.per_class[3].f1, 0.0);
  EXPECT_NEAR(e.macro_f1, (2.0 / 3.0 + 0.0 + 1.0) / 3.0, 1e-15);
  EXPECT_TRUE(std::isnan(softreg::evaluate_predictions<double>({}, 4, {}).macro_f1));
}

TEST(Metrics, EdgeCases) {
  const auto empty = softreg::evaluate_predictions<double>({}, 4, {});
  EXPECT_EQ(empty.n, 0u);
  EXPECT_TRUE(std::isnan(empty.accuracy));
  EXPECT_TRUE(std::isnan(empty.log_loss));
  EXPECT_EQ(empty.confusion, std::vector<std::size_t>(16, 0));
  // A true class of probability 0 gives an infinite log loss (no clipping), not a NaN.
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> certain{0.0, -inf};
  const std::vector<std::int64_t> wrong{1};
  EXPECT_EQ(softreg::evaluate_predictions<double>(certain, 2, wrong).log_loss, inf);
  // K = 1: every row is right.
  const std::vector<double> one{0.0, 0.0};
  const std::vector<std::int64_t> zeros{0, 0};
  EXPECT_EQ(softreg::evaluate_predictions<double>(one, 1, zeros).accuracy, 1.0);

  const std::vector<double> nan_row{0.0, std::nan("")};
  const std::vector<std::int64_t> first{0};
  EXPECT_THROW(softreg::evaluate_predictions<double>(nan_row, 2, first), softreg::InvalidArgument);
  const std::vector<std::int64_t> outside{2};
  EXPECT_THROW(softreg::evaluate_predictions<double>(certain, 2, outside),
               softreg::InvalidArgument);
  EXPECT_THROW(softreg::evaluate_predictions<double>(certain, 3, first), softreg::InvalidArgument);
}

}  // namespace
