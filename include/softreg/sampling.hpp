// Token sampling from logits: temperature, top-k, top-p (nucleus), min-p, repetition / presence
// / frequency penalties, an additive logit bias, greedy; one token per row, sort-free, batched,
// reproducible.
//
// What a row goes through (docs/NUMERICS.md, "Sampling", has the edge cases):
//   1. z'_i = z_i + bias_i, then for each token that occurs c_i > 0 times in the row's history:
//      repetition (Hugging Face / CTRL / llama.cpp, the same formula in all three):
//        z'_i = z'_i < 0 ? z'_i * r : z'_i / r;
//      then presence and frequency (OpenAI / llama.cpp): z'_i -= c_i * frequency + presence.
//      All in the logits' type. Every filter and the draw see z'.
//   2. Order: tokens rank by (z' descending, token id ascending); ties go to the lowest id.
//   3. Filters, each keeping a prefix of that ranking (so the kept set is always one prefix):
//        top_k  - the first k tokens (0, or k >= V: off);
//        top_p  - token j stays while the mass of the tokens ranked before it (among the
//                 top-k survivors, renormalized) is < top_p; the first token always stays
//                 (1: off; 0 keeps the first token only);
//        min_p  - token j stays if its filter-temperature weight exp(d_j) >= min_p, d_j =
//                 (z'_j - max z') / T_f, i.e. p_j >= min_p * p_max (0: off).
//      temperature_first (Hugging Face's warpers: temperature, top-k, top-p, min-p) filters with
//      T_f = T; temperature_last (llama.cpp's chain: top-k, top-p, min-p, temperature) filters
//      with T_f = 1 and applies T to the survivors only.
//   4. The draw: weights w_j = exp((z'_j - max z') / T) over the kept tokens, each held as the
//      integer q_j = floor(w_j * 2^40) (so a mass is an exact integer whatever the summation
//      order, the thread count or the batch split); with Q = sum q_j over the kept tokens and a
//      uniform u in [0, 1), r = floor(u * Q) and the token is the first kept one in id order
//      whose running sum of q exceeds r. A token whose weight is below 2^-40 of the most
//      likely one's (z' more than 27.7 T below the maximum) has q = 0 and is never drawn.
//   T == 0, or greedy, returns the first largest z' (penalties and bias applied, filters moot).
//
// The weight exp(x) is a fixed sequence of float operations (no fused multiply-add), the same
// in the vectorized passes on every SIMD target and in the scalar reference: relative error
// <= 4e-7 against the exact exponential for x in [-30, 0] (tested against float64), 0 below
// -30. Float64 logits rank and filter in float64 and their weights use the same float function.
//
// Randomness: u comes from Philox-4x32-10 keyed by the seed, with the counter (step, stream);
// stream defaults to the row index and can be given per row (a sequence's own id, so that
// splitting a batch changes nothing), step defaults to options.step and can be given per row.
// u = (53 bits of the output) * 2^-53. The uniforms can also be passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace softreg {

/// Where the temperature goes in the filter chain.
enum class SamplingOrder {
  temperature_first,  // Hugging Face: temperature, top-k, top-p, min-p (the default)
  temperature_last,   // llama.cpp: top-k, top-p, min-p, then temperature
};

struct SamplingOptions {
  double temperature = 1.0;         // >= 0 and finite; 0 is greedy
  std::int64_t top_k = 0;           // >= 0; 0 or >= V: off
  double top_p = 1.0;               // in [0, 1]; 1: off
  double min_p = 0.0;               // in [0, 1]; 0: off
  double repetition_penalty = 1.0;  // > 0 and finite; 1: off
  double presence_penalty = 0.0;    // finite; 0: off
  double frequency_penalty = 0.0;   // finite; 0: off
  bool greedy = false;              // the first largest z', whatever the temperature
  SamplingOrder order = SamplingOrder::temperature_first;
  std::uint64_t seed = 0;
  std::uint64_t step = 0;  // the counter's step for rows without their own
  int threads = 0;         // 0: softreg::get_num_threads()
};

