// linear_cross_entropy(): argument checks, then chunks of rows one after another; in each, the
// vocabulary's slices (a count fixed by K) go to threads twice: phase A forms the chunk's
// logits and each slice's (max, sum) per row, merged in slice order into the row's logsumexp
// and loss (float64); phase B turns the logits into the gradient and adds its products to
// d_weight, d_bias (each slice owns its classes) and a per-slice part of d_hidden, summed in
// slice order. Nothing depends on the thread count.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "common/check.hpp"
#include "common/thread_pool.hpp"
#include "kernels/linear_cross_entropy_simd.hpp"
#include "softreg/error.hpp"
#include "softreg/linear_loss.hpp"

namespace softreg {
namespace detail {
namespace {

/// Vocabulary slices per call: enough for the threads, at least 1024 classes each (8 at most:
/// each holds its own part of the chunk's d_hidden).
std::size_t slice_count(std::size_t k) {
  return std::max<std::size_t>(1, std::min<std::size_t>(8, k / 1024));
}

template <class T>
void check(const char* caller, std::span<const T> hidden, std::size_t n, std::size_t d,
           std::span<const T> weight, std::size_t k, std::span<const T> bias,
           std::span<const std::int64_t> target, const LinearCrossEntropyOptions<T>& o,
           std::span<T> row_losses) {
  if (d == 0 || k == 0) invalid_argument(caller, "d and K must be >= 1");
  check_count(caller, "hidden", hidden.size(), n * d);
  check_count(caller, "weight", weight.size(), d * k);
  check_count(caller, "target", target.size(), n);
  check_count(caller, "bias", bias.size(), k, true);
  if (!o.class_weights.empty()) {
    check_count(caller, "class_weights", o.class_weights.size(), k);
    for (std::size_t c = 0; c < k; ++c) {
      const T w = o.class_weights[c];
      if (!(w >= T(0)) || !std::isfinite(w)) {
        invalid_argument(caller, "class_weights[" + std::to_string(c) + "] = " +
                                     format_number(double(w)) + " must be finite and >= 0");
      }
    }
  }
  if (o.reduction == Reduction::none && row_losses.empty()) {
    invalid_argument(caller, "Reduction::none needs row_losses");
  }
  check_count(caller, "row_losses", row_losses.size(), n, true);
  if (!(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0)) {
    invalid_argument(caller,
                     "label_smoothing must be in [0, 1], got " + format_number(o.label_smoothing));
  }
  if (!(o.z_loss >= 0.0) || !std::isfinite(o.z_loss)) {
    invalid_argument(caller, "z_loss must be finite and >= 0, got " + format_number(o.z_loss));
  }
  if (!(o.softcap >= 0.0) || !std::isfinite(o.softcap)) {
    invalid_argument(caller,
                     "softcap must be finite and > 0 (0: off), got " + format_number(o.softcap));
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t t = target[i];
    if (t != o.ignore_index && (t < 0 || t >= std::int64_t(k))) {
      invalid_argument(caller, "target[" + std::to_string(i) + "] = " + std::to_string(t) +
                                   " is outside [0, " + std::to_string(k) +
                                   ") and not ignore_index (" + std::to_string(o.ignore_index) +
                                   ")");
    }
  }
}

template <class T>
void check_grads(const char* caller, const LinearCrossEntropyGrads<T>& g, std::size_t n,
                 std::size_t d, std::size_t k, bool has_bias) {
  check_count(caller, "d_hidden", g.d_hidden.size(), n * d, true);
  check_count(caller, "d_weight", g.d_weight.size(), d * k, true);
  check_count(caller, "d_bias", g.d_bias.size(), k, true);
  if (!g.d_bias.empty() && !has_bias) invalid_argument(caller, "d_bias given without a bias");
}

/// One call: the problem, the reduction's constants and a chunk's buffers, then the chunks one
/// after another (start, phase A, merge, phase B).
template <class T>
class FusedCall {
 public:
  FusedCall(std::span<const T> hidden, std::size_t n, std::size_t d, std::span<const T> weight,
            std::size_t k, std::span<const T> bias, std::span<const std::int64_t> target,
            const LinearCrossEntropyGrads<T>* grads, const LinearCrossEntropyOptions<T>& o,
            std::span<T> row_losses)
      : target_(target), o_(o), row_losses_(row_losses), threads_(resolve_threads(o.threads)) {
    const T* cw = o.class_weights.empty() ? nullptr : o.class_weights.data();
    p_ = {hidden.data(),
          n,
          d,
          k,
          weight.data(),
          bias.empty() ? nullptr : bias.data(),
          cw,
          o.layout == WeightLayout::kd,
          static_cast<T>(o.softcap),
          o.label_smoothing > 0,
          o.filter_gradient && o.label_smoothing == 0};
    for (std::size_t c = 0; c < k; ++c) w_sum_ += weight_of(c);
    double denominator = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (target[i] != o.ignore_index) denominator += weight_of(std::size_t(target[i]));
    }
    scale_ = o.reduction == Reduction::mean ? (denominator > 0 ? 1 / denominator : 0) : 1.0;
    if (grads != nullptr) {
      if (!grads->d_weight.empty()) dw_ = grads->d_weight.data();
      if (!grads->d_bias.empty()) db_ = grads->d_bias.data();
      if (!grads->d_hidden.empty()) dh_ = grads->d_hidden.data();
      if (dw_ != nullptr) std::fill_n(dw_, d * k, T(0));
      if (db_ != nullptr) std::fill_n(db_, k, T(0));
    }
    chunk_ = linear_cross_entropy_chunk_rows(n, d, k);
    ld_max_ = (chunk_ + 15) / 16 * 16;
    slices_ = slice_count(k);
    dh_size_ = ld_max_ * d;
    if (n == 0) return;
    zt_.resize(k * ld_max_);
    if (p_.kd) ht_.resize(d * ld_max_);
    stats_.resize(slices_ * 4 * ld_max_);
    if (dh_ != nullptr) dh_parts_.resize(slices_ * dh_size_);
    for (auto* v : {&lse_, &p_coef_, &eps_coef_, &t_coef_, &z_t_}) v->resize(ld_max_);
    tgt_.resize(2 * ld_max_);
  }

