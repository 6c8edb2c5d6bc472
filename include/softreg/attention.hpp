// Scaled dot-product attention on the CPU: forward and backward, a materialising reference and
// a tiled (flash-style) implementation behind one declaration, training shapes and decoding.
//
// Definition (docs/NUMERICS.md, "Attention", has the edge cases). For batch b, query head h,
// query row i and key j:
//   s_ij = scale * (q_i . k_j) + bias_ij + mask_ij          (the additive terms when given)
//   the key is excluded when j >= key_lengths[b], when the boolean mask is false at (i, j), or
//   when causal masking forbids it; an excluded key has weight exactly 0;
//   p_ij = exp(s_ij - lse_i) over the keys row i sees,  lse_i = log sum_j exp(s_ij);
//   out_i = sum_j p_ij v_j.
// Query head h reads key/value head h / (heads / kv_heads) (grouped-query attention; heads ==
// kv_heads is ordinary multi-head attention, kv_heads == 1 multi-query attention), as PyTorch's
// scaled_dot_product_attention(enable_gqa=True) does.
//
// Causal masking, as PyTorch: top_left (is_causal=True, torch.ones(L, S).tril()) lets row i see
// keys j <= i; bottom_right (torch.nn.attention.bias.causal_lower_right, flash-attn >= 2.1)
// aligns the last query with the last key: row i sees keys j <= i + (S_b - seq_q), where S_b is
// the batch's key length (seq_k without key_lengths). The two agree when seq_q == seq_k.
//
// Edge cases, the same in both implementations: a row that sees no key (fully masked, seq_k ==
// 0, key length 0) gets out = 0 and lse = -inf, and contributes 0 to every gradient. A NaN
// anywhere in a row's scores (q, k, bias or mask) makes that row's out and lse NaN and leaves
// the other rows alone; so does a +inf score (exp(inf - inf)). An additive -inf does not hide a
// NaN score; an exclusion does (excluded scores are never used). Keys at or past a batch's key
// length are never read, so padding may hold anything. Other excluded keys may be read: their
// scores are discarded, but their value rows may enter a block product with weight 0, so a NaN
// or inf value row of an excluded key may reach the output (as in PyTorch's kernels).
//
// Accuracy of the tiled float32 path against the float64 definition (tested): with u = 2^-24,
// k_i the number of keys row i sees and sigma_i = |scale| max_j sum_c |q_ic k_jc| + max_j
// |bias_ij + mask_ij|,
//   |out_ic - exact| <= u (2 d sigma_i + 2 k_i + 16) max_j |v_jc|,
//   |lse_i - exact|  <= u (2 d sigma_i + 2 k_i + 16 + |lse_i|).
// Products accumulate in float32 over the head dimension and the row sums over keys in float32,
// in an order fixed by the shapes: results are bitwise the same for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace softreg {

/// How causal masking aligns queries with keys (see the top of this file).
enum class CausalMask {
  none,
  top_left,      // row i sees keys j <= i (PyTorch is_causal=True)
  bottom_right,  // row i sees keys j <= i + S_b - seq_q (the last query sees every key)
};

/// Which implementation runs.
enum class AttentionMethod {
  tiled,  // online softmax over key blocks, no seq_q x seq_k storage (the default)
  naive,  // the reference: one row of scores at a time, held and evaluated in float64
};

/// Sizes of one call. heads and kv_heads >= 1 with heads a multiple of kv_heads (unless batch
/// is 0); head_dim >= 1 is the length of q and k rows; value_dim (0: head_dim) the length of v
/// and out rows. seq_q and seq_k may be 0.
struct AttentionShape {
  std::size_t batch = 1;
  std::size_t heads = 1;
  std::size_t kv_heads = 1;
  std::size_t seq_q = 0;
  std::size_t seq_k = 0;
  std::size_t head_dim = 0;
  std::size_t value_dim = 0;
};

/// A 4-d array (batch, head, row, column) whose last axis is contiguous: element (b, h, r, c)
/// is data[b * batch_stride + h * head_stride + r * row_stride + c]. Strides are in elements
/// and may be 0 (broadcast); data == nullptr means "not given" where that is allowed.
template <class T>
struct AttentionView {
  T* data = nullptr;
  std::ptrdiff_t batch_stride = 0;
  std::ptrdiff_t head_stride = 0;
  std::ptrdiff_t row_stride = 0;
};

