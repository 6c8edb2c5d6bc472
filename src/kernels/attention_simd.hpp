// The tiled attention kernels (Highway, dispatched at run time), called by attention.cpp after
// it has checked the arguments and split the work into blocks. Each call handles one block of
// rows (forward, dq) or one range of keys (dk, dv) of one (batch, key/value head) pair, with
// buffers the calling thread owns.
#pragma once

#include <cstddef>
#include <vector>

#include "kernels/attention_plan.hpp"

namespace softreg::detail {

/// Rows [r0, r1) (at most kAttentionRowBlock) of key/value head (b, kvh) against keys
/// [k0, k1). part_m == nullptr: the rows are finished (out and lse written). Otherwise the
/// running maximum, sum and unnormalised output go to part_m, part_l (r1 - r0 entries) and
/// part_o ((r1 - r0) x value_dim) for attention.cpp to merge with the other key chunks.
template <class T>
struct AttentionBlock {
  std::size_t b = 0, kvh = 0, r0 = 0, r1 = 0, k0 = 0, k1 = 0;
  T* part_m = nullptr;
  T* part_l = nullptr;
  T* part_o = nullptr;
};

void simd_attention_forward(const AttentionProblem<float>& p, const AttentionForward<float>& a,
                            const AttentionBlock<float>& block, std::vector<float>& scratch);
void simd_attention_forward(const AttentionProblem<double>& p, const AttentionForward<double>& a,
                            const AttentionBlock<double>& block, std::vector<double>& scratch);

/// The staged rows of (b, kvh) for the backward: block rb of kAttentionRowBlock rows starts at
/// staged + rb * attention_stage_size(d, dv) (layout: attention_staged, attention_plan.hpp).

/// dk and dv of keys [k0, k1) of (b, kvh), over every row of the pair (staged: the pair's first
/// staged block). With dq_acc (rows_per_kv_head x head_dim), the dq terms of those keys are
/// added to it as well (unscaled: attention.cpp multiplies by scale).
void simd_attention_backward_keys(const AttentionProblem<float>& p,
                                  const AttentionBackward<float>& a, const float* staged,
                                  std::size_t b, std::size_t kvh, std::size_t k0, std::size_t k1,
                                  float* dq_acc, std::vector<float>& scratch);
void simd_attention_backward_keys(const AttentionProblem<double>& p,
                                  const AttentionBackward<double>& a, const double* staged,
                                  std::size_t b, std::size_t kvh, std::size_t k0, std::size_t k1,
                                  double* dq_acc, std::vector<double>& scratch);

/// dq of row block rb of (b, kvh), written to a.dq.
void simd_attention_backward_rows(const AttentionProblem<float>& p,
                                  const AttentionBackward<float>& a, const float* staged,
                                  std::size_t b, std::size_t kvh, std::size_t rb,
                                  std::vector<float>& scratch);
void simd_attention_backward_rows(const AttentionProblem<double>& p,
                                  const AttentionBackward<double>& a, const double* staged,
                                  std::size_t b, std::size_t kvh, std::size_t rb,
                                  std::vector<double>& scratch);

}  // namespace softreg::detail
