// Row-level building blocks of the scalar kernels: strided rows, the row scan, compensated sums.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace softreg::detail {

inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Neumaier's compensated sum: the error stays near one rounding of the result, independent of
/// the number of terms, which the double kernels' error bound needs at K = 50257 and beyond.
struct CompensatedSum {
  double sum = 0.0;
  double comp = 0.0;

  void add(double v) {
    const double t = sum + v;
    if (!std::isfinite(t)) {  // an infinite or NaN term decides the result; inf - inf must not
      sum = t;                // turn it into NaN through the compensation
      return;
    }
    comp += std::fabs(sum) >= std::fabs(v) ? (sum - t) + v : (v - t) + sum;
    sum = t;
  }
  void scale(double f) {
    sum *= f;
    comp *= f;
  }
  double value() const { return std::isfinite(sum) ? sum + comp : sum; }
};

/// What the first read of a row finds: its maximum (NaN entries skipped), whether it holds a
/// NaN, and where the first maximum sits (-1 for an empty row).
struct RowScan {
  double max = -kInf;
  bool nan = false;
  std::int64_t first_max = -1;
};

template <class T>
RowScan scan_row(const T* x, std::size_t stride, std::size_t n) {
  RowScan s;
  for (std::size_t j = 0; j < n; ++j) {
    const double v = x[j * stride];
    if (std::isnan(v)) {
      s.nan = true;
    } else if (s.first_max < 0 || v > s.max) {
      s.max = v;
      s.first_max = static_cast<std::int64_t>(j);
    }
  }
  return s;
}

/// (v - max) / t with the division skipped for t == 1, so that T = 1 reproduces the
/// temperature-free formula bit for bit. When v - max overflows (double logits near +-DBL_MAX)
/// but the scaled value is representable (t > 1), the terms are divided first.
inline double scaled_shift(double v, double max, double t) {
  const double d = v - max;
  if (t == 1.0) return d;
  if (std::isinf(d) && std::isfinite(v) && std::isfinite(max)) return v / t - max / t;
  return d / t;
}

template <class T>
void fill_row(T* out, std::size_t stride, std::size_t n, double value) {
  for (std::size_t j = 0; j < n; ++j) out[j * stride] = static_cast<T>(value);
}

}  // namespace softreg::detail
