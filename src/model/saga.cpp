// SAGA with lazy updates for softmax regression (see saga.hpp).
#include "model/saga.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "common/random.hpp"
#include "kernels/linear.hpp"
#include "optim/monitor.hpp"
#include "optim/vector_ops.hpp"
#include "softreg/error.hpp"
#include "softreg/softmax.hpp"

namespace softreg::detail {
namespace {

/// One row's entries: CSR indices and values, or a dense row (indices null: entry p is
/// feature p).
template <class T>
struct RowView {
  const std::int32_t* indices;
  const T* values;
  std::size_t nnz;
  std::size_t feature(std::size_t p) const { return indices ? std::size_t(indices[p]) : p; }
};

template <class T>
RowView<T> row_of(const FeatureMatrix<T>& x, std::size_t i) {
  if (const auto* s = std::get_if<CsrMatrix<T>>(&x)) {
    const auto p0 = std::size_t(s->indptr[i]);
    return {s->indices.data() + p0, s->values.data() + p0, std::size_t(s->indptr[i + 1]) - p0};
  }
  const auto& m = std::get<DenseMatrix<T>>(x);
  return {nullptr, m.data.data() + i * m.cols, m.cols};
}

/// The state of one run: W stored as W_true / scale, the remembered gradients' sums, and the
/// steps each feature has had the average applied through.
template <class T>
class Saga {
 public:
  Saga(const FeatureMatrix<T>& x, const SagaProblem& p, std::span<double> theta)
      : x_(x),
        p_(p),
        d_(cols_of(x)),
        k_(p.k),
        theta_(theta),
        n_(p.rows.empty() ? rows_of(x) : p.rows.size()) {
    double weight_sum = 0.0;
    row_scale_.resize(n_);
    for (std::size_t r = 0; r < n_; ++r) {
      const std::size_t i = row(r);
      const double s = p.sample_weight.empty() ? 1.0 : p.sample_weight[i];
      weight_sum += s;
      row_scale_[r] = s * (p.class_weight.empty() ? 1.0 : p.class_weight[std::size_t(p.y[i])]);
    }
    // f = (1 / n) sum_r f_r with f_r = (n s_r c_r / sum s) CE_r: SAGA's average over rows.
    double lipschitz = 0.0;
    for (std::size_t r = 0; r < n_; ++r) {
      row_scale_[r] *= weight_sum > 0.0 ? double(n_) / weight_sum : 0.0;
      const RowView<T> v = row_of(x_, row(r));
      double sq = 1.0;  // the bias's constant feature
      for (std::size_t q = 0; q < v.nnz; ++q) sq += double(v.values[q]) * double(v.values[q]);
      lipschitz = std::max(lipschitz, 0.5 * row_scale_[r] * sq);
    }
    lipschitz += p.l2;
    step_ = 1.0 / (2.0 * lipschitz + std::min(2.0 * double(n_) * p.l2, lipschitz));
    memory_.assign(n_ * k_, 0.0);
    sum_w_.assign(d_ * k_, 0.0);
    sum_b_.assign(k_, 0.0);
    last_.assign(d_, 0);
    cum_.assign(1, 0.0);
    z_.resize(k_);
  }

  std::size_t rows() const { return n_; }

  /// One pass over the rows in `order`.
  void epoch(std::span<const std::size_t> order) {
    for (std::size_t q = 0; q < order.size(); ++q) {
      // The rows come in random order: ask for what the next steps read while this one runs
      // (two rows ahead: its entries and remembered gradient; one row ahead: its features'
      // weights and sums, whose numbers are then in cache).
      if (q + 2 < order.size()) prefetch_row(order[q + 2]);
      if (q + 1 < order.size()) prefetch_features(order[q + 1]);
      step(order[q]);
    }
    materialize();
  }

