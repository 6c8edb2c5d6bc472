// The second-moment preconditioner of L-BFGS for softmax regression with up to 2048 features.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "softreg/distributed.hpp"
#include "softreg/matrix.hpp"
#include "softreg/model.hpp"

namespace softreg::detail {

/// H0 = M^-1 applied to every class's column of theta = [W; b] ((d + 1) x K, row-major), with
/// M = q E[x~ x~^T] + lambda I_W + delta I: x~ = [x', 1] the preprocessed features and the bias
/// input, q = (1/K)(1 - 1/K) the softmax curvature at uniform probabilities, lambda the
/// penalty (not on the bias) and delta a ridge of 1e-9 of M's mean diagonal. This is the
/// Hessian at the start, where every class has probability 1/K, with the class coupling
/// dropped: correlated features (neighbouring pixels) then stop dictating tiny steps, and
/// L-BFGS needs several times fewer iterations than with the diagonal alone.
class SecondMomentPreconditioner {
 public:
  /// Built from up to kSampleRows rows (evenly spaced among `rows`, or among all rows if
  /// empty) of x, dense or CSR (the same numbers either way), with d <= kMaxFeatures; returns
  /// null for wider data, or if M is not positive definite, and the caller falls back to the
  /// diagonal. E is weighted by
  /// weights[row] (indexed by row; empty: all 1), as the objective weighs the rows, so that a
  /// row of weight 2 shapes the path as two copies of it would.
  /// threads: the workers of the second-moment products (0: softreg::get_num_threads()); the
  /// result does not depend on it. With `comm` (collective): `rows` are this rank's part of a
  /// sample the caller drew over every rank's rows (all taken, none sampled again, possibly
  /// none), and the moments are summed over the ranks.
  template <class T>
  static std::unique_ptr<SecondMomentPreconditioner> build(
      const FeatureMatrix<T>& x, const Preprocessing& pre, std::span<const std::size_t> rows,
      std::span<const double> weights, std::size_t k, double l2, int threads = 0,
      Communicator* comm = nullptr);

  /// theta <- M^-1 theta, in place (d K + K entries).
  void apply(std::span<double> theta) const;

  static constexpr std::size_t kSampleRows = 8192;
  static constexpr std::size_t kMaxFeatures = 2048;

 private:
  std::size_t d1_ = 0;  // d + 1
  std::size_t k_ = 0;
  std::vector<double> chol_;   // lower Cholesky factor L of M, row-major d1 x d1
  std::vector<double> upper_;  // L^T, row-major, for the backward solve's contiguous rows
  mutable std::vector<double> work_;
};

}  // namespace softreg::detail
