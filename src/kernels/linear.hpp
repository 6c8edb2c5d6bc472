// Linear-algebra kernels: the two dense products of the objective's fused pass (linear_simd.cpp)
// and the triangular solves of a Cholesky factor (triangular_simd.cpp), vectorized with run-time
// dispatch (Highway: AVX-512, AVX2, SSE4 or scalar, chosen on the machine that runs the code).
// The classifier, prediction and the preconditioner use them; so can any kernel with a
// GEMM-shaped step.
#pragma once

#include <cstddef>
#include <cstdint>

namespace softreg::detail {

/// Row i of a row-major matrix with d columns at x: x + i d, or x + rows[i] d when a list of
/// row numbers is given (a mini-batch read in place, without gathering it into a copy).
template <class T>
struct RowSource {
  const T* x;
  std::size_t d;
  const std::size_t* rows;
  const T* row(std::size_t i) const { return x + (rows != nullptr ? rows[i] : i) * d; }
};

/// z (m x k, row-major) = x (m x d, row-major) * wt^T + bias, with wt the weights transposed
/// (k x d, row-major). Each z entry is a dot product of length d accumulated in T.
/// With `rows`, the m rows used are rows[0 .. m) of x (not the first m).
void dense_logits(const float* x, std::size_t m, std::size_t d, const float* wt, const float* bias,
                  std::size_t k, float* z, const std::size_t* rows = nullptr);
void dense_logits(const double* x, std::size_t m, std::size_t d, const double* wt,
                  const double* bias, std::size_t k, double* z, const std::size_t* rows = nullptr);

/// gt (k x d, row-major) = dz^T * x, i.e. gt[c][j] = sum_i dz[i][c] x[i][j], for dz (m x k) and
/// x (m x d). Overwrites gt. Rows go four at a time so every gt load and store serves four
/// rows (gt, k x d, stays in L1/L2).
void dense_gradient(const float* x, std::size_t m, std::size_t d, const float* dz, std::size_t k,
                    float* gt, const std::size_t* rows = nullptr);
void dense_gradient(const double* x, std::size_t m, std::size_t d, const double* dz, std::size_t k,
                    double* gt, const std::size_t* rows = nullptr);

/// Elements the sparse products may read past the end of a row of K (they load whole vectors):
/// the arrays they read (w and the bias, dz) must be readable that far past their last row.
/// Never written.
inline constexpr std::size_t kSparsePad = 64;
/// Entries a column sum adds in T before it moves the partial total into the double sum.
inline constexpr std::size_t kSparseRun = 128;

/// One CSR row's logits: z[0 .. k) = bias + sum_p values[p] w[indices[p] k .. + k), summed in T
/// in entry order. w (rows of k) and bias are read up to kSparsePad past their ends; z is
/// written in [0, k) only.
void sparse_row_logits(const std::int32_t* indices, const float* values, std::size_t nnz,
                       const float* w, const float* bias, std::size_t k, float* z);
void sparse_row_logits(const std::int32_t* indices, const double* values, std::size_t nnz,
                       const double* w, const double* bias, std::size_t k, double* z);

/// One column's share of X^T dZ: g[0 .. k) += sum_e values[e] dz[pos[e] k .. + k), in entry
/// order, summed in T over runs of kSparseRun entries whose totals are added to g in double
/// (so the error grows with the run, not the column: at most about kSparseRun u sum |terms|
/// in float32). dz is read up to kSparsePad past its last row.
void sparse_column_sum(const std::uint32_t* pos, const float* values, std::size_t entries,
                       const float* dz, std::size_t k, double* g);
void sparse_column_sum(const std::uint32_t* pos, const double* values, std::size_t entries,
                       const double* dz, std::size_t k, double* g);

/// y[0 .. k) += a x[0 .. k), in double or float.
void axpy(double a, const double* x, double* y, std::size_t k);
void axpy(float a, const float* x, float* y, std::size_t k);

/// One feature row of a SAGA step, in double or float: change = xv delta, w -= avg sum +
/// direct change, sum += change, over [0, k).
void saga_row_update(double avg, double direct, double xv, const double* delta, double* w,
                     double* sum, std::size_t k);
void saga_row_update(float avg, float direct, float xv, const float* delta, float* w, float* sum,
                     std::size_t k);

/// SAGA's packed float storage: feature j's weights at base + j stride, its sums at + kp,
/// kp = saga_packed_width(k) (k rounded up to whole vectors of every target; the padding
/// stays 0). saga_gather brings each of a row's features up to date (W -= lag[q] sums) and
/// forms z[0 .. kp) = sum_q values[q] W; saga_scatter applies the step: change = values[q]
/// delta, W -= avg[q] sums + direct change, sums += change (delta's padding must be 0). A
/// feature that repeats in the row is read and written once per entry, in order.
inline constexpr std::size_t saga_packed_width(std::size_t k) {
  return (k + 15) / 16 * 16;
}
void saga_gather(const std::int32_t* indices, const float* values, std::size_t nnz,
                 const float* lag, float* base, std::size_t stride, std::size_t kp, float* z);
void saga_scatter(const std::int32_t* indices, const float* values, std::size_t nnz,
                  const float* avg, float direct, const float* delta, float* base,
                  std::size_t stride, std::size_t kp);
/// A row's gradient in the same storage: z[0 .. k) holds its logits (finite), mem its
/// remembered gradient (kp floats, padding 0); g = scale (softmax(z) - onehot(label)) with the
/// softmax kernels' exponential (<= 1 ULP) and a float sum (relative error about k u), then
/// z[0 .. kp) = g - mem (padding 0) and mem = g. Returns false, writing nothing, on a target
/// whose vectors do not divide kp. A NaN or infinite logit makes the row NaN.
bool saga_row_gradient(float* z, float* mem, std::size_t k, std::size_t kp, std::size_t label,
                       float scale);

/// The row width cholesky_solve needs for k right-hand sides: k rounded up to a whole number of
/// double vectors of the dispatched target.
std::size_t cholesky_solve_width(std::size_t k);

/// b <- (L L^T)^-1 b for the lower Cholesky factor L (`lower`, d1 x d1 row-major, positive
/// diagonal) and its transpose (`upper` = L^T, d1 x d1 row-major; only the triangles are read).
/// b is d1 x w row-major, w = cholesky_solve_width(k) for some k: every column is solved,
/// padding columns included (they stay 0 if they are 0). Each entry is a dot product
/// accumulated in double in a fixed order.
void cholesky_solve(const double* lower, const double* upper, std::size_t d1, double* b,
                    std::size_t w);

}  // namespace softreg::detail
