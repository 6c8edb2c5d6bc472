// Classification metrics from predicted probabilities and true class indices, and calibration
// metrics (expected / maximum calibration error, Brier score, reliability diagrams).
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

/// One bin of a reliability diagram: the rows whose score lies in [lower, upper) (the last bin
/// also holds scores equal to its upper edge, 1).
struct ReliabilityBin {
  double lower = 0.0;
  double upper = 0.0;
  std::size_t count = 0;
  double confidence = 0.0;  // mean score of the bin's rows; NaN when count == 0
  double accuracy = 0.0;    // mean outcome (fraction correct / positive); NaN when count == 0
};

/// Calibration of the top-label (most probable class) predictions of n rows.
///   confidence_i = max_k p_ik, correct_i = [argmax_k p_ik == y_i] (first largest entry);
///   bins: B equal-width bins of [0, 1] over confidence_i (reliability_bins);
///   ECE   = sum_b (|B_b| / n) |acc_b - conf_b|                      (over the bins)
///   MCE   = max_b |acc_b - conf_b|                                   (over non-empty bins)
///   Brier = (1/n) sum_i sum_k (p_ik - [k == y_i])^2                  (in [0, 2])
/// The Brier score is the original multiclass one (Brier 1950), summed over all K classes: for
/// K = 2 it is twice scikit-learn's brier_score_loss of the positive class, which scores only
/// one column. n == 0 gives NaN for all three.
struct Calibration {
  std::size_t n = 0;
  double ece = 0.0;
  double mce = 0.0;
  double brier = 0.0;
  std::vector<ReliabilityBin> bins;
};

/// Reliability-diagram data of n (score, outcome) pairs: `bins` equal-width bins of [0, 1]
/// with edges e_b = b * (1 / bins) (the last edge exactly 1); score s falls in bin b when
/// e_b <= s < e_{b+1} (NumPy's searchsorted(edges[1:-1], s, side="right"), as scikit-learn's
/// calibration_curve with strategy="uniform"), a score of 1 in the last bin. outcomes are 0 or
/// 1 (any non-zero counts as 1). Throws InvalidArgument for bins == 0, mismatched sizes, or a
/// score outside [0, 1] or NaN (naming the row).
std::vector<ReliabilityBin> reliability_bins(std::span<const double> scores,
                                             std::span<const std::uint8_t> outcomes,
                                             std::size_t bins);

/// Calibration (see Calibration) of n rows of K probabilities (row-major; rows are taken as
/// given, not renormalised) against the true class indices y (n entries in [0, K)), with
/// `bins` equal-width bins. Throws InvalidArgument on mismatched sizes, K == 0, bins == 0, a
/// label outside [0, K), or a row with NaN.
template <class T>
Calibration calibration_metrics(std::span<const T> proba, std::size_t k,
                                std::span<const std::int64_t> y, std::size_t bins = 15);

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
  /// ECE, MCE, Brier score and the reliability diagram of exp(log_proba).
  Calibration calibration;
};

/// Metrics of n rows of K log-probabilities (row-major, e.g. predict_log_proba) against the true
/// class indices y (n entries in [0, K)). The predicted class is the first largest entry.
/// `bins` is the reliability diagram's bin count (calibration_metrics). Throws InvalidArgument
/// on mismatched sizes, a label outside [0, K), a NaN row or bins == 0. n == 0 gives zero
/// counts and NaN accuracy, log loss and calibration errors.
template <class T>
Evaluation evaluate_predictions(std::span<const T> log_proba, std::size_t k,
                                std::span<const std::int64_t> y, std::size_t bins = 15);

}  // namespace softreg
