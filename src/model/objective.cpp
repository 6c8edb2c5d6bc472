// The fused value-and-gradient pass of the softmax-regression objective over blocks of rows.
#include "softreg/objective.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <variant>

#include "common/thread_pool.hpp"
#include "kernels/linear.hpp"
#include "kernels/row.hpp"
#include "model/csr_pass.hpp"
#include "softreg/error.hpp"
#include "softreg/loss.hpp"

namespace softreg {

/// The most groups of blocks an evaluation is split into (see the constructor).
constexpr std::size_t kMaxGroups = 32;

/// Per-group scratch, sized once: logits of a block, the block's gradient product, and the
/// group's running sums.
template <class T>
struct SoftmaxObjective<T>::Workspace {
  std::vector<T> z;                  // block_rows x K: logits, then dZ in place
  std::vector<T> g_block;            // K x d (dense only): this block's X_b^T dZ, transposed
  std::vector<T> row_loss;           // block_rows
  std::vector<std::int64_t> labels;  // block_rows
  std::vector<double> g;             // this group's gradient sum: d x K + K (sparse), or
                                     // K x d (W transposed, contiguous per class) + K (dense)
  double loss = 0.0;
  std::size_t correct = 0;
};

namespace {

const char* kCaller = "softreg::SoftmaxObjective";

void check_weights(const std::vector<double>& w, std::size_t expected, const char* what) {
  if (w.empty()) return;
  if (w.size() != expected) {
    throw InvalidArgument(std::string(kCaller) + ": " + what + " has " + std::to_string(w.size()) +
                          " entries, expected " + std::to_string(expected));
  }
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (!(w[i] >= 0.0) || std::isinf(w[i])) {
      throw InvalidArgument(std::string(kCaller) + ": " + what + "[" + std::to_string(i) + "] is " +
                            std::to_string(w[i]) + "; expected finite and >= 0");
    }
  }
}

}  // namespace

template <class T>
SoftmaxObjective<T>::SoftmaxObjective(const FeatureMatrix<T>& x, std::span<const std::int64_t> y,
                                      std::size_t k, ObjectiveOptions options)
    : x_(x), y_(y), n_(rows_of(x)), d_(cols_of(x)), k_(k), options_(std::move(options)) {
  if (y.size() != n_) {
    throw InvalidArgument(std::string(kCaller) + ": " + std::to_string(y.size()) + " labels for " +
                          std::to_string(n_) + " rows");
  }
  if (k_ == 0) throw InvalidArgument(std::string(kCaller) + ": K must be at least 1");
  for (std::size_t i = 0; i < n_; ++i) {
    if (y[i] < 0 || std::size_t(y[i]) >= k_) {
      throw InvalidArgument(std::string(kCaller) + ": label of row " + std::to_string(i) + " is " +
                            std::to_string(y[i]) + ", expected [0, " + std::to_string(k_) + ")");
    }
  }
  if (!(options_.l2 >= 0.0) || std::isinf(options_.l2)) {
    throw InvalidArgument(std::string(kCaller) + ": l2 must be finite and >= 0");
  }
  check_weights(options_.sample_weight, n_, "sample_weight");
  check_weights(options_.class_weight, k_, "class_weight");
  options_.block_rows = std::max<std::size_t>(1, options_.block_rows);
  if (!options_.sample_weight.empty() || !options_.class_weight.empty()) {
    row_weight_.assign(n_, 1.0);
    for (std::size_t i = 0; i < n_; ++i) {
      if (!options_.sample_weight.empty()) row_weight_[i] *= options_.sample_weight[i];
      if (!options_.class_weight.empty())
        row_weight_[i] *= options_.class_weight[std::size_t(y[i])];
    }
  }
  total_weight_ = 0.0;
  for (std::size_t i = 0; i < n_; ++i) {
    total_weight_ += options_.sample_weight.empty() ? 1.0 : options_.sample_weight[i];
  }
  const bool dense = std::holds_alternative<DenseMatrix<T>>(x_);
  const std::size_t b = options_.block_rows;
  // A fixed number of groups of blocks, each with its own partial sums, added in group order:
  // the result is the same for any thread count. The count depends on the problem alone: up
  // to kMaxGroups, within a 256 MiB budget for the partial gradients.
  const std::size_t per_group = n_params() * sizeof(double) + d_ * k_ * sizeof(T) + 1;
  const std::size_t n_groups =
      std::clamp<std::size_t>((std::size_t(256) << 20) / per_group, 1, kMaxGroups);
  for (std::size_t t = 0; t < n_groups; ++t) {
    auto ws = std::make_unique<Workspace>();
    ws->z.resize(b * k_);
    ws->row_loss.resize(b);
    ws->labels.resize(b);
    ws->g.resize(n_params());
    if (dense) ws->g_block.resize(d_ * k_);
    workspaces_.push_back(std::move(ws));
  }
}

template <class T>
SoftmaxObjective<T>::~SoftmaxObjective() = default;

