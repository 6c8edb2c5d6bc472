// Long-double reference for the cross-entropy contract of loss.hpp, and the tolerance checks.
//
// The reference is written straight from the formulas in loss.hpp and calls nothing in
// softreg, so a shared mistake would have to be made twice. Per row, y = log_softmax(z),
// q is the weighted, smoothed target vector, loss = -sum q_k y_k (skipping q_k == 0 so that
// 0 * (-inf) = 0) and the unreduced gradient is S p - q with S = sum q_k.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "softreg/loss.hpp"

namespace ce_oracle {

using ld = long double;

/// The layout of a row-major array along one axis, derived here rather than taken from
/// softreg::axis_layout so that the oracle does not share its row numbering with the library.
struct Layout {
  std::size_t outer = 1;
  std::size_t n = 0;
  std::size_t inner = 1;
  std::size_t rows() const { return outer * inner; }
  std::size_t at(std::size_t row, std::size_t k) const {
    return ((row / inner) * n + k) * inner + row % inner;
  }
};

inline Layout layout_of(std::span<const std::size_t> dims, int axis) {
  const int nd = static_cast<int>(dims.size());
  const int a = axis < 0 ? axis + nd : axis;
  if (a < 0 || a >= nd) throw std::logic_error("ce_oracle: axis out of range");
  Layout l;
  for (int i = 0; i < a; ++i) l.outer *= dims[static_cast<std::size_t>(i)];
  l.n = dims[static_cast<std::size_t>(a)];
  for (int i = a + 1; i < nd; ++i) l.inner *= dims[static_cast<std::size_t>(i)];
  return l;
}

/// softmax(z / temperature) of one row, max-shifted, for the worked-example and
/// temperature tests (temperature > 0).
inline std::vector<ld> softmax_row(std::span<const ld> z, ld temperature = 1) {
  ld m = -std::numeric_limits<ld>::infinity();
  for (ld v : z) m = std::max(m, v / temperature);
  std::vector<ld> p(z.size());
  ld s = 0;
  for (std::size_t k = 0; k < z.size(); ++k) s += (p[k] = std::exp(z[k] / temperature - m));
  for (ld& v : p) v /= s;
  return p;
}

/// Everything the checks need, unreduced; scale() applies the reduction.
struct Reference {
  Layout layout;
  std::vector<ld> row_loss;   // weighted loss per row, 0 for ignored rows
  std::vector<ld> row_bound;  // sum_k |q_k| (1 + |y_k|): the factor of loss.hpp's loss bound
  std::vector<ld> grad;       // S p - q in the logits' layout
  std::vector<ld> grad_sp;    // (1 + |d_k|) |S| p_k, the first factor of the gradient bound
  std::vector<ld> grad_q;     // |q_k|, the second factor
  ld mean_denominator = 0;

