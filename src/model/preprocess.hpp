// Fitting the feature preprocessing and folding it into weights.
#pragma once

#include <algorithm>
#include <span>
#include <vector>

#include "softreg/distributed.hpp"
#include "softreg/matrix.hpp"
#include "softreg/model.hpp"

namespace softreg::detail {

/// Per-feature weighted sums (value, square, extremes) and their total weight, added up block
/// by block and rank by rank: what the preprocessing and the diagonal preconditioner are
/// computed from.
struct FeatureMoments {
  std::vector<double> sum, sum_sq, min, max;
  double weight = 0.0;  // the sums' total weight: the row count when unweighted
  explicit FeatureMoments(std::size_t d);
  void add(std::size_t j, double v, double w) {
    sum[j] += w * v;
    sum_sq[j] += w * v * v;
    min[j] = std::min(min[j], v);
    max[j] = std::max(max[j], v);
  }
  /// Adds the rows of x listed in rows (all if empty), row i weighted by weights[i] (1 if
  /// weights is empty); implicit zeros of sparse rows count as values.
  template <class T>
  void add(const FeatureMatrix<T>& x, std::span<const std::size_t> rows,
           std::span<const double> weights);
  /// Every rank's sums added and extremes taken (collective; nothing for null).
  void combine(Communicator* comm);
  /// fit_preprocessing's result from these moments.
  Preprocessing preprocessing(Scaling kind) const;
  /// inverse_hessian_diagonal's result from these moments.
  std::vector<double> inverse_hessian_diagonal(const Preprocessing& pre, std::size_t k,
                                               double l2) const;
};

/// Per-feature offset and scale of `kind` from the rows of x listed in rows (all rows if
/// empty). Implicit zeros of sparse rows count as values. With `comm`, the moments are every
/// rank's rows' (collective).
template <class T>
Preprocessing fit_preprocessing(const FeatureMatrix<T>& x, Scaling kind,
                                std::span<const std::size_t> rows, Communicator* comm = nullptr);

/// theta_raw = [W', b'] with W' = diag(scale) W and b' = b - (offset * scale)^T W, the
/// parameters that act on raw features. theta is [W (d x K), b (K)].
void fold(const Preprocessing& pre, std::size_t d, std::size_t k, std::span<const double> theta,
          std::span<double> theta_raw);

/// The chain rule through fold(): from the gradient with respect to [W', b'] to the one with
/// respect to [W, b]. In place.
void unfold_gradient(const Preprocessing& pre, std::size_t d, std::size_t k,
                     std::span<double> grad);

/// A diagonal approximation of the inverse Hessian of the objective at the uniform start, for
/// LbfgsOptions::h0_diagonal: for W[j][c], 1 / (q E[x'_j^2] + l2) with q = (1/K)(1 - 1/K) the
/// softmax curvature at uniform probabilities and x' the preprocessed feature; for b[c], 1 / q.
/// Features of very different scales (or always-zero pixels, held by the penalty alone) then
/// start out with steps of the right size. E is over `rows` (all if empty), weighted by
/// weights[row] (indexed by row; empty: all 1) as the objective weighs them, so that a row of
/// weight 2 shapes the path exactly as two copies of it would.
template <class T>
std::vector<double> inverse_hessian_diagonal(const FeatureMatrix<T>& x, const Preprocessing& pre,
                                             std::span<const std::size_t> rows,
                                             std::span<const double> weights, std::size_t k,
                                             double l2, Communicator* comm = nullptr);

}  // namespace softreg::detail
