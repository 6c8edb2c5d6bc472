// Long contiguous rows cut into segments that go to the threads separately (kSplitRowBytes in
// softmax_simd.hpp): the per-row normalizer that softmax, log_softmax, logsumexp and the
// cross-entropy share, and the walk over the segments that writes their results.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "common/thread_pool.hpp"
#include "kernels/softmax_simd.hpp"

namespace softreg::detail {

/// rows x n contiguous entries in segments of kSegmentBytes (the cut depends on n alone): each
/// segment's maximum and sum of exp((x - max) / t) on the threads, merged per row in segment
/// order in double, so every result is the same for any thread count. A row is ordinary when
/// every segment is (segment_max_sum) and, for t > 1, its shift x - max does not overflow;
/// the callers send the others whole to their row kernels.
template <class T>
class SegmentedRows {
 public:
  SegmentedRows(const T* x, std::size_t rows, std::size_t n, double t, int threads)
      : n_(n),
        seg_(kSegmentBytes / sizeof(T)),
        per_row_((n + seg_ - 1) / seg_),
        threads_(threads),
        max_(rows),
        sum_(rows),
        ok_(rows) {
    const std::size_t tasks = rows * per_row_;
    std::vector<T> max(tasks), low(tasks);
    std::vector<double> sum(tasks);
    std::vector<char> ok(tasks);
    parallel_for(threads, tasks, 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t task = b; task < e; ++task) {
        const std::size_t begin = start(task);
        ok[task] = segment_max_sum(x + begin, length(task), t, &max[task], &sum[task], &low[task]);
      }
    });
    const T inv_t = static_cast<T>(1.0 / t);
    for (std::size_t r = 0; r < rows; ++r) {
      const auto first = std::ptrdiff_t(r * per_row_), last = first + std::ptrdiff_t(per_row_);
      if (!std::all_of(ok.begin() + first, ok.begin() + last, [](char c) { return c != 0; })) {
        continue;
      }
      const T m = *std::max_element(max.begin() + first, max.begin() + last);
      const T lowest = *std::min_element(low.begin() + first, low.begin() + last);
      double s = 0.0;
      for (auto c = std::size_t(first); c < std::size_t(last); ++c)
        s += sum[c] * std::exp(static_cast<double>((max[c] - m) * inv_t));
      max_[r] = m;
      sum_[r] = s;
      ok_[r] = t <= 1.0 || std::isfinite(m - lowest);
    }
  }

  bool ordinary(std::size_t r) const { return ok_[r] != 0; }
  T max(std::size_t r) const { return max_[r]; }       // of an ordinary row
  double sum(std::size_t r) const { return sum_[r]; }  // sum exp((x - max) / t), ordinary rows

  /// write(r, begin, len) for every segment [begin, begin + len) (offsets into x) of every
  /// ordinary row, on the threads.
  template <class Write>
  void for_each_segment(Write&& write) const {
    parallel_for(threads_, ok_.size() * per_row_, 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t task = b; task < e; ++task) {
        const std::size_t r = task / per_row_;
        if (ok_[r]) write(r, start(task), length(task));
      }
    });
  }

 private:
  std::size_t start(std::size_t task) const {
    return (task / per_row_) * n_ + (task % per_row_) * seg_;
  }
  std::size_t length(std::size_t task) const {
    return std::min(seg_, n_ - (task % per_row_) * seg_);
  }

  std::size_t n_, seg_, per_row_;
  int threads_;
  std::vector<T> max_;
  std::vector<double> sum_;
  std::vector<char> ok_;
};

}  // namespace softreg::detail