double penalized_mean(const ObjectiveSums& sums, std::span<const double> theta, std::size_t k,
                      std::span<double> grad, double l2) {
  const double inv = sums.weight > 0.0 ? 1.0 / sums.weight : 0.0;
  const std::size_t dk = theta.size() - k;
  for (double& g : grad) g *= inv;
  double sq = 0.0;
  for (std::size_t j = 0; j < dk; ++j) {
    sq += theta[j] * theta[j];
    if (!grad.empty()) grad[j] += l2 * theta[j];
  }
  return sums.loss * inv + 0.5 * l2 * sq;
}

template <class T>
ObjectiveSums SoftmaxObjective<T>::sums(std::span<const double> theta, std::span<double> grad_sum) {
  const ObjectiveSums out = run(theta, grad_sum, {});  // run's empty row list: every row
  last_accuracy_ = out.rows > 0 ? double(out.correct) / double(out.rows) : 0.0;
  return out;
}

template <class T>
ObjectiveSums SoftmaxObjective<T>::sums(std::span<const double> theta, std::span<double> grad_sum,
                                        std::span<const std::size_t> rows) {
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r] >= n_) {
      throw InvalidArgument(std::string(kCaller) + ": rows[" + std::to_string(r) +
                            "] = " + std::to_string(rows[r]) + " but there are " +
                            std::to_string(n_) + " rows");
    }
  }
  if (rows.empty()) {  // none of the rows
    if (!grad_sum.empty()) std::fill(grad_sum.begin(), grad_sum.end(), 0.0);
    last_accuracy_ = 0.0;
    return {};
  }
  const ObjectiveSums out = run(theta, grad_sum, rows);
  last_accuracy_ = double(out.correct) / double(out.rows);
  return out;
}

template <class T>
double SoftmaxObjective<T>::evaluate(std::span<const double> theta, std::span<double> grad) {
  return penalized_mean(sums(theta, grad), theta, k_, grad, options_.l2);
}

template <class T>
double SoftmaxObjective<T>::evaluate_rows(std::span<const double> theta, std::span<double> grad,
                                          std::span<const std::size_t> rows) {
  const ObjectiveSums s = sums(theta, grad, rows);
  if (rows.empty()) return 0.0;  // a mini-batch of nothing: no penalty either
  return penalized_mean(s, theta, k_, grad, options_.l2);
}

/// One evaluation's inputs, shared by the groups of blocks.
template <class T>
struct SoftmaxObjective<T>::Pass {
  std::span<const std::size_t> rows;  // empty: every row
  std::size_t m_total = 0;            // rows evaluated
  std::size_t n_blocks = 0, groups = 0;
  bool want_grad = false;
};

template <class T>
void SoftmaxObjective<T>::load_parameters(std::span<const double> theta) {
  // theta in the compute type: W then b; dense data also takes W transposed to K x d, so each
  // logit is one contiguous dot product. Both buffers are members: no allocation per call.
  wt_.resize(theta.size());
  std::transform(theta.begin(), theta.end(), wt_.begin(), [](double v) { return T(v); });
  if (std::holds_alternative<DenseMatrix<T>>(x_)) {
    w_t_.resize(d_ * k_);
    for (std::size_t j = 0; j < d_; ++j) {
      for (std::size_t c = 0; c < k_; ++c) w_t_[c * d_ + j] = wt_[j * k_ + c];
    }
  }
}

// Blocks [first, last) of the pass into the group's workspace: logits, accuracy, the fused
// softmax cross-entropy (Z becomes P - Y in place), row weights, and X_b^T dZ.
template <class T>
void SoftmaxObjective<T>::run_group(Workspace& ws, const Pass& pass, std::size_t first,
                                    std::size_t last) const {
  ws.loss = 0.0;
  ws.correct = 0;
  if (pass.want_grad) std::fill(ws.g.begin(), ws.g.end(), 0.0);
  const T* w = wt_.data();
  const T* bias = wt_.data() + d_ * k_;
  const auto* dense = std::get_if<DenseMatrix<T>>(&x_);
  const auto* sparse = std::get_if<CsrMatrix<T>>(&x_);
  const bool subset = !pass.rows.empty();
  const std::size_t bs = options_.block_rows;
  for (std::size_t blk = first; blk < last; ++blk) {
    const std::size_t begin = blk * bs;
    const std::size_t m = std::min(bs, pass.m_total - begin);
    const std::size_t* idx = subset ? pass.rows.data() + begin : nullptr;
    // Logits of the block; a subset's rows are read where they are, through idx.
    const T* xb = nullptr;
    if (dense) {
      xb = subset ? dense->data.data() : dense->data.data() + begin * d_;
      detail::dense_logits(xb, m, d_, w_t_.data(), bias, k_, ws.z.data(), idx);
    } else {
      detail::csr_logits(*sparse, idx, begin, m, w, bias, k_, ws.z.data());
    }
    count_correct(ws, idx, begin, m);
    CrossEntropyOptions<T> ce;
    ce.reduction = Reduction::none;
    cross_entropy_with_grad(std::span<T>(ws.z.data(), m * k_),
                            std::span<const T>(ws.z.data(), m * k_), {m, k_},
                            std::span<const std::int64_t>(ws.labels.data(), m), ce,
                            std::span<T>(ws.row_loss.data(), m));
    for (std::size_t r = 0; r < m; ++r) {
      const std::size_t i = idx ? idx[r] : begin + r;
      const double s = row_weight_.empty() ? 1.0 : row_weight_[i];
      ws.loss += s * double(ws.row_loss[r]);
      if (!pass.want_grad || row_weight_.empty()) continue;
      T* zr = ws.z.data() + r * k_;
      for (std::size_t c = 0; c < k_; ++c) zr[c] = T(double(zr[c]) * s);
    }
    if (!pass.want_grad) continue;
    // G += X_b^T dZ; gb += column sums of dZ.
    if (dense) {
      // Per block in T, then into the double sum: rounding grows with the block, not with n.
      // Kept transposed (K x d) like the block's product, so this sum runs contiguously; the
      // reduction transposes once per evaluation.
      detail::dense_gradient(xb, m, d_, ws.z.data(), k_, ws.g_block.data(), idx);
      for (std::size_t i = 0; i < d_ * k_; ++i) ws.g[i] += double(ws.g_block[i]);
    } else {
      detail::csr_gradient(*sparse, idx, begin, m, ws.z.data(), k_, ws.g.data());
    }
    double* gb = ws.g.data() + d_ * k_;
    for (std::size_t r = 0; r < m; ++r) {
      for (std::size_t c = 0; c < k_; ++c) gb[c] += double(ws.z[r * k_ + c]);
    }
  }
}

