// Softmax, log-softmax, logsumexp and argmax along any axis, with their backward passes.
//
// Conventions shared by every function here (docs/NUMERICS.md has the full table):
//   * Arrays are contiguous and row-major; `shape` gives their dimensions and `axis` the one
//     reduced over (negative counts from the end). A "row" is the n = shape[axis] elements
//     that share all other indices.
//   * Outputs come first. `out` may be the same array as `x` (in place); any other overlap
//     throws InvalidArgument. Sizes that do not match the shape throw InvalidArgument.
//   * Temperature T: T > 0 evaluates the function of z / T; T == 0 gives the one-hot argmax
//     (ties to the lowest index); T < 0, NaN or +inf throws InvalidArgument. For float the
//     temperature is rounded to float; a positive T that rounds to 0 or to +inf throws.
//   * Row rules: NaN anywhere in a row makes the whole output row NaN. +inf entries take all
//     the mass, split evenly over them. A row of only -inf (fully masked) gives softmax 0,
//     log_softmax -inf and logsumexp -inf. An empty row (n == 0) writes nothing and its
//     logsumexp is -inf. K = 1 gives softmax 1 for any non-NaN entry except -inf (then 0).
//   * Rows are split over softreg::get_num_threads() threads (threads.hpp); the results are
//     bitwise the same for any count. Nothing allocates, except that softmax with an output
//     above 16 MiB and rows longer than four vectors keeps one scratch row (at most 256 KiB)
//     per thread, allocated on first use and reused.
//   * Vectorized for every SIMD target Highway dispatches to (AVX-512, AVX2, SSE4, SSSE3,
//     scalar); rows that are not ordinary take the scalar reference path. Same bounds.
//
// Error bounds (met by every path and target; docs/NUMERICS.md) against an evaluation in higher
// precision of the same inputs (float64 for the float kernels, 80-bit long double for the double
// kernels), with eps = 2^-24 (float) or 2^-53 (double), d_j = (z_j - max z) / T and tiny the
// smallest normal number of the type:
//   softmax      |p^ - p| <= 8 eps (1 + |d_j|) p + tiny
//   log_softmax  |y^ - y| <= 8 eps (1 + |y|)
//   logsumexp    |r^ - r| <= 8 eps (1 + |r|)            (for T = 1, r = max z + log sum exp d)
// The |d_j| term is the conditioning of exp: rounding z_j - max z once costs eps |d_j| relative,
// so entries far below the maximum (p_j tiny) carry proportionally larger relative error.
#pragma once

#include <cstdint>
#include <span>

#include "softreg/shape.hpp"

namespace softreg {

/// out = softmax(x / T) along `axis`. x and out have `shape`.
void softmax(std::span<float> out, std::span<const float> x, const Shape& shape, int axis = -1,
             double temperature = 1.0);
void softmax(std::span<double> out, std::span<const double> x, const Shape& shape, int axis = -1,
             double temperature = 1.0);

/// out = log_softmax(x / T) = d - log(sum exp d) with d = (x - max x) / T. T == 0 gives 0 at the
/// argmax and -inf elsewhere (the log of the one-hot). x and out have `shape`.
void log_softmax(std::span<float> out, std::span<const float> x, const Shape& shape, int axis = -1,
                 double temperature = 1.0);
void log_softmax(std::span<double> out, std::span<const double> x, const Shape& shape,
                 int axis = -1, double temperature = 1.0);

/// out = log(sum exp x) along `axis`, computed as max x + log(sum exp(x - max x)). out has the
/// shape of x without `axis` (outer * inner elements, in row order). Empty rows give -inf.
void logsumexp(std::span<float> out, std::span<const float> x, const Shape& shape, int axis = -1);
void logsumexp(std::span<double> out, std::span<const double> x, const Shape& shape, int axis = -1);

/// out[r] = index of the largest entry of row r, ties to the lowest index. A row containing a
/// NaN, and an empty row, give -1 (never a silent 0). A row of only -inf gives 0.
/// out has outer * inner elements.
void argmax(std::span<std::int64_t> out, std::span<const float> x, const Shape& shape,
            int axis = -1);
void argmax(std::span<std::int64_t> out, std::span<const double> x, const Shape& shape,
            int axis = -1);

/// Softmax with the single-pass (online) normalizer: the running maximum and the rescaled sum
/// are found in one read of each row, then a second pass writes exp(d - max) / sum. Same
/// contract and error bounds as softmax(); results agree with it to those bounds, not bitwise.
void softmax_online(std::span<float> out, std::span<const float> x, const Shape& shape,
                    int axis = -1, double temperature = 1.0);
void softmax_online(std::span<double> out, std::span<const double> x, const Shape& shape,
                    int axis = -1, double temperature = 1.0);

// ---- backward passes (vector-Jacobian products). Each OVERWRITES dx; dx may be the same
// array as dy (in place). Same shapes and axis as the forward call.

/// dx = (p * (dy - <dy, p>)) / T where p = softmax(x / T) is the forward OUTPUT, without forming
/// the Jacobian. T == 0 (argmax) has zero derivative almost everywhere: dx = 0. NaN in p or dy
/// propagates to the row.
void softmax_backward(std::span<float> dx, std::span<const float> p, std::span<const float> dy,
                      const Shape& shape, int axis = -1, double temperature = 1.0);
void softmax_backward(std::span<double> dx, std::span<const double> p, std::span<const double> dy,
                      const Shape& shape, int axis = -1, double temperature = 1.0);

/// dx = (dy - exp(y) * sum(dy)) / T where y = log_softmax(x / T) is the forward OUTPUT.
/// T == 0 gives dx = 0.
void log_softmax_backward(std::span<float> dx, std::span<const float> y, std::span<const float> dy,
                          const Shape& shape, int axis = -1, double temperature = 1.0);
void log_softmax_backward(std::span<double> dx, std::span<const double> y,
                          std::span<const double> dy, const Shape& shape, int axis = -1,
                          double temperature = 1.0);

/// dx = dr * exp(x - r) with r = logsumexp(x) the forward OUTPUT and dr its upstream gradient
/// (both of the reduced shape). A fully masked row (r == -inf) gets dx = 0; an empty row
/// writes nothing.
void logsumexp_backward(std::span<float> dx, std::span<const float> x, std::span<const float> r,
                        std::span<const float> dr, const Shape& shape, int axis = -1);
void logsumexp_backward(std::span<double> dx, std::span<const double> x, std::span<const double> r,
                        std::span<const double> dr, const Shape& shape, int axis = -1);

/// The K x K Jacobian of one softmax row, J[i][j] = p_i (delta_ij - p_j), written row-major to
/// out (K * K elements) from the forward output p (K elements). O(K^2): for checks and small K;
/// training uses the backward functions above.
void softmax_jacobian(std::span<float> out, std::span<const float> p);
void softmax_jacobian(std::span<double> out, std::span<const double> p);

}  // namespace softreg
