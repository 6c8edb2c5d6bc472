// Backward passes of softmax, log-softmax and logsumexp as vector-Jacobian products, and the
// explicit softmax Jacobian for small K.
#include <cmath>
#include <span>
#include <string>

#include "common/check.hpp"
#include "kernels/row.hpp"
#include "softreg/softmax.hpp"

namespace softreg {
namespace {

using detail::kInf;
using detail::kNaN;

struct Checked {
  AxisLayout layout;
  double t;
};

template <class T>
Checked check_backward(const char* caller, std::span<T> dx, std::span<const T> fwd,
                       const char* fwd_name, std::span<const T> dy, const Shape& shape, int axis,
                       double temperature) {
  const AxisLayout layout = axis_layout(shape, axis, caller);
  detail::check_size(caller, "dx", dx.size(), layout.size(), shape);
  detail::check_size(caller, fwd_name, fwd.size(), layout.size(), shape);
  detail::check_size(caller, "dy", dy.size(), layout.size(), shape);
  detail::check_alias(caller, "dx", dx, fwd_name, fwd);
  detail::check_alias(caller, "dx", dx, "dy", dy);
  return {layout, detail::checked_temperature<T>(caller, temperature)};
}

// d softmax(z/T)_j / dz_i = p_j (delta_ij - p_i) / T, so the VJP is p * (dy - <dy, p>) / T.
template <class T>
void softmax_backward_impl(std::span<T> dx, std::span<const T> p, std::span<const T> dy,
                           const Shape& shape, int axis, double temperature) {
  const auto [layout, t] =
      check_backward("softreg::softmax_backward", dx, p, "p", dy, shape, axis, temperature);
  const std::size_t s = layout.inner;
  for (std::size_t r = 0; r < layout.rows(); ++r) {
    const std::size_t o = layout.row_start(r);
    if (t == 0.0) {
      detail::fill_row(dx.data() + o, s, layout.n, 0.0);
      continue;
    }
    double dot = 0.0;
    for (std::size_t j = 0; j < layout.n; ++j) dot += double(dy[o + j * s]) * double(p[o + j * s]);
    for (std::size_t j = 0; j < layout.n; ++j) {
      const std::size_t k = o + j * s;
      dx[k] = static_cast<T>(double(p[k]) * (double(dy[k]) - dot) / t);
    }
  }
}

// log_softmax(z/T)_j = z_j/T - lse(z/T): the VJP is (dy - exp(y) * sum(dy)) / T.
template <class T>
void log_softmax_backward_impl(std::span<T> dx, std::span<const T> y, std::span<const T> dy,
                               const Shape& shape, int axis, double temperature) {
  const auto [layout, t] =
      check_backward("softreg::log_softmax_backward", dx, y, "y", dy, shape, axis, temperature);
  const std::size_t s = layout.inner;
  for (std::size_t r = 0; r < layout.rows(); ++r) {
    const std::size_t o = layout.row_start(r);
    if (t == 0.0) {
      detail::fill_row(dx.data() + o, s, layout.n, 0.0);
      continue;
    }
    double total = 0.0;
    for (std::size_t j = 0; j < layout.n; ++j) total += double(dy[o + j * s]);
    for (std::size_t j = 0; j < layout.n; ++j) {
      const std::size_t k = o + j * s;
      dx[k] = static_cast<T>((double(dy[k]) - std::exp(double(y[k])) * total) / t);
    }
  }
}

// d lse / dz_j = softmax(z)_j = exp(z_j - lse), with the limits of the edge-case table where
// z_j - lse is undefined (both infinite).
template <class T>
void logsumexp_backward_impl(std::span<T> dx, std::span<const T> x, std::span<const T> r,
                             std::span<const T> dr, const Shape& shape, int axis) {
  const char* caller = "softreg::logsumexp_backward";
  const AxisLayout layout = axis_layout(shape, axis, caller);
  detail::check_size(caller, "dx", dx.size(), layout.size(), shape);
  detail::check_size(caller, "x", x.size(), layout.size(), shape);
  detail::check_size(caller, "r", r.size(), layout.rows(), shape);
  detail::check_size(caller, "dr", dr.size(), layout.rows(), shape);
  detail::check_alias(caller, "dx", dx, "x", x);
  const std::size_t s = layout.inner;
  for (std::size_t row = 0; row < layout.rows(); ++row) {
    const std::size_t o = layout.row_start(row);
    const double lse = r[row];
    const double g = dr[row];
    if (std::isnan(lse)) {
      detail::fill_row(dx.data() + o, s, layout.n, kNaN);
    } else if (lse == -kInf) {
      detail::fill_row(dx.data() + o, s, layout.n, 0.0);
    } else if (lse == kInf) {
      std::size_t count = 0;
      for (std::size_t j = 0; j < layout.n; ++j) count += x[o + j * s] == kInf ? 1 : 0;
      for (std::size_t j = 0; j < layout.n; ++j) {
        const std::size_t k = o + j * s;
        dx[k] = static_cast<T>(x[k] == kInf ? g / double(count) : 0.0);
      }
    } else {
      for (std::size_t j = 0; j < layout.n; ++j) {
        const std::size_t k = o + j * s;
        dx[k] = static_cast<T>(g * std::exp(double(x[k]) - lse));
      }
    }
  }
}

template <class T>
void jacobian_impl(std::span<T> out, std::span<const T> p) {
  const std::size_t k = p.size();
  if (out.size() != k * k) {
    throw InvalidArgument("softreg::softmax_jacobian: out has " + std::to_string(out.size()) +
                          " elements, expected K * K = " + std::to_string(k * k) +
                          " for K = " + std::to_string(k));
  }
  detail::check_alias("softreg::softmax_jacobian", "out", out, "p", p);
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      const double pi = p[i];
      out[i * k + j] = static_cast<T>(pi * ((i == j ? 1.0 : 0.0) - double(p[j])));
    }
  }
}

}  // namespace

void softmax_backward(std::span<float> dx, std::span<const float> p, std::span<const float> dy,
                      const Shape& shape, int axis, double temperature) {
  softmax_backward_impl(dx, p, dy, shape, axis, temperature);
}
void softmax_backward(std::span<double> dx, std::span<const double> p, std::span<const double> dy,
                      const Shape& shape, int axis, double temperature) {
  softmax_backward_impl(dx, p, dy, shape, axis, temperature);
}
void log_softmax_backward(std::span<float> dx, std::span<const float> y, std::span<const float> dy,
                          const Shape& shape, int axis, double temperature) {
  log_softmax_backward_impl(dx, y, dy, shape, axis, temperature);
}
void log_softmax_backward(std::span<double> dx, std::span<const double> y,
                          std::span<const double> dy, const Shape& shape, int axis,
                          double temperature) {
  log_softmax_backward_impl(dx, y, dy, shape, axis, temperature);
}
void logsumexp_backward(std::span<float> dx, std::span<const float> x, std::span<const float> r,
                        std::span<const float> dr, const Shape& shape, int axis) {
  logsumexp_backward_impl(dx, x, r, dr, shape, axis);
}
void logsumexp_backward(std::span<double> dx, std::span<const double> x, std::span<const double> r,
                        std::span<const double> dr, const Shape& shape, int axis) {
  logsumexp_backward_impl(dx, x, r, dr, shape, axis);
}
void softmax_jacobian(std::span<float> out, std::span<const float> p) {
  jacobian_impl(out, p);
}
void softmax_jacobian(std::span<double> out, std::span<const double> p) {
  jacobian_impl(out, p);
}

}  // namespace softreg
