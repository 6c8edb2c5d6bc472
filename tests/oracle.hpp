// Long-double reference softmax, log_softmax, logsumexp and argmax, and the softmax.hpp bounds.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <type_traits>
#include <vector>

#include "softreg/shape.hpp"

namespace oracle {

// x86-64 long double has a 64-bit mantissa: 11 bits more than double, so its rounding is far
// below the 8 eps bounds being checked, even for the double kernels.
using Real = long double;
static_assert(std::numeric_limits<Real>::digits >= 64, "the oracle needs extended precision");

template <class T>
constexpr Real eps_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  return std::is_same_v<T, float> ? 0x1p-24L : 0x1p-53L;
}

template <class T>
constexpr Real tiny_of() {
  return static_cast<Real>(std::numeric_limits<T>::min());
}

constexpr Real kInf = std::numeric_limits<Real>::infinity();
constexpr Real kNan = std::numeric_limits<Real>::quiet_NaN();

// The temperature a kernel over T actually divides by: the header rounds it to float for float.
template <class T>
Real effective_temperature(double t) {
  return static_cast<Real>(static_cast<T>(t));
}

// The same outer x n x inner decomposition as softreg::AxisLayout, rederived here so that a
// bug in the library's axis handling cannot also hide in the reference.
struct Layout {
  std::size_t outer = 1;
  std::size_t n = 0;
  std::size_t inner = 1;

  std::size_t rows() const { return outer * inner; }
  std::size_t offset(std::size_t row, std::size_t k) const {
    return (row / inner) * n * inner + k * inner + row % inner;
  }
};

inline Layout layout(const std::vector<std::size_t>& dims, int axis) {
  const int nd = static_cast<int>(dims.size());
  const auto a = static_cast<std::size_t>(axis < 0 ? axis + nd : axis);
  Layout l;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i < a) l.outer *= dims[i];
    if (i > a) l.inner *= dims[i];
  }
  l.n = dims[a];
  return l;
}

inline std::size_t numel(const std::vector<std::size_t>& dims) {
  std::size_t n = 1;
  for (std::size_t d : dims) n *= d;
  return n;
}

inline softreg::Shape to_shape(const std::vector<std::size_t>& dims) {
  return softreg::Shape(std::span<const std::size_t>(dims));
}

// Neumaier-compensated sum, so the reference stays exact to long-double rounding at n = 50257.
inline Real compensated_sum(const std::vector<Real>& v) {
  Real s = 0;
  Real c = 0;
  for (Real x : v) {
    const Real t = s + x;
    c += std::fabs(s) >= std::fabs(x) ? (s - t) + x : (x - t) + s;
    s = t;
  }
  return s + c;
}

// Everything the kernels produce for one array, element-wise (p, y and the d_j of the softmax
// bound) and row-wise (lse of z / t and argmax). For t == 0, lse is NaN (undefined there).
struct Reference {
  std::vector<Real> p;
  std::vector<Real> y;
  std::vector<Real> d;
  std::vector<Real> lse;
  std::vector<std::int64_t> arg;
};

inline std::int64_t row_argmax(const std::vector<Real>& z) {
  if (z.empty()) return -1;
  std::size_t best = 0;
  for (std::size_t k = 0; k < z.size(); ++k) {
    if (std::isnan(z[k])) return -1;
    if (z[k] > z[best]) best = k;
  }
  return static_cast<std::int64_t>(best);
}

// One row, following the rule table of softmax.hpp in the order it states the rules.
inline void eval_row(const std::vector<Real>& z, Real t, std::vector<Real>& p, std::vector<Real>& y,
                     std::vector<Real>& d, Real& lse) {
  const std::size_t n = z.size();
  p.assign(n, 0);
  y.assign(n, -kInf);
  d.assign(n, 0);
  lse = -kInf;
  if (n == 0) return;
  bool nan = false;
  std::size_t n_pinf = 0;
  Real m = -kInf;
  for (Real v : z) {
    nan = nan || std::isnan(v);
    if (v == kInf) ++n_pinf;
    if (v > m) m = v;
  }
  if (nan) {
    p.assign(n, kNan);
    y.assign(n, kNan);
    lse = kNan;
    return;
  }
  if (t == 0) {
    const auto a = static_cast<std::size_t>(row_argmax(z));
    p[a] = 1;
    y[a] = 0;
    lse = kNan;
    return;
  }
  if (n_pinf > 0) {
    const Real share = 1.0L / static_cast<Real>(n_pinf);
    for (std::size_t k = 0; k < n; ++k) {
      if (z[k] == kInf) {
        p[k] = share;
        y[k] = -std::log(static_cast<Real>(n_pinf));
      }
    }
    lse = kInf;
    return;
  }
  if (m == -kInf) return;
  std::vector<Real> e(n);
  for (std::size_t k = 0; k < n; ++k) {
    d[k] = (z[k] - m) / t;
    e[k] = std::exp(d[k]);
  }
  const Real s = compensated_sum(e);
  const Real log_s = std::log(s);
  for (std::size_t k = 0; k < n; ++k) {
    p[k] = e[k] / s;
    y[k] = d[k] - log_s;
  }
  lse = m / t + log_s;
}

