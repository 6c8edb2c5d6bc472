// SAGA with lazy updates for softmax regression (see saga.hpp).
#include "model/saga.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "common/check.hpp"
#include "common/random.hpp"
#include "common/thread_pool.hpp"
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
/// steps each feature has had the average applied through. Two storages: narrow (float: W's
/// copy and its sums interleaved per feature, so a feature's step reads one run of cache
/// lines, and the remembered gradients) while the run is far from the optimum, where a step is
/// bound by the random reads of those lines; wide (double: W in theta, the sums and the
/// remembered gradients beside it) once it is near, where float's rounding would be the
/// gradient's floor. widen() switches between epochs, the sums recomputed exactly from the
/// remembered gradients, so the drift of the narrow sums does not carry over.
template <class T>
class Saga {
 public:
  Saga(const FeatureMatrix<T>& x, const SagaProblem& p, std::span<double> theta, double step_scale,
       bool wide)
      : x_(x),
        p_(p),
        d_(cols_of(x)),
        k_(p.k),
        theta_(theta),
        n_(p.rows.empty() ? rows_of(x) : p.rows.size()),
        wide_(wide),
        width_(saga_packed_width(p.k)) {
    double weight_sum = 0.0;
    row_scale_.resize(n_);
    for (std::size_t r = 0; r < n_; ++r) {
      const std::size_t i = row(r);
      const double s = p.sample_weight.empty() ? 1.0 : p.sample_weight[i];
      weight_sum += s;
      row_scale_[r] = s * (p.class_weight.empty() ? 1.0 : p.class_weight[std::size_t(p.y[i])]);
    }
    // The bias is the weight of a constant feature of value beta, beta^2 the mean square of
    // the features' non-zero values, so that it is a feature of the data's typical size:
    // b = beta u, SAGA steps u. With beta = 1, the constant would dominate the row bound of
    // normalized sparse rows (||x||^2 = 1 with ten entries of about 0.3) and halve every weight's
    // step.
    double squares = 0.0, nonzeros = 0.0;
    std::vector<double> row_sq(n_);
    for (std::size_t r = 0; r < n_; ++r) {
      const RowView<T> v = row_of(x_, row(r));
      for (std::size_t q = 0; q < v.nnz; ++q) {
        const double value = double(v.values[q]);
        row_sq[r] += value * value;
        nonzeros += value != 0.0 ? 1.0 : 0.0;
      }
      squares += row_sq[r];
    }
    bias_sq_ = nonzeros > 0.0 && squares > 0.0 && std::isfinite(squares) ? squares / nonzeros : 1.0;
    // f = (1 / n) sum_r f_r with f_r = (n s_r c_r / sum s) CE_r: SAGA's average over rows.
    double lipschitz = 0.0;
    for (std::size_t r = 0; r < n_; ++r) {
      row_scale_[r] *= weight_sum > 0.0 ? double(n_) / weight_sum : 0.0;
      const double sq = row_sq[r] + (p.fit_intercept ? bias_sq_ : 0.0);
      lipschitz = std::max(lipschitz, 0.5 * row_scale_[r] * sq);
    }
    lipschitz += p.l2;
    // 1 / L: twice the 1 / (2 L + ...) of the convergence proofs (and scikit-learn's), which
    // the row bound's looseness makes safe in practice (the softmax's curvature reaches 1/2
    // only for a row split evenly between two classes); halving on a rising objective
    // (halve_step) guards the rest.
    step_ = step_scale / (lipschitz + std::min(double(n_) * p.l2, 0.5 * lipschitz));
    if (wide_) {
      memory_.assign(n_ * k_, 0.0);
      sum_w_.assign(d_ * k_, 0.0);
    } else {
      memory_f_.assign(n_ * width_, 0.0f);
      pack(std::span<const double>(theta_.data(), d_ * k_), {});
    }
    sum_b_.assign(k_, 0.0);
    last_.assign(d_, 0);
    cum_.assign(1, 0.0);
    z_.resize(k_);
    z_f_.resize(width_);
  }

  std::size_t rows() const { return n_; }
  bool wide() const { return wide_; }
  void halve_step() { step_ *= 0.5; }

