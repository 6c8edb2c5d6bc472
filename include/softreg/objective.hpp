// The softmax-regression training objective: regularized weighted mean cross-entropy over a
// dataset, with its value and gradient computed in one fused pass over blocks of rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "softreg/matrix.hpp"

namespace softreg {

struct ObjectiveOptions {
  /// lambda of the penalty (lambda / 2) ||W||^2; the bias is not penalized. >= 0.
  double l2 = 0.0;
  /// Per-row weights s_i (n entries, finite, >= 0), or empty for all 1.
  std::vector<double> sample_weight;
  /// Per-class weights c_k (K entries, finite, >= 0), or empty for all 1.
  std::vector<double> class_weight;
  /// Rows per block: the block's rows and logits stay in cache between the two products (128
  /// rows of 784 floats fit in a 512 KiB L2 with room to spare; measured ~5% faster than 256).
  std::size_t block_rows = 128;
  /// Worker threads over blocks; 0 means softreg::get_num_threads(). The result is bitwise the
  /// same for any count.
  int threads = 1;
};

/// The unnormalised sums of one pass over rows: what data-parallel shards add up before
/// anything is divided. The gradient sum sum_i s_i c_{y_i} dCE_i / dtheta goes to the caller's
/// span beside it.
struct ObjectiveSums {
  double loss = 0.0;        // sum_i s_i c_{y_i} CE_i
  double weight = 0.0;      // sum_i s_i (the mean's normalizer)
  std::size_t correct = 0;  // rows predicted as their label (argmax rule; NaN rows: wrong)
  std::size_t rows = 0;     // rows evaluated
};

/// The one place the mean and the penalty are formed: returns loss / weight + (l2 / 2) ||W||^2
/// and turns grad (the gradient sum, or empty) into grad / weight + l2 [W, 0]. theta is
/// [W (d x K), b (K)] with d K = theta.size() - k; the bias is not penalized. A weight of 0 (no
/// rows) gives the penalty alone.
double penalized_mean(const ObjectiveSums& sums, std::span<const double> theta, std::size_t k,
                      std::span<double> grad, double l2);

/// f(theta) = (1 / sum_i s_i) sum_i s_i c_{y_i} CE(x_i W + b, y_i) + (lambda / 2) ||W||^2
/// for theta = [W (d x K, row-major), b (K)], so n_params() = d K + K. With unit weights this
/// is scikit-learn's LogisticRegression objective divided by C n, i.e. C = 1 / (lambda n).
///
/// One evaluation reads each row of X once: per block of rows, logits Z = X_b W + b (vectorized
/// dot products for dense X, a CSR loop for sparse X), the fused softmax cross-entropy turns Z
/// into dZ = s c (P - Y) / sum s while the block is in cache, then G += X_b^T dZ. Parameters and
/// gradients are double; the products run in T (float or double); the loss and the gradient
/// are accumulated in double per group of blocks (a fixed number of groups, chosen from the
/// problem's size alone) and the groups are added in order, so the result is bitwise the same
/// for any thread count. The objective keeps references to X and y: they must outlive it.
template <class T>
class SoftmaxObjective {
 public:
  /// X is n x d; y holds n class indices in [0, K). Throws InvalidArgument on size mismatch, a
  /// label outside [0, K), or invalid weights.
  SoftmaxObjective(const FeatureMatrix<T>& x, std::span<const std::int64_t> y, std::size_t k,
                   ObjectiveOptions options);
  ~SoftmaxObjective();
  SoftmaxObjective(const SoftmaxObjective&) = delete;
  SoftmaxObjective& operator=(const SoftmaxObjective&) = delete;

  std::size_t n_params() const { return d_ * k_ + k_; }
  std::size_t n_rows() const { return n_; }
  std::size_t n_features() const { return d_; }
  std::size_t n_classes() const { return k_; }

  /// Value at theta over all rows; writes the gradient into grad unless grad is empty.
  double evaluate(std::span<const double> theta, std::span<double> grad);