 private:
  std::size_t row(std::size_t r) const { return p_.rows.empty() ? r : p_.rows[r]; }
  double* w(std::size_t j) { return theta_.data() + j * k_; }
  double* bias() { return theta_.data() + d_ * k_; }

  static void prefetch_lines(const void* p, std::size_t bytes) {
    const char* c = static_cast<const char*>(p);
    for (std::size_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o);
  }

  void prefetch_row(std::size_t r) {
    const RowView<T> v = row_of(x_, row(r));
    if (v.indices != nullptr) prefetch_lines(v.indices, v.nnz * sizeof(std::int32_t));
    prefetch_lines(v.values, v.nnz * sizeof(T));
    prefetch_lines(memory_.data() + r * k_, k_ * sizeof(double));
  }

  void prefetch_features(std::size_t r) {
    const RowView<T> v = row_of(x_, row(r));
    if (v.indices == nullptr) return;  // a dense row reads W in order
    for (std::size_t q = 0; q < v.nnz; ++q) {
      const std::size_t j = v.feature(q);
      __builtin_prefetch(&last_[j]);
      prefetch_lines(w(j), k_ * sizeof(double));
      prefetch_lines(sum_w_.data() + j * k_, k_ * sizeof(double));
    }
  }

  /// Brings feature j's stored weights through step t: the average's contributions of the
  /// steps since its last update, in one multiply (the sums did not change in between).
  void catch_up(std::size_t j, std::size_t t) {
    const double c = cum_[t] - cum_[last_[j]];
    last_[j] = t;
    if (c != 0.0) axpy(-c, sum_w_.data() + j * k_, w(j), k_);
  }

  void step(std::size_t r) {
    const std::size_t t = cum_.size();  // this step's number within the segment
    const std::size_t i = row(r);
    const RowView<T> v = row_of(x_, i);
    for (std::size_t q = 0; q < v.nnz; ++q) catch_up(v.feature(q), t - 1);
    // z = x W_true + b, with W_true = scale W.
    std::fill(z_.begin(), z_.end(), 0.0);
    for (std::size_t q = 0; q < v.nnz; ++q)
      axpy(double(v.values[q]), w(v.feature(q)), z_.data(), k_);
    for (std::size_t c = 0; c < k_; ++c) z_[c] = scale_ * z_[c] + bias()[c];
    softmax(std::span<double>(z_), std::span<const double>(z_), {1, k_});
    // The row's gradient with respect to its logits, and its change since last time.
    double* mem = memory_.data() + r * k_;
    const auto label = std::size_t(p_.y[i]);
    for (std::size_t c = 0; c < k_; ++c) {
      const double g = row_scale_[r] * (z_[c] - (c == label ? 1.0 : 0.0));
      z_[c] = g - mem[c];  // delta
      mem[c] = g;
    }
    // The step: W_true <- (1 - eta lambda) W_true - eta (x^T delta + average); the average
    // uses the sums before this row's change.
    scale_ *= 1.0 - step_ * p_.l2;
    const double avg = step_ / (scale_ * double(std::max<std::size_t>(seen_, 1)));
    cum_.push_back(cum_.back() + (seen_ > 0 ? avg : 0.0));
    // Every feature of the row was caught up through t - 1 above: this step's average (old
    // sums) and the row's own change go in together.
    const double average = cum_[t] - cum_[t - 1];
    const double direct = step_ / scale_;
    for (std::size_t q = 0; q < v.nnz; ++q) {
      const std::size_t j = v.feature(q);
      const double a = last_[j] == t ? 0.0 : average;  // once, should a feature repeat
      last_[j] = t;
      saga_row_update(a, direct, double(v.values[q]), z_.data(), w(j), sum_w_.data() + j * k_, k_);
    }
    const double bias_avg = seen_ > 0 ? 1.0 / double(seen_) : 0.0;
    for (std::size_t c = 0; c < k_; ++c) {
      bias()[c] -= step_ * (z_[c] + bias_avg * sum_b_[c]);
      sum_b_[c] += z_[c];
    }
    if (!visited_.empty() || seen_ < n_) {
      if (visited_.empty()) visited_.assign(n_, 0);
      if (!visited_[r]) {
        visited_[r] = 1;
        ++seen_;
      }
      if (seen_ == n_) std::vector<char>().swap(visited_);
    }
    if (scale_ < 1e-9) materialize();  // before the scale underflows
  }

