// What sample() and sample_reference() share besides the scalar definitions: the argument
// checks and the settings they resolve, the processed row z', the source of each row's uniform,
// the greedy and padding outputs, and the errors of rows that cannot be sampled.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "common/check.hpp"
#include "kernels/sampling_core.hpp"
#include "softreg/error.hpp"
#include "softreg/sampling.hpp"

namespace softreg::detail {

/// The options resolved for the logits' type.
template <class T>
struct SampleSettings {
  bool greedy = false;
  std::size_t k = 0;  // 0: no top-k
  bool use_top_p = false;
  double top_p = 1.0;
  bool use_min_p = false;
  T floor_l = 0;         // log(min_p)
  T inv_t = 1;           // 1 / T
  T inv_tf = 1;          // 1 / T_f, the filters' temperature
  double t_f = 1.0;      // T_f
  bool process = false;  // bias or penalties change z
};

template <class T>
struct SampleJob {
  const char* caller;
  std::span<const T> logits;
  std::size_t rows, vocab;
  const SamplingOptions& options;
  const SamplingInputs<T>& inputs;
  const SamplingOutputs& outputs;
  SampleSettings<T> settings;
};

enum class RowStatus : unsigned char { ok, nan, nothing };

inline void sample_fail(const char* caller, const std::string& what) {
  throw InvalidArgument(std::string(caller) + ": " + what);
}

inline void check_count(const char* caller, const char* what, std::size_t size,
                        std::size_t expected, const char* meaning) {
  if (size != expected) {
    sample_fail(caller, std::string(what) + " has " + std::to_string(size) + " entries, expected " +
                            std::to_string(expected) + " (" + meaning + ")");
  }
}

inline void check_sampling_options(const char* caller, const SamplingOptions& o) {
  const auto bad = [&](const char* field, const char* need, double got) {
    sample_fail(caller, std::string(field) + " must be " + need + "; got " + format_number(got));
  };
  if (!(o.temperature >= 0.0) || !std::isfinite(o.temperature)) {
    bad("temperature", "finite and >= 0 (0: greedy)", o.temperature);
  }
  if (o.top_k < 0) bad("top_k", ">= 0 (0: off)", double(o.top_k));
  if (!(o.top_p >= 0.0 && o.top_p <= 1.0)) bad("top_p", "in [0, 1] (1: off)", o.top_p);
  if (!(o.min_p >= 0.0 && o.min_p <= 1.0)) bad("min_p", "in [0, 1] (0: off)", o.min_p);
  if (!(o.repetition_penalty > 0.0) || !std::isfinite(o.repetition_penalty)) {
    bad("repetition_penalty", "finite and > 0 (1: off)", o.repetition_penalty);
  }
  if (!std::isfinite(o.presence_penalty)) bad("presence_penalty", "finite", o.presence_penalty);
  if (!std::isfinite(o.frequency_penalty)) bad("frequency_penalty", "finite", o.frequency_penalty);
}

/// The penalties as the logits' type holds them: a repetition penalty that rounds to 0 or
/// overflows, or presence / frequency penalties whose largest total (every history token the
/// same) overflows, would turn logits into NaN.
template <class T>
void check_penalties_in(const char* caller, const SamplingOptions& o, std::size_t history) {
  const double most = std::numeric_limits<T>::max();
  const T r = static_cast<T>(o.repetition_penalty);
  if (!(r > T(0)) || !std::isfinite(r)) {
    sample_fail(caller, "repetition_penalty = " + format_number(o.repetition_penalty) +
                            " is 0 or infinite in the logits' type");
  }
  const double total =
      std::fabs(o.frequency_penalty) * double(history) + std::fabs(o.presence_penalty);
  if (!(total < most)) {
    sample_fail(caller, "presence_penalty + frequency_penalty x " + std::to_string(history) +
                            " history tokens overflows the logits' type");
  }
}

template <class T>
void check_sampling_inputs(const char* caller, std::size_t rows, std::size_t vocab,
                           const SamplingInputs<T>& in) {
  if (!in.logit_bias.empty()) {
    check_count(caller, "logit_bias", in.logit_bias.size(), vocab, "one per token");
    for (std::size_t i = 0; i < vocab; ++i) {
      const T b = in.logit_bias[i];
      if (std::isnan(b) || b == std::numeric_limits<T>::infinity()) {
        sample_fail(caller, "logit_bias[" + std::to_string(i) + "] is " + format_number(double(b)) +
                                "; a bias must be finite, or -inf to ban the token");
      }
    }
  }
  if (!in.history_offsets.empty() || !in.history.empty()) {
    check_count(caller, "history_offsets", in.history_offsets.size(), rows + 1, "rows + 1");
    if (in.history_offsets[0] != 0 || in.history_offsets[rows] != in.history.size()) {
      sample_fail(caller, "history_offsets must start at 0 and end at the history's length " +
                              std::to_string(in.history.size()));
    }
    for (std::size_t r = 0; r < rows; ++r) {
      if (in.history_offsets[r + 1] < in.history_offsets[r]) {
        sample_fail(caller, "history_offsets decreases at row " + std::to_string(r));
      }
    }
    for (std::size_t i = 0; i < in.history.size(); ++i) {
      if (in.history[i] < 0 || std::uint64_t(in.history[i]) >= vocab) {
        sample_fail(caller, "history[" + std::to_string(i) +
                                "] = " + std::to_string(in.history[i]) +
                                " is not a token id in [0, " + std::to_string(vocab) + ")");
      }
    }
  }
  if (!in.streams.empty()) check_count(caller, "streams", in.streams.size(), rows, "one per row");
  if (!in.steps.empty()) check_count(caller, "steps", in.steps.size(), rows, "one per row");
  if (!in.uniforms.empty()) {
    check_count(caller, "uniforms", in.uniforms.size(), rows, "one per row");
    for (std::size_t r = 0; r < rows; ++r) {
      if (!(in.uniforms[r] >= 0.0 && in.uniforms[r] < 1.0)) {
        sample_fail(caller, "uniforms[" + std::to_string(r) +
                                "] = " + format_number(in.uniforms[r]) + " is not in [0, 1)");
      }
    }
  }
}

inline void check_sampling_outputs(const char* caller, std::size_t rows,
                                   const SamplingOutputs& out) {
  check_count(caller, "tokens", out.tokens.size(), rows, "one per row");
  if (out.top_n != 0 && rows > std::numeric_limits<std::size_t>::max() / out.top_n) {
    sample_fail(caller, "rows x top_n = " + std::to_string(rows) + " x " +
                            std::to_string(out.top_n) + " overflows");
  }
  if (!out.logprobs.empty())
    check_count(caller, "logprobs", out.logprobs.size(), rows, "one per row");
  const std::size_t top = rows * out.top_n;
  if (!out.top_tokens.empty() || out.top_n > 0) {
    if (!out.top_tokens.empty()) {
      check_count(caller, "top_tokens", out.top_tokens.size(), top, "rows x top_n");
    }
    if (!out.top_logprobs.empty()) {
      check_count(caller, "top_logprobs", out.top_logprobs.size(), top, "rows x top_n");
    }
  }
}

/// Checks every argument and resolves the settings.
template <class T>
SampleJob<T> make_job(const char* caller, std::span<const T> logits, std::size_t rows,
                      std::size_t vocab, const SamplingOptions& o, const SamplingInputs<T>& in,
                      const SamplingOutputs& out) {
  if (vocab == 0) sample_fail(caller, "the vocabulary is empty (vocab == 0)");
  // Token ids are 32-bit and a mass of 2^23 weights of 2^40 fits in 64 bits.
  if (vocab > (std::size_t{1} << 23)) {
    sample_fail(caller, "vocab = " + std::to_string(vocab) + " exceeds 8388608 tokens");
  }
  if (logits.size() / vocab != rows || logits.size() % vocab != 0) {
    sample_fail(caller, "logits has " + std::to_string(logits.size()) + " entries, expected " +
                            std::to_string(rows) + " x " + std::to_string(vocab));
  }
  check_sampling_options(caller, o);
  check_penalties_in<T>(caller, o, in.history.size());
  check_sampling_inputs(caller, rows, vocab, in);
  check_sampling_outputs(caller, rows, out);
  SampleSettings<T> s;
  const double inv_t = 1.0 / o.temperature;
  // A temperature whose inverse overflows the logits' type acts as 0.
  s.greedy = o.greedy || o.temperature == 0.0 || !std::isfinite(static_cast<T>(inv_t));
  s.k = o.top_k > 0 && std::uint64_t(o.top_k) < vocab ? std::size_t(o.top_k) : 0;
  s.use_top_p = o.top_p < 1.0;
  s.top_p = o.top_p;
  s.use_min_p = o.min_p > 0.0;
  s.floor_l = s.use_min_p ? static_cast<T>(std::log(o.min_p)) : T(0);
  if (!s.greedy) s.inv_t = static_cast<T>(inv_t);
  const bool first = o.order == SamplingOrder::temperature_first;
  s.inv_tf = first ? s.inv_t : T(1);
  s.t_f = first ? o.temperature : 1.0;
  const bool penalties =
      o.repetition_penalty != 1.0 || o.presence_penalty != 0.0 || o.frequency_penalty != 0.0;
  s.process = !in.logit_bias.empty() || (penalties && !in.history.empty());
  return {caller, logits, rows, vocab, o, in, out, s};
}

/// z + bias, with -inf (a banned token) staying -inf whatever z is.
template <class T>
inline T biased(T z, T bias) {
  return bias == -std::numeric_limits<T>::infinity() ? bias : z + bias;
}

/// Row r's z' in `zp` (bias, then the penalties of its history), or the logits row itself
/// when nothing changes it. `history` is scratch.
template <class T>
const T* processed_row(const SampleJob<T>& job, std::size_t r, std::vector<T>& zp,
                       std::vector<std::int64_t>& history) {
  const std::size_t v = job.vocab;
  const T* z = job.logits.data() + r * v;
  if (!job.settings.process) return z;
  zp.resize(v);
  const auto& bias = job.inputs.logit_bias;
  if (bias.empty()) {
    std::copy(z, z + v, zp.begin());
  } else {
    for (std::size_t i = 0; i < v; ++i) zp[i] = biased(z[i], bias[i]);
  }
  const auto& in = job.inputs;
  if (!in.history.empty()) {
    history.assign(in.history.begin() + std::ptrdiff_t(in.history_offsets[r]),
                   in.history.begin() + std::ptrdiff_t(in.history_offsets[r + 1]));
    std::sort(history.begin(), history.end());
    const SamplingOptions& o = job.options;
    for (std::size_t i = 0; i < history.size();) {
      std::size_t j = i;
      while (j < history.size() && history[j] == history[i]) ++j;
      T& t = zp[std::size_t(history[i])];
      t = penalize(t, j - i, T(o.repetition_penalty), T(o.presence_penalty),
                   T(o.frequency_penalty));
      i = j;
    }
  }
  return zp.data();
}

/// A row whose largest z' is +inf: its +inf tokens become 0 and all others -inf (each +inf
/// token then has weight 1), in `zp`.
template <class T>
const T* only_infinite(const T* z, std::size_t v, std::vector<T>& zp) {
  const T inf = std::numeric_limits<T>::infinity();
  std::vector<T> out(v);
  for (std::size_t i = 0; i < v; ++i) out[i] = z[i] == inf ? T(0) : -inf;
  zp.swap(out);
  return zp.data();
}

template <class T>
double row_uniform(const SampleJob<T>& job, std::size_t r) {
  const auto& in = job.inputs;
  if (!in.uniforms.empty()) return in.uniforms[r];
  const std::uint64_t stream = in.streams.empty() ? r : in.streams[r];
  const std::uint64_t step = in.steps.empty() ? job.options.step : in.steps[r];
  return philox_uniform(job.options.seed, stream, step);
}

/// Slots [filled, top_n) of row r's top lists: id -1, log-probability -inf.
inline void pad_top(const SamplingOutputs& out, std::size_t r, std::size_t filled) {
  if (out.top_tokens.empty() && out.top_logprobs.empty()) return;
  for (std::size_t j = filled; j < out.top_n; ++j) {
    if (!out.top_tokens.empty()) out.top_tokens[r * out.top_n + j] = -1;
    if (!out.top_logprobs.empty()) {
      out.top_logprobs[r * out.top_n + j] = -std::numeric_limits<double>::infinity();
    }
  }
}

/// Greedy: the token, log-probability 0, and a top list of that token alone.
template <class T>
void write_greedy(const SampleJob<T>& job, std::size_t r, std::int64_t token) {
  const SamplingOutputs& out = job.outputs;
  out.tokens[r] = token;
  if (!out.logprobs.empty()) out.logprobs[r] = 0.0;
  if (out.top_n == 0) return;
  if (!out.top_tokens.empty()) out.top_tokens[r * out.top_n] = token;
  if (!out.top_logprobs.empty()) out.top_logprobs[r * out.top_n] = 0.0;
  pad_top(out, r, 1);
}

/// Throws for the first row (lowest index) that could not be sampled.
template <class T>
void throw_first_bad_row(const SampleJob<T>& job, const std::vector<RowStatus>& status) {
  for (std::size_t r = 0; r < status.size(); ++r) {
    if (status[r] == RowStatus::ok) continue;
    const std::string row = "row " + std::to_string(r);
    if (status[r] == RowStatus::nan) {
      const T* z = job.logits.data() + r * job.vocab;
      std::size_t i = 0;
      while (i < job.vocab && !std::isnan(z[i])) ++i;
      sample_fail(job.caller, "logits " + row + " holds NaN at token " + std::to_string(i) +
                                  "; a NaN logit cannot be sampled");
    }
    sample_fail(job.caller, row +
                                ": every token's logit is -inf after the bias and penalties; "
                                "there is nothing to draw");
  }
}

}  // namespace softreg::detail
