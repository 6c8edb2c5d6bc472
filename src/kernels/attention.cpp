// attention() and attention_backward(): argument checks, then the work split into blocks of
// rows (and, for few rows, chunks of keys) dealt to threads. The split depends on the shapes
// alone, and every block writes its own outputs, so results do not depend on the thread count.
#include "softreg/attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "common/check.hpp"
#include "common/thread_pool.hpp"
#include "kernels/attention_plan.hpp"
#include "kernels/attention_reference.hpp"
#include "kernels/attention_simd.hpp"
#include "softreg/error.hpp"

namespace softreg {
namespace detail {
namespace {

std::size_t ceil_div(std::size_t a, std::size_t b) {
  return (a + b - 1) / b;
}

template <class T>
AttentionProblem<T> make_problem(const char* caller, const AttentionShape& shape,
                                 const AttentionMasks<T>& masks, const AttentionOptions& options) {
  AttentionProblem<T> p;
  p.shape = shape;
  if (p.shape.value_dim == 0) p.shape.value_dim = shape.head_dim;
  if (shape.heads == 0 || shape.kv_heads == 0)
    invalid_argument(caller, "heads and kv_heads must be >= 1");
  if (shape.heads % shape.kv_heads != 0) {
    invalid_argument(caller, "heads (" + std::to_string(shape.heads) +
                                 ") must be a multiple of kv_heads (" +
                                 std::to_string(shape.kv_heads) + ")");
  }
  if (shape.head_dim == 0) invalid_argument(caller, "head_dim must be >= 1");
  p.group = shape.heads / shape.kv_heads;
  const double scale =
      options.scale ? *options.scale : 1.0 / std::sqrt(static_cast<double>(shape.head_dim));
  if (!std::isfinite(scale) || !std::isfinite(static_cast<T>(scale))) {
    invalid_argument(caller, "scale must be finite in the data type, got " + format_number(scale));
  }
  p.scale = static_cast<T>(scale);
  p.causal = options.causal;
  p.masks = masks;
  if (!masks.key_lengths.empty()) {
    if (masks.key_lengths.size() != shape.batch) {
      invalid_argument(caller, "key_lengths has " + std::to_string(masks.key_lengths.size()) +
                                   " entries, expected batch = " + std::to_string(shape.batch));
    }
    for (std::size_t b = 0; b < shape.batch; ++b) {
      const auto n = masks.key_lengths[b];
      if (n < 0 || std::size_t(n) > shape.seq_k) {
        invalid_argument(caller, "key_lengths[" + std::to_string(b) + "] = " + std::to_string(n) +
                                     " is outside [0, seq_k = " + std::to_string(shape.seq_k) +
                                     "]");
      }
    }
  }
  return p;
}

template <class T>
void require(const char* caller, const char* name, const T* data, std::size_t elements) {
  if (elements > 0 && data == nullptr) invalid_argument(caller, std::string(name) + " is missing");
}

template <class T>
void check_forward(const char* caller, const AttentionProblem<T>& p, const AttentionForward<T>& a) {
  const auto& s = p.shape;
  require(caller, "q", a.q.data, s.batch * s.heads * s.seq_q * s.head_dim);
  require(caller, "k", a.k.data, s.batch * s.kv_heads * s.seq_k * s.head_dim);
  require(caller, "v", a.v.data, s.batch * s.kv_heads * s.seq_k * s.value_dim);
  require(caller, "out", a.out.data, s.batch * s.heads * s.seq_q * s.value_dim);
}

template <class T>
void check_backward(const char* caller, const AttentionProblem<T>& p, const AttentionBackward<T>& a,
                    bool tiled) {
  const auto& s = p.shape;
  const std::size_t nq = s.batch * s.heads * s.seq_q, nk = s.batch * s.kv_heads * s.seq_k;
  require(caller, "q", a.q.data, nq * s.head_dim);
  require(caller, "k", a.k.data, nk * s.head_dim);
  require(caller, "v", a.v.data, nk * s.value_dim);
  require(caller, "dout", a.dout.data, nq * s.value_dim);
  require(caller, "dq", a.dq.data, nq * s.head_dim);
  require(caller, "dk", a.dk.data, nk * s.head_dim);
  require(caller, "dv", a.dv.data, nk * s.value_dim);
  if (tiled) {
    require(caller, "out", a.out.data, nq * s.value_dim);
    require(caller, "lse", a.lse, nq);
  }
}

/// Merges the key chunks of one block of rows in chunk order: M = max m_c, l = sum l_c
/// e^(m_c - M), out = sum o_c e^(m_c - M) / l.
template <class T>
void merge_chunks(const AttentionProblem<T>& p, const AttentionForward<T>& a, std::size_t b,
                  std::size_t kvh, std::size_t r0, std::size_t nr, std::size_t chunks,
                  const T* part) {
  const std::size_t dv = p.shape.value_dim;
  const std::size_t stride = kAttentionRowBlock * (dv + 2);  // one chunk's m, l, o
  const T ninf = -std::numeric_limits<T>::infinity();
  std::vector<T> o(dv);
  for (std::size_t r = 0; r < nr; ++r) {
    T big = ninf;
    for (std::size_t c = 0; c < chunks; ++c) big = std::max(big, part[c * stride + r]);
    const T use = big == ninf ? T(0) : big;
    T l = 0;
    std::fill(o.begin(), o.end(), T(0));
    for (std::size_t c = 0; c < chunks; ++c) {
      const T* pc = part + c * stride;
      const T w = std::exp(pc[r] - use);
      l += pc[kAttentionRowBlock + r] * w;
      const T* oc = pc + 2 * kAttentionRowBlock + r * dv;
      for (std::size_t j = 0; j < dv; ++j) o[j] += oc[j] * w;
    }
    finish_row(p, a, b, attention_row(p, b, kvh, r0 + r), o.data(), big, l);
  }
}

template <class T>
void forward_tiled(const AttentionProblem<T>& p, const AttentionForward<T>& a, int threads) {
  const auto& s = p.shape;
  const std::size_t rows = p.rows_per_kv_head();
  const std::size_t pairs = s.batch * s.kv_heads;
  const std::size_t blocks_per_pair = ceil_div(rows, kAttentionRowBlock);
  const std::size_t blocks = pairs * blocks_per_pair;
  if (blocks == 0) return;
  auto block_of = [&](std::size_t t) {
    AttentionBlock<T> blk;
    const std::size_t pair = t / blocks_per_pair;
    blk.b = pair / s.kv_heads;
    blk.kvh = pair % s.kv_heads;
    blk.r0 = (t % blocks_per_pair) * kAttentionRowBlock;
    blk.r1 = std::min(rows, blk.r0 + kAttentionRowBlock);
    blk.k1 = s.seq_k;
    return blk;
  };
  std::size_t chunks = 1;
  if (blocks < kAttentionTargetTasks && s.seq_k >= 2 * kAttentionMinChunk) {
    chunks = std::min(ceil_div(kAttentionTargetTasks, blocks), s.seq_k / kAttentionMinChunk);
  }
  if (chunks == 1) {
    parallel_for(threads, blocks, 1, [&](std::size_t t0, std::size_t t1) {
      std::vector<T> scratch;
      for (std::size_t t = t0; t < t1; ++t) simd_attention_forward(p, a, block_of(t), scratch);
    });
    return;
  }
  const std::size_t stride = kAttentionRowBlock * (s.value_dim + 2);
  std::vector<T> part(blocks * chunks * stride);
  parallel_for(threads, blocks * chunks, 1, [&](std::size_t t0, std::size_t t1) {
    std::vector<T> scratch;
    for (std::size_t t = t0; t < t1; ++t) {
      AttentionBlock<T> blk = block_of(t / chunks);
      const std::size_t c = t % chunks;
      blk.k0 = s.seq_k * c / chunks;
      blk.k1 = s.seq_k * (c + 1) / chunks;
      T* pc = part.data() + t * stride;
      blk.part_m = pc;
      blk.part_l = pc + kAttentionRowBlock;
      blk.part_o = pc + 2 * kAttentionRowBlock;
      simd_attention_forward(p, a, blk, scratch);
    }
  });
  parallel_for(threads, blocks, 1, [&](std::size_t t0, std::size_t t1) {
    for (std::size_t t = t0; t < t1; ++t) {
      const AttentionBlock<T> blk = block_of(t);
      merge_chunks(p, a, blk.b, blk.kvh, blk.r0, blk.r1 - blk.r0, chunks,
                   part.data() + t * chunks * stride);
    }
  });
}

/// Stages block rb of (b, kvh) for the backward (layout: attention_staged).
template <class T>
void stage_rows(const AttentionProblem<T>& p, const AttentionBackward<T>& a, std::size_t b,
                std::size_t kvh, std::size_t rb, T* block) {
  const std::size_t dd = p.shape.head_dim, dv = p.shape.value_dim;
  const std::size_t r0 = rb * kAttentionRowBlock;
  const std::size_t nr = std::min(p.rows_per_kv_head() - r0, kAttentionRowBlock);
  const std::size_t ld = attention_padded(nr);
  std::fill(block, block + attention_stage_size(dd, dv), T(0));
  const AttentionStaged<T> sb = attention_staged(block, dd, dv);
  const T inf = std::numeric_limits<T>::infinity();
  for (std::size_t r = nr; r < ld; ++r) sb.lse[r] = inf;
  for (std::size_t r = 0; r < nr; ++r) {
    const AttentionRow<T> row = attention_row(p, b, kvh, r0 + r);
    const T* q = view_row(a.q, b, row.head, row.i);
    const T* go = view_row(a.dout, b, row.head, row.i);
    const T* o = view_row(a.out, b, row.head, row.i);
    for (std::size_t c = 0; c < dd; ++c) {
      sb.qs[r * dd + c] = p.scale * q[c];
      sb.qs_t[c * ld + r] = p.scale * q[c];
    }
    double dot = 0;
    for (std::size_t c = 0; c < dv; ++c) {
      sb.dout[r * dv + c] = go[c];
      sb.dout_t[c * ld + r] = go[c];
      dot += double(go[c]) * double(o[c]);
    }
    sb.delta[r] = static_cast<T>(dot);
    const T l = a.lse[lse_index(p, b, row)];
    sb.lse[r] = l == -inf ? inf : l;
  }
}

template <class T>
void backward_tiled(const AttentionProblem<T>& p, const AttentionBackward<T>& a, int threads) {
  const auto& s = p.shape;
  const std::size_t rows = p.rows_per_kv_head();
  const std::size_t pairs = s.batch * s.kv_heads;
  const std::size_t blocks_per_pair = ceil_div(rows, kAttentionRowBlock);
  const std::size_t dd = s.head_dim, dv = s.value_dim;
  const std::size_t stage = attention_stage_size(dd, dv);
  std::vector<T> staged(pairs * blocks_per_pair * stage);
  parallel_for(threads, pairs * blocks_per_pair, 1, [&](std::size_t t0, std::size_t t1) {
    for (std::size_t t = t0; t < t1; ++t) {
      const std::size_t pair = t / blocks_per_pair;
      stage_rows(p, a, pair / s.kv_heads, pair % s.kv_heads, t % blocks_per_pair,
                 staged.data() + t * stage);
    }
  });
  auto staged_of = [&](std::size_t pair) { return staged.data() + pair * blocks_per_pair * stage; };
  if (pairs >= kAttentionBackHeadTasks) {
    parallel_for(threads, pairs, 1, [&](std::size_t t0, std::size_t t1) {
      std::vector<T> scratch, dq_acc;
      for (std::size_t pair = t0; pair < t1; ++pair) {
        const std::size_t b = pair / s.kv_heads, kvh = pair % s.kv_heads;
        dq_acc.assign(rows * dd, T(0));
        simd_attention_backward_keys(p, a, staged_of(pair), b, kvh, 0, s.seq_k, dq_acc.data(),
                                     scratch);
        for (std::size_t r = 0; r < rows; ++r) {
          const AttentionRow<T> row = attention_row(p, b, kvh, r);
          T* dq = view_row(a.dq, b, row.head, row.i);
          for (std::size_t c = 0; c < dd; ++c) dq[c] = p.scale * dq_acc[r * dd + c];
        }
      }
    });
    return;
  }
  const std::size_t key_blocks = ceil_div(s.seq_k, kAttentionBackKeyBlock);
  parallel_for(threads, pairs * key_blocks, 1, [&](std::size_t t0, std::size_t t1) {
    std::vector<T> scratch;
    for (std::size_t t = t0; t < t1; ++t) {
      const std::size_t pair = t / key_blocks;
      const std::size_t k0 = (t % key_blocks) * kAttentionBackKeyBlock;
      const std::size_t k1 = std::min(s.seq_k, k0 + kAttentionBackKeyBlock);
      simd_attention_backward_keys(p, a, staged_of(pair), pair / s.kv_heads, pair % s.kv_heads, k0,
                                   k1, nullptr, scratch);
    }
  });
  parallel_for(threads, pairs * blocks_per_pair, 1, [&](std::size_t t0, std::size_t t1) {
    std::vector<T> scratch;
    for (std::size_t t = t0; t < t1; ++t) {
      const std::size_t pair = t / blocks_per_pair;
      simd_attention_backward_rows(p, a, staged_of(pair), pair / s.kv_heads, pair % s.kv_heads,
                                   t % blocks_per_pair, scratch);
    }
  });
}

template <class T>
void attention_impl(const AttentionShape& shape, const AttentionForward<T>& args,
                    const AttentionMasks<T>& masks, const AttentionOptions& options) {
  const char* caller = "attention";
  const AttentionProblem<T> p = make_problem(caller, shape, masks, options);
  check_forward(caller, p, args);
  const int threads = resolve_threads(options.threads);
  if (options.method == AttentionMethod::naive) {
    attention_naive(p, args, threads);
  } else {
    forward_tiled(p, args, threads);
  }
}

template <class T>
void attention_backward_impl(const AttentionShape& shape, const AttentionBackward<T>& args,
                             const AttentionMasks<T>& masks, const AttentionOptions& options) {
  const char* caller = "attention_backward";
  const AttentionProblem<T> p = make_problem(caller, shape, masks, options);
  const bool tiled = options.method == AttentionMethod::tiled;
  check_backward(caller, p, args, tiled);
  const int threads = resolve_threads(options.threads);
  if (tiled) {
    backward_tiled(p, args, threads);
  } else {
    attention_backward_naive(p, args, threads);
  }
}

}  // namespace
}  // namespace detail

void attention(const AttentionShape& shape, const AttentionForward<float>& args,
               const AttentionMasks<float>& masks, const AttentionOptions& options) {
  detail::attention_impl(shape, args, masks, options);
}
void attention(const AttentionShape& shape, const AttentionForward<double>& args,
               const AttentionMasks<double>& masks, const AttentionOptions& options) {
  detail::attention_impl(shape, args, masks, options);
}
void attention_backward(const AttentionShape& shape, const AttentionBackward<float>& args,
                        const AttentionMasks<float>& masks, const AttentionOptions& options) {
  detail::attention_backward_impl(shape, args, masks, options);
}
void attention_backward(const AttentionShape& shape, const AttentionBackward<double>& args,
                        const AttentionMasks<double>& masks, const AttentionOptions& options) {
  detail::attention_backward_impl(shape, args, masks, options);
}

}  // namespace softreg
