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

[[noreturn]] void fail(const char* caller, const std::string& what) {
  throw InvalidArgument(std::string(caller) + ": " + what);
}

template <class T>
void check(const char* caller, std::span<const T> hidden, std::size_t n, std::size_t d,
           std::span<const T> weight, std::size_t k, std::span<const T> bias,
           std::span<const std::int64_t> target, const LinearCrossEntropyOptions<T>& o,
           std::span<T> row_losses) {
  if (d == 0 || k == 0) fail(caller, "d and K must be >= 1");
  auto size = [&](const char* what, std::size_t got, std::size_t want) {
    if (got != want) {
      fail(caller, std::string(what) + " has " + std::to_string(got) + " elements, expected " +
                       std::to_string(want));
    }
  };
  size("hidden", hidden.size(), n * d);
  size("weight", weight.size(), d * k);
  size("target", target.size(), n);
  if (!bias.empty()) size("bias", bias.size(), k);
  if (!o.class_weights.empty()) {
    size("class_weights", o.class_weights.size(), k);
    for (std::size_t c = 0; c < k; ++c) {
      const T w = o.class_weights[c];
      if (!(w >= T(0)) || !std::isfinite(w)) {
        fail(caller, "class_weights[" + std::to_string(c) + "] = " + format_number(double(w)) +
                         " must be finite and >= 0");
      }
    }
  }
  if (o.reduction == Reduction::none && row_losses.empty()) {
    fail(caller, "Reduction::none needs row_losses");
  }
  if (!row_losses.empty()) size("row_losses", row_losses.size(), n);
  if (!(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0)) {
    fail(caller, "label_smoothing must be in [0, 1], got " + format_number(o.label_smoothing));
  }
  if (!(o.z_loss >= 0.0) || !std::isfinite(o.z_loss)) {
    fail(caller, "z_loss must be finite and >= 0, got " + format_number(o.z_loss));
  }
  if (!(o.softcap >= 0.0) || !std::isfinite(o.softcap)) {
    fail(caller, "softcap must be finite and > 0 (0: off), got " + format_number(o.softcap));
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t t = target[i];
    if (t != o.ignore_index && (t < 0 || t >= std::int64_t(k))) {
      fail(caller, "target[" + std::to_string(i) + "] = " + std::to_string(t) + " is outside [0, " +
                       std::to_string(k) + ") and not ignore_index (" +
                       std::to_string(o.ignore_index) + ")");
    }
  }
}

template <class T>
void check_grads(const char* caller, const LinearCrossEntropyGrads<T>& g, std::size_t n,
                 std::size_t d, std::size_t k, bool has_bias) {
  auto size = [&](const char* what, std::size_t got, std::size_t want) {
    if (got != 0 && got != want) {
      fail(caller, std::string(what) + " has " + std::to_string(got) + " elements, expected " +
                       std::to_string(want));
    }
  };
  size("d_hidden", g.d_hidden.size(), n * d);
  size("d_weight", g.d_weight.size(), d * k);
  size("d_bias", g.d_bias.size(), k);
  if (!g.d_bias.empty() && !has_bias) fail(caller, "d_bias given without a bias");
}

