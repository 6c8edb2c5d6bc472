// Optimizers over a parameter vector: full-batch L-BFGS with a strong-Wolfe line search, and
// mini-batch SGD with momentum and Adam. They see only functions of a parameter vector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace softreg {

/// f(x), writing the gradient into g (same size as x).
using Objective = std::function<double(std::span<const double> x, std::span<double> g)>;

/// f restricted to a mini-batch of row indices, writing the gradient into g.
using BatchObjective = std::function<double(std::span<const double> x, std::span<double> g,
                                            std::span<const std::size_t> rows)>;

/// What an optimizer reports after each iteration (L-BFGS) or epoch (SGD, Adam).
struct Progress {
  int iteration = 0;  // 1-based
  int max_iterations = 0;
  double loss = 0.0;       // objective value (SGD / Adam: mean mini-batch loss of the epoch)
  double grad_norm = 0.0;  // L-BFGS: max-norm of the gradient; SGD / Adam: NaN
  double valid_loss = -1;  // validation loss when a validation function is given, else -1
  double accuracy = -1;    // training accuracy when the caller knows it (the model fills it)
  double valid_accuracy = -1;
  bool warmup = false;  // an epoch of the Adam warm-up before L-BFGS (SoftmaxRegression::fit)
};

/// Return false to stop the optimizer after the current iteration (Ctrl-C, early stopping).
using ProgressCallback = std::function<bool(const Progress&)>;

/// Optional validation loss at x, used for early stopping.
using ValidationLoss = std::function<double(std::span<const double> x)>;

struct OptimResult {
  double loss = 0.0;
  double grad_norm = 0.0;    // max-norm of the final gradient (NaN if not computed)
  int iterations = 0;        // iterations (L-BFGS) or epochs (SGD, Adam) done
  int evaluations = 0;       // objective evaluations (L-BFGS, Newton) or mini-batch steps
  int hessian_products = 0;  // Hessian-vector products (Newton-CG)
  bool converged = false;    // a tolerance was met (not the iteration limit or a stop)
  /// SGD, Adam, SAGA: the loss of epoch `iterations + 1` was NaN or infinite (loss holds it);
  /// x is the iterate after `iterations` epochs, the last whose loss was finite, and history
  /// ends there.
  bool diverged = false;
  std::string message;          // why it stopped, in words
  std::vector<double> history;  // loss after each iteration / epoch
};

/// Early stopping's memory, for a resume of a run with a validation function: the best
/// validation loss so far, its x, the iterations since, and the x the run stopped at (its x
/// was then set back to the best; a resume continues from this one). Empty without validation.
struct EarlyStoppingState {
  double best = std::numeric_limits<double>::infinity();
  std::vector<double> best_x;
  int since_best = 0;
  std::vector<double> x;
};

/// What L-BFGS needs beyond x to continue a run exactly where it stopped (checkpoint and
/// resume): the curvature pairs, oldest first, and the counters. The gradient at x is not kept:
/// evaluating f at the same x gives the same bits.
struct LbfgsState {
  int iterations = 0;
  int evaluations = 0;
  int small_steps = 0;
  std::vector<double> history;
  std::vector<std::vector<double>> s, y;
  std::vector<double> rho;
  EarlyStoppingState early_stopping;
};