  /// The chunks in order. With gradients, the sweep over the vocabulary that forms a chunk's
  /// logits also turns the previous chunk's logits into its gradient, block by block (each
  /// block's products, then the next chunk's logits in the same place): W's blocks are read
  /// once for both. The arithmetic of every block is the same as one chunk at a time.
  double run() {
    const bool grads = dw_ != nullptr || db_ != nullptr || dh_ != nullptr;
    double total = 0;
    LceChunk<T> pending;  // a chunk whose gradient is still to form (nr = 0: none)
    std::size_t index = 0;
    for (std::size_t r0 = 0; r0 < p_.n; r0 += chunk_, ++index) {
      LceChunk<T> c = start(r0, index % 2);
      if (pending.nr != 0 && pending.ld != c.ld) {
        sweep(&pending, nullptr);  // a shorter last chunk lays its blocks out otherwise
        pending.nr = 0;
      }
      sweep(pending.nr != 0 ? &pending : nullptr, &c);
      total += merge(c);
      if (grads) pending = c;
    }
    if (pending.nr != 0) sweep(&pending, nullptr);
    return o_.reduction == Reduction::mean ? total * scale_ : total;
  }

 private:
  double weight_of(std::size_t c) const {
    return p_.class_weights != nullptr ? double(p_.class_weights[c]) : 1.0;
  }
  std::size_t slice_begin(std::size_t s) const { return p_.k * s / slices_; }
  LceStats<T> stats_of(std::size_t s) {
    T* b = stats_.data() + s * 4 * ld_max_;
    return LceStats<T>{b, b + ld_max_, b + 2 * ld_max_, b + 3 * ld_max_};
  }

  /// The chunk at row r0: its targets (-1 for ignored; in buffer `which` of two, since the
  /// previous chunk's are still read) and, for kd, its rows transposed.
  LceChunk<T> start(std::size_t r0, std::size_t which) {
    LceChunk<T> c;
    c.r0 = r0;
    c.nr = std::min(chunk_, p_.n - r0);
    c.ld = (c.nr + 15) / 16 * 16;
    c.zt = zt_.data();
    std::int64_t* tgt = tgt_.data() + which * ld_max_;
    for (std::size_t r = 0; r < c.nr; ++r) {
      tgt[r] = target_[r0 + r] == o_.ignore_index ? -1 : target_[r0 + r];
    }
    c.target = tgt;
    if (p_.kd) {
      for (std::size_t j = 0; j < p_.d; ++j) {
        T* row = ht_.data() + j * c.ld;
        for (std::size_t r = 0; r < c.nr; ++r) row[r] = p_.h[(r0 + r) * p_.d + j];
        std::fill(row + c.nr, row + c.ld, T(0));
      }
      c.ht = ht_.data();
    }
    return c;
  }

