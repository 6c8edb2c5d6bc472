// The scalar reference rows of softmax, log-softmax and logsumexp: the edge-case table of
// docs/NUMERICS.md in its plainest form. Float rows are evaluated in double and double rows use
// a compensated sum, so these meet the documented bounds with a wide margin. The vectorized
// kernels hand them every row that is not ordinary (NaN, an infinite maximum, T = 0, empty).
#pragma once

#include <cmath>
#include <cstddef>

#include "kernels/row.hpp"
#include "kernels/softmax_simd.hpp"

namespace softreg::detail {

/// Rows whose maximum is not finite, NaN rows and T = 0: the limits of the edge-case table.
/// op is RowOp::softmax or RowOp::log_softmax.
/// Returns false when the row is ordinary and the caller should run the general path.
template <class T>
inline bool special_row(RowOp op, T* out, const T* x, std::size_t stride, std::size_t n,
                        const RowScan& scan, double temperature) {
  const bool log = op == RowOp::log_softmax;
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
inline double sum_exp(const T* x, std::size_t stride, std::size_t n, double max, double t) {
  CompensatedSum s;
  for (std::size_t j = 0; j < n; ++j) s.add(std::exp(scaled_shift(x[j * stride], max, t)));
  return s.value();
}

/// softmax (op RowOp::softmax) or log_softmax of one row, entries `stride` apart.
template <class T>
inline void softmax_row(RowOp op, T* out, const T* x, std::size_t stride, std::size_t n, double t) {
  const RowScan scan = scan_row(x, stride, n);
  if (special_row(op, out, x, stride, n, scan, t)) return;
  if (op == RowOp::softmax) {
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
inline double logsumexp_row(const T* x, std::size_t stride, std::size_t n) {
  const RowScan scan = scan_row(x, stride, n);
  if (scan.nan) return kNaN;
  if (scan.max == -kInf || scan.max == kInf) return scan.max;
  return scan.max + std::log(sum_exp(x, stride, n, scan.max, 1.0));
}

/// One row of any of the three functions the scalar way: softmax / log_softmax write the row
/// (stride apart) at out, logsumexp writes *out.
template <class T>
inline void reference_row(RowOp op, T* out, const T* x, std::size_t stride, std::size_t n,
                          double t) {
  if (op == RowOp::logsumexp) {
    *out = static_cast<T>(logsumexp_row(x, stride, n));
  } else {
    softmax_row(op, out, x, stride, n, t);
  }
}

}  // namespace softreg::detail
