// The vectorized softmax-family row kernels (Highway, dispatched at run time to AVX-512, AVX2,
// SSE4, SSSE3 or scalar code), called by the public functions in softmax.cpp after they have
// validated their arguments. Rows that are not ordinary (NaN, an infinite maximum, a range that
// overflows) go to the scalar reference rows of reference.hpp, so the edge-case table holds.
#pragma once

#include <cstddef>

#include "softreg/shape.hpp"

namespace softreg::detail {

enum class RowOp : int { softmax, log_softmax, logsumexp };

/// How a contiguous row is read. cached: one pass for the maximum, one that computes (and for
/// softmax stores) the exponentials and their sum, one that writes the result; a row that
/// fits in L2 is read from memory once. online: one pass finds the maximum and the sum
/// together (blocks of L1 size, rescaled as the maximum grows), a second writes the result;
/// a row far larger than cache is read from memory twice instead of three times.
enum class Passes : int { automatic, cached, online };

/// Rows of more than this many bytes use the online passes under Passes::automatic.
inline constexpr std::size_t kOnlineRowBytes = std::size_t(256) << 10;

/// Streamed cached log_softmax rows of at least this many bytes (and at most kOnlineRowBytes)
/// interleave the write of one row with the exponentials of the next (shorter rows measured
/// faster without).
inline constexpr std::size_t kPipelineRowBytes = std::size_t(64) << 10;

/// Outputs of more than this many bytes are written with non-temporal stores: they would not
/// stay in cache anyway, and streaming them saves reading each line before it is written.
inline constexpr std::size_t kStreamBytes = std::size_t(16) << 20;

/// One call of the contiguous-row kernels: rows (inner == 1) r in [begin, end) of x, each n >= 1
/// long; temperature > 0 with 1 / T finite. softmax / log_softmax write n entries per row to
/// out (which may be x); logsumexp writes one entry per row. scratch, if not null, holds n + 64
/// entries of the calling thread's own (ThreadScratch, common/thread_scratch.hpp): cached softmax
/// rows keep their exponentials there rather than in out. stream: write out with non-temporal
/// stores.
template <class T>
struct RowsJob {
  RowOp op = RowOp::softmax;
  Passes passes = Passes::automatic;
  T* out = nullptr;
  const T* x = nullptr;
  std::size_t n = 0, begin = 0, end = 0;
  double temperature = 1.0;
  T* scratch = nullptr;
  bool stream = false;
};
void simd_rows(const RowsJob<float>& job);
void simd_rows(const RowsJob<double>& job);

/// Contiguous rows of more than this many bytes are cut into segments of kSegmentBytes, which
/// go to the threads separately (a lone long row uses every core): each segment's maximum and
/// sum of exponentials, merged per row in segment order (the same bits for any thread count),
/// then each segment written.
inline constexpr std::size_t kSplitRowBytes = std::size_t(256) << 10;
inline constexpr std::size_t kSegmentBytes = std::size_t(256) << 10;

/// One segment x[0, n) (n >= 1) at temperature t: its maximum, sum of exp((x - max) / t) and
/// smallest entry other than -inf; false when the segment is not ordinary (the online passes'
/// rule: a non-finite maximum, NaN, a shift that overflows).
bool segment_max_sum(const float* x, std::size_t n, double t, float* m, double* s, float* low);
bool segment_max_sum(const double* x, std::size_t n, double t, double* m, double* s, double* low);
/// One segment's softmax (exp((x - m) / t) / s) or log_softmax ((x - m) / t - log s) for the
/// row's merged m and s.
void segment_write(RowOp op, float* out, const float* x, std::size_t n, double t, float m,
                   double s);
void segment_write(RowOp op, double* out, const double* x, std::size_t n, double t, double m,
                   double s);

/// Strided rows (inner > 1). With range 0, a block of columns at a time: task i covers slice
/// i / blocks and columns [(i % blocks) w, ...) with w = strided_block_width(T), blocks =
/// ceil(inner / w); each pass over a block touches a line per row, which suits short n. With
/// range > 0 (a multiple of 64 bytes of entries, at most kWideBytes), task i covers slice
/// i / ranges and columns [(i % ranges) range, ...), ranges = ceil(inner / range): passes over
/// whole row segments, for long n (wide_range() gives the width; a slice whose rows hold at
/// most one range is a single task). Tasks [begin, end).
inline constexpr std::size_t kWideBytes = 4096;
inline constexpr std::size_t kWideRowsFrom = 64;
std::size_t strided_block_width_f32();
std::size_t strided_block_width_f64();

/// One call of the strided kernels: slices of n rows of `inner` columns, tasks [begin, end) as
/// above, range 0 (column blocks) or the width of a range.
template <class T>
struct StridedJob {
  RowOp op = RowOp::softmax;
  T* out = nullptr;
  const T* x = nullptr;
  std::size_t n = 0, inner = 0, begin = 0, end = 0;
  double temperature = 1.0;
  std::size_t range = 0;
};
void simd_strided(const StridedJob<float>& job);
void simd_strided(const StridedJob<double>& job);

/// The range width (entries of sizeof_t bytes) for n x inner slices, or 0 for column blocks:
/// kWideBytes of entries for n >= kWideRowsFrom and rows of 256 bytes or more, else 0. A
/// function of the shape alone (results never depend on the thread count). Narrower ranges
/// would give one slice more tasks, but cost more than they share: a slice of 50257 rows of
/// 1024 floats took 172 ms (1 thread) / 93 ms (2) in 1 KiB ranges against 61 / 63 ms as one
/// 4 KiB range.
inline std::size_t wide_range(std::size_t n, std::size_t inner, std::size_t sizeof_t) {
  if (n < kWideRowsFrom || inner * sizeof_t < 256) return 0;
  return kWideBytes / sizeof_t;
}

/// The whole of a validated call: every row of `layout`, split over the library's threads
/// (rows are independent, so the split never changes a result). temperature is already
/// checked and rounded to the kernel's type; T = 0, empty rows and a 1 / T that overflows go to
/// the scalar reference rows. For logsumexp, out has layout.rows() entries.
void softmax_family(RowOp op, Passes passes, float* out, const float* x, const AxisLayout& layout,
                    double temperature);
void softmax_family(RowOp op, Passes passes, double* out, const double* x, const AxisLayout& layout,
                    double temperature);

/// Lane-wise exp and log over arrays (out may be x), exposed for the accuracy tests.
void vector_exp(float* out, const float* x, std::size_t n);
void vector_exp(double* out, const double* x, std::size_t n);
void vector_log(float* out, const float* x, std::size_t n);
void vector_log(double* out, const double* x, std::size_t n);

}  // namespace softreg::detail
