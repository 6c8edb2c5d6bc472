// SAGA (Defazio, Bach and Lacoste-Julien 2014) for the softmax-regression objective, with lazy
// ("just-in-time") updates so that a step costs O(nnz of its row x K), not O(d K).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "softreg/matrix.hpp"
#include "softreg/optim.hpp"

namespace softreg::detail {

struct SagaProblem {
  std::span<const std::int64_t> y;        // class of every row of x
  std::size_t k = 0;                      // classes
  std::span<const std::size_t> rows;      // the training rows (empty: all)
  std::span<const double> sample_weight;  // per row of x, or empty for all 1
  std::span<const double> class_weight;   // per class, or empty for all 1
  double l2 = 0.0;                        // lambda of (lambda / 2) ||W||^2
  bool fit_intercept = true;              // false: b stays as given (0 for the model's fits)
};

/// What SAGA needs beyond x to continue a run the caller stopped (checkpoint and resume): the
/// remembered gradients and their sums, the step, the counters and the iterate. With
/// threads >= 2 a stop is seen while the next epoch runs, so the state is then that epoch's
/// (epochs = evaluated + 1) and a resume evaluates it first, as the run never stopped does.
struct SagaState {
  int epochs = 0;                 // epochs run: memory, sums, step and x are as they left them
  int evaluated = 0;              // epochs whose iterate was evaluated (epochs or epochs - 1)
  int evaluations = 0;            // full evaluations so far
  std::array<int, 2> halve_at{};  // epochs that come with a halved step, by parity (0: none)
  int widen_at = 0;               // the epoch from which storage is double (0: none yet)
  double step = 0.0;              // the step size
  double previous = 0.0;          // the latest evaluated objective
  std::vector<double> x;          // the iterate after `epochs` epochs
  std::vector<double> history, memory, sum_w, sum_b;
  EarlyStoppingState early_stopping;
};

struct SagaOptions {
  int epochs = 100;         // passes over the training rows
  double grad_tol = 1e-5;   // stop when the full gradient's max-norm is at most this
  std::uint64_t seed = 0;   // the order of the rows, reshuffled every epoch
  int patience = 0;         // early stopping on the validation loss, in epochs
  double step_scale = 1.0;  // multiplies the step (> 0; tests of the guard use long steps)
  /// The gradient max-norm at which the float storage of W's copy, the sums and the
  /// remembered gradients turns double (two epochs later, the sums recomputed exactly);
  /// infinity: double from the start.
  double widen_below = 1e-5;
  int threads = 1;  // >= 2: each epoch's evaluation overlaps the next epoch
  /// Continue the run `resume` describes: bitwise the run never stopped, for the same data,
  /// options and validation (any thread count).
  const SagaState* resume = nullptr;
  /// When set, receives the state of a run stopped by the caller (taking over its memory).
  SagaState* save = nullptr;
};

/// Minimizes (1 / sum s_i) sum_i s_i c_{y_i} CE(x_i W + b, y_i) + (lambda / 2) ||W||^2 over
/// theta = [W (d x K), b (K)] (updated in place) by SAGA: one row at a time in a seeded
/// order, the step being the row's new gradient minus the one remembered for it plus the
/// average of all remembered ones; the penalty is a scale factor on W and the average's
/// contribution to a feature is applied only when a row next uses it (or at the end of an
/// epoch), in closed form. The bias is stepped as the weight u of a constant feature of value
/// beta, b = beta u, with beta^2 the mean square of the features' non-zero values (a feature of
/// the data's typical size; the optimum is the same, as b is not penalized). Step size
/// 1 / (L + min(n lambda, L / 2)) with L the largest row Lipschitz constant,
/// (s c n / sum s) (||x_i||^2 + beta^2) / 2 + lambda (beta^2 only with an intercept; twice the
/// step of the convergence proofs; the bound is loose for the softmax), halved after any epoch
/// whose objective is above the previous epoch's. Sequential, hence the same bits for any
/// thread count. After every epoch `full` (the objective with its gradient, at
/// theta) gives the loss and the gradient's max-norm reported to `progress` and tested against
/// grad_tol; with options.threads >= 2 that evaluation (of a copy of theta, on a worker of
/// the pool, where the objective's own passes then run on that one thread) overlaps the next
/// epoch, and the result is bitwise that of one thread. Storage: the remembered gradients
/// (n K) and a copy of W packed with its per-feature sums (2 d K, K rounded up to 16) are
/// float, which makes a step about 1.4x faster (its cost is the random reads of those lines),
/// until the gradient's max-norm reaches options.widen_below or the objective rises; two
/// epochs later they become double (W in theta) with the sums recomputed from the remembered
/// gradients, as float's rounding of the sums would floor the gradient near 1e-7 to 1e-9.
/// Double data's values are rounded to float for the float steps only: the double steps, and
/// the optimum they reach, are the data's. Memory: the remembered gradients and
/// the sums (8 (n K + d K) bytes wide, 4 n K + 8 d K narrow, both at the widening), a copy of
/// theta (the latest with a finite objective, which a divergence returns), and with threads a
/// second one.
template <class T>
OptimResult saga(const FeatureMatrix<T>& x, const SagaProblem& problem, std::span<double> theta,
                 const SagaOptions& options, const Objective& full,
                 const ProgressCallback& progress, const ValidationLoss& validation);

}  // namespace softreg::detail