  /// Hands the step and the remembered gradients to st, at the end of the run (between
  /// epochs: every row has been seen, the scale is folded into theta). Narrow storage is
  /// widened exactly (every float is a double).
  void save(SagaState& st) {
    st.step = step_;
    if (wide_) {
      st.memory = std::move(memory_);
      st.sum_w = std::move(sum_w_);
    } else {
      widened_memory(st.memory);
      st.sum_w.resize(d_ * k_);
      for (std::size_t j = 0; j < d_; ++j)
        std::copy(sums_of<float>(j), sums_of<float>(j) + k_, st.sum_w.data() + j * k_);
    }
    st.sum_b = std::move(sum_b_);
  }

  /// Continues from what save kept, in the storage the constructor chose; x: the iterate.
  void restore(const SagaState& st) {
    if (st.memory.size() != n_ * k_ || st.sum_w.size() != d_ * k_ || st.sum_b.size() != k_ ||
        st.x.size() != d_ * k_ + k_ || !(st.step > 0.0)) {
      throw InvalidArgument(
          "softreg::saga: the state to resume does not fit these rows and "
          "parameters");
    }
    step_ = st.step;
    if (wide_) {
      memory_ = st.memory;
      sum_w_ = st.sum_w;
    } else {
      memory_f_.assign(n_ * width_, 0.0f);
      for (std::size_t r = 0; r < n_; ++r) {
        std::copy(st.memory.data() + r * k_, st.memory.data() + (r + 1) * k_, memory_of<float>(r));
      }
      pack(std::span<const double>(st.x.data(), d_ * k_), st.sum_w);
    }
    sum_b_ = st.sum_b;
    seen_ = n_;
  }

  /// One pass over the rows in `order`.
  void epoch(std::span<const std::size_t> order) {
    if (wide_) {
      epoch_as<double>(order);
    } else {
      epoch_as<float>(order);
    }
  }

  /// From narrow to wide storage, between epochs (theta holds W): the remembered gradients
  /// widened, their sums recomputed from them in double, row by row.
  void widen() {
    if (wide_) return;
    wide_ = true;
    std::vector<float>().swap(packed_);  // theta holds W
    widened_memory(memory_);
    std::vector<float>().swap(memory_f_);
    sum_w_.assign(d_ * k_, 0.0);
    std::fill(sum_b_.begin(), sum_b_.end(), 0.0);
    for (std::size_t r = 0; r < n_; ++r) {
      const double* mem = memory_.data() + r * k_;
      const RowView<T> v = row_of(x_, row(r));
      for (std::size_t q = 0; q < v.nnz; ++q)
        axpy(double(v.values[q]), mem, sum_w_.data() + v.feature(q) * k_, k_);
      for (std::size_t c = 0; c < k_; ++c) sum_b_[c] += mem[c];
    }
  }

 private:
  std::size_t row(std::size_t r) const { return p_.rows.empty() ? r : p_.rows[r]; }
  double* bias() { return theta_.data() + d_ * k_; }

  // Feature j's stored weights and sums, and row r's remembered gradient, in storage S.
  template <class S>
  S* w_of(std::size_t j) {
    if constexpr (std::is_same_v<S, float>) {
      return packed_.data() + j * 2 * width_;
    } else {
      return theta_.data() + j * k_;
    }
  }
  template <class S>
  S* sums_of(std::size_t j) {
    if constexpr (std::is_same_v<S, float>) {
      return packed_.data() + j * 2 * width_ + width_;
    } else {
      return sum_w_.data() + j * k_;
    }
  }
  template <class S>
  S* memory_of(std::size_t r) {
    if constexpr (std::is_same_v<S, float>) {
      return memory_f_.data() + r * width_;  // padded as W's rows are
    } else {
      return memory_.data() + r * k_;
    }
  }

  /// The narrow remembered gradients in double, n x K without the padding (exact).
  void widened_memory(std::vector<double>& out) {
    out.resize(n_ * k_);
    for (std::size_t r = 0; r < n_; ++r)
      std::copy(memory_of<float>(r), memory_of<float>(r) + k_, out.data() + r * k_);
  }

