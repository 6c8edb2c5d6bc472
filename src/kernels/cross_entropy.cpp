// Cross-entropy from logits (forward, and fused forward + backward) and the clipped-probability
// form. The maths and the PyTorch correspondences are in include/softreg/loss.hpp. Contiguous
// rows with unsmoothed index targets run the vectorized rows of cross_entropy_simd.cpp; the
// scalar rows here handle everything else and every row whose maximum is not finite.
#include <algorithm>
#include <array>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "common/check.hpp"
#include "common/thread_pool.hpp"
#include "kernels/cross_entropy_simd.hpp"
#include "kernels/row.hpp"
#include "kernels/segmented_rows.hpp"
#include "kernels/softmax_simd.hpp"
#include "softreg/loss.hpp"
#include "softreg/threads.hpp"

namespace softreg {
namespace {

using detail::kInf;
using detail::kNaN;

/// The log-probabilities and probabilities of one row, from its scan and normalizer.
struct RowNormalizer {
  double max = -kInf;
  double log_sum = 0.0;  // log sum exp(x - max) for a finite max
  double inf_count = 0;  // number of +inf entries when max == +inf
  bool nan = false;

  double log_prob(double x) const {
    if (nan) return kNaN;
    if (max == kInf) return x == kInf ? -std::log(inf_count) : -kInf;
    if (max == -kInf) return -kInf;
    return (x - max) - log_sum;
  }
  double prob(double x) const {
    if (nan) return kNaN;
    if (max == kInf) return x == kInf ? 1.0 / inf_count : 0.0;
    return std::exp(log_prob(x));
  }
};

template <class T>
RowNormalizer normalize_row(const T* x, std::size_t stride, std::size_t n) {
  const detail::RowScan scan = detail::scan_row(x, stride, n);
  RowNormalizer r;
  r.max = scan.max;
  r.nan = scan.nan;
  if (r.nan || r.max == -kInf) return r;
  if (r.max == kInf) {
    for (std::size_t j = 0; j < n; ++j) r.inf_count += x[j * stride] == kInf ? 1.0 : 0.0;
    return r;
  }
  detail::CompensatedSum s;
  for (std::size_t j = 0; j < n; ++j) s.add(std::exp(double(x[j * stride]) - r.max));
  r.log_sum = std::log(s.value());
  return r;
}

/// -q * y with the convention 0 * (-inf) = 0: a class with no target mass costs nothing.
inline double loss_term(double q, double y) {
  return q == 0.0 ? 0.0 : -q * y;
}

/// The per-row target vector q of loss.hpp, for either kind of target.
template <class T>
struct TargetRow {
  std::int64_t index = -1;   // index targets; -1 marks an ignored row
  const T* probs = nullptr;  // probability targets (strided like the logits)
  std::size_t stride = 1;
  const T* weights = nullptr;
  double smoothing = 0.0;
  double k = 0;

  double weight(std::size_t j) const { return weights ? double(weights[j]) : 1.0; }
  double q(std::size_t j) const {
    if (probs != nullptr) {
      return weight(j) * ((1.0 - smoothing) * double(probs[j * stride]) + smoothing / k);
    }
    if (index < 0) return 0.0;
    const double hit = static_cast<std::size_t>(index) == j ? (1.0 - smoothing) * weight(j) : 0.0;
    return smoothing == 0.0 ? hit : hit + smoothing / k * weight(j);
  }
  /// Only the target entry of an unsmoothed index row is nonzero: no O(K) pass over q.
  bool sparse() const { return probs == nullptr && smoothing == 0.0; }
};

template <class T>
struct Problem {
  const char* caller;
  AxisLayout layout;
  std::span<const std::int64_t> index;  // empty for probability targets
  std::span<const T> probs;             // empty for index targets
  bool index_targets;
  const CrossEntropyOptions<T>* options;