// Reference for x of shape dims along axis, at temperature t (already effective_temperature).
template <class T>
Reference evaluate(std::span<const T> x, const std::vector<std::size_t>& dims, int axis,
                   Real t = 1) {
  const Layout l = layout(dims, axis);
  Reference r;
  r.p.assign(x.size(), kNan);
  r.y.assign(x.size(), kNan);
  r.d.assign(x.size(), 0);
  r.lse.assign(l.rows(), kNan);
  r.arg.assign(l.rows(), -2);
  std::vector<Real> z(l.n);
  std::vector<Real> p;
  std::vector<Real> y;
  std::vector<Real> d;
  for (std::size_t row = 0; row < l.rows(); ++row) {
    for (std::size_t k = 0; k < l.n; ++k) z[k] = static_cast<Real>(x[l.offset(row, k)]);
    eval_row(z, t, p, y, d, r.lse[row]);
    r.arg[row] = row_argmax(z);
    for (std::size_t k = 0; k < l.n; ++k) {
      const std::size_t o = l.offset(row, k);
      r.p[o] = p[k];
      r.y[o] = y[k];
      r.d[o] = d[k];
    }
  }
  return r;
}

// Whether got matches want to within tol. NaN and infinities must match exactly in class and
// sign, except that a finite want beyond the range of T may come back as the infinity it
// rounds to (log_softmax of [3e38, -3e38] in float is -6e38, which only -inf can represent).
template <class T>
bool within(T got, Real want, Real tol) {
  const auto g = static_cast<Real>(got);
  if (std::isnan(want)) return std::isnan(g);
  if (std::isinf(want)) return g == want;
  if (std::isnan(g)) return false;
  if (std::isinf(g)) {
    return std::fabs(want) > static_cast<Real>(std::numeric_limits<T>::max()) &&
           std::signbit(g) == std::signbit(want);
  }
  return std::fabs(g - want) <= tol;
}

// Element-wise comparison with a per-element tolerance; reports the first few failures.
template <class T, class TolFn>
testing::AssertionResult all_within(std::span<const T> got, const std::vector<Real>& want,
                                    TolFn tol, const char* what) {
  if (got.size() != want.size()) {
    return testing::AssertionFailure() << what << ": size " << got.size() << " != " << want.size();
  }
  std::size_t bad = 0;
  testing::AssertionResult res = testing::AssertionFailure();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const Real t = tol(i);
    if (within(got[i], want[i], t)) continue;
    if (bad < 4) {
      res << what << "[" << i << "]: got " << static_cast<double>(got[i]) << ", want "
          << static_cast<double>(want[i]) << ", tol " << static_cast<double>(t) << "\n";
    }
    ++bad;
  }
  if (bad == 0) return testing::AssertionSuccess();
  return res << bad << " of " << got.size() << " elements out of bound";
}

// Bound of softmax.hpp for one element, times slack (2 when both sides carry the error).
template <class T>
Real softmax_tol(Real p, Real d, Real slack = 1) {
  const Real rel = p == 0 ? 0 : 8 * eps_of<T>() * (1 + std::fabs(d)) * p;
  return slack * (rel + tiny_of<T>());
}
template <class T>
Real log_softmax_tol(Real y, Real slack = 1) {
  return slack * 8 * eps_of<T>() * (1 + std::fabs(y));
}
template <class T>
Real logsumexp_tol(Real r, Real slack = 1) {
  return slack * 8 * eps_of<T>() * (1 + std::fabs(r));
}

template <class T>
testing::AssertionResult softmax_ok(std::span<const T> got, const Reference& ref) {
  return all_within(
      got, ref.p, [&](std::size_t i) { return softmax_tol<T>(ref.p[i], ref.d[i]); }, "softmax");
}
template <class T>
testing::AssertionResult log_softmax_ok(std::span<const T> got, const Reference& ref) {
  return all_within(
      got, ref.y, [&](std::size_t i) { return log_softmax_tol<T>(ref.y[i]); }, "log_softmax");
}
template <class T>
testing::AssertionResult logsumexp_ok(std::span<const T> got, const Reference& ref) {
  return all_within(
      got, ref.lse, [&](std::size_t i) { return logsumexp_tol<T>(ref.lse[i]); }, "logsumexp");
}
inline testing::AssertionResult argmax_ok(std::span<const std::int64_t> got, const Reference& ref) {
  if (got.size() != ref.arg.size()) return testing::AssertionFailure() << "argmax: size";
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != ref.arg[i]) {
      return testing::AssertionFailure()
             << "argmax[" << i << "]: got " << got[i] << ", want " << ref.arg[i];
    }
  }
  return testing::AssertionSuccess();
}

// Logits spread over a wide range: uniform in [-50, 50], or normal with standard deviation 10.
enum class Dist { kUniform, kNormal };

template <class T>
std::vector<T> random_logits(std::size_t n, std::mt19937_64& rng, Dist dist = Dist::kUniform) {
  std::uniform_real_distribution<double> uni(-50.0, 50.0);
  std::normal_distribution<double> nor(0.0, 10.0);
  std::vector<T> v(n);
  for (T& e : v) e = static_cast<T>(dist == Dist::kUniform ? uni(rng) : nor(rng));
  return v;
}

}  // namespace oracle