/// The dense layout: (batch, heads, rows, cols) row-major.
template <class T>
AttentionView<T> dense_view(T* data, std::size_t heads, std::size_t rows, std::size_t cols) {
  const auto c = static_cast<std::ptrdiff_t>(cols);
  const auto r = static_cast<std::ptrdiff_t>(rows);
  return {data, static_cast<std::ptrdiff_t>(heads) * r * c, r * c, c};
}

struct AttentionOptions {
  std::optional<double> scale;  // finite; default 1 / sqrt(head_dim)
  CausalMask causal = CausalMask::none;
  AttentionMethod method = AttentionMethod::tiled;
  int threads = 0;  // 0: softreg::get_num_threads()
};

/// What may exclude or shift scores; every member is optional. The three views are indexed
/// (batch, query head, query row, key) and usually broadcast by zero strides.
template <class T>
struct AttentionMasks {
  AttentionView<const std::uint8_t> keep;     // boolean mask: nonzero = the key takes part
  AttentionView<const T> mask;                // additive mask (-inf excludes, see above)
  AttentionView<const T> bias;                // additive bias (relative positions, ALiBi, ...)
  std::span<const std::int64_t> key_lengths;  // batch entries in [0, seq_k]: padding
};

/// Forward arguments: q (batch, heads, seq_q, head_dim), k (batch, kv_heads, seq_k, head_dim),
/// v (batch, kv_heads, seq_k, value_dim), out (batch, heads, seq_q, value_dim); lse, when not
/// null, receives the logsumexp of every row, dense (batch, heads, seq_q). out must not overlap
/// the inputs.
template <class T>
struct AttentionForward {
  AttentionView<const T> q, k, v;
  AttentionView<T> out;
  T* lse = nullptr;
};

/// out = softmax(scale q k^T + bias + mask) v with the exclusions above. Throws InvalidArgument
/// for a shape rule broken (naming it), a missing q, k, v or out, a scale that is not finite, or
/// a key length outside [0, seq_k] (naming its batch entry).
///
/// tiled: rows of one key/value head (its query heads together, so a grouped head's keys are
/// read once per block of rows) in blocks of 64, keys in blocks of 256, with the running (max,
/// sum) of each row rescaled as blocks arrive; block products on the library's own register-
/// tiled kernels. When the rows are few (decoding: seq_q == 1 against a long cache) the keys
/// are also split into chunks whose partial (max, sum, out) are merged in chunk order. Extra
/// memory: per thread, tiles of (head_dim + value_dim + 256) x 64 elements, plus the chunks'
/// partial rows when the keys are split. Float64 runs the same code in float64.
void attention(const AttentionShape& shape, const AttentionForward<float>& args,
               const AttentionMasks<float>& masks, const AttentionOptions& options);
void attention(const AttentionShape& shape, const AttentionForward<double>& args,
               const AttentionMasks<double>& masks, const AttentionOptions& options);

/// Backward arguments: the forward's inputs, its out and lse, and dout (the gradient of out,
/// shaped as out); dq, dk, dv receive the gradients, shaped as q, k, v (dk and dv are
/// overwritten, summed over the query heads that share a key/value head).
template <class T>
struct AttentionBackward {
  AttentionView<const T> q, k, v, out, dout;
  const T* lse = nullptr;  // the forward's lse, dense (batch, heads, seq_q)
  AttentionView<T> dq, dk, dv;
};

/// dq, dk, dv of the attention above (same shape, masks and options as the forward that
/// produced out and lse). The tiled method recomputes the probabilities from lse, p_ij =
/// exp(s_ij - lse_i), and uses D_i = dout_i . out_i; it never stores seq_q x seq_k values. The
/// naive method ignores out and lse and recomputes the softmax from the scores, in float64.
/// Rows that see no key give zero gradients; there is no gradient for bias or mask. Extra
/// memory (tiled): the staged query rows, 2 (head_dim + value_dim) + 2 values each, and for
/// each (batch, kv head) task in flight a dq accumulator of its rows. Throws as attention()
/// does, and for a missing lse (tiled).
void attention_backward(const AttentionShape& shape, const AttentionBackward<float>& args,
                        const AttentionMasks<float>& masks, const AttentionOptions& options);
void attention_backward(const AttentionShape& shape, const AttentionBackward<double>& args,
                        const AttentionMasks<double>& masks, const AttentionOptions& options);

}  // namespace softreg