  /// Every feature brought up to date and the scale folded into W: theta holds the iterate.
  void materialize() {
    const std::size_t t = cum_.size() - 1;
    for (std::size_t j = 0; j < d_; ++j) catch_up(j, t);
    for (std::size_t e = 0; e < d_ * k_; ++e) theta_[e] *= scale_;
    scale_ = 1.0;
    cum_.assign(1, 0.0);
    std::fill(last_.begin(), last_.end(), 0);
  }

  const FeatureMatrix<T>& x_;
  const SagaProblem& p_;
  std::size_t d_, k_;
  std::span<double> theta_;
  std::size_t n_;
  std::vector<double> row_scale_, memory_, sum_w_, sum_b_, cum_, z_;
  std::vector<std::size_t> last_;
  std::vector<char> visited_;
  std::size_t seen_ = 0;
  double step_ = 0.0, scale_ = 1.0;
};

}  // namespace

template <class T>
OptimResult saga(const FeatureMatrix<T>& x, const SagaProblem& problem, std::span<double> theta,
                 const SagaOptions& o, const Objective& full, const ProgressCallback& progress,
                 const ValidationLoss& validation) {
  if (o.epochs < 0 || !(o.grad_tol >= 0.0) || o.patience < 0) {
    throw InvalidArgument(
        "softreg::saga: options out of range (need epochs >= 0, grad_tol >= 0, "
        "patience >= 0)");
  }
  Saga<T> run(x, problem, theta);
  OptimResult result;
  std::vector<double> g(theta.size());
  result.loss = full(theta, g);
  result.evaluations = 1;
  result.grad_norm = max_abs(g);
  result.message = "reached the iteration limit";
  std::vector<std::size_t> order(run.rows());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937_64 rng(o.seed ^ 0x5a6a5a6aULL);
  IterationMonitor monitor(progress, validation, o.patience);
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    if (result.grad_norm <= o.grad_tol) {
      result.converged = true;
      result.message = "gradient max-norm below tolerance";
      break;
    }
    shuffle(std::span<std::size_t>(order), rng);
    run.epoch(order);
    result.loss = full(theta, g);
    ++result.evaluations;
    result.grad_norm = max_abs(g);
    result.iterations = epoch;
    result.history.push_back(result.loss);
    if (!std::isfinite(result.loss)) {
      result.message = "the objective is not finite (diverged)";
      break;
    }
    Progress p;
    p.iteration = epoch;
    p.max_iterations = o.epochs;
    p.loss = result.loss;
    p.grad_norm = result.grad_norm;
    const std::string stop = monitor.step(p, theta);
    if (!stop.empty()) {
      result.message = stop;
      break;
    }
  }
  if (!result.converged && result.grad_norm <= o.grad_tol) {
    result.converged = true;
    result.message = "gradient max-norm below tolerance";
  }
  if (monitor.restore_best(theta)) {
    result.loss = full(theta, g);
    ++result.evaluations;
    result.grad_norm = max_abs(g);
  }
  return result;
}

template OptimResult saga<float>(const FeatureMatrix<float>&, const SagaProblem&, std::span<double>,
                                 const SagaOptions&, const Objective&, const ProgressCallback&,
                                 const ValidationLoss&);
template OptimResult saga<double>(const FeatureMatrix<double>&, const SagaProblem&,
                                  std::span<double>, const SagaOptions&, const Objective&,
                                  const ProgressCallback&, const ValidationLoss&);

}  // namespace softreg::detail
