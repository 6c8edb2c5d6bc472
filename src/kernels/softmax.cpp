// Softmax, log-softmax, logsumexp and argmax: argument checks, then the rows split over the
// library's threads and handed to the vectorized kernels (softmax_simd.cpp for contiguous rows,
// softmax_strided_simd.cpp for other axes), which pass rows that are not ordinary to the scalar
// reference (reference.hpp).
#include "softreg/softmax.hpp"

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "common/check.hpp"
#include "common/thread_pool.hpp"
#include "common/thread_scratch.hpp"
#include "kernels/reference.hpp"
#include "kernels/row.hpp"
#include "kernels/softmax_simd.hpp"
#include "softreg/threads.hpp"

namespace softreg {
namespace detail {
namespace {

template <class T>
void reference_rows(RowOp op, T* out, const T* x, const AxisLayout& layout, double t,
                    std::size_t begin, std::size_t end) {
  for (std::size_t r = begin; r < end; ++r) {
    const std::size_t start = layout.row_start(r);
    reference_row(op, op == RowOp::logsumexp ? out + r : out + start, x + start, layout.inner,
                  layout.n, t);
  }
}

/// Work items of at least this many elements each are worth a thread.
constexpr std::size_t kGrainElements = std::size_t(1) << 15;

/// Long contiguous rows (kSplitRowBytes, softmax_simd.hpp) in segments: every segment's
/// maximum and sum on any thread, merged per row in segment order, then every segment written.
/// A row with a segment that is not ordinary (NaN, inf, masked blocks, an overflowing shift)
/// goes whole to the row kernel, which handles every case.
template <class T>
void split_rows(RowOp op, T* out, const T* x, std::size_t rows, std::size_t n, double t,
                int threads) {
  const std::size_t seg = kSegmentBytes / sizeof(T);
  const std::size_t per_row = (n + seg - 1) / seg;
  const std::size_t tasks = rows * per_row;
  std::vector<T> max(tasks), low(tasks);
  std::vector<double> sum(tasks);
  std::vector<char> ok(tasks);
  const auto segment = [&](std::size_t task, std::size_t& begin, std::size_t& len) {
    begin = (task / per_row) * n + (task % per_row) * seg;
    len = std::min(seg, n - (task % per_row) * seg);
  };
  parallel_for(threads, tasks, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t task = b; task < e; ++task) {
      std::size_t begin = 0, len = 0;
      segment(task, begin, len);
      ok[task] = segment_max_sum(x + begin, len, t, &max[task], &sum[task], &low[task]);
    }
  });
  const T inv_t = static_cast<T>(1.0 / t);
  std::vector<T> row_max(rows);
  std::vector<double> row_sum(rows);
  std::vector<char> row_ok(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t first = r * per_row, last = first + per_row;
    bool fine = std::all_of(ok.begin() + std::ptrdiff_t(first), ok.begin() + std::ptrdiff_t(last),
                            [](char c) { return c != 0; });
    if (fine) {
      const T m = *std::max_element(max.begin() + std::ptrdiff_t(first),
                                    max.begin() + std::ptrdiff_t(last));
      const T lowest = *std::min_element(low.begin() + std::ptrdiff_t(first),
                                         low.begin() + std::ptrdiff_t(last));
      double s = 0.0;
      for (std::size_t c = first; c < last; ++c)
        s += sum[c] * std::exp(static_cast<double>((max[c] - m) * inv_t));
      fine = t <= 1.0 || std::isfinite(m - lowest);
      row_max[r] = m;
      row_sum[r] = s;
    }
    row_ok[r] = fine ? 1 : 0;
    if (!fine) simd_rows(RowsJob<T>{op, Passes::automatic, out, x, n, r, r + 1, t});
    if (fine && op == RowOp::logsumexp) {
      out[r] = static_cast<T>(static_cast<double>(row_max[r]) + std::log(row_sum[r]));
    }
  }
  if (op == RowOp::logsumexp) return;
  parallel_for(threads, tasks, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t task = b; task < e; ++task) {
      const std::size_t r = task / per_row;
      if (!row_ok[r]) continue;
      std::size_t begin = 0, len = 0;
      segment(task, begin, len);
      segment_write(op, out + begin, x + begin, len, t, row_max[r], row_sum[r]);
    }
  });
}

