// Accuracy, top-k accuracy, log loss, confusion matrix, per-class precision, recall and F1, and
// the calibration of the probabilities (calibration_metrics.cpp).
#include "softreg/metrics.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "softreg/error.hpp"
#include "softreg/softmax.hpp"

namespace softreg {

template <class T>
Evaluation evaluate_predictions(std::span<const T> log_proba, std::size_t k,
                                std::span<const std::int64_t> y, std::size_t bins) {
  const char* who = "softreg::evaluate_predictions: ";
  const std::size_t n = y.size();
  if (k == 0 || log_proba.size() != n * k) {
    throw InvalidArgument(std::string(who) + "log_proba has " + std::to_string(log_proba.size()) +
                          " entries, expected n K = " + std::to_string(n) + " x " +
                          std::to_string(k));
  }
  Evaluation e;
  e.n = n;
  e.k = k;
  e.top_k = std::min<std::size_t>(5, k);
  e.confusion.assign(k * k, 0);
  e.per_class.assign(k, {});
  // The predicted class is the argmax kernel's: the first largest entry, -1 for a NaN row.
  std::vector<std::int64_t> best_class(n);
  if (n > 0) argmax(std::span<std::int64_t>(best_class), log_proba, {n, k});
  std::size_t hits = 0, top_hits = 0;
  double loss = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    if (y[i] < 0 || std::size_t(y[i]) >= k) {
      throw InvalidArgument(std::string(who) + "label of row " + std::to_string(i) + " is " +
                            std::to_string(y[i]) + ", expected [0, " + std::to_string(k) + ")");
    }
    if (best_class[i] < 0) {
      throw InvalidArgument(std::string(who) + "row " + std::to_string(i) +
                            " has NaN probabilities");
    }
    const T* row = log_proba.data() + i * k;
    const auto best = std::size_t(best_class[i]);
    const auto truth = std::size_t(y[i]);
    const T mine = row[truth];
    // Rank of the true class: entries strictly larger, plus equal ones at lower indices (the
    // same tie rule as the argmax).
    std::size_t rank = 0;
    for (std::size_t c = 0; c < k; ++c) rank += row[c] > mine || (row[c] == mine && c < truth);
    hits += best == truth;
    top_hits += rank < e.top_k;
    loss -= double(mine);
    ++e.confusion[truth * k + best];
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  e.accuracy = n ? double(hits) / double(n) : nan;
  e.top_k_accuracy = n ? double(top_hits) / double(n) : nan;
  e.log_loss = n ? loss / double(n) : nan;
  double f1_sum = 0.0;
  std::size_t occurring = 0;
  for (std::size_t c = 0; c < k; ++c) {
    std::size_t predicted = 0, actual = 0;
    for (std::size_t r = 0; r < k; ++r) {
      predicted += e.confusion[r * k + c];
      actual += e.confusion[c * k + r];
    }
    const double tp = double(e.confusion[c * k + c]);
    ClassReport& rep = e.per_class[c];
    rep.support = actual;
    rep.precision = predicted ? tp / double(predicted) : 0.0;
    rep.recall = actual ? tp / double(actual) : 0.0;
    const double pr = rep.precision + rep.recall;
    rep.f1 = pr > 0.0 ? 2.0 * rep.precision * rep.recall / pr : 0.0;
    if (predicted + actual == 0) continue;  // a class neither true nor predicted: not averaged
    f1_sum += rep.f1;
    ++occurring;
  }
  e.macro_f1 = occurring ? f1_sum / double(occurring) : nan;
  std::vector<double> proba(log_proba.size());
  for (std::size_t i = 0; i < proba.size(); ++i) proba[i] = std::exp(double(log_proba[i]));
  e.calibration = calibration_metrics(std::span<const double>(proba), k, y, bins);
  return e;
}

template Evaluation evaluate_predictions<float>(std::span<const float>, std::size_t,
                                                std::span<const std::int64_t>, std::size_t);
template Evaluation evaluate_predictions<double>(std::span<const double>, std::size_t,
                                                 std::span<const std::int64_t>, std::size_t);

}  // namespace softreg