  ld scale(softreg::Reduction r) const {
    if (r != softreg::Reduction::mean) return 1;
    return mean_denominator == 0 ? ld{0} : 1 / mean_denominator;
  }
  ld loss(softreg::Reduction r) const {
    ld s = 0;
    for (ld v : row_loss) s += v;
    return scale(r) == 0 ? ld{0} : s * scale(r);
  }
  ld loss_bound(softreg::Reduction r) const {
    ld s = 0;
    for (ld v : row_bound) s += v;
    return s * scale(r);
  }
  ld abs_loss_sum(softreg::Reduction r) const {
    ld s = 0;
    for (ld v : row_loss) s += std::fabs(v);
    return s * scale(r);
  }
};

struct Problem {
  std::vector<std::size_t> dims;
  int class_axis = -1;
  std::vector<ld> logits;
  std::vector<ld> weights;  // empty: all 1
  ld smoothing = 0;
};

template <class T>
std::vector<ld> widen(std::span<const T> v) {
  return std::vector<ld>(v.begin(), v.end());
}

namespace detail {

// Fills the row's entries of ref from its logits z and target vector q. Rows with +inf or
// only -inf entries take the limits docs/NUMERICS.md gives: p = 1/c on the c +inf entries
// (y = -log c there, -inf elsewhere), and p = 0, y = -inf for a fully masked row.
inline void finish_row(Reference& ref, std::size_t row, const std::vector<ld>& z,
                       const std::vector<ld>& q) {
  const Layout& l = ref.layout;
  const ld nan = std::numeric_limits<ld>::quiet_NaN();
  const ld inf = std::numeric_limits<ld>::infinity();
  bool has_nan = false;
  std::size_t plus_inf = 0;
  ld m = -inf;
  for (ld v : z) {
    has_nan = has_nan || std::isnan(v);
    plus_inf += v == inf ? 1 : 0;
    m = std::max(m, v);
  }
  if (has_nan) {
    ref.row_loss[row] = nan;
    for (std::size_t k = 0; k < l.n; ++k) ref.grad[l.at(row, k)] = nan;
    return;
  }
  std::vector<ld> d(l.n), y(l.n), p(l.n);
  if (plus_inf > 0) {
    for (std::size_t k = 0; k < l.n; ++k) {
      const bool top = z[k] == inf;
      d[k] = top ? 0 : -inf;
      y[k] = top ? -std::log(static_cast<ld>(plus_inf)) : -inf;
      p[k] = top ? 1 / static_cast<ld>(plus_inf) : 0;
    }
  } else if (m == -inf) {
    std::fill(d.begin(), d.end(), -inf);
    std::fill(y.begin(), y.end(), -inf);
  } else {
    ld s = 0;
    for (std::size_t k = 0; k < l.n; ++k) s += (p[k] = std::exp(d[k] = z[k] - m));
    const ld log_s = std::log(s);
    for (std::size_t k = 0; k < l.n; ++k) {
      y[k] = d[k] - log_s;
      p[k] /= s;
    }
  }
  ld total = 0;
  ld big_s = 0;
  ld bound = 0;
  for (std::size_t k = 0; k < l.n; ++k) {
    big_s += q[k];
    if (q[k] != 0) {
      total -= q[k] * y[k];
      bound += std::fabs(q[k]) * (1 + std::fabs(y[k]));
    }
  }
  ref.row_loss[row] = total;
  ref.row_bound[row] = bound;
  for (std::size_t k = 0; k < l.n; ++k) {
    const std::size_t at = l.at(row, k);
    ref.grad[at] = big_s * p[k] - q[k];
    ref.grad_sp[at] = p[k] == 0 ? ld{0} : (1 + std::fabs(d[k])) * std::fabs(big_s) * p[k];
    ref.grad_q[at] = std::fabs(q[k]);
  }
}

inline Reference start(const Problem& pb) {
  Reference ref;
  ref.layout = layout_of(pb.dims, pb.class_axis);
  const std::size_t rows = ref.layout.rows();
  ref.row_loss.assign(rows, 0);
  ref.row_bound.assign(rows, 0);
  ref.grad.assign(pb.logits.size(), 0);
  ref.grad_sp.assign(pb.logits.size(), 0);
  ref.grad_q.assign(pb.logits.size(), 0);
  return ref;
}

inline ld weight(const Problem& pb, std::size_t k) {
  return pb.weights.empty() ? ld{1} : pb.weights[k];
}

inline std::vector<ld> row_logits(const Problem& pb, const Layout& l, std::size_t row) {
  std::vector<ld> z(l.n);
  for (std::size_t k = 0; k < l.n; ++k) z[k] = pb.logits[l.at(row, k)];
  return z;
}

}  // namespace detail

/// Index targets: q = (1 - eps) w_c e_c + (eps / K) w, or 0 for c == ignore_index.
inline Reference reference_index(const Problem& pb, std::span<const std::int64_t> target,
                                 std::int64_t ignore_index = -100) {
  Reference ref = detail::start(pb);
  const Layout& l = ref.layout;
  const ld kk = static_cast<ld>(l.n);
  for (std::size_t row = 0; row < l.rows(); ++row) {
    const std::int64_t c = target[row];
    if (c == ignore_index) continue;
    if (c < 0 || static_cast<std::size_t>(c) >= l.n) throw std::logic_error("ce_oracle: target");
    const auto cu = static_cast<std::size_t>(c);
    std::vector<ld> q(l.n);
    for (std::size_t k = 0; k < l.n; ++k) q[k] = pb.smoothing / kk * detail::weight(pb, k);
    q[cu] += (1 - pb.smoothing) * detail::weight(pb, cu);
    ref.mean_denominator += detail::weight(pb, cu);
    detail::finish_row(ref, row, detail::row_logits(pb, l, row), q);
  }
  return ref;
}

/// Probability targets t (the logits' layout): q_k = w_k ((1 - eps) t_k + eps / K).
inline Reference reference_probs(const Problem& pb, std::span<const ld> target) {
  Reference ref = detail::start(pb);
  const Layout& l = ref.layout;
  const ld kk = static_cast<ld>(l.n);
  for (std::size_t row = 0; row < l.rows(); ++row) {
    std::vector<ld> q(l.n);
    for (std::size_t k = 0; k < l.n; ++k) {
      q[k] =
          detail::weight(pb, k) * ((1 - pb.smoothing) * target[l.at(row, k)] + pb.smoothing / kk);
    }
    detail::finish_row(ref, row, detail::row_logits(pb, l, row), q);
  }
  ref.mean_denominator = static_cast<ld>(l.rows());
  return ref;
}

// ---- tolerances: loss.hpp's float32 bound, and 1e-12 relative to the same factors for double.

template <class T>
struct Tol;
template <>
struct Tol<float> {
  static constexpr ld eps = 0x1p-24L;
  static constexpr ld loss = 8 * eps;
  static constexpr ld grad_sp = 8 * eps;
  static constexpr ld grad_q = 2 * eps;
  static constexpr ld tiny = FLT_MIN;
};
template <>
struct Tol<double> {
  static constexpr ld eps = 0x1p-53L;
  static constexpr ld loss = 1e-12L;
  static constexpr ld grad_sp = 1e-12L;
  static constexpr ld grad_q = 1e-12L;
  static constexpr ld tiny = DBL_MIN;
};

/// Reduced losses are summed in double: allow that rounding on top of the per-row bound.
template <class T>
ld loss_tolerance(const Reference& ref, softreg::Reduction r) {
  const ld rows = static_cast<ld>(ref.row_loss.size()) + 1;
  return Tol<T>::loss * ref.loss_bound(r) + 4 * rows * 0x1p-53L * ref.abs_loss_sum(r);
}

template <class T>
void expect_loss(double got, const Reference& ref, softreg::Reduction r) {
  const ld want = ref.loss(r);
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << "got " << got;
    return;
  }
  if (std::isinf(want)) {
    EXPECT_EQ(static_cast<ld>(got), want);
    return;
  }
  EXPECT_LE(std::fabs(static_cast<ld>(got) - want), loss_tolerance<T>(ref, r))
      << "loss got " << got << " want " << static_cast<double>(want);
}