// The block's labels into the workspace, and the rows whose predicted class (the argmax
// kernel's rule: the first largest logit; none for a row holding NaN) is the label.
template <class T>
void SoftmaxObjective<T>::count_correct(Workspace& ws, const std::size_t* idx, std::size_t begin,
                                        std::size_t m) const {
  for (std::size_t r = 0; r < m; ++r) {
    const std::size_t i = idx ? idx[r] : begin + r;
    ws.labels[r] = y_[i];
    const detail::RowScan scan = detail::scan_row(ws.z.data() + r * k_, 1, k_);
    ws.correct += !scan.nan && scan.first_max == y_[i] ? 1 : 0;
  }
}

template <class T>
ObjectiveSums SoftmaxObjective<T>::run(std::span<const double> theta, std::span<double> grad,
                                       std::span<const std::size_t> rows) {
  const std::size_t np = n_params();
  if (theta.size() != np || (!grad.empty() && grad.size() != np)) {
    throw InvalidArgument(
        std::string(kCaller) + ": theta and grad must have d K + K = " + std::to_string(np) +
        " entries, got " + std::to_string(theta.size()) + " and " + std::to_string(grad.size()));
  }
  Pass pass;
  pass.rows = rows;
  pass.want_grad = !grad.empty();
  pass.m_total = rows.empty() ? n_ : rows.size();
  // The mean's normalizer: the weights of the rows evaluated.
  ObjectiveSums out;
  out.rows = pass.m_total;
  out.weight = total_weight_;
  if (!rows.empty()) {
    out.weight = 0.0;
    for (const std::size_t i : rows) {
      out.weight += options_.sample_weight.empty() ? 1.0 : options_.sample_weight[i];
    }
  }
  load_parameters(theta);
  const std::size_t bs = options_.block_rows;
  pass.n_blocks = (pass.m_total + bs - 1) / bs;
  pass.groups = std::min<std::size_t>(workspaces_.size(), std::max<std::size_t>(pass.n_blocks, 1));
  detail::fixed_chunks(detail::resolve_threads(options_.threads), pass.n_blocks, pass.groups, 1,
                       [&](std::size_t t, std::size_t first, std::size_t last) {
                         run_group(*workspaces_[t], pass, first, last);
                       });
  reduce_groups(pass, grad, out);
  return out;
}

// Fixed-order reduction over the groups: the result does not depend on the thread count.
template <class T>
void SoftmaxObjective<T>::reduce_groups(const Pass& pass, std::span<double> grad,
                                        ObjectiveSums& out) {
  if (pass.want_grad) std::fill(grad.begin(), grad.end(), 0.0);
  for (std::size_t t = 0; t < pass.groups; ++t) {
    const Workspace& ws = *workspaces_[t];
    out.loss += ws.loss;
    out.correct += ws.correct;
    if (pass.want_grad) {
      for (std::size_t j = 0; j < grad.size(); ++j) grad[j] += ws.g[j];
    }
  }
  if (pass.want_grad && std::holds_alternative<DenseMatrix<T>>(x_)) {
    // The groups' W part is K x d: back to d x K.
    transposed_.assign(grad.begin(), grad.begin() + std::ptrdiff_t(d_ * k_));
    for (std::size_t c = 0; c < k_; ++c) {
      for (std::size_t j = 0; j < d_; ++j) grad[j * k_ + c] = transposed_[c * d_ + j];
    }
  }
}

template class SoftmaxObjective<float>;
template class SoftmaxObjective<double>;

}  // namespace softreg
