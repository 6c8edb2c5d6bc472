// Classification metrics from predicted probabilities and true class indices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace softreg {

struct ClassReport {
  double precision = 0.0;   // 0 when the class was never predicted
  double recall = 0.0;      // 0 when the class never occurs
  double f1 = 0.0;          // 0 when precision + recall is 0
  std::size_t support = 0;  // rows whose true class this is
};

struct Evaluation {
  std::size_t n = 0;
  std::size_t k = 0;
  double accuracy = 0.0;
  std::size_t top_k = 5;        // min(5, K)
  double top_k_accuracy = 0.0;  // true class among the top_k most probable
  double log_loss = 0.0;        // mean -log p(true class), from log-probabilities (no clipping)
  std::vector<std::size_t> confusion;  // K x K row-major: [true][predicted]
  std::vector<ClassReport> per_class;
  /// Mean F1 over the classes that occur among the true or the predicted classes (scikit-learn's
  /// f1_score(average="macro") labels); NaN when n == 0.
  double macro_f1 = 0.0;
};

/// Metrics of n rows of K log-probabilities (row-major, e.g. predict_log_proba) against the true
/// class indices y (n entries in [0, K)). The predicted class is the first largest entry.
/// Throws InvalidArgument on mismatched sizes, a label outside [0, K) or a NaN row. n == 0
/// gives zero counts and NaN accuracy and log loss.
template <class T>
Evaluation evaluate_predictions(std::span<const T> log_proba, std::size_t k,
                                std::span<const std::int64_t> y);

}  // namespace softreg
