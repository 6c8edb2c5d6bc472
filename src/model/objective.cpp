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
  std::vector<double> g;             // this group's gradient sum: K x d (W transposed,
                                     // contiguous per class) + K (dense), or the K of b (sparse)
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
  const std::size_t per_group =
      dense ? n_params() * sizeof(double) + d_ * k_ * sizeof(T) : k_ * sizeof(double) + 1;
  const std::size_t n_groups =
      std::clamp<std::size_t>((std::size_t(256) << 20) / per_group, 1, kMaxGroups);
  for (std::size_t t = 0; t < n_groups; ++t) {
    auto ws = std::make_unique<Workspace>();
    ws->z.resize(b * k_);
    ws->row_loss.resize(b);
    ws->labels.resize(b);
    ws->g.resize(dense ? n_params() : k_);
    if (dense) ws->g_block.resize(d_ * k_);
    workspaces_.push_back(std::move(ws));
  }
  if (!dense) columns_ = std::make_unique<Columns>();
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
  bool curvature = false;      // a Hessian product: the parameters loaded are the direction
  bool by_columns = false;     // sparse gradient: dZ goes to Columns::dz, X^T dZ by columns
  std::size_t part_begin = 0;  // by_columns: the position of the part's first row
  T* probs = nullptr;          // where a gradient pass keeps its probabilities (rows x K)
};

/// Sparse data's gradient product by columns: the pass's rows in parts of at most part_rows
/// (one part's dZ, part_rows x K in T, within 256 MiB), each part's entries regrouped by
/// column. Built for one row list and kept while the same list comes back (the full pass of
/// every L-BFGS iteration); a new list (a mini-batch) rebuilds them, at O(nnz + d).
template <class T>
struct SoftmaxObjective<T>::Columns {
  std::size_t part_rows = 0;
  std::vector<detail::ColumnIndex<T>> parts;
  std::vector<std::size_t> rows;  // the list they were built for
  bool all = false;               // built for every row
  bool built = false;
  std::vector<T> dz;  // the current part's dZ (its rows x K)

  void prepare(const CsrMatrix<T>& x, const Pass& pass, std::size_t block_rows, std::size_t k) {
    const bool every = pass.rows.empty();
    const bool same =
        built && every == all &&
        (every || std::equal(rows.begin(), rows.end(), pass.rows.begin(), pass.rows.end()));
    if (!same) {
      const std::size_t budget = (std::size_t(256) << 20) / (k * sizeof(T));
      part_rows = std::max<std::size_t>(1, std::min<std::size_t>(budget, 1u << 30) / block_rows) *
                  block_rows;
      const std::size_t n_parts = (pass.m_total + part_rows - 1) / part_rows;
      parts.resize(n_parts);
      for (std::size_t p = 0; p < n_parts; ++p) {
        const std::size_t first = p * part_rows;
        const std::size_t m = std::min(part_rows, pass.m_total - first);
        if (every) {
          parts[p].build(x, nullptr, first, m);
        } else {
          parts[p].build(x, pass.rows.data() + first, 0, m);
        }
      }
      rows.assign(pass.rows.begin(), pass.rows.end());
      all = every;
      built = true;
    }
    dz.resize(std::min(part_rows, pass.m_total) * k + detail::kSparsePad);
  }
};

template <class T>
void SoftmaxObjective<T>::load_parameters(std::span<const double> theta) {
  // theta in the compute type: W then b; dense data also takes W transposed to K x d, so each
  // logit is one contiguous dot product. Both buffers are members: no allocation per call.
  wt_.resize(theta.size() + detail::kSparsePad);  // the sparse rows read past the end
  std::transform(theta.begin(), theta.end(), wt_.begin(), [](double v) { return T(v); });
  if (std::holds_alternative<DenseMatrix<T>>(x_)) {
    w_t_.resize(d_ * k_);
    for (std::size_t j = 0; j < d_; ++j) {
      for (std::size_t c = 0; c < k_; ++c) w_t_[c * d_ + j] = wt_[j * k_ + c];
    }
  }
}