template <class T>
double run(const char* caller, std::span<const T> hidden, std::size_t n, std::size_t d,
           std::span<const T> weight, std::size_t k, std::span<const T> bias,
           std::span<const std::int64_t> target, const LinearCrossEntropyGrads<T>* grads,
           const LinearCrossEntropyOptions<T>& o, std::span<T> row_losses) {
  check(caller, hidden, n, d, weight, k, bias, target, o, row_losses);
  if (grads != nullptr) check_grads(caller, *grads, n, d, k, !bias.empty());
  const int threads = resolve_threads(o.threads);
  const T* cw = o.class_weights.empty() ? nullptr : o.class_weights.data();
  auto weight_of = [&](std::size_t c) { return cw != nullptr ? double(cw[c]) : 1.0; };
  double w_sum = 0;
  for (std::size_t c = 0; c < k; ++c) w_sum += weight_of(c);
  double denominator = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (target[i] != o.ignore_index) denominator += weight_of(std::size_t(target[i]));
  }
  const double scale =
      o.reduction == Reduction::mean ? (denominator > 0 ? 1 / denominator : 0) : 1.0;
  const double eps = o.label_smoothing, zc = o.z_loss;

  LceProblem<T> p;
  p.h = hidden.data();
  p.n = n;
  p.d = d;
  p.k = k;
  p.w = weight.data();
  p.bias = bias.empty() ? nullptr : bias.data();
  p.class_weights = cw;
  p.kd = o.layout == WeightLayout::kd;
  p.cap = static_cast<T>(o.softcap);
  p.smoothing = eps > 0;
  p.filter = o.filter_gradient && eps == 0;

  T* dw = nullptr;
  T* db = nullptr;
  T* dh_out = nullptr;
  if (grads != nullptr) {
    if (!grads->d_weight.empty()) dw = grads->d_weight.data();
    if (!grads->d_bias.empty()) db = grads->d_bias.data();
    if (!grads->d_hidden.empty()) dh_out = grads->d_hidden.data();
    if (dw != nullptr) std::fill_n(dw, d * k, T(0));
    if (db != nullptr) std::fill_n(db, k, T(0));
  }
  const bool backward = dw != nullptr || db != nullptr || dh_out != nullptr;

  const std::size_t chunk = linear_cross_entropy_chunk_rows(n, d, k);
  const std::size_t ld_max = (chunk + 15) / 16 * 16;
  const std::size_t slices = slice_count(k);
  const std::size_t dh_size = p.kd ? ld_max * d : d * ld_max;
  std::vector<T> zt(n > 0 ? k * ld_max : 0), ht(p.kd && n > 0 ? d * ld_max : 0);
  std::vector<T> stats(slices * 4 * ld_max);
  std::vector<T> dh_parts(backward && dh_out != nullptr && n > 0 ? slices * dh_size : 0);
  std::vector<T> lse(ld_max), p_coef(ld_max), eps_coef(ld_max), t_coef(ld_max), z_t(ld_max);
  std::vector<std::int64_t> tgt(ld_max);
  auto slice_begin = [&](std::size_t s) { return k * s / slices; };
  auto stats_of = [&](std::size_t s) {
    T* b = stats.data() + s * 4 * ld_max;
    return LceStats<T>{b, b + ld_max, b + 2 * ld_max, b + 3 * ld_max};
  };

  double total = 0;
  for (std::size_t r0 = 0; r0 < n; r0 += chunk) {
    LceChunk<T> c;
    c.r0 = r0;
    c.nr = std::min(chunk, n - r0);
    c.ld = (c.nr + 15) / 16 * 16;
    c.zt = zt.data();
    for (std::size_t r = 0; r < c.nr; ++r) {
      tgt[r] = target[r0 + r] == o.ignore_index ? -1 : target[r0 + r];
    }
    c.target = tgt.data();
    if (p.kd) {
      for (std::size_t j = 0; j < d; ++j) {
        T* row = ht.data() + j * c.ld;
        for (std::size_t r = 0; r < c.nr; ++r) row[r] = hidden[(r0 + r) * d + j];
        std::fill(row + c.nr, row + c.ld, T(0));
      }
      c.ht = ht.data();
    }
    parallel_for(threads, slices, 1, [&](std::size_t s0, std::size_t s1) {
      std::vector<T> scratch;
      for (std::size_t s = s0; s < s1; ++s) {
        simd_lce_logits(p, c, slice_begin(s), slice_begin(s + 1), stats_of(s), scratch);
      }
    });
    // The rows' logsumexp and losses (float64), and phase B's coefficients.
    const T inf = std::numeric_limits<T>::infinity();
    for (std::size_t r = 0; r < c.ld; ++r) {
      lse[r] = inf;
      p_coef[r] = eps_coef[r] = t_coef[r] = z_t[r] = T(0);
    }
    for (std::size_t r = 0; r < c.nr; ++r) {
      double big = -std::numeric_limits<double>::infinity(), zt_r = 0, wz = 0;
      for (std::size_t s = 0; s < slices; ++s) big = std::max(big, double(stats_of(s).m[r]));
      const double use = std::isinf(big) && big < 0 ? 0.0 : big;
      double l = 0;
      for (std::size_t s = 0; s < slices; ++s) {
        const LceStats<T> st = stats_of(s);
        l += double(st.l[r]) * std::exp(double(st.m[r]) - use);
        wz += double(st.wz[r]);
        const std::int64_t t = tgt[r];
        if (t >= 0 && std::size_t(t) >= slice_begin(s) && std::size_t(t) < slice_begin(s + 1)) {
          zt_r = double(st.z_target[r]);
        }
      }
      const double row_lse = big + std::log(l);
      double loss = 0;
      if (tgt[r] >= 0) {
        const double wt = weight_of(std::size_t(tgt[r]));
        loss = (1 - eps) * wt * (row_lse - zt_r) + eps / double(k) * (w_sum * row_lse - wz) +
               zc * row_lse * row_lse;
        lse[r] = static_cast<T>(row_lse);
        p_coef[r] =
            static_cast<T>(scale * ((1 - eps) * wt + eps * w_sum / double(k) + 2 * zc * row_lse));
        eps_coef[r] = static_cast<T>(scale * eps / double(k));
        t_coef[r] = static_cast<T>(scale * (1 - eps) * wt);
        z_t[r] = static_cast<T>(zt_r);
      }
      if (!row_losses.empty()) row_losses[r0 + r] = static_cast<T>(loss);
      total += loss;
    }
    if (!backward) continue;
    c.lse = lse.data();
    c.p_coef = p_coef.data();
    c.eps_coef = eps_coef.data();
    c.t_coef = t_coef.data();
    c.z_target = z_t.data();
    if (!dh_parts.empty()) std::fill(dh_parts.begin(), dh_parts.end(), T(0));
    parallel_for(threads, slices, 1, [&](std::size_t s0, std::size_t s1) {
      std::vector<T> scratch;
      for (std::size_t s = s0; s < s1; ++s) {
        T* dh = dh_parts.empty() ? nullptr : dh_parts.data() + s * dh_size;
        simd_lce_gradient(p, c, slice_begin(s), slice_begin(s + 1), dw, db, dh, scratch);
      }
    });
    if (dh_out == nullptr) continue;
    for (std::size_t r = 0; r < c.nr; ++r) {
      T* out = dh_out + (r0 + r) * d;
      for (std::size_t j = 0; j < d; ++j) {
        T sum = 0;
        for (std::size_t s = 0; s < slices; ++s) {
          const T* part = dh_parts.data() + s * dh_size;
          sum += p.kd ? part[r * d + j] : part[j * c.ld + r];
        }
        out[j] = sum;
      }
    }
  }
  return o.reduction == Reduction::mean ? total * scale : total;
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
