// What the attention kernels share: the checked problem (sizes, scale, which keys a row sees,
// where its mask and bias rows are), the block sizes, and how rows of a key/value head are
// numbered. Both implementations (attention_reference.cpp, attention_simd.cpp) read rows
// through this, so they exclude the same keys.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "softreg/attention.hpp"

namespace softreg::detail {

/// Rows of a key/value head per block (the tiled kernels' query block).
inline constexpr std::size_t kAttentionRowBlock = 64;
/// Keys per block in the forward pass.
inline constexpr std::size_t kAttentionKeyBlock = 256;
/// Keys per block in the backward pass (its dK and dV tiles stay in L1).
inline constexpr std::size_t kAttentionBackKeyBlock = 64;
/// Forward: when fewer (batch, kv head, row block) tasks than this exist, the keys are split
/// into chunks of at least kAttentionMinChunk keys whose partial results are merged.
inline constexpr std::size_t kAttentionTargetTasks = 32;
inline constexpr std::size_t kAttentionMinChunk = 2048;
/// Backward: with at least this many (batch, kv head) pairs one task per pair computes dq, dk
/// and dv together; with fewer, key blocks (dk, dv) and row blocks (dq) are separate tasks.
inline constexpr std::size_t kAttentionBackHeadTasks = 8;
/// Forward blocks with at most this many rows compute scores as dot products (decoding).
inline constexpr std::size_t kAttentionDotRows = 4;

/// Rows of a block are padded to a multiple of this (the widest float vector) in the
/// transposed (key x row) tiles, whatever the SIMD target.
inline constexpr std::size_t kAttentionPad = 16;
inline std::size_t attention_padded(std::size_t rows) {
  return (rows + kAttentionPad - 1) / kAttentionPad * kAttentionPad;
}

/// The checked arguments of one call.
template <class T>
struct AttentionProblem {
  AttentionShape shape;   // value_dim resolved
  std::size_t group = 1;  // query heads per key/value head
  T scale = 1;
  CausalMask causal = CausalMask::none;
  AttentionMasks<T> masks;

  /// Rows of key/value head (b, kvh): rho in [0, group * seq_q), query head kvh * group +
  /// rho / seq_q, query row rho % seq_q.
  std::size_t rows_per_kv_head() const { return group * shape.seq_q; }

  std::size_t key_end(std::size_t b) const {
    return masks.key_lengths.empty() ? shape.seq_k : std::size_t(masks.key_lengths[b]);
  }

  /// Keys [0, limit) are the ones query row i of batch b may see before the boolean mask.
  std::size_t limit(std::size_t b, std::size_t i) const {
    const std::size_t end = key_end(b);
    switch (causal) {
      case CausalMask::none:
        return end;
      case CausalMask::top_left:
        return std::min(end, i + 1);
      case CausalMask::bottom_right:
        return i + 1 + end <= shape.seq_q ? 0 : std::min(end, i + 1 + end - shape.seq_q);
    }
    return end;
  }

  bool has_additive() const { return masks.bias.data != nullptr || masks.mask.data != nullptr; }
};

/// Element (b, h, r, 0) of a view.
template <class T>
T* view_row(const AttentionView<T>& v, std::size_t b, std::size_t h, std::size_t r) {
  return v.data + static_cast<std::ptrdiff_t>(b) * v.batch_stride +
         static_cast<std::ptrdiff_t>(h) * v.head_stride +
         static_cast<std::ptrdiff_t>(r) * v.row_stride;
}

/// One query row of a block: which keys it sees and where its mask and bias rows are.
template <class T>
struct AttentionRow {
  std::size_t head = 0;
  std::size_t i = 0;
  std::size_t limit = 0;
  const std::uint8_t* keep = nullptr;
  const T* bias = nullptr;
  const T* mask = nullptr;
};

template <class T>
AttentionRow<T> attention_row(const AttentionProblem<T>& p, std::size_t b, std::size_t kvh,
                              std::size_t rho) {
  AttentionRow<T> row;
  row.head = kvh * p.group + rho / p.shape.seq_q;
  row.i = rho % p.shape.seq_q;
  row.limit = p.limit(b, row.i);
  if (p.masks.keep.data) row.keep = view_row(p.masks.keep, b, row.head, row.i);
  if (p.masks.bias.data) row.bias = view_row(p.masks.bias, b, row.head, row.i);
  if (p.masks.mask.data) row.mask = view_row(p.masks.mask, b, row.head, row.i);
  return row;
}

/// Where row i's logsumexp goes in the dense (batch, heads, seq_q) lse array.
template <class T>
std::size_t lse_index(const AttentionProblem<T>& p, std::size_t b, const AttentionRow<T>& row) {
  return (b * p.shape.heads + row.head) * p.shape.seq_q + row.i;
}

/// Writes a finished row from its unnormalised output o (value_dim entries), maximum m and sum
/// l: out = o / l and lse = m + log l, or out = 0 and lse = -inf when l is 0 (a row that sees
/// no key; a NaN l makes both NaN).
template <class T>
void finish_row(const AttentionProblem<T>& p, const AttentionForward<T>& a, std::size_t b,
                const AttentionRow<T>& row, const T* o, T m, T l) {
  const std::size_t dv = p.shape.value_dim;
  T* out = view_row(a.out, b, row.head, row.i);
  T lse = -std::numeric_limits<T>::infinity();
  if (l == T(0)) {
    std::fill(out, out + dv, T(0));
  } else {
    for (std::size_t c = 0; c < dv; ++c) out[c] = o[c] / l;
    lse = m + std::log(l);
  }
  if (a.lse != nullptr) a.lse[lse_index(p, b, row)] = lse;
}

/// Row-major staging of one block of rows for the backward pass: q scaled (rows x d and its
/// transpose d x rows_padded), dout (rows x dv and dv x rows_padded), lse (+inf for rows that
/// see no key, so their probabilities are 0) and D = dout . out, all per block of
/// kAttentionRowBlock rows of a key/value head. T is const for the readers.
template <class T>
struct AttentionStaged {
  T* qs;      // rows x d
  T* qs_t;    // d x padded
  T* dout;    // rows x dv
  T* dout_t;  // dv x padded
  T* lse;     // padded
  T* delta;   // padded
};

/// Elements of one staged block.
inline std::size_t attention_stage_size(std::size_t d, std::size_t dv) {
  return kAttentionRowBlock * (2 * d + 2 * dv + 2);
}

/// The arrays of the staged block starting at `block`.
template <class T>
AttentionStaged<T> attention_staged(T* block, std::size_t d, std::size_t dv) {
  const std::size_t n = kAttentionRowBlock;
  AttentionStaged<T> s;
  s.qs = block;
  s.qs_t = s.qs + n * d;
  s.dout = s.qs_t + n * d;
  s.dout_t = s.dout + n * dv;
  s.lse = s.dout_t + n * dv;
  s.delta = s.lse + n;
  return s;
}

}  // namespace softreg::detail
