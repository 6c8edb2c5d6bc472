// Dot products and norms of the optimizers' parameter vectors (double, any length).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "common/thread_pool.hpp"

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

/// The same dot products and element-wise updates over the worker pool, for vectors of
/// millions of parameters. dot() sums fixed chunks of kChunk entries (each as above) and adds
/// the chunk totals in order: the same bits for any thread count. Short vectors stay on the
/// calling thread.
class ParallelVectors {
 public:
  static constexpr std::size_t kChunk = std::size_t(1) << 15;

  explicit ParallelVectors(int threads) : threads_(resolve_threads(threads)) {}

  double dot(std::span<const double> a, std::span<const double> b) const {
    const std::size_t n = a.size();
    const std::size_t chunks = (n + kChunk - 1) / kChunk;
    if (chunks <= 1) return detail::dot(a, b);
    part_.resize(chunks);
    parallel_for(threads_, chunks, 1, [&](std::size_t cb, std::size_t ce) {
      for (std::size_t c = cb; c < ce; ++c) {
        const std::size_t begin = c * kChunk, len = std::min(kChunk, n - begin);
        part_[c] = detail::dot(a.subspan(begin, len), b.subspan(begin, len));
      }
    });
    double total = 0.0;
    for (const double p : part_) total += p;
    return total;
  }

  /// body(begin, end) over [0, n), split across the workers.
  template <class Body>
  void each(std::size_t n, Body&& body) const {
    if (n < 2 * kChunk) {
      body(std::size_t{0}, n);
      return;
    }
    parallel_for(threads_, n, kChunk, body);
  }

 private:
  int threads_;
  mutable std::vector<double> part_;
};

}  // namespace softreg::detail
