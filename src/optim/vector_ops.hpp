// Dot products and norms of the optimizers' parameter vectors (double, any length).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>

namespace softreg::detail {

/// a . b with eight interleaved partial sums (added in a fixed order at the end): one chain of
/// dependent additions would make every dot product over the parameters wait on the adder's
/// latency.
inline double dot(std::span<const double> a, std::span<const double> b) {
  double part[8] = {};
  const std::size_t n = a.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (std::size_t l = 0; l < 8; ++l) part[l] += a[i + l] * b[i + l];
  }
  for (; i < n; ++i) part[i % 8] += a[i] * b[i];
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

/// a . (w * b) for a diagonal w, in the same order.
inline double weighted_dot(std::span<const double> a, std::span<const double> w,
                           std::span<const double> b) {
  double part[8] = {};
  const std::size_t n = a.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (std::size_t l = 0; l < 8; ++l) part[l] += a[i + l] * w[i + l] * b[i + l];
  }
  for (; i < n; ++i) part[i % 8] += a[i] * w[i] * b[i];
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

inline double max_abs(std::span<const double> a) {
  double m = 0.0;
  for (const double v : a) m = std::max(m, std::fabs(v));
  return m;
}

}  // namespace softreg::detail