  /// The rows' logsumexp and losses from the slices' statistics (float64, slice order), and
  /// phase B's coefficients. Returns the sum of the chunk's row losses.
  double merge(LceChunk<T>& c) {
    const double eps = o_.label_smoothing, zc = o_.z_loss, k = double(p_.k);
    for (std::size_t r = 0; r < c.ld; ++r) {
      lse_[r] = std::numeric_limits<T>::infinity();
      p_coef_[r] = eps_coef_[r] = t_coef_[r] = z_t_[r] = T(0);
    }
    double total = 0;
    for (std::size_t r = 0; r < c.nr; ++r) {
      double big = -std::numeric_limits<double>::infinity(), zt_r = 0, wz = 0, l = 0;
      for (std::size_t s = 0; s < slices_; ++s) big = std::max(big, double(stats_of(s).m[r]));
      const double use = std::isinf(big) && big < 0 ? 0.0 : big;
      const std::int64_t t = c.target[r];
      for (std::size_t s = 0; s < slices_; ++s) {
        const LceStats<T> st = stats_of(s);
        l += double(st.l[r]) * std::exp(double(st.m[r]) - use);
        wz += double(st.wz[r]);
        if (t >= 0 && std::size_t(t) >= slice_begin(s) && std::size_t(t) < slice_begin(s + 1)) {
          zt_r = double(st.z_target[r]);
        }
      }
      const double lse = big + std::log(l);
      double loss = 0;
      if (t >= 0) {
        const double wt = weight_of(std::size_t(t));
        loss = (1 - eps) * wt * (lse - zt_r) + eps / k * (w_sum_ * lse - wz) + zc * lse * lse;
        lse_[r] = static_cast<T>(lse);
        p_coef_[r] = static_cast<T>(scale_ * ((1 - eps) * wt + eps * w_sum_ / k + 2 * zc * lse));
        eps_coef_[r] = static_cast<T>(scale_ * eps / k);
        t_coef_[r] = static_cast<T>(scale_ * (1 - eps) * wt);
        z_t_[r] = static_cast<T>(zt_r);
      }
      if (!row_losses_.empty()) row_losses_[c.r0 + r] = static_cast<T>(loss);
      total += loss;
    }
    c.lse = lse_.data();
    c.p_coef = p_coef_.data();
    c.eps_coef = eps_coef_.data();
    c.t_coef = t_coef_.data();
    c.z_target = z_t_.data();
    return total;
  }

  /// One pass over the vocabulary, slice by slice on the threads and block by block in a
  /// slice: phase B of chunk g (if any), then phase A of chunk a (if any) in the same block.
  /// Then g's d_hidden rows as the sum of the slices' parts in slice order.
  void sweep(const LceChunk<T>* g, const LceChunk<T>* a) {
    if (a != nullptr) {
      for (std::size_t s = 0; s < slices_; ++s) {
        const LceStats<T> st = stats_of(s);
        std::fill_n(st.m, ld_max_, -std::numeric_limits<T>::infinity());
        for (T* v : {st.l, st.z_target, st.wz}) std::fill_n(v, ld_max_, T(0));
      }
    }
    const bool dh = g != nullptr && dh_ != nullptr;
    if (dh) std::fill(dh_parts_.begin(), dh_parts_.end(), T(0));
    parallel_for(threads_, slices_, 1, [&](std::size_t s0, std::size_t s1) {
      LceScratch<T> scratch;
      for (std::size_t s = s0; s < s1; ++s) {
        T* part = dh ? dh_parts_.data() + s * dh_size_ : nullptr;
        const std::size_t end = slice_begin(s + 1);
        for (std::size_t cb = slice_begin(s); cb < end; cb += kLceVocabBlock) {
          const std::size_t ce = std::min(cb + kLceVocabBlock, end);
          if (g != nullptr) simd_lce_gradient(p_, *g, cb, ce, dw_, db_, part, scratch);
          if (a != nullptr) simd_lce_logits(p_, *a, cb, ce, stats_of(s), scratch);
        }
      }
    });
    if (!dh) return;
    const std::size_t d = p_.d;
    for (std::size_t r = 0; r < g->nr; ++r) {
      T* out = dh_ + (g->r0 + r) * d;
      for (std::size_t j = 0; j < d; ++j) {
        T sum = 0;
        for (std::size_t s = 0; s < slices_; ++s) {
          const T* part = dh_parts_.data() + s * dh_size_;
          sum += p_.kd ? part[r * d + j] : part[j * g->ld + r];
        }
        out[j] = sum;
      }
    }
  }

