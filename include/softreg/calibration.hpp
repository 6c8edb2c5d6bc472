// Temperature scaling: the one-parameter calibration p = softmax(z / T) fitted to held-out data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace softreg {

/// The search range of fit_temperature and how precisely it solves.
struct TemperatureOptions {
  /// T is searched in [min_temperature, max_temperature]. On data the logits separate
  /// perfectly (every row's true class has the largest logit and no ties) the log loss keeps
  /// falling as T -> 0, so no finite minimum exists: the fit stops at min_temperature and
  /// says so (TemperatureFit::at_bound). Likewise T -> infinity when the true class's logit is
  /// below its row's mean on average. Both must be finite with 0 < min <= 1 <= max.
  double min_temperature = 1e-2;
  double max_temperature = 1e2;
  /// Stop when a step changes 1 / T by at most this much relative to 1 / T.
  double tol = 1e-10;
  int max_iter = 100;
};

struct TemperatureFit {
  double temperature = 1.0;
  double loss_before = 0.0;  // mean log loss at T = 1
  double loss_after = 0.0;   // mean log loss at the fitted T
  int iterations = 0;        // Newton or bisection steps taken
  bool at_bound = false;     // T is min_temperature or max_temperature (see TemperatureOptions)
};

/// Mean negative log-likelihood of softmax(z / T) over n rows of K logits (row-major,
/// logits.size() == n K) against true class indices y (n entries in [0, K)):
///   L(T) = (1/n) sum_i [ logsumexp(z_i / T) - z_{i, y_i} / T ],
/// computed in double from the max-shifted row. Throws InvalidArgument on mismatched sizes,
/// K == 0, T not finite and > 0, a label outside [0, K), or a non-finite logit (naming the row
/// and column). n == 0 gives NaN.
template <class T>
double temperature_log_loss(std::span<const T> logits, std::size_t k,
                            std::span<const std::int64_t> y, double temperature);

/// The temperature T that minimises temperature_log_loss on (logits, y): the calibration of
/// Guo et al. (2017), "On Calibration of Modern Neural Networks". Argmax predictions do not
/// change with T.
///
/// Method: in beta = 1 / T the loss is convex (logsumexp of a linear function of beta, minus a
/// linear term), with L'(beta) = mean_i (E_{p_i}[z_i] - z_{i, y_i}) increasing and
/// L''(beta) = mean_i Var_{p_i}(z_i) >= 0. So the minimiser is the root of L' in
/// [1 / max_temperature, 1 / min_temperature], found by Newton's method safeguarded by a
/// bracket (bisection, in log beta, whenever a Newton step leaves it); it converges in a few
/// steps from beta = 1, each a pass over the n K logits. When L' has no root in the range, T is
/// the nearer end (at_bound). K == 1 (every probability is 1) and logits constant within each
/// row give T = 1.
///
/// Throws InvalidArgument for n == 0 ("no rows to calibrate on"), mismatched sizes, K == 0,
/// a label outside [0, K), a NaN or infinite logit (naming the row and column), or options out
/// of range.
template <class T>
TemperatureFit fit_temperature(std::span<const T> logits, std::size_t k,
                               std::span<const std::int64_t> y,
                               const TemperatureOptions& options = {});

}  // namespace softreg