struct LbfgsOptions {
  int max_iterations = 100;
  int memory = 10;              // pairs (s, y) kept
  double grad_tol = 1e-5;       // stop when max |g_i| <= grad_tol
  double rel_loss_tol = 1e-10;  // stop when (f_old - f) <= rel_loss_tol * max(|f|, |f_old|, 1)
                                // on two iterations in a row
  int max_line_search = 25;     // evaluations per line search
  double c1 = 1e-4;             // sufficient decrease
  double c2 = 0.9;              // curvature (strong Wolfe)
  int patience = 0;             // > 0 with a validation function: stop after this many
                                // iterations without a better validation loss, keep the best
  /// Diagonal of the initial inverse-Hessian approximation H0 (one positive entry per
  /// parameter), or empty for the identity. Each iteration uses gamma * diag(h0) with gamma =
  /// s.y / (y.(h0 y)); the first step goes along -h0 g. A good h0 (1 / the Hessian's diagonal)
  /// saves iterations without changing the objective or the meaning of grad_tol.
  std::vector<double> h0_diagonal;
  /// A general H0 (symmetric positive definite), applied in place to a vector of the
  /// parameters' size; when set it replaces h0_diagonal, with the same gamma scaling
  /// (s.y / (y.(H0 y))).
  std::function<void(std::span<double>)> h0_apply;
  /// Worker threads for the vector algebra over the parameters (0: softreg::get_num_threads());
  /// the result is bitwise the same for any count.
  int threads = 1;
  /// The relative resolution of f's values (0: exact). When a line search finds no decrease
  /// and the decrease the quasi-Newton step predicts, -g.d (about twice the distance to the
  /// optimum's value), is within f_resolution * max(|f|, 1), the run has converged at the
  /// precision limit of f: a float32 objective cannot show smaller decreases.
  double f_resolution = 0.0;
  /// OWL-QN (Andrew and Gao, 2007) when l1 > 0: minimizes f(x) + l1 sum_{i < l1_count} |x_i|
  /// (the leading l1_count parameters penalized, the rest, such as intercepts, not). The
  /// curvature pairs come from f's gradient; directions follow the pseudo-gradient (the
  /// steepest-descent direction of the nonsmooth objective), are kept in its orthant, and the
  /// backtracking line search (Armijo with c1, halving) projects every trial point onto that
  /// orthant, so coordinates that would change sign stop at exactly 0. grad_tol then applies
  /// to the pseudo-gradient's max-norm, and the losses reported include the l1 term.
  double l1 = 0.0;
  std::size_t l1_count = 0;
  /// Continue the run `resume` describes from x (the x it stopped at, or with validation the
  /// one its early-stopping state kept): the result (x, the counts, the history, the message)
  /// is then bitwise that of the run never stopped, for the same f, validation, options and
  /// thread count. With l1 too (OWL-QN).
  const LbfgsState* resume = nullptr;
  /// When set, receives the state at the end of the run (for a later resume).
  LbfgsState* save = nullptr;
};

/// Minimizes f from x (updated in place) with limited-memory BFGS (OWL-QN with options.l1); the
/// line search finds a step meeting the strong Wolfe conditions (bracketing and cubic zoom, Nocedal
/// and Wright 3.5-3.6). Deterministic. Throws InvalidArgument on bad options; a non-finite f or
/// gradient at x0 throws softreg::Error; a line search that cannot make progress ends the run
/// (converged = false, message says so) with the best x found.
OptimResult lbfgs(const Objective& f, std::span<double> x, const LbfgsOptions& options,
                  const ProgressCallback& progress = {}, const ValidationLoss& validation = {});

/// H v at the point of the objective's latest evaluation: newton_cg evaluates f (with its
/// gradient) at the current iterate before asking for products there.
using HessianProduct = std::function<void(std::span<const double> v, std::span<double> hv)>;

/// What Newton-CG needs beyond x to continue a run stopped after an iteration: the trust
/// region's radius and the counters (the gradient and the Hessian's point are f at x again).
struct NewtonState {
  int iterations = 0;
  int evaluations = 0;
  int hessian_products = 0;
  int small_steps = 0;
  double radius = 0.0;
  std::vector<double> history;
  EarlyStoppingState early_stopping;
};

struct NewtonOptions {
  int max_iterations = 100;     // Newton (outer) iterations
  double grad_tol = 1e-5;       // stop when max |g_i| <= grad_tol
  double rel_loss_tol = 1e-10;  // stop when (f_old - f) <= rel_loss_tol * max(|f|, |f_old|, 1)
                                // on two iterations in a row
  double cg_forcing = 0.1;      // CG stops when ||r|| <= cg_forcing ||g|| (preconditioned norms)
  int max_cg = 250;             // Hessian products per Newton iteration
  int patience = 0;             // as LbfgsOptions::patience
  /// The diagonal of an approximate inverse Hessian (one positive entry per parameter), or
  /// empty for the identity: the CG preconditioner, and the trust region's shape
  /// (||s||^2 = sum s_i^2 / preconditioner_i).
  std::vector<double> preconditioner;
  /// As LbfgsOptions::f_resolution: a rejected step whose predicted decrease is within
  /// f_resolution * max(|f|, 1) means the run has converged at the precision limit of f.
  double f_resolution = 0.0;
  /// As LbfgsOptions::resume and save.
  const NewtonState* resume = nullptr;
  NewtonState* save = nullptr;
};

