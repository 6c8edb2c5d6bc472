// Shared by the sampling tests: one call's results (tokens, log-probabilities, top lists) from
// the sampler or its sorting reference, the error text of a call, and logits with ties.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "softreg/error.hpp"
#include "softreg/sampling.hpp"

namespace sampling_fixtures {

using softreg::SamplingInputs;
using softreg::SamplingOptions;
using softreg::SamplingOrder;
using softreg::SamplingOutputs;

constexpr double kInf = std::numeric_limits<double>::infinity();

/// Results of one call: tokens, log-probabilities, top lists.
struct Drawn {
  std::vector<std::int64_t> tokens, top_tokens;
  std::vector<double> logprobs, top_logprobs;
  bool operator==(const Drawn&) const = default;
};

template <class T, class F>
Drawn run(F&& sampler, const std::vector<T>& logits, std::size_t rows, std::size_t vocab,
          const SamplingOptions& o, const SamplingInputs<T>& in = {}, std::size_t top_n = 0) {
  Drawn d;
  d.tokens.assign(rows, -7);
  d.logprobs.assign(rows, 99.0);
  d.top_tokens.assign(rows * top_n, -7);
  d.top_logprobs.assign(rows * top_n, 99.0);
  SamplingOutputs out{d.tokens, d.logprobs, top_n, d.top_tokens, d.top_logprobs};
  sampler(std::span<const T>(logits), rows, vocab, o, in, out);
  return d;
}

template <class T>
Drawn fast(const std::vector<T>& logits, std::size_t rows, std::size_t vocab,
           const SamplingOptions& o, const SamplingInputs<T>& in = {}, std::size_t top_n = 0) {
  return run<T>([](auto... a) { softreg::sample(a...); }, logits, rows, vocab, o, in, top_n);
}

template <class T>
Drawn reference(const std::vector<T>& logits, std::size_t rows, std::size_t vocab,
                const SamplingOptions& o, const SamplingInputs<T>& in = {}, std::size_t top_n = 0) {
  return run<T>([](auto... a) { softreg::sample_reference(a...); }, logits, rows, vocab, o, in,
                top_n);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const softreg::InvalidArgument& e) {
    return e.what();
  }
  return "no exception";
}

/// Logits with ties: values on a coarse grid, a few -inf, one row of equal values.
template <class T>
std::vector<T> tied_logits(std::size_t rows, std::size_t vocab, double spread, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.0, spread);
  std::vector<T> z(rows * vocab);
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = static_cast<T>(std::round(g(rng) * 8.0) / 8.0);
  if (vocab >= 4) {
    for (std::size_t i = 5; i < z.size(); i += 13) z[i] = -std::numeric_limits<T>::infinity();
  }
  if (rows > 2)
    std::fill(z.begin() + std::ptrdiff_t(vocab), z.begin() + std::ptrdiff_t(2 * vocab), T(1.5));
  return z;
}

}  // namespace sampling_fixtures