  TargetRow<T> target_row(std::size_t r) const {
    TargetRow<T> t;
    t.weights = options->class_weights.empty() ? nullptr : options->class_weights.data();
    t.smoothing = options->label_smoothing;
    t.k = double(layout.n);
    if (!index_targets) {
      t.probs = probs.data() + layout.row_start(r);
      t.stride = layout.inner;
    } else {
      t.index = index[r] == options->ignore_index ? -1 : index[r];
    }
    return t;
  }
};

template <class T>
Problem<T> check_problem(const char* caller, std::span<const T> logits, const Shape& shape,
                         std::span<const std::int64_t> index, std::span<const T> probs,
                         bool index_targets, const CrossEntropyOptions<T>& opt,
                         std::size_t row_losses_size) {
  Problem<T> p{caller, axis_layout(shape, opt.class_axis, caller), index, probs, index_targets,
               &opt};
  const AxisLayout& l = p.layout;
  detail::check_size(caller, "logits", logits.size(), l.size(), shape);
  if (index_targets) {
    detail::check_size(caller, "target", index.size(), l.rows(), shape);
  } else {
    detail::check_size(caller, "target_probs", probs.size(), l.size(), shape);
  }
  if (opt.reduction == Reduction::none && row_losses_size == 0 && l.rows() > 0) {
    throw InvalidArgument(std::string(caller) +
                          ": Reduction::none needs row_losses to receive one loss per row");
  }
  if (row_losses_size != 0)
    detail::check_size(caller, "row_losses", row_losses_size, l.rows(), shape);
  if (!(opt.label_smoothing >= 0.0 && opt.label_smoothing <= 1.0)) {
    throw InvalidArgument(std::string(caller) + ": label_smoothing must be in [0, 1], got " +
                          detail::format_number(opt.label_smoothing));
  }
  if (!opt.class_weights.empty()) {
    if (opt.class_weights.size() != l.n) {
      throw InvalidArgument(std::string(caller) + ": class_weights has " +
                            std::to_string(opt.class_weights.size()) +
                            " entries, expected K = " + std::to_string(l.n));
    }
    for (std::size_t k = 0; k < l.n; ++k) {
      const double w = opt.class_weights[k];
      if (!(w >= 0.0) || std::isinf(w)) {
        throw InvalidArgument(std::string(caller) + ": class_weights[" + std::to_string(k) +
                              "] = " + detail::format_number(w) + "; expected finite and >= 0");
      }
    }
  }
  for (std::size_t r = 0; r < index.size(); ++r) {
    const std::int64_t c = index[r];
    if (c != opt.ignore_index && (c < 0 || static_cast<std::size_t>(c) >= l.n)) {
      throw InvalidArgument(std::string(caller) + ": target[" + std::to_string(r) +
                            "] = " + std::to_string(c) + " is outside [0, " + std::to_string(l.n) +
                            ") and is not ignore_index (" + std::to_string(opt.ignore_index) + ")");
    }
  }
  return p;
}

/// The factor the reduction applies to every row's loss and gradient: 1 for none and sum,
/// 1 / denominator for mean (0 when the denominator is 0; see loss.hpp).
template <class T>
double reduction_scale(const Problem<T>& p) {
  if (p.options->reduction != Reduction::mean) return 1.0;
  double denom = 0.0;
  if (p.index_targets) {
    for (std::size_t r = 0; r < p.index.size(); ++r) {
      const TargetRow<T> t = p.target_row(r);
      if (t.index >= 0) denom += t.weight(static_cast<std::size_t>(t.index));
    }
  } else {
    denom = double(p.layout.rows());
  }
  return denom == 0.0 ? 0.0 : 1.0 / denom;
}

/// One row: returns its (unscaled) loss; with grad != nullptr also writes scale * (S p - q).
/// grad may be x: every entry is read before it is written.
template <class T>
double row_loss(const T* x, T* grad, std::size_t stride, std::size_t n, const TargetRow<T>& t,
                double scale) {
  const bool ignored = t.probs == nullptr && t.index < 0;
  if (ignored) {
    if (grad != nullptr) detail::fill_row(grad, stride, n, 0.0);
    return 0.0;
  }
  if (t.sparse() && grad != nullptr) {
    // The common training case, fused: one exp per entry, kept in grad between the passes.
    const detail::RowScan scan = detail::scan_row(x, stride, n);
    if (!scan.nan && std::isfinite(scan.max)) {
      const auto c = static_cast<std::size_t>(t.index);
      const double w = t.weight(c);
      const double shifted_target = double(x[c * stride]) - scan.max;  // read before overwriting
      detail::CompensatedSum sum;
      for (std::size_t j = 0; j < n; ++j) {
        const double e = std::exp(double(x[j * stride]) - scan.max);
        sum.add(e);
        grad[j * stride] = static_cast<T>(e);
      }
      const double total = sum.value();
      const double f = scale * w / total;
      for (std::size_t j = 0; j < n; ++j) {
        grad[j * stride] =
            static_cast<T>(f * double(grad[j * stride]) - (j == c ? scale * w : 0.0));
      }
      return loss_term(w, shifted_target - std::log(total));
    }
  }
  const RowNormalizer norm = normalize_row(x, stride, n);
  if (t.sparse()) {
    const auto c = static_cast<std::size_t>(t.index);
    const double w = t.weight(c);
    const double loss = norm.nan ? kNaN : loss_term(w, norm.log_prob(double(x[c * stride])));
    if (grad != nullptr) {
      for (std::size_t j = 0; j < n; ++j) {
        const double p = norm.prob(double(x[j * stride]));
        grad[j * stride] = static_cast<T>(scale * (w * p - (j == c ? w : 0.0)));
      }
    }
    return loss;
  }
  detail::CompensatedSum s_sum;  // S to a rounding or two, even over 50257 classes
  for (std::size_t j = 0; j < n; ++j) s_sum.add(t.q(j));
  const double s = s_sum.value();
  detail::CompensatedSum loss;
  for (std::size_t j = 0; j < n; ++j) {
    const double xj = x[j * stride];
    const double q = t.q(j);
    loss.add(loss_term(q, norm.log_prob(xj)));
    if (grad != nullptr) grad[j * stride] = static_cast<T>(scale * (s * norm.prob(xj) - q));
  }
  return norm.nan ? kNaN : loss.value();
}

template <class T>
struct FallbackContext {
  const Problem<T>* problem;
  const T* logits;
  T* grad;
  double scale;
};

template <class T>
double fallback_row(const void* context, std::size_t r) {
  const auto& c = *static_cast<const FallbackContext<T>*>(context);
  const AxisLayout& l = c.problem->layout;
  const std::size_t o = l.row_start(r);
  return row_loss(c.logits + o, c.grad == nullptr ? nullptr : c.grad + o, l.inner, l.n,
                  c.problem->target_row(r), c.scale);
}

/// The rows go in a fixed number of chunks (a function of the row count alone: fixed_chunks),
/// each summed in row order, and the chunk sums are added in chunk order: the loss is bitwise
/// the same for any number of threads.
constexpr std::size_t kMaxChunks = 256;

/// Long rows (kSplitRowBytes) of the vectorized case in segments, as softmax.cpp splits them:
/// each segment's maximum and sum on any thread, merged per row in segment order, then each
/// segment's gradient scale w_c (p - e_c) written; losses added in row order, so the result is
/// the same for any thread count. Rows with a segment that is not ordinary take the fallback.
template <class T>
double split_rows(const detail::CrossEntropyRows<T>& job, std::size_t rows) {
  const std::size_t n = job.n;
  const detail::SegmentedRows<T> segments(job.x, rows, n, 1.0, get_num_threads());
  // Per row: the weight of its target (0: ignored or weightless, no loss and a zero gradient);
  // rows that are not ordinary go to the fallback, which writes their gradient too.
  std::vector<double> weight(rows, 0.0);
  detail::CompensatedSum total;
  for (std::size_t r = 0; r < rows; ++r) {
    const std::int64_t target = job.target[r];
    double loss = 0.0;
    if (!segments.ordinary(r)) {
      loss = job.fallback(job.context, r);
    } else if (target != job.ignore_index) {
      weight[r] = job.weights ? double(job.weights[std::size_t(target)]) : 1.0;
      if (weight[r] != 0.0) {
        loss = weight[r] * ((static_cast<double>(segments.max(r)) + std::log(segments.sum(r))) -
                            static_cast<double>(job.x[r * n + std::size_t(target)]));
      }
    }
    if (job.row_losses != nullptr) job.row_losses[r] = static_cast<T>(loss);
    total.add(loss);
  }
  if (job.grad == nullptr) return total.value();
  segments.for_each_segment([&](std::size_t r, std::size_t begin, std::size_t len) {
    const double f = job.scale * weight[r];
    if (f == 0.0) {
      std::fill_n(job.grad + begin, len, T(0));
    } else {
      // exp(x - m) / (s / f): the probabilities times scale w_c in one multiply.
      detail::segment_write(detail::RowOp::softmax, job.grad + begin, job.x + begin, len, 1.0,
                            segments.max(r), segments.sum(r) / f);
    }
  });
  for (std::size_t r = 0; r < rows; ++r) {
    if (!segments.ordinary(r) || weight[r] == 0.0) continue;
    T& g = job.grad[r * n + std::size_t(job.target[r])];
    g = static_cast<T>(static_cast<double>(g) - job.scale * weight[r]);
  }
  return total.value();
}

template <class T>
double run(const Problem<T>& p, std::span<const T> logits, T* grad, std::span<T> row_losses) {
  const AxisLayout& l = p.layout;
  const double scale = reduction_scale(p);
  const std::size_t rows = l.rows();
  const bool vectorized =
      p.index_targets && l.inner == 1 && l.n > 0 && p.options->label_smoothing == 0.0;
  const FallbackContext<T> context{&p, logits.data(), grad, scale};
  detail::CrossEntropyRows<T> job;
  job.x = logits.data();
  job.grad = grad;
  job.n = l.n;
  job.target = p.index.data();
  job.ignore_index = p.options->ignore_index;
  job.weights = p.options->class_weights.empty() ? nullptr : p.options->class_weights.data();
  job.scale = scale;
  job.row_losses = row_losses.empty() ? nullptr : row_losses.data();
  job.fallback = &fallback_row<T>;
  job.stream = grad != nullptr && l.size() * sizeof(T) > detail::kStreamBytes;
  job.context = &context;
  if (vectorized && l.n * sizeof(T) > detail::kSplitRowBytes) {
    const double total = split_rows(job, rows);
    return p.options->reduction == Reduction::mean ? scale * total : total;
  }

  // Short rows (K <= 64) at least 64 to a chunk, so that they still batch their divisions and
  // logarithms; longer ones at least 4096 entries to a chunk, down to one row (16 rows of a
  // million classes are 16 chunks, shared by the threads).
  const std::size_t min_rows = l.n <= 64 ? 64 : std::max<std::size_t>(1, 4096 / l.n);
  const std::size_t chunks =
      std::clamp<std::size_t>(rows / min_rows, rows == 0 ? 0 : 1, kMaxChunks);
  std::array<detail::CompensatedSum, kMaxChunks> partial{};
  const std::size_t chunk_elements = chunks == 0 ? 0 : (rows / chunks + 1) * (l.n + 1);
  const std::size_t grain = std::max<std::size_t>(1, (std::size_t(1) << 15) / (chunk_elements + 1));
  detail::fixed_chunks(get_num_threads(), rows, chunks, grain,
                       [&](std::size_t c, std::size_t begin, std::size_t end) {
                         if (vectorized) {
                           detail::simd_cross_entropy_rows(job, begin, end, partial[c]);
                           return;
                         }
                         for (std::size_t r = begin; r < end; ++r) {
                           const double loss = fallback_row<T>(&context, r);
                           if (!row_losses.empty()) row_losses[r] = static_cast<T>(loss);
                           partial[c].add(loss);
                         }
                       });
  detail::CompensatedSum total;
  for (std::size_t c = 0; c < chunks; ++c) total.add(partial[c].value());
  return p.options->reduction == Reduction::mean ? scale * total.value() : total.value();
}

template <class T>
double forward(std::span<const T> logits, const Shape& shape, std::span<const std::int64_t> index,
               std::span<const T> probs, bool index_targets, const CrossEntropyOptions<T>& opt,
               std::span<T> row_losses) {
  const Problem<T> p = check_problem("softreg::cross_entropy", logits, shape, index, probs,
                                     index_targets, opt, row_losses.size());
  detail::check_alias("softreg::cross_entropy", "row_losses", row_losses, "logits", logits);
  return run(p, logits, static_cast<T*>(nullptr), row_losses);
}

template <class T>
double with_grad(std::span<T> dlogits, std::span<const T> logits, const Shape& shape,
                 std::span<const std::int64_t> index, std::span<const T> probs, bool index_targets,
                 const CrossEntropyOptions<T>& opt, std::span<T> row_losses) {
  const char* caller = "softreg::cross_entropy_with_grad";
  const Problem<T> p =
      check_problem(caller, logits, shape, index, probs, index_targets, opt, row_losses.size());
  detail::check_size(caller, "dlogits", dlogits.size(), p.layout.size(), shape);
  detail::check_alias(caller, "dlogits", dlogits, "logits", logits);
  detail::check_alias(caller, "dlogits", dlogits, "target_probs", probs);
  detail::check_alias(caller, "row_losses", row_losses, "logits", logits);
  detail::check_alias(caller, "row_losses", row_losses, "dlogits", dlogits);
  return run(p, logits, dlogits.data(), row_losses);
}

template <class T>
double from_probs(std::span<const T> probs, const Shape& shape,
                  std::span<const std::int64_t> target, double eps, Reduction reduction,
                  std::span<T> row_losses) {
  const char* caller = "softreg::cross_entropy_from_probs";
  const AxisLayout l = axis_layout(shape, -1, caller);
  detail::check_size(caller, "probs", probs.size(), l.size(), shape);
  detail::check_size(caller, "target", target.size(), l.rows(), shape);
  if (!(eps > 0.0 && eps < 0.5)) {
    throw InvalidArgument(std::string(caller) + ": eps must be in (0, 0.5), got " +
                          detail::format_number(eps));
  }
  if (reduction == Reduction::none && row_losses.empty() && l.rows() > 0) {
    throw InvalidArgument(std::string(caller) +
                          ": Reduction::none needs row_losses to receive one loss per row");
  }
  if (!row_losses.empty())
    detail::check_size(caller, "row_losses", row_losses.size(), l.rows(), shape);
  for (std::size_t r = 0; r < target.size(); ++r) {
    if (target[r] < 0 || static_cast<std::size_t>(target[r]) >= l.n) {
      throw InvalidArgument(std::string(caller) + ": target[" + std::to_string(r) +
                            "] = " + std::to_string(target[r]) + " is outside [0, " +
                            std::to_string(l.n) + ")");
    }
  }
  const T lo = static_cast<T>(eps);
  const T hi = static_cast<T>(1.0 - eps);
  detail::CompensatedSum total;
  for (std::size_t r = 0; r < l.rows(); ++r) {
    const T pc = probs[r * l.n + static_cast<std::size_t>(target[r])];
    const T clipped = std::isnan(pc) ? pc : (pc < lo ? lo : (pc > hi ? hi : pc));
    const double loss = -std::log(double(clipped));
    if (!row_losses.empty()) row_losses[r] = static_cast<T>(loss);
    total.add(loss);
  }
  if (reduction == Reduction::mean) return l.rows() == 0 ? 0.0 : total.value() / double(l.rows());
  return total.value();
}

}  // namespace

double cross_entropy(std::span<const float> logits, const Shape& shape,
                     std::span<const std::int64_t> target, const CrossEntropyOptions<float>& o,
                     std::span<float> row_losses) {
  return forward<float>(logits, shape, target, {}, true, o, row_losses);
}
double cross_entropy(std::span<const double> logits, const Shape& shape,
                     std::span<const std::int64_t> target, const CrossEntropyOptions<double>& o,
                     std::span<double> row_losses) {
  return forward<double>(logits, shape, target, {}, true, o, row_losses);
}
double cross_entropy(std::span<const float> logits, const Shape& shape,
                     std::span<const float> target_probs, const CrossEntropyOptions<float>& o,
                     std::span<float> row_losses) {
  return forward<float>(logits, shape, {}, target_probs, false, o, row_losses);
}
double cross_entropy(std::span<const double> logits, const Shape& shape,
                     std::span<const double> target_probs, const CrossEntropyOptions<double>& o,
                     std::span<double> row_losses) {
  return forward<double>(logits, shape, {}, target_probs, false, o, row_losses);
}
double cross_entropy_with_grad(std::span<float> dlogits, std::span<const float> logits,
                               const Shape& shape, std::span<const std::int64_t> target,
                               const CrossEntropyOptions<float>& o, std::span<float> row_losses) {
  return with_grad<float>(dlogits, logits, shape, target, {}, true, o, row_losses);
}
double cross_entropy_with_grad(std::span<double> dlogits, std::span<const double> logits,
                               const Shape& shape, std::span<const std::int64_t> target,
                               const CrossEntropyOptions<double>& o, std::span<double> row_losses) {
  return with_grad<double>(dlogits, logits, shape, target, {}, true, o, row_losses);
}
double cross_entropy_with_grad(std::span<float> dlogits, std::span<const float> logits,
                               const Shape& shape, std::span<const float> target_probs,
                               const CrossEntropyOptions<float>& o, std::span<float> row_losses) {
  return with_grad<float>(dlogits, logits, shape, {}, target_probs, false, o, row_losses);
}
double cross_entropy_with_grad(std::span<double> dlogits, std::span<const double> logits,
                               const Shape& shape, std::span<const double> target_probs,
                               const CrossEntropyOptions<double>& o, std::span<double> row_losses) {
  return with_grad<double>(dlogits, logits, shape, {}, target_probs, false, o, row_losses);
}
double cross_entropy_from_probs(std::span<const float> probs, const Shape& shape,
                                std::span<const std::int64_t> target, double eps,
                                Reduction reduction, std::span<float> row_losses) {
  return from_probs(probs, shape, target, eps, reduction, row_losses);
}
double cross_entropy_from_probs(std::span<const double> probs, const Shape& shape,
                                std::span<const std::int64_t> target, double eps,
                                Reduction reduction, std::span<double> row_losses) {
  return from_probs(probs, shape, target, eps, reduction, row_losses);
}

}  // namespace softreg
