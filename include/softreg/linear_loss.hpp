// The output layer of a language model and its loss in one pass: cross-entropy of
// softmax(hidden W + b) against integer targets, and its gradients, without ever holding the
// n x K logits.
//
// Definition (docs/NUMERICS.md, "Linear + cross-entropy"). Row i of hidden (n x d) has logits
// z_i = h_i W + b (W is d x K, or K x d read transposed: WeightLayout), capped when softcap >
// 0 as z <- cap tanh(z / cap) (Gemma 2), and lse_i = log sum_c exp(z_ic). With class weights w
// (all 1 when not given), W_s = sum_c w_c, smoothing eps and target t_i, the row's loss is
// cross_entropy()'s (include/softreg/loss.hpp) plus the z-loss:
//   loss_i = (1 - eps) w_t (lse_i - z_it) + (eps / K) (W_s lse_i - sum_c w_c z_ic)
//            + z_loss lse_i^2,
// and 0 for a row whose target is ignore_index. Reductions: none (row losses), sum, and mean,
// which divides by sum_i w_{t_i} over the rows not ignored (0 when that is 0, as
// cross_entropy() does; without class weights that is the count of those rows, the z-loss
// included, as Liger Kernel's and PaLM's mean over tokens).
// Gradients: with g_ic = dloss/dz_ic = r_i [ (S_i + 2 z_loss lse_i) p_ic - q_ic ], q_ic =
// (1 - eps) w_t [c == t] + eps w_c / K, S_i = sum_c q_ic, r_i the reduction's scale (1 / the
// mean's denominator, or 1; Reduction::none gives the gradient of the sum of the row losses),
// times (1 - (z_ic / cap)^2) under the cap: d_hidden = G W^T, d_weight = H^T G (in the
// weight's layout), d_bias = sum_i g_i.
//
// Accumulation: products in the data type (float32 products over d, in order), each row's
// logsumexp from float32 partial sums merged per vocabulary slice, row losses and their total in
// float64. The split into row chunks and vocabulary slices depends on n, d and K alone, so
// results are bitwise the same for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "softreg/loss.hpp"

namespace softreg {

/// How the weight is stored.
enum class WeightLayout {
  dk,  // d x K row-major (the seed's W: logits = hidden W)
  kd,  // K x d row-major (PyTorch's nn.Linear weight, tied embeddings: logits = hidden W^T)
};

template <class T>
struct LinearCrossEntropyOptions {
  Reduction reduction = Reduction::mean;
  std::int64_t ignore_index = -100;
  std::span<const T> class_weights{};  // K entries, finite and >= 0; empty: all 1
  double label_smoothing = 0.0;        // in [0, 1]
  double z_loss = 0.0;                 // coefficient of lse^2, finite and >= 0
  double softcap = 0.0;                // 0: off; > 0 and finite: z <- cap tanh(z / cap)
  /// Gradient filtering: without label smoothing, a block of 256 classes that holds no row's
  /// target and in which every probability p_ic is below 2^-24 adds nothing to d_weight,
  /// d_bias and d_hidden (its entries, |g_ic| < 2^-24 r_i (S_i + 2 z_loss lse_i), are below
  /// float32 resolution of the row's target entry). The loss is unchanged; d_hidden row i may
  /// differ by at most 2^-24 r_i (S_i + 2 z_loss lse_i) sum over skipped classes |w_c|, and a
  /// skipped class's d_weight / d_bias entries by 2^-24 sum_i r_i (S_i + 2 z_loss lse_i) |h_i|
  /// (tested). Ignored with label smoothing (every class then has a gradient of its own).
  bool filter_gradient = false;
  WeightLayout layout = WeightLayout::dk;
  int threads = 0;  // 0: softreg::get_num_threads()
};

/// Where the gradients go; an empty span skips that gradient (d_bias must be empty without a
/// bias). Each is overwritten.
template <class T>
struct LinearCrossEntropyGrads {
  std::span<T> d_hidden;  // n x d
  std::span<T> d_weight;  // the weight's layout and size
  std::span<T> d_bias;    // K
};

/// The loss of softmax(hidden W + bias) against `target` (n entries in [0, K) or ignore_index),
/// reduced as options.reduction says (Reduction::none returns the sum of the row losses);
/// row_losses (n entries, required for Reduction::none) receives each row's loss. hidden is
/// n x d row-major; weight d x K or K x d (options.layout); bias K entries or empty.
///
/// Throws InvalidArgument for sizes that do not match, d or K of 0, a target outside [0, K)
/// other than ignore_index (naming its row), class weights that are negative, not finite or
/// not K, smoothing outside [0, 1], a negative or non-finite z_loss, a negative or non-finite
/// softcap. NaN or inf in a row of hidden, or anywhere in weight or bias, makes the losses of
/// the rows it reaches NaN (and the gradients they touch), as the logits would. n == 0 gives 0
/// and zero gradients; K == 1 gives lse = z, loss 0 (plus the z-loss).
double linear_cross_entropy(std::span<const float> hidden, std::size_t n, std::size_t d,
                            std::span<const float> weight, std::size_t k,
                            std::span<const float> bias, std::span<const std::int64_t> target,
                            const LinearCrossEntropyOptions<float>& options = {},
                            std::span<float> row_losses = {});
double linear_cross_entropy(std::span<const double> hidden, std::size_t n, std::size_t d,
                            std::span<const double> weight, std::size_t k,
                            std::span<const double> bias, std::span<const std::int64_t> target,
                            const LinearCrossEntropyOptions<double>& options = {},
                            std::span<double> row_losses = {});

/// The loss as above and its gradients (the forward computes each block's gradient while the
/// block is in cache: the logits of a chunk of rows are held once, never all n x K).
double linear_cross_entropy_with_grad(std::span<const float> hidden, std::size_t n, std::size_t d,
                                      std::span<const float> weight, std::size_t k,
                                      std::span<const float> bias,
                                      std::span<const std::int64_t> target,
                                      const LinearCrossEntropyGrads<float>& grads,
                                      const LinearCrossEntropyOptions<float>& options = {},
                                      std::span<float> row_losses = {});
double linear_cross_entropy_with_grad(std::span<const double> hidden, std::size_t n, std::size_t d,
                                      std::span<const double> weight, std::size_t k,
                                      std::span<const double> bias,
                                      std::span<const std::int64_t> target,
                                      const LinearCrossEntropyGrads<double>& grads,
                                      const LinearCrossEntropyOptions<double>& options = {},
                                      std::span<double> row_losses = {});

/// Rows per chunk for (n, d, K): the chunk's logits (K x rows, rows padded to 16), its packed
/// hidden rows and the vocabulary slices' parts of d_hidden are the call's working memory, kept
/// within 4.5% of the n x K float32 logits (16 to 256 rows; 16 rows when n is small).
std::size_t linear_cross_entropy_chunk_rows(std::size_t n, std::size_t d, std::size_t k);

}  // namespace softreg
