// The vectorized passes of the fused linear + cross-entropy (Highway, dispatched at run time),
// called by linear_cross_entropy.cpp for one chunk of rows and one slice of the vocabulary at a
// time. The chunk's logits are held transposed, one vocabulary entry per row and one hidden row
// per column (zt, k x ld), so the per-row statistics are vector operations across rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace softreg::detail {

/// Vocabulary entries per block inside a slice.
inline constexpr std::size_t kLceVocabBlock = 256;

/// The checked arguments of one call. w is d x k (dk) or k x d (kd); bias and class_weights
/// may be null; cap 0 means no soft-capping.
template <class T>
struct LceProblem {
  const T* h = nullptr;
  std::size_t n = 0, d = 0, k = 0;
  const T* w = nullptr;
  const T* bias = nullptr;
  const T* class_weights = nullptr;
  bool kd = false;
  T cap = 0;
  bool smoothing = false;  // whether sum_c w_c z_c is needed
  bool filter = false;     // skip the products of blocks whose probabilities are all < 2^-24
};

/// One chunk of rows [r0, r0 + nr), ld = nr rounded up to 16. zt holds its logits (then its
/// gradient), k x ld; ht (kd layout) the chunk's hidden rows transposed, d x ld, zero-padded.
/// The phase-B coefficients have ld entries: the gradient of row i at class c is
/// (p_coef_i p_ic - eps_coef_i w_c - [c == t_i] t_coef_i) times the cap's derivative, with
/// p = exp(z - lse) (lse = +inf for ignored rows, whose coefficients are 0).
template <class T>
struct LceChunk {
  std::size_t r0 = 0, nr = 0, ld = 0;
  T* zt = nullptr;
  const T* ht = nullptr;
  const std::int64_t* target = nullptr;  // nr entries; -1 for ignored rows
  const T* lse = nullptr;
  const T* p_coef = nullptr;
  const T* eps_coef = nullptr;
  const T* t_coef = nullptr;
  const T* z_target = nullptr;  // the merged logit of each row's target (phase B)
};

/// Per-slice statistics of a chunk's rows (ld entries each): running maximum and sum of
/// exp(z - max), the target's logit (rows whose target is in the slice), sum_c w_c z_c.
template <class T>
struct LceStats {
  T* m;
  T* l;
  T* z_target;
  T* wz;
};

/// One thread's working buffers: the dk layout's transposed block, and Gemm's packed panels.
template <class T>
struct LceScratch {
  std::vector<T> transposed;
  std::vector<T> pack;
};

/// Phase A for classes [c0, c1): the logits into zt; the statistics (reset by the caller to
/// m = -inf, l = z_target = wz = 0 before a slice's first block) carried on in stats.
void simd_lce_logits(const LceProblem<float>& p, const LceChunk<float>& c, std::size_t c0,
                     std::size_t c1, const LceStats<float>& stats, LceScratch<float>& scratch);
void simd_lce_logits(const LceProblem<double>& p, const LceChunk<double>& c, std::size_t c0,
                     std::size_t c1, const LceStats<double>& stats, LceScratch<double>& scratch);

/// Phase B for classes [c0, c1): zt becomes the gradient; it is added to d_weight's and
/// d_bias's entries of those classes (either may be null) and, if dh is not null, to dh: the
/// slice's part of d_hidden (kd: nr x d; dk: transposed, d x ld).
void simd_lce_gradient(const LceProblem<float>& p, const LceChunk<float>& c, std::size_t c0,
                       std::size_t c1, float* dw, float* db, float* dh, LceScratch<float>& scratch);
void simd_lce_gradient(const LceProblem<double>& p, const LceChunk<double>& c, std::size_t c0,
                       std::size_t c1, double* dw, double* db, double* dh,
                       LceScratch<double>& scratch);

}  // namespace softreg::detail