  /// The same objective restricted to the given rows (a mini-batch): the mean is over those
  /// rows' weights, the penalty is added in full. Row indices must be < n_rows().
  double evaluate_rows(std::span<const double> theta, std::span<double> grad,
                       std::span<const std::size_t> rows);

  /// The unnormalised sums over all rows at theta, without the penalty; writes the gradient
  /// sum into grad_sum unless it is empty. evaluate() is penalized_mean() of this.
  ObjectiveSums sums(std::span<const double> theta, std::span<double> grad_sum);

  /// The same over exactly the given rows: an empty list gives zero sums (and a zero gradient),
  /// as evaluate_rows does. Row indices must be < n_rows().
  ObjectiveSums sums(std::span<const double> theta, std::span<double> grad_sum,
                     std::span<const std::size_t> rows);

  /// Keep the class probabilities of every gradient pass from now on (rows x K in T), so that
  /// hessian_vector_sum() can follow it; off by default (no memory taken).
  void keep_probabilities(bool on);

  /// The Hessian of the last gradient pass's loss sum times a direction v = [V (d x K), v_b
  /// (K)], summed as sums() sums the gradient: sum_i s_i c_{y_i} [x_i, 1]^T (p_i * u_i - p_i
  /// (p_i . u_i)) with u_i = x_i V + v_b and p_i the probabilities kept at that pass's theta,
  /// over that pass's rows. Costs about one gradient pass without the exponentials. Throws
  /// InvalidArgument unless keep_probabilities(true) preceded a gradient pass, or on a size
  /// mismatch (v and out have n_params() entries).
  void hessian_vector_sum(std::span<const double> v, std::span<double> out);

  /// Fraction of the rows of the last evaluation whose predicted class is the label, with the
  /// argmax rule of predict (the first largest logit wins a tie; a row holding NaN is wrong):
  /// training accuracy at no extra pass.
  double last_accuracy() const { return last_accuracy_; }

 private:
  struct Workspace;
  struct Pass;
  ObjectiveSums run(std::span<const double> theta, std::span<double> grad,
                    std::span<const std::size_t> rows);
  void load_parameters(std::span<const double> theta);
  void execute(Pass& pass, std::span<double> grad, ObjectiveSums& out);
  void run_blocks(Pass& pass, std::size_t block_begin, std::size_t block_end,
                  std::span<double> grad, ObjectiveSums& out);
  void run_group(Workspace& ws, const Pass& pass, std::size_t first, std::size_t last) const;
  void block_loss(Workspace& ws, const Pass& pass, std::size_t begin, std::size_t m, T* z) const;
  void block_curvature(const Pass& pass, std::size_t begin, std::size_t m, T* z) const;
  void count_correct(Workspace& ws, const std::size_t* idx, std::size_t begin, std::size_t m,
                     const T* z) const;

  const FeatureMatrix<T>& x_;
  std::span<const std::int64_t> y_;
  std::size_t n_, d_, k_;
  ObjectiveOptions options_;
  std::vector<double> row_weight_;  // s_i c_{y_i}, empty when all 1
  double total_weight_ = 0.0;       // sum_i s_i
  std::vector<std::unique_ptr<Workspace>> workspaces_;
  std::vector<T> wt_, w_t_;         // theta in T, and W transposed (dense): per-call scratch
  std::vector<double> transposed_;  // the reduction's K x d gradient, before transposing
  // Sparse data: the pass's rows in parts, each part's entries by column, and a part's dZ.
  struct Columns;
  std::unique_ptr<Columns> columns_;
  // Curvature: the probabilities of the last gradient pass (its rows x K) and its row list.
  bool keep_probabilities_ = false, have_probabilities_ = false;
  std::vector<T> probs_;
  std::vector<std::size_t> probs_rows_;
  double last_accuracy_ = 0.0;
};

extern template class SoftmaxObjective<float>;
extern template class SoftmaxObjective<double>;

}  // namespace softreg