  /// Narrow storage from W (d x K) and the sums (d x K, or empty for zeros).
  void pack(std::span<const double> w, std::span<const double> sums) {
    packed_.assign(d_ * 2 * width_, 0.0f);
    for (std::size_t j = 0; j < d_; ++j) {
      for (std::size_t c = 0; c < k_; ++c) {
        w_of<float>(j)[c] = float(w[j * k_ + c]);
        if (!sums.empty()) sums_of<float>(j)[c] = float(sums[j * k_ + c]);
      }
    }
  }

  template <class S>
  void epoch_as(std::span<const std::size_t> order) {
    for (std::size_t q = 0; q < order.size(); ++q) {
      // The rows come in random order: ask for what the next steps read while this one runs,
      // each stage reading only what an earlier one brought in (a prefetch whose address
      // waits on a miss stalls like the load itself). Eight rows ahead: the row's index in
      // the data; six: where its entries start; four: its entries, label, weight and
      // remembered gradient; two: when its features were last brought up to date; one:
      // their weights, sums and step sums.
      if (q + 8 < order.size() && !p_.rows.empty()) __builtin_prefetch(&p_.rows[order[q + 8]]);
      if (q + 6 < order.size()) prefetch_start(order[q + 6]);
      if (q + 4 < order.size()) prefetch_row<S>(order[q + 4]);
      if (q + 2 < order.size()) prefetch_last(order[q + 2]);
      if (q + 1 < order.size()) prefetch_features<S>(order[q + 1]);
      step<S>(order[q]);
    }
    materialize<S>();
  }

  static void prefetch_lines(const void* p, std::size_t bytes) {
    const auto first = reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t{63};
    const auto last = reinterpret_cast<std::uintptr_t>(p) + bytes;
    for (std::uintptr_t a = first; a < last; a += 64)
      __builtin_prefetch(reinterpret_cast<const void*>(a));
  }

  /// Where row r's entries start (the CSR row pointer), so that prefetch_row finds it in cache.
  void prefetch_start(std::size_t r) {
    if (const auto* s = std::get_if<CsrMatrix<T>>(&x_)) __builtin_prefetch(&s->indptr[row(r)]);
  }

  template <class S>
  void prefetch_row(std::size_t r) {
    const RowView<T> v = row_of(x_, row(r));
    if (v.indices != nullptr) prefetch_lines(v.indices, v.nnz * sizeof(std::int32_t));
    prefetch_lines(v.values, v.nnz * sizeof(T));
    prefetch_lines(memory_of<S>(r), (std::is_same_v<S, float> ? width_ : k_) * sizeof(S));
    __builtin_prefetch(&p_.y[row(r)]);
    __builtin_prefetch(&row_scale_[r]);
  }

  void prefetch_last(std::size_t r) {
    const RowView<T> v = row_of(x_, row(r));
    if (v.indices == nullptr) return;
    for (std::size_t q = 0; q < v.nnz; ++q) __builtin_prefetch(&last_[v.feature(q)]);
  }

  template <class S>
  void prefetch_features(std::size_t r) {
    const RowView<T> v = row_of(x_, row(r));
    if (v.indices == nullptr) return;  // a dense row reads W in order
    for (std::size_t q = 0; q < v.nnz; ++q) {
      const std::size_t j = v.feature(q);
      __builtin_prefetch(&cum_[std::min(last_[j], cum_.size() - 1)]);
      if constexpr (std::is_same_v<S, float>) {
        prefetch_lines(w_of<S>(j), 2 * width_ * sizeof(S));  // packed: one run of lines
      } else {
        prefetch_lines(w_of<S>(j), k_ * sizeof(S));
        prefetch_lines(sums_of<S>(j), k_ * sizeof(S));
      }
    }
  }

  /// Brings feature j's stored weights through step t: the average's contributions of the
  /// steps since its last update, in one multiply (the sums did not change in between).
  template <class S>
  void catch_up(std::size_t j, std::size_t t) {
    const double c = cum_[t] - cum_[last_[j]];
    last_[j] = t;
    if (c != 0.0) axpy(S(-c), sums_of<S>(j), w_of<S>(j), k_);
  }

