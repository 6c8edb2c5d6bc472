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
#include "kernels/segmented_rows.hpp"
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

/// Long contiguous rows (kSplitRowBytes) in segments, on every thread (segmented_rows.hpp);
/// a row that is not ordinary goes whole to the row kernel, which handles every case.
template <class T>
void split_rows(RowOp op, T* out, const T* x, std::size_t rows, std::size_t n, double t,
                int threads) {
  const SegmentedRows<T> segments(x, rows, n, t, threads);
  for (std::size_t r = 0; r < rows; ++r) {
    if (!segments.ordinary(r)) {
      simd_rows(RowsJob<T>{op, Passes::automatic, out, x, n, r, r + 1, t});
    } else if (op == RowOp::logsumexp) {
      out[r] = static_cast<T>(static_cast<double>(segments.max(r)) + std::log(segments.sum(r)));
    }
  }
  if (op == RowOp::logsumexp) return;
  segments.for_each_segment([&](std::size_t r, std::size_t begin, std::size_t len) {
    segment_write(op, out + begin, x + begin, len, t, segments.max(r), segments.sum(r));
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