  std::span<const std::int64_t> target_;
  const LinearCrossEntropyOptions<T>& o_;
  std::span<T> row_losses_;
  int threads_;
  LceProblem<T> p_;
  double w_sum_ = 0, scale_ = 1;
  T* dw_ = nullptr;
  T* db_ = nullptr;
  T* dh_ = nullptr;
  std::size_t chunk_ = 0, ld_max_ = 0, slices_ = 0, dh_size_ = 0;
  std::vector<T> zt_, ht_, stats_, dh_parts_, lse_, p_coef_, eps_coef_, t_coef_, z_t_;
  std::vector<std::int64_t> tgt_;
};

template <class T>
double run(const char* caller, std::span<const T> hidden, std::size_t n, std::size_t d,
           std::span<const T> weight, std::size_t k, std::span<const T> bias,
           std::span<const std::int64_t> target, const LinearCrossEntropyGrads<T>* grads,
           const LinearCrossEntropyOptions<T>& o, std::span<T> row_losses) {
  check(caller, hidden, n, d, weight, k, bias, target, o, row_losses);
  if (grads != nullptr) check_grads(caller, *grads, n, d, k, !bias.empty());
  return FusedCall<T>(hidden, n, d, weight, k, bias, target, grads, o, row_losses).run();
}

}  // namespace
}  // namespace detail

std::size_t linear_cross_entropy_chunk_rows(std::size_t n, std::size_t d, std::size_t k) {
  // The chunk's logits (K x rows), its packed hidden rows (d x rows) and the slices' parts of
  // d_hidden (slices x rows x d) within 4.5% of the n x K logits, in whole vectors of 16 rows.
  const double budget = 0.045 * double(n) * double(k);
  const double per_row = double(k) + double(detail::slice_count(k) + 1) * double(d);
  const auto rows = static_cast<std::size_t>(budget / per_row) / 16 * 16;
  return std::clamp<std::size_t>(rows, 16, 256);
}

double linear_cross_entropy(std::span<const float> hidden, std::size_t n, std::size_t d,
                            std::span<const float> weight, std::size_t k,
                            std::span<const float> bias, std::span<const std::int64_t> target,
                            const LinearCrossEntropyOptions<float>& options,
                            std::span<float> row_losses) {
  return detail::run("linear_cross_entropy", hidden, n, d, weight, k, bias, target,
                     static_cast<const LinearCrossEntropyGrads<float>*>(nullptr), options,
                     row_losses);
}
double linear_cross_entropy(std::span<const double> hidden, std::size_t n, std::size_t d,
                            std::span<const double> weight, std::size_t k,
                            std::span<const double> bias, std::span<const std::int64_t> target,
                            const LinearCrossEntropyOptions<double>& options,
                            std::span<double> row_losses) {
  return detail::run("linear_cross_entropy", hidden, n, d, weight, k, bias, target,
                     static_cast<const LinearCrossEntropyGrads<double>*>(nullptr), options,
                     row_losses);
}
double linear_cross_entropy_with_grad(std::span<const float> hidden, std::size_t n, std::size_t d,
                                      std::span<const float> weight, std::size_t k,
                                      std::span<const float> bias,
                                      std::span<const std::int64_t> target,
                                      const LinearCrossEntropyGrads<float>& grads,
                                      const LinearCrossEntropyOptions<float>& options,
                                      std::span<float> row_losses) {
  return detail::run("linear_cross_entropy_with_grad", hidden, n, d, weight, k, bias, target,
                     &grads, options, row_losses);
}
double linear_cross_entropy_with_grad(std::span<const double> hidden, std::size_t n, std::size_t d,
                                      std::span<const double> weight, std::size_t k,
                                      std::span<const double> bias,
                                      std::span<const std::int64_t> target,
                                      const LinearCrossEntropyGrads<double>& grads,
                                      const LinearCrossEntropyOptions<double>& options,
                                      std::span<double> row_losses) {
  return detail::run("linear_cross_entropy_with_grad", hidden, n, d, weight, k, bias, target,
                     &grads, options, row_losses);
}

}  // namespace softreg
