// Cross-entropy: from logits through log-softmax (the default) and the clipped-probability form,
// with the fused forward + backward that writes dlogits = (S p - q) / denominator in one pass.
//
// Semantics follow PyTorch's torch.nn.functional.cross_entropy (docs/NUMERICS.md lists where
// softreg differs). With log-probabilities y = log_softmax(z) of a row, class weights w (all 1
// when not given), smoothing eps and K classes, each row has a target vector q:
//   index target c:        q = (1 - eps) w_c e_c + (eps / K) w      (q = 0 if c == ignore_index)
//   probability target t:  q_k = w_k ((1 - eps) t_k + eps / K)
// and loss_row = -sum_k q_k y_k, with 0 * (-inf) taken as 0 (a masked class with no target mass
// costs nothing). Its gradient is d loss_row / dz = S p - q with S = sum_k q_k.
// Reductions: none (one loss per row), sum, and mean, which divides by sum of w_c over the
// rows that are not ignored for index targets and by the number of rows for probability targets.
// If that denominator is 0 (every target ignored, or zero weights) the mean is 0 and the
// gradient is 0; PyTorch returns NaN there.
//
// Shapes: logits have `shape` with classes along `class_axis` (default -1, the last; pass 1
// for PyTorch's (N, C, d1, ...) layout). Index targets have one entry per row, i.e. the shape
// without the class axis, in row order; probability targets have the shape of the logits.
// Losses are accumulated and returned in double.
// Errors: index targets outside [0, K) other than ignore_index, class weights that are
// negative or not finite, or of a size other than K, smoothing outside [0, 1], and mismatched
// sizes throw InvalidArgument naming the row or element. NaN logits make that row's loss and
// gradient NaN; probability targets are not validated (as in PyTorch).
// Error bound (float32 logits): each row loss is within 8 eps_f32 sum_k q_k (1 + |y_k|) of
// the float64 value and each gradient entry within 8 eps_f32 (1 + |d_k|) S p_k + 2 eps_f32 q_k
// (+ the smallest normal float), times the reduction's scale.
#pragma once

#include <cstdint>
#include <span>

#include "softreg/shape.hpp"

namespace softreg {

enum class Reduction { none, mean, sum };

/// Options shared by the cross-entropy functions. T is the logits' type.
template <class T>
struct CrossEntropyOptions {
  Reduction reduction = Reduction::mean;
  /// Per-class weights, K entries, finite and >= 0; empty means all 1.
  std::span<const T> class_weights{};
  /// Label smoothing eps in [0, 1].
  double label_smoothing = 0.0;
  /// Index targets equal to this contribute nothing (loss 0, gradient 0, not counted by mean).
  std::int64_t ignore_index = -100;
  /// The axis of `shape` that holds the classes.
  int class_axis = -1;
};

/// Cross-entropy of `logits` against integer class targets. Returns the loss reduced as
/// options.reduction says; with Reduction::none it returns the sum of the row losses.
/// row_losses, if non-empty (required for Reduction::none), receives each row's loss (weighted,
/// before reduction), one per row in row order.
double cross_entropy(std::span<const float> logits, const Shape& shape,
                     std::span<const std::int64_t> target,
                     const CrossEntropyOptions<float>& options = {},
                     std::span<float> row_losses = {});
double cross_entropy(std::span<const double> logits, const Shape& shape,
                     std::span<const std::int64_t> target,
                     const CrossEntropyOptions<double>& options = {},
                     std::span<double> row_losses = {});

/// Cross-entropy against probability targets (one-hot or soft), target of the logits' shape.
/// options.ignore_index is not used.
double cross_entropy(std::span<const float> logits, const Shape& shape,
                     std::span<const float> target_probs,
                     const CrossEntropyOptions<float>& options = {},
                     std::span<float> row_losses = {});
double cross_entropy(std::span<const double> logits, const Shape& shape,
                     std::span<const double> target_probs,
                     const CrossEntropyOptions<double>& options = {},
                     std::span<double> row_losses = {});

/// Fused forward + backward: returns the loss as cross_entropy() does and OVERWRITES dlogits
/// with its gradient with respect to the logits, (S p - q) / denominator: for mean over n
/// unweighted index targets that is the seed's (P - Y) / n. For Reduction::none the gradient
/// is that of the sum of the row losses. Each row is read once to find its maximum and its
/// normalizer and once more to write the gradient; dlogits may be logits itself (in place).
double cross_entropy_with_grad(std::span<float> dlogits, std::span<const float> logits,
                               const Shape& shape, std::span<const std::int64_t> target,
                               const CrossEntropyOptions<float>& options = {},
                               std::span<float> row_losses = {});
double cross_entropy_with_grad(std::span<double> dlogits, std::span<const double> logits,
                               const Shape& shape, std::span<const std::int64_t> target,
                               const CrossEntropyOptions<double>& options = {},
                               std::span<double> row_losses = {});
double cross_entropy_with_grad(std::span<float> dlogits, std::span<const float> logits,
                               const Shape& shape, std::span<const float> target_probs,
                               const CrossEntropyOptions<float>& options = {},
                               std::span<float> row_losses = {});
double cross_entropy_with_grad(std::span<double> dlogits, std::span<const double> logits,
                               const Shape& shape, std::span<const double> target_probs,
                               const CrossEntropyOptions<double>& options = {},
                               std::span<double> row_losses = {});

/// The clipped-probability form: -sum_k Y_k log(clip(P_k, eps, 1 - eps)) per row, for
/// probabilities P (rows x K, already normalized) and integer targets (one per row). Kept for
/// users who hold probabilities, not logits; prefer cross_entropy() on logits, which needs no
/// clipping and has no eps bias. eps in (0, 0.5); note that 1 - 1e-15 rounds to 1 in float.
/// Reduction as above (mean divides by the number of rows); no weights, no ignore_index.
double cross_entropy_from_probs(std::span<const float> probs, const Shape& shape,
                                std::span<const std::int64_t> target, double eps = 1e-15,
                                Reduction reduction = Reduction::mean,
                                std::span<float> row_losses = {});
double cross_entropy_from_probs(std::span<const double> probs, const Shape& shape,
                                std::span<const std::int64_t> target, double eps = 1e-15,
                                Reduction reduction = Reduction::mean,
                                std::span<double> row_losses = {});

}  // namespace softreg
