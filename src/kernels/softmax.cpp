// Scalar softmax, log-softmax, logsumexp and argmax over strided rows, with the edge-case table
// of docs/NUMERICS.md. Float rows are evaluated in double, so they meet the float bounds with
// a wide margin; double rows use a compensated sum.
#include "softreg/softmax.hpp"

#include <cmath>
#include <span>

#include "kernels/check.hpp"
#include "kernels/row.hpp"

namespace softreg {
namespace detail {
namespace {

enum class Op { softmax, log_softmax };

/// Rows whose maximum is not finite, NaN rows and T = 0: the limits of the edge-case table.
/// Returns false when the row is ordinary and the caller should run the general path.
template <class T>
bool special_row(Op op, T* out, const T* x, std::size_t stride, std::size_t n, const RowScan& scan,
                 double temperature) {
  const bool log = op == Op::log_softmax;
  if (scan.nan) {
    fill_row(out, stride, n, kNaN);
    return true;
  }
  if (scan.max == -kInf) {  // fully masked (or empty): no mass anywhere
    fill_row(out, stride, n, log ? -kInf : 0.0);
    return true;
  }
  if (temperature == 0.0) {  // one-hot at the first maximum
    fill_row(out, stride, n, log ? -kInf : 0.0);
    out[static_cast<std::size_t>(scan.first_max) * stride] = T(log ? 0.0 : 1.0);
    return true;
  }
  if (scan.max == kInf) {  // the +inf entries share the mass evenly
    std::size_t count = 0;
    for (std::size_t j = 0; j < n; ++j) count += x[j * stride] == kInf ? 1 : 0;
    const double share = log ? -std::log(static_cast<double>(count)) : 1.0 / double(count);
    for (std::size_t j = 0; j < n; ++j) {
      const bool hit = x[j * stride] == kInf;
      out[j * stride] = static_cast<T>(hit ? share : (log ? -kInf : 0.0));
    }
    return true;
  }
  return false;
}

template <class T>
double sum_exp(const T* x, std::size_t stride, std::size_t n, double max, double t) {
  CompensatedSum s;
  for (std::size_t j = 0; j < n; ++j) s.add(std::exp(scaled_shift(x[j * stride], max, t)));
  return s.value();
}

template <class T>
void softmax_row(Op op, T* out, const T* x, std::size_t stride, std::size_t n, double t) {
  const RowScan scan = scan_row(x, stride, n);
  if (special_row(op, out, x, stride, n, scan, t)) return;
  if (op == Op::softmax) {
    // Three passes: the exponentials are stored in out, then scaled. out may be x: each entry is
    // read before it is overwritten.
    CompensatedSum s;
    for (std::size_t j = 0; j < n; ++j) {
      const double e = std::exp(scaled_shift(x[j * stride], scan.max, t));
      s.add(e);
      out[j * stride] = static_cast<T>(e);
    }
    const double sum = s.value();  // >= 1: the maximum contributes exp(0)
    for (std::size_t j = 0; j < n; ++j) {
      out[j * stride] = static_cast<T>(static_cast<double>(out[j * stride]) / sum);
    }
  } else {
    const double log_sum = std::log(sum_exp(x, stride, n, scan.max, t));
    for (std::size_t j = 0; j < n; ++j) {
      out[j * stride] = static_cast<T>(scaled_shift(x[j * stride], scan.max, t) - log_sum);
    }
  }
}

template <class T>
double logsumexp_row(const T* x, std::size_t stride, std::size_t n) {
  const RowScan scan = scan_row(x, stride, n);
  if (scan.nan) return kNaN;
  if (scan.max == -kInf || scan.max == kInf) return scan.max;
  return scan.max + std::log(sum_exp(x, stride, n, scan.max, 1.0));
}

template <class T>
void softmax_like(Op op, const char* caller, std::span<T> out, std::span<const T> x,
                  const Shape& shape, int axis, double temperature) {
  const AxisLayout layout = axis_layout(shape, axis, caller);
  check_size(caller, "x", x.size(), layout.size(), shape);
  check_size(caller, "out", out.size(), layout.size(), shape);
  check_alias(caller, "out", out, "x", x);
  const double t = checked_temperature<T>(caller, temperature);
  for (std::size_t r = 0; r < layout.rows(); ++r) {
    const std::size_t start = layout.row_start(r);
    softmax_row(op, out.data() + start, x.data() + start, layout.inner, layout.n, t);
  }
}

template <class T>
void logsumexp_impl(std::span<T> out, std::span<const T> x, const Shape& shape, int axis) {
  const char* caller = "softreg::logsumexp";
  const AxisLayout layout = axis_layout(shape, axis, caller);
  check_size(caller, "x", x.size(), layout.size(), shape);
  check_size(caller, "out", out.size(), layout.rows(), shape);
  check_alias(caller, "out", out, "x", x);
  for (std::size_t r = 0; r < layout.rows(); ++r) {
    out[r] = static_cast<T>(logsumexp_row(x.data() + layout.row_start(r), layout.inner, layout.n));
  }
}

template <class T>
void argmax_impl(std::span<std::int64_t> out, std::span<const T> x, const Shape& shape, int axis) {
  const char* caller = "softreg::argmax";
  const AxisLayout layout = axis_layout(shape, axis, caller);
  check_size(caller, "x", x.size(), layout.size(), shape);
  check_size(caller, "out", out.size(), layout.rows(), shape);
  for (std::size_t r = 0; r < layout.rows(); ++r) {
    const RowScan scan = scan_row(x.data() + layout.row_start(r), layout.inner, layout.n);
    out[r] = scan.nan ? -1 : scan.first_max;
  }
}

}  // namespace
}  // namespace detail

void softmax(std::span<float> out, std::span<const float> x, const Shape& shape, int axis,
             double temperature) {
  detail::softmax_like(detail::Op::softmax, "softreg::softmax", out, x, shape, axis, temperature);
}
void softmax(std::span<double> out, std::span<const double> x, const Shape& shape, int axis,
             double temperature) {
  detail::softmax_like(detail::Op::softmax, "softreg::softmax", out, x, shape, axis, temperature);
}
void log_softmax(std::span<float> out, std::span<const float> x, const Shape& shape, int axis,
                 double temperature) {
  detail::softmax_like(detail::Op::log_softmax, "softreg::log_softmax", out, x, shape, axis,
                       temperature);
}
void log_softmax(std::span<double> out, std::span<const double> x, const Shape& shape, int axis,
                 double temperature) {
  detail::softmax_like(detail::Op::log_softmax, "softreg::log_softmax", out, x, shape, axis,
                       temperature);
}
void logsumexp(std::span<float> out, std::span<const float> x, const Shape& shape, int axis) {
  detail::logsumexp_impl(out, x, shape, axis);
}
void logsumexp(std::span<double> out, std::span<const double> x, const Shape& shape, int axis) {
  detail::logsumexp_impl(out, x, shape, axis);
}
void argmax(std::span<std::int64_t> out, std::span<const float> x, const Shape& shape, int axis) {
  detail::argmax_impl(out, x, shape, axis);
}
void argmax(std::span<std::int64_t> out, std::span<const double> x, const Shape& shape, int axis) {
  detail::argmax_impl(out, x, shape, axis);
}

}  // namespace softreg