  template <class S>
  void step(std::size_t r) {
    const std::size_t t = cum_.size();  // this step's number within the segment
    const std::size_t i = row(r);
    const RowView<T> v = row_of(x_, i);
    // Packed float storage and CSR rows: a row's reads and writes in one kernel each (double
    // values rounded to float for them, as the storage is).
    constexpr bool packed = std::is_same_v<S, float>;
    const bool by_row = packed && v.indices != nullptr;
    const float* values = nullptr;
    if constexpr (packed) {
      if constexpr (std::is_same_v<T, float>) {
        values = v.values;
      } else if (by_row) {
        values_f_.assign(v.values, v.values + v.nnz);
        values = values_f_.data();
      }
    }
    std::vector<S>& zv = zbuf<S>();
    S* z = zv.data();
    // z = x W_true + b, with W_true = scale W, after bringing the row's features up to date.
    if constexpr (packed) {
      if (by_row) {
        lag_.resize(v.nnz);
        for (std::size_t q = 0; q < v.nnz; ++q) {
          const std::size_t j = v.feature(q);
          lag_[q] = float(cum_[t - 1] - cum_[last_[j]]);
          last_[j] = t - 1;
        }
        saga_gather(v.indices, values, v.nnz, lag_.data(), packed_.data(), 2 * width_, width_, z);
      }
    }
    if (!by_row) {
      for (std::size_t q = 0; q < v.nnz; ++q) catch_up<S>(v.feature(q), t - 1);
      std::fill(z, z + k_, S(0));
      for (std::size_t q = 0; q < v.nnz; ++q) axpy(S(v.values[q]), w_of<S>(v.feature(q)), z, k_);
    }
    for (std::size_t c = 0; c < k_; ++c) z[c] = S(scale_ * double(z[c]) + bias()[c]);
    // The row's gradient with respect to its logits, and its change since last time.
    S* mem = memory_of<S>(r);
    const auto label = std::size_t(p_.y[i]);
    bool fused = false;
    if constexpr (packed) {
      fused = by_row && saga_row_gradient(z, mem, k_, width_, label, float(row_scale_[r]));
    }
    if (!fused) {
      softmax(std::span<S>(z, k_), std::span<const S>(z, k_), {1, k_});
      for (std::size_t c = 0; c < k_; ++c) {
        const S g = S(row_scale_[r] * (double(z[c]) - (c == label ? 1.0 : 0.0)));
        z[c] = g - mem[c];  // delta
        mem[c] = g;
      }
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
    if constexpr (packed) {
      if (by_row) {
        for (std::size_t q = 0; q < v.nnz; ++q) {
          const std::size_t j = v.feature(q);
          lag_[q] = last_[j] == t ? 0.0f : float(average);  // once, should a feature repeat
          last_[j] = t;
        }
        saga_scatter(v.indices, values, v.nnz, lag_.data(), float(direct), z, packed_.data(),
                     2 * width_, width_);
      }
    }
    for (std::size_t q = 0; !by_row && q < v.nnz; ++q) {
      const std::size_t j = v.feature(q);
      const double a = last_[j] == t ? 0.0 : average;  // once, should a feature repeat
      last_[j] = t;
      saga_row_update(S(a), S(direct), S(v.values[q]), z, w_of<S>(j), sums_of<S>(j), k_);
    }
    const double bias_avg = seen_ > 0 ? 1.0 / double(seen_) : 0.0;
    if (p_.fit_intercept) {
      for (std::size_t c = 0; c < k_; ++c) {
        bias()[c] -= bias_sq_ * step_ * (double(z[c]) + bias_avg * sum_b_[c]);
        sum_b_[c] += double(z[c]);
      }
    }
    if (!visited_.empty() || seen_ < n_) {
      if (visited_.empty()) visited_.assign(n_, 0);
      if (!visited_[r]) {
        visited_[r] = 1;
        ++seen_;
      }
      if (seen_ == n_) std::vector<char>().swap(visited_);
    }
    if (scale_ < 1e-9) materialize<S>();  // before the scale underflows
  }

  template <class S>
  std::vector<S>& zbuf() {
    if constexpr (std::is_same_v<S, float>) {
      return z_f_;
    } else {
      return z_;
    }
  }

  /// Every feature brought up to date and the scale folded into W: theta holds the iterate
  /// (narrow storage: its W rounded to float, as the copy then holds it).
  template <class S>
  void materialize() {
    const std::size_t t = cum_.size() - 1;
    for (std::size_t j = 0; j < d_; ++j) catch_up<S>(j, t);
    if constexpr (std::is_same_v<S, float>) {
      for (std::size_t j = 0; j < d_; ++j) {
        float* w = w_of<float>(j);
        for (std::size_t c = 0; c < k_; ++c) {
          w[c] = float(double(w[c]) * scale_);
          theta_[j * k_ + c] = double(w[c]);
        }
      }
    } else {
      for (std::size_t e = 0; e < d_ * k_; ++e) theta_[e] *= scale_;
    }
    scale_ = 1.0;
    cum_.assign(1, 0.0);
    std::fill(last_.begin(), last_.end(), 0);
  }

  const FeatureMatrix<T>& x_;
  const SagaProblem& p_;
  std::size_t d_, k_;
  std::span<double> theta_;
  std::size_t n_;
  bool wide_;
  // Narrow: feature j's W at packed_[2 j width_], its sums width_ further (K rounded up to
  // whole vectors; the padding stays 0).
  std::size_t width_;
  // Wide: in double, as SAGA's fixed point is where the remembered gradients' average cancels
  // the penalty, so the rounding of the gradients and of their sums is the gradient's floor.
  std::vector<double> row_scale_, memory_, sum_w_, sum_b_, cum_, z_;
  std::vector<float> packed_, memory_f_, z_f_, lag_, values_f_;  // narrow
  std::vector<std::size_t> last_;
  std::vector<char> visited_;
  std::size_t seen_ = 0;
  double step_ = 0.0, scale_ = 1.0;
  double bias_sq_ = 1.0;  // beta^2 of the bias's constant feature
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
  if (!(o.step_scale > 0.0)) throw InvalidArgument("softreg::saga: step_scale must be > 0");
  if (!(o.widen_below >= 0.0)) throw InvalidArgument("softreg::saga: widen_below must be >= 0");
  // Narrow storage until the gradient comes within reach of its floor (or the objective
  // rises); a resumed run past its widening is wide throughout.
  int widen_at = o.resume ? o.resume->widen_at : 0;
  const bool wide =
      std::isinf(o.widen_below) || (o.resume && widen_at > 0 && o.resume->epochs >= widen_at);
  Saga<T> run(x, problem, theta, o.step_scale, wide);
  OptimResult result;
  std::vector<double> g(theta.size());
  result.message = "reached the iteration limit";
  std::vector<std::size_t> order(run.rows());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937_64 rng(o.seed ^ 0x5a6a5a6aULL);
  IterationMonitor monitor(progress, validation, o.patience);
  // The objective's minimum over SAGA's iterates descends; a rise after epoch e says the step
  // is too long for this data: it is halved from epoch e + 2 on (SAGA converges for any
  // smaller step). e + 2, not e + 1: with the evaluation overlapping the next epoch, epoch
  // e + 1 has run by the time e's objective is known, and the rule must not depend on that.
  // Run in order, e's halving is still pending when e + 1 is judged (and may add its own):
  // they are kept by the parity of their epoch, so that neither overwrites the other.
  std::array<int, 2> halve_at{};
  double previous = 0.0;
  int done = 0;          // epochs run: theta holds their iterate
  bool pending = false;  // epoch done's iterate is not evaluated yet
  // The latest iterate whose objective was finite: the start (a resumed run's model is its
  // evaluated iterate), then each epoch's.
  std::vector<double> good(theta.begin(), theta.end());
  if (o.resume) {
    const SagaState& st = *o.resume;
    if (st.x.size() != theta.size() || st.epochs < 0 || st.evaluated < st.epochs - 1 ||
        st.evaluated > st.epochs) {
      throw InvalidArgument("softreg::saga: the state to resume does not fit these parameters");
    }
    run.restore(st);
    monitor.resume(st.early_stopping, theta, "softreg::saga");
    std::copy(st.x.begin(), st.x.end(), theta.begin());
    done = st.epochs;
    pending = st.evaluated < st.epochs;
    halve_at = st.halve_at;
    previous = st.previous;
    result.iterations = st.evaluated;
    result.evaluations = st.evaluations;
    result.history = st.history;
    // The orders of the epochs run, replayed (the step's halving is in st.step).
    for (int e = 0; e < done; ++e) shuffle(std::span<std::size_t>(order), rng);
  }
  if (!pending) {  // a resumed run's evaluation gives the stopped run's bits; not counted
    result.loss = full(theta, g);
    result.grad_norm = max_abs(g);
    if (!o.resume) {
      result.evaluations = 1;
      previous = result.loss;
    }
  }
  // The state at a stop by the caller: `epochs` run, theta their iterate (not yet replaced
  // by the evaluated copy or early stopping's best).
  const auto keep = [&](int epochs) {
    if (!o.save) return;
    SagaState& st = *o.save;
    st.epochs = epochs;
    st.evaluated = result.iterations;
    st.evaluations = result.evaluations;
    st.halve_at = halve_at;
    st.widen_at = widen_at;
    st.previous = previous;
    st.x.assign(theta.begin(), theta.end());
    st.history = result.history;
    monitor.save(theta, st.early_stopping);
    run.save(st);
  };
  // Records epoch e's evaluation (of the iterate `at`) and applies the stopping rules.
  // `take`: the vector behind `at`, whose contents may move into good (no copy).
  const auto judge = [&](int e, std::span<const double> at, std::vector<double>* take) {
    ++result.evaluations;
    result.grad_norm = max_abs(g);
    result.iterations = e;
    if (!(result.loss <= previous)) halve_at[std::size_t(e % 2)] = e + 2;
    if (widen_at == 0 && !run.wide() &&
        (!(result.loss <= previous) || result.grad_norm <= o.widen_below)) {
      widen_at = e + 2;  // applied, as a halving is, from the same epoch in any thread count
    }
    if (!std::isfinite(result.loss)) {
      result.message = "diverged in epoch " + std::to_string(e) + ": the objective became " +
                       format_number(result.loss);
      result.iterations = e - 1;
      result.diverged = true;
      return true;
    }
    previous = result.loss;
    result.history.push_back(result.loss);
    if (take != nullptr) {
      good.swap(*take);
      at = good;
    } else {
      good.assign(at.begin(), at.end());
    }
    Progress p;
    p.iteration = e;
    p.max_iterations = o.epochs;
    p.loss = result.loss;
    p.grad_norm = result.grad_norm;
    const std::string stop = monitor.step(p, at);
    // Converged as the caller stopped: the run is complete, nothing to resume.
    if (!stop.empty() && !(stop == kStoppedByCaller && result.grad_norm <= o.grad_tol)) {
      result.message = stop;
      return true;
    }
    return result.grad_norm <= o.grad_tol;
  };
  const auto next_order = [&](int e) {
    if (e == halve_at[std::size_t(e % 2)]) run.halve_step();
    if (e == widen_at) run.widen();
    shuffle(std::span<std::size_t>(order), rng);
  };
  // With two or more threads, the full evaluation of epoch e's iterate (a copy) runs on a
  // second thread while epoch e + 1 runs; when e's evaluation says stop, that copy is the
  // result and e + 1 is dropped. Either way the iterates, the evaluations and the result are
  // those of the one-thread order.
  const bool overlap = o.threads >= 2;
  std::vector<double> copy(overlap ? theta.size() : 0);
  bool stop = !pending && result.grad_norm <= o.grad_tol;
  while (!stop && (pending || done < o.epochs)) {
    if (!pending) {
      next_order(done + 1);
      run.epoch(order);
      ++done;
    }
    pending = false;
    // theta: epoch `done`'s iterate, not yet evaluated.
    while (overlap && done < o.epochs) {
      std::copy(theta.begin(), theta.end(), copy.begin());
      next_order(done + 1);
      fork_join(2, [&](int t) {
        if (t == 0) {
          run.epoch(order);
        } else {
          result.loss = full(copy, g);
        }
      });
      if (judge(done, copy, &copy)) {
        if (result.message == kStoppedByCaller) keep(done + 1);
        // The evaluated iterate: moved to good, unless it diverged (then good is returned).
        if (!result.diverged) std::copy(good.begin(), good.end(), theta.begin());
        stop = true;
        break;
      }
      ++done;
    }
    if (stop) break;
    result.loss = full(theta, g);
    stop = judge(done, theta, nullptr);
    if (stop && result.message == kStoppedByCaller) keep(done);
  }
  if (result.diverged) {
    std::copy(good.begin(), good.end(), theta.begin());
    return result;
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