template <class T>
void family_impl(RowOp op, Passes passes, T* out, const T* x, const AxisLayout& layout, double t) {
  const int threads = get_num_threads();
  const std::size_t n = layout.n;
  const bool vectorized = n > 0 && t > 0.0 && std::isfinite(static_cast<T>(1.0 / t));
  if (!vectorized) {
    parallel_for(
        threads, layout.rows(), std::max<std::size_t>(1, kGrainElements / (n + 1)),
        [&](std::size_t b, std::size_t e) { reference_rows(op, out, x, layout, t, b, e); });
    return;
  }
  if (layout.inner == 1 && passes == Passes::automatic && n * sizeof(T) > kSplitRowBytes) {
    split_rows(op, out, x, layout.rows(), n, t, threads);
    return;
  }
  if (layout.inner == 1) {
    const bool stream = op != RowOp::logsumexp && layout.size() * sizeof(T) > kStreamBytes;
    const bool cached = passes == Passes::cached ||
                        (passes == Passes::automatic && n * sizeof(T) <= kOnlineRowBytes);
    const bool use_scratch = op == RowOp::softmax && cached && stream;
    parallel_for(threads, layout.rows(), std::max<std::size_t>(1, kGrainElements / n),
                 [&](std::size_t b, std::size_t e) {
                   RowsJob<T> job{op, passes, out, x, n, b, e, t, nullptr, stream};
                   if (use_scratch) job.scratch = ThreadScratch::mine().row<T>(n);
                   simd_rows(job);
                 });
    return;
  }
  // Long columns go in ranges of whole row segments (see simd_strided).
  const std::size_t range = wide_range(n, layout.inner, sizeof(T));
  const std::size_t w = range != 0       ? range
                        : sizeof(T) == 4 ? strided_block_width_f32()
                                         : strided_block_width_f64();
  const std::size_t tasks = layout.outer * ((layout.inner + w - 1) / w);
  parallel_for(threads, tasks, std::max<std::size_t>(1, kGrainElements / (n * w)),
               [&](std::size_t b, std::size_t e) {
                 simd_strided(StridedJob<T>{op, out, x, n, layout.inner, b, e, t, range});
               });
}

template <class T>
void softmax_like(RowOp op, const char* caller, std::span<T> out, std::span<const T> x,
                  const Shape& shape, int axis, double temperature) {
  const AxisLayout layout = axis_layout(shape, axis, caller);
  check_size(caller, "x", x.size(), layout.size(), shape);
  check_size(caller, "out", out.size(), layout.size(), shape);
  check_alias(caller, "out", out, "x", x);
  const double t = checked_temperature<T>(caller, temperature);
  family_impl(op, Passes::automatic, out.data(), x.data(), layout, t);
}

template <class T>
void logsumexp_impl(std::span<T> out, std::span<const T> x, const Shape& shape, int axis) {
  const char* caller = "softreg::logsumexp";
  const AxisLayout layout = axis_layout(shape, axis, caller);
  check_size(caller, "x", x.size(), layout.size(), shape);
  check_size(caller, "out", out.size(), layout.rows(), shape);
  check_alias(caller, "out", out, "x", x);
  family_impl(RowOp::logsumexp, Passes::automatic, out.data(), x.data(), layout, 1.0);
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

void softmax_family(RowOp op, Passes passes, float* out, const float* x, const AxisLayout& layout,
                    double temperature) {
  family_impl(op, passes, out, x, layout, temperature);
}
void softmax_family(RowOp op, Passes passes, double* out, const double* x, const AxisLayout& layout,
                    double temperature) {
  family_impl(op, passes, out, x, layout, temperature);
}

}  // namespace detail

void softmax(std::span<float> out, std::span<const float> x, const Shape& shape, int axis,
             double temperature) {
  detail::softmax_like(detail::RowOp::softmax, "softreg::softmax", out, x, shape, axis,
                       temperature);
}
void softmax(std::span<double> out, std::span<const double> x, const Shape& shape, int axis,
             double temperature) {
  detail::softmax_like(detail::RowOp::softmax, "softreg::softmax", out, x, shape, axis,
                       temperature);
}
void log_softmax(std::span<float> out, std::span<const float> x, const Shape& shape, int axis,
                 double temperature) {
  detail::softmax_like(detail::RowOp::log_softmax, "softreg::log_softmax", out, x, shape, axis,
                       temperature);
}
void log_softmax(std::span<double> out, std::span<const double> x, const Shape& shape, int axis,
                 double temperature) {
  detail::softmax_like(detail::RowOp::log_softmax, "softreg::log_softmax", out, x, shape, axis,
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