// Blocks [first, last) of the pass into the group's workspace: logits, then either the loss
// (block_loss: Z becomes the weighted P - Y in place) or a Hessian product's rows
// (block_curvature), then X_b^T dZ for dense data (sparse data's waits for the column pass)
// and dZ's column sums for the bias.
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
    T* z = pass.by_columns ? columns_->dz.data() + (begin - pass.part_begin) * k_ : ws.z.data();
    // Logits of the block; a subset's rows are read where they are, through idx.
    const T* xb = nullptr;
    if (dense) {
      xb = subset ? dense->data.data() : dense->data.data() + begin * d_;
      detail::dense_logits(xb, m, d_, w_t_.data(), bias, k_, z, idx);
    } else {
      detail::csr_logits(*sparse, idx, begin, m, w, bias, k_, z);
    }
    if (pass.curvature) {
      block_curvature(pass, begin, m, z);
    } else {
      block_loss(ws, pass, begin, m, z);
    }
    if (!pass.want_grad) continue;
    // G += X_b^T dZ (dense); gb += column sums of dZ.
    if (dense) {
      // Per block in T, then into the double sum: rounding grows with the block, not with n.
      // Kept transposed (K x d) like the block's product, so this sum runs contiguously; the
      // reduction transposes once per evaluation.
      detail::dense_gradient(xb, m, d_, z, k_, ws.g_block.data(), idx);
      for (std::size_t i = 0; i < d_ * k_; ++i) ws.g[i] += double(ws.g_block[i]);
    }
    double* gb = ws.g.data() + (dense ? d_ * k_ : 0);
    for (std::size_t r = 0; r < m; ++r) {
      for (std::size_t c = 0; c < k_; ++c) gb[c] += double(z[r * k_ + c]);
    }
  }
}

// The loss rows of a block: accuracy, the fused softmax cross-entropy (z becomes P - Y in
// place), the probabilities kept for a Hessian product, and the row weights.
template <class T>
void SoftmaxObjective<T>::block_loss(Workspace& ws, const Pass& pass, std::size_t begin,
                                     std::size_t m, T* z) const {
  const std::size_t* idx = pass.rows.empty() ? nullptr : pass.rows.data() + begin;
  count_correct(ws, idx, begin, m, z);
  CrossEntropyOptions<T> ce;
  ce.reduction = Reduction::none;
  cross_entropy_with_grad(std::span<T>(z, m * k_), std::span<const T>(z, m * k_), {m, k_},
                          std::span<const std::int64_t>(ws.labels.data(), m), ce,
                          std::span<T>(ws.row_loss.data(), m));
  if (pass.probs != nullptr) {
    // P = (P - Y) + Y: exact where p >= 1/2; a label's p below 1/2 comes back within half a
    // unit of float resolution (absolute), far below what a Newton step can notice.
    T* p = pass.probs + begin * k_;
    std::copy(z, z + m * k_, p);
    for (std::size_t r = 0; r < m; ++r) p[r * k_ + std::size_t(ws.labels[r])] += T(1);
  }
  for (std::size_t r = 0; r < m; ++r) {
    const std::size_t i = idx ? idx[r] : begin + r;
    const double s = row_weight_.empty() ? 1.0 : row_weight_[i];
    ws.loss += s * double(ws.row_loss[r]);
    if (!pass.want_grad || row_weight_.empty()) continue;
    T* zr = z + r * k_;
    for (std::size_t c = 0; c < k_; ++c) zr[c] = T(double(zr[c]) * s);
  }
}

// A Hessian product's rows of a block: z holds u = x V + v_b and becomes s p * (u - p . u),
// with p the probabilities kept at the same position of the last gradient pass.
template <class T>
void SoftmaxObjective<T>::block_curvature(const Pass& pass, std::size_t begin, std::size_t m,
                                          T* z) const {
  for (std::size_t r = 0; r < m; ++r) {
    const std::size_t i = pass.rows.empty() ? begin + r : pass.rows[begin + r];
    const double s = row_weight_.empty() ? 1.0 : row_weight_[i];
    const T* p = probs_.data() + (begin + r) * k_;  // the kept pass's row at this position
    T* u = z + r * k_;
    double mean = 0.0;
    for (std::size_t c = 0; c < k_; ++c) mean += double(p[c]) * double(u[c]);
    for (std::size_t c = 0; c < k_; ++c) u[c] = T(s * double(p[c]) * (double(u[c]) - mean));
  }
}