/// Minimizes a convex f from x (updated in place) by trust-region Newton (Lin, Weng and Keerthi
/// 2008, liblinear's TRON): each iteration solves H s = -g by preconditioned conjugate gradients
/// truncated at the trust region (Steihaug), accepts x + s when f drops by at least 1e-4 of the
/// quadratic model's prediction, and resizes the region by how well the model predicted.
/// Deterministic. Costs per iteration one evaluation of f and its gradient plus the CG's
/// products (a rejected step costs one more evaluation, to take products at x again). Throws
/// InvalidArgument on bad options; a non-finite f or gradient at x0 throws softreg::Error.
OptimResult newton_cg(const Objective& f, const HessianProduct& hv, std::span<double> x,
                      const NewtonOptions& options, const ProgressCallback& progress = {},
                      const ValidationLoss& validation = {});

enum class LrSchedule { constant, inverse_sqrt, cosine };

/// What SGD and Adam need beyond x to continue a run stopped after an epoch: the epochs and
/// steps done, the momentum (SGD) or both moments (Adam), the counters. The row order is not
/// kept: replaying the seeded shuffles of the epochs done gives it again.
struct StochasticState {
  int epochs = 0;
  std::size_t steps = 0;
  int evaluations = 0;
  std::vector<double> history;
  std::vector<double> m1, m2;
  EarlyStoppingState early_stopping;
};

struct StochasticOptions {
  int epochs = 10;
  std::size_t batch_size = 256;
  double lr = 0.1;  // SGD default; Adam usually wants about 1e-3
  LrSchedule schedule = LrSchedule::constant;
  double momentum = 0.9;   // SGD heavy-ball momentum, in [0, 1)
  double beta1 = 0.9;      // Adam
  double beta2 = 0.999;    // Adam
  double adam_eps = 1e-8;  // Adam
  std::uint64_t seed = 0;  // shuffling of rows each epoch
  int patience = 0;        // early stopping on the validation loss, in epochs
  /// Continue the run `resume` describes from x (as LbfgsOptions::resume: bitwise the run
  /// never stopped).
  const StochasticState* resume = nullptr;
  /// When set, receives the state at the end of the run.
  StochasticState* save = nullptr;
  /// Rows read in blocks (a file streamed from disk): the sizes of consecutive blocks of the
  /// n rows (summing to n). Each epoch then visits the blocks in order, shuffles the rows of
  /// each block and cuts that block's rows into mini-batches (its last one may be shorter), so
  /// a mini-batch never spans two blocks and each block is read once per epoch. Empty: one
  /// block of all n rows (a shuffle of every row).
  std::vector<std::size_t> block_rows;
};

/// Mini-batch SGD with heavy-ball momentum over n rows, shuffled each epoch by a generator
/// seeded with options.seed. The learning rate at step t (0-based) of T total steps is lr
/// (constant), lr / sqrt(1 + t / steps_per_epoch) (inverse_sqrt) or lr (1 + cos(pi t / T)) / 2
/// (cosine). With a validation function and patience > 0, stops after `patience` epochs
/// without improvement and leaves x at the best epoch.
OptimResult sgd(const BatchObjective& f, std::size_t n, std::span<double> x,
                const StochasticOptions& options, const ProgressCallback& progress = {},
                const ValidationLoss& validation = {});

/// Adam (Kingma and Ba) with bias correction; otherwise as sgd().
OptimResult adam(const BatchObjective& f, std::size_t n, std::span<double> x,
                 const StochasticOptions& options, const ProgressCallback& progress = {},
                 const ValidationLoss& validation = {});

}  // namespace softreg
