// sample_reference(): the sampling definition of sampling.hpp evaluated the plain way, one row
// at a time: z' built token by token, the whole row sorted by rank, the filters walked down the
// sorted row, the kept tokens scanned in id order. The oracle of the sampler's tests.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <vector>

#include "kernels/sampling_core.hpp"
#include "kernels/sampling_rules.hpp"
#include "softreg/sampling.hpp"

namespace softreg {
namespace detail {
namespace {

template <class T>
std::vector<T> reference_z(const SampleJob<T>& job, std::size_t r) {
  const std::size_t v = job.vocab;
  const T* z = job.logits.data() + r * v;
  std::vector<T> zp(z, z + v);
  const auto& in = job.inputs;
  for (std::size_t i = 0; i < v && !in.logit_bias.empty(); ++i)
    zp[i] = biased(z[i], in.logit_bias[i]);
  const SamplingOptions& o = job.options;
  const bool penalties =
      o.repetition_penalty != 1.0 || o.presence_penalty != 0.0 || o.frequency_penalty != 0.0;
  if (penalties && !in.history.empty()) {
    std::map<std::int64_t, std::uint64_t> counts;
    for (std::size_t h = in.history_offsets[r]; h < in.history_offsets[r + 1]; ++h) {
      ++counts[in.history[h]];
    }
    for (const auto& [token, count] : counts) {
      zp[std::size_t(token)] = penalize(zp[std::size_t(token)], count, T(o.repetition_penalty),
                                        T(o.presence_penalty), T(o.frequency_penalty));
    }
  }
  return zp;
}

template <class T>
RowStatus reference_row(const SampleJob<T>& job, std::size_t r) {
  const SampleSettings<T>& s = job.settings;
  const SamplingOutputs& out = job.outputs;
  const T inf = std::numeric_limits<T>::infinity();
  std::vector<T> z = reference_z(job, r);
  const std::size_t v = z.size();
  if (std::any_of(z.begin(), z.end(), [](T x) { return std::isnan(x); })) return RowStatus::nan;
  T max = *std::max_element(z.begin(), z.end());
  if (max == -inf) return RowStatus::nothing;
  if (max == inf) {
    for (T& x : z) x = x == inf ? T(0) : -inf;
    max = 0;
  }
  std::vector<std::uint32_t> order(v);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return ranks_before(z[a], a, z[b], b); });
  if (s.greedy) {
    write_greedy(job, r, order[0]);
    return RowStatus::ok;
  }
  // Tokens at -inf are never kept.
  std::size_t kept = 0;
  while (kept < v && z[order[kept]] > -inf) ++kept;
  if (s.k > 0) kept = std::min(kept, s.k);
  if (s.use_top_p) {
    std::uint64_t total = 0;
    for (std::size_t j = 0; j < kept; ++j) total += weight_of(z[order[j]], max, s.inv_tf);
    std::uint64_t before = 0;
    for (std::size_t j = 0; j < kept; ++j) {
      if (j > 0 && !below_mass(before, s.top_p, total)) {
        kept = j;
        break;
      }
      before += weight_of(z[order[j]], max, s.inv_tf);
    }
  }
  if (s.use_min_p) {
    for (std::size_t j = 0; j < kept; ++j) {
      if ((z[order[j]] - max) * s.inv_tf < s.floor_l) {
        kept = j;
        break;
      }
    }
  }
  std::vector<std::uint32_t> by_id(order.begin(), order.begin() + std::ptrdiff_t(kept));
  std::sort(by_id.begin(), by_id.end());
  std::uint64_t mass = 0;
  for (const std::uint32_t i : by_id) mass += weight_of(z[i], max, s.inv_t);
  const std::uint64_t point = draw_point(row_uniform(job, r), mass);
  std::uint64_t run = 0;
  std::int64_t token = -1;
  for (const std::uint32_t i : by_id) {
    run += weight_of(z[i], max, s.inv_t);
    if (run > point) {
      token = i;
      break;
    }
  }
  out.tokens[r] = token;
  const double log_mass = std::log(double(mass)) - std::log(kWeightScale);
  const auto logp = [&](std::size_t i) { return double((z[i] - max) * s.inv_t) - log_mass; };
  if (!out.logprobs.empty()) out.logprobs[r] = logp(std::size_t(token));
  const std::size_t listed = std::min(out.top_n, kept);
  for (std::size_t j = 0; j < listed; ++j) {
    if (!out.top_tokens.empty()) out.top_tokens[r * out.top_n + j] = order[j];
    if (!out.top_logprobs.empty()) out.top_logprobs[r * out.top_n + j] = logp(order[j]);
  }
  pad_top(out, r, listed);
  return RowStatus::ok;
}

template <class T>
void reference_impl(std::span<const T> logits, std::size_t rows, std::size_t vocab,
                    const SamplingOptions& options, const SamplingInputs<T>& inputs,
                    const SamplingOutputs& outputs) {
  const SampleJob<T> job =
      make_job("softreg::sample_reference", logits, rows, vocab, options, inputs, outputs);
  std::vector<RowStatus> status(rows);
  for (std::size_t r = 0; r < rows; ++r) status[r] = reference_row(job, r);
  throw_first_bad_row(job, status);
}

}  // namespace
}  // namespace detail

void sample_reference(std::span<const float> logits, std::size_t rows, std::size_t vocab,
                      const SamplingOptions& options, const SamplingInputs<float>& inputs,
                      const SamplingOutputs& outputs) {
  detail::reference_impl(logits, rows, vocab, options, inputs, outputs);
}
void sample_reference(std::span<const double> logits, std::size_t rows, std::size_t vocab,
                      const SamplingOptions& options, const SamplingInputs<double>& inputs,
                      const SamplingOutputs& outputs) {
  detail::reference_impl(logits, rows, vocab, options, inputs, outputs);
}

}  // namespace softreg
