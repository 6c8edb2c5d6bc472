// Seeded randomness that repeats on every platform: the row shuffles of the validation split and
// of the mini-batch order.
#pragma once

#include <cstddef>
#include <random>
#include <span>
#include <utility>

namespace softreg::detail {

/// Uniform index in [0, bound) from a 64-bit generator: the same sequence on every platform,
/// unlike std::uniform_int_distribution. The modulo bias is below bound / 2^64, far below
/// anything a shuffle of rows could show.
inline std::size_t uniform_index(std::mt19937_64& rng, std::size_t bound) {
  return static_cast<std::size_t>(rng() % bound);
}

/// Fisher-Yates shuffle of `items` in place, drawing from rng.
template <class T>
void shuffle(std::span<T> items, std::mt19937_64& rng) {
  for (std::size_t i = items.size(); i-- > 1;)
    std::swap(items[i], items[uniform_index(rng, i + 1)]);
}

}  // namespace softreg::detail