/// Row losses are stored in T, so one more rounding to T is allowed.
template <class T>
void expect_row_losses(std::span<const T> got, const Reference& ref) {
  ASSERT_EQ(got.size(), ref.row_loss.size());
  for (std::size_t row = 0; row < got.size(); ++row) {
    const ld want = ref.row_loss[row];
    if (std::isnan(want) || std::isinf(want)) {
      EXPECT_TRUE(std::isnan(want) ? std::isnan(got[row]) : static_cast<ld>(got[row]) == want)
          << "row " << row << " got " << got[row];
      continue;
    }
    const ld tol = Tol<T>::loss * ref.row_bound[row] + Tol<T>::eps * std::fabs(want);
    EXPECT_LE(std::fabs(static_cast<ld>(got[row]) - want), tol)
        << "row " << row << " got " << got[row] << " want " << static_cast<double>(want);
  }
}

template <class T>
ld grad_tolerance(const Reference& ref, softreg::Reduction r, std::size_t i) {
  const ld s = ref.scale(r);
  return s * (Tol<T>::grad_sp * ref.grad_sp[i] + Tol<T>::grad_q * ref.grad_q[i]) +
         Tol<T>::tiny * std::max(ld{1}, s);
}

/// The gradient of the reduced loss: scale * (S p - q), entry by entry.
template <class T>
void expect_grad(std::span<const T> got, const Reference& ref, softreg::Reduction r) {
  ASSERT_EQ(got.size(), ref.grad.size());
  const ld s = ref.scale(r);
  int reported = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const ld want = s * ref.grad[i];
    const bool ok = std::isnan(ref.grad[i])
                        ? std::isnan(got[i])
                        : std::fabs(static_cast<ld>(got[i]) - want) <= grad_tolerance<T>(ref, r, i);
    if (!ok && reported++ < 5) {
      ADD_FAILURE() << "grad[" << i << "] got " << got[i] << " want " << static_cast<double>(want)
                    << " tol " << static_cast<double>(grad_tolerance<T>(ref, r, i));
    }
  }
}

// ---- random problems, seeded so every run sees the same numbers.

template <class T>
std::vector<T> random_logits(std::size_t count, std::mt19937_64& rng, double spread = 4.0) {
  std::normal_distribution<double> dist(0.0, spread);
  std::vector<T> v(count);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

inline std::vector<std::int64_t> random_targets(std::size_t rows, std::size_t k,
                                                std::mt19937_64& rng) {
  std::uniform_int_distribution<std::int64_t> dist(0, static_cast<std::int64_t>(k) - 1);
  std::vector<std::int64_t> t(rows);
  for (auto& c : t) c = dist(rng);
  return t;
}

template <class T>
std::vector<T> random_weights(std::size_t k, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> dist(0.0, 3.0);
  std::vector<T> w(k);
  for (T& x : w) x = static_cast<T>(dist(rng));
  return w;
}

/// Soft targets laid out like the logits, each row summing to `mass` (up to rounding to T).
template <class T>
std::vector<T> random_probs(std::span<const std::size_t> dims, int axis, std::mt19937_64& rng,
                            double mass = 1.0) {
  const Layout l = layout_of(dims, axis);
  std::exponential_distribution<double> dist(1.0);
  std::vector<T> t(l.rows() * l.n);
  for (std::size_t row = 0; row < l.rows(); ++row) {
    std::vector<double> e(l.n);
    double s = 0;
    for (double& x : e) s += (x = dist(rng));
    for (std::size_t k = 0; k < l.n; ++k) t[l.at(row, k)] = static_cast<T>(mass * e[k] / s);
  }
  return t;
}

}  // namespace ce_oracle