// The block's labels into the workspace, and the rows whose predicted class (the argmax
// kernel's rule: the first largest logit; none for a row holding NaN) is the label.
template <class T>
void SoftmaxObjective<T>::count_correct(Workspace& ws, const std::size_t* idx, std::size_t begin,
                                        std::size_t m, const T* z) const {
  // The label's logit is the first largest iff every earlier one is below it and every later
  // one at most it; a NaN anywhere fails a comparison. Branch-free: no mispredicted branch per
  // row, as a running argmax has.
  for (std::size_t r = 0; r < m; ++r) {
    const std::size_t i = idx ? idx[r] : begin + r;
    ws.labels[r] = y_[i];
    const T* zr = z + r * k_;
    const auto label = std::size_t(y_[i]);
    const T top = zr[label];
    bool first_max = top == top;
    for (std::size_t c = 0; c < label; ++c) first_max &= zr[c] < top;
    for (std::size_t c = label + 1; c < k_; ++c) first_max &= zr[c] <= top;
    ws.correct += first_max ? 1 : 0;
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
  const bool keep = pass.want_grad && keep_probabilities_;
  if (keep) {
    have_probabilities_ = false;
    probs_.resize(pass.m_total * k_);
    pass.probs = probs_.data();
  }
  load_parameters(theta);
  execute(pass, grad, out);
  if (keep) {
    probs_rows_.assign(rows.begin(), rows.end());
    have_probabilities_ = true;
  }
  return out;
}

template <class T>
void SoftmaxObjective<T>::keep_probabilities(bool on) {
  keep_probabilities_ = on;
  if (!on) {
    have_probabilities_ = false;
    std::vector<T>().swap(probs_);
  }
}

template <class T>
void SoftmaxObjective<T>::hessian_vector_sum(std::span<const double> v, std::span<double> out) {
  if (!have_probabilities_) {
    throw InvalidArgument(std::string(kCaller) +
                          ": hessian_vector_sum needs a gradient pass made after "
                          "keep_probabilities(true)");
  }
  if (v.size() != n_params() || out.size() != n_params()) {
    throw InvalidArgument(
        std::string(kCaller) + ": v and out must have d K + K = " + std::to_string(n_params()) +
        " entries, got " + std::to_string(v.size()) + " and " + std::to_string(out.size()));
  }
  Pass pass;
  pass.rows = probs_rows_;
  pass.m_total = probs_rows_.empty() ? n_ : probs_rows_.size();
  pass.want_grad = true;
  pass.curvature = true;
  load_parameters(v);
  ObjectiveSums unused;
  execute(pass, out, unused);
}

// The pass over the blocks: dense data (or no gradient) in one run of the groups; sparse data
// with a gradient part by part, each part's dZ then multiplied by columns.
template <class T>
void SoftmaxObjective<T>::execute(Pass& pass, std::span<double> grad, ObjectiveSums& out) {
  const std::size_t bs = options_.block_rows;
  pass.n_blocks = (pass.m_total + bs - 1) / bs;
  if (pass.want_grad) std::fill(grad.begin(), grad.end(), 0.0);
  const auto* sparse = std::get_if<CsrMatrix<T>>(&x_);
  pass.by_columns = sparse != nullptr && pass.want_grad;
  if (!pass.by_columns) {
    run_blocks(pass, 0, pass.n_blocks, grad, out);
    return;
  }
  Columns& cs = *columns_;
  cs.prepare(*sparse, pass, bs, k_);
  const std::size_t part_blocks = cs.part_rows / bs;
  for (std::size_t p = 0; p < cs.parts.size(); ++p) {
    pass.part_begin = p * cs.part_rows;
    run_blocks(pass, p * part_blocks, std::min(pass.n_blocks, (p + 1) * part_blocks), grad, out);
    const detail::ColumnIndex<T>& index = cs.parts[p];
    const int threads = detail::resolve_threads(options_.threads);
    // Each column is one sum in a fixed order: the split across threads cannot change a bit.
    const std::vector<std::size_t> cut = index.balanced_cuts(std::size_t(threads) * 4);
    detail::parallel_for(threads, cut.size() - 1, 1, [&](std::size_t cb, std::size_t ce) {
      for (std::size_t c = cb; c < ce; ++c) {
        detail::csr_column_gradient(index, cut[c], cut[c + 1], cs.dz.data(), k_, grad.data());
      }
    });
  }
}

// Blocks [block_begin, block_end) in a fixed number of groups (a function of the problem
// alone), their sums added to out and grad in group order: the result does not depend on the
// thread count.
template <class T>
void SoftmaxObjective<T>::run_blocks(Pass& pass, std::size_t block_begin, std::size_t block_end,
                                     std::span<double> grad, ObjectiveSums& out) {
  const std::size_t nb = block_end - block_begin;
  pass.groups = std::min<std::size_t>(workspaces_.size(), std::max<std::size_t>(nb, 1));
  detail::fixed_chunks(detail::resolve_threads(options_.threads), nb, pass.groups, 1,
                       [&](std::size_t t, std::size_t first, std::size_t last) {
                         run_group(*workspaces_[t], pass, block_begin + first, block_begin + last);
                       });
  const bool dense = std::holds_alternative<DenseMatrix<T>>(x_);
  const std::size_t offset = dense ? 0 : d_ * k_;  // sparse groups hold the bias part alone
  for (std::size_t t = 0; t < pass.groups; ++t) {
    const Workspace& ws = *workspaces_[t];
    out.loss += ws.loss;
    out.correct += ws.correct;
    if (pass.want_grad) {
      for (std::size_t j = 0; j < ws.g.size(); ++j) grad[offset + j] += ws.g[j];
    }
  }
  if (pass.want_grad && dense) {
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