/// Per-row inputs beyond the logits; every span may be empty.
template <class T>
struct SamplingInputs {
  std::span<const T> logit_bias;  // V entries added to every row; finite or -inf (bans a token)
  /// Row r's previous tokens are history[history_offsets[r] .. history_offsets[r + 1]), ids in
  /// [0, V); history_offsets has rows + 1 non-decreasing entries starting at 0.
  std::span<const std::int64_t> history;
  std::span<const std::size_t> history_offsets;
  std::span<const std::uint64_t> streams;  // rows entries: each row's stream id (default: r)
  std::span<const std::uint64_t> steps;    // rows entries: each row's step (default: options.step)
  std::span<const double> uniforms;        // rows entries in [0, 1): used instead of Philox
};

/// Where the results go. tokens is required (rows entries). logprobs (rows entries, or empty)
/// receives log p of the drawn token under the final distribution (the kept tokens, weights
/// at temperature T; 0 for greedy). With top_n > 0, top_tokens and top_logprobs (rows x top_n,
/// row-major) receive the top_n first-ranked kept tokens and their log-probabilities under the
/// same distribution, padded with -1 and -inf when fewer tokens are kept (greedy keeps one).
struct SamplingOutputs {
  std::span<std::int64_t> tokens;
  std::span<double> logprobs;
  std::size_t top_n = 0;
  std::span<std::int64_t> top_tokens;
  std::span<double> top_logprobs;
};

/// Draws one token per row of `logits` (rows x vocab, row-major; vocab at most 2^23). Rows are
/// dealt to threads; a batch with fewer rows than threads splits each row of 131,072+ tokens
/// across them. No full sort: top-k by a streaming selection in the pass that reads the row;
/// top-p without top-k by a second pass that lists a window of the top tokens and bounds the
/// mass of the rest (the 64 first-ranked tokens and a pass over the rest when a top list is
/// asked for), taking the exact mass (another pass, then growing windows) only when the bounds
/// cannot decide; min-p by a threshold. The result is bitwise the same for
/// any thread count and equal to sample_reference. A temperature whose inverse overflows the
/// logits' type (float32: T below about 2.9e-39) is greedy.
///
/// Throws InvalidArgument for: vocab == 0 or above 2^23; sizes that do not match (rows x
/// top_n included); options out of range (T < 0 or not finite, top_k < 0, top_p or min_p
/// outside [0, 1] or NaN, repetition_penalty <= 0 or not finite, non-finite penalties, or
/// penalties that round to 0 or overflow in the logits' type); a NaN or +inf logit bias; a
/// history token outside [0, V); a uniform outside [0, 1); a NaN logit on a token not banned
/// by a -inf bias (naming its row and token); a row in which every token's z' is -inf. A row
/// whose largest z' is +inf draws among its +inf tokens only, each with weight 1. top_n may
/// exceed V: the extra slots are padding.
void sample(std::span<const float> logits, std::size_t rows, std::size_t vocab,
            const SamplingOptions& options, const SamplingInputs<float>& inputs,
            const SamplingOutputs& outputs);
void sample(std::span<const double> logits, std::size_t rows, std::size_t vocab,
            const SamplingOptions& options, const SamplingInputs<double>& inputs,
            const SamplingOutputs& outputs);

/// The oracle: the same definition, evaluated the plain way (each row sorted by rank, the
/// filters walked in order, the draw a scan of the kept tokens in id order), one row at a time.
/// Same arguments, checks and results as sample().
void sample_reference(std::span<const float> logits, std::size_t rows, std::size_t vocab,
                      const SamplingOptions& options, const SamplingInputs<float>& inputs,
                      const SamplingOutputs& outputs);
void sample_reference(std::span<const double> logits, std::size_t rows, std::size_t vocab,
                      const SamplingOptions& options, const SamplingInputs<double>& inputs,
                      const SamplingOutputs& outputs);

/// The uniform in [0, 1) that sample() draws for (seed, stream, step): Philox-4x32-10, 53 bits.
double sampling_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t step);

}  // namespace softreg
