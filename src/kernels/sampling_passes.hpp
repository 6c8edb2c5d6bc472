// The passes of the sampler over one row (or one range of it): the maximum, the streaming top-k
// selection, the exact fixed-point mass and the collection of a window of top tokens. Scalar
// templates here (float64 logits, and the meaning of each pass); float32 has vectorized
// versions with the same results in sampling_simd.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/sampling_core.hpp"

namespace softreg::detail {

template <class T>
struct SampleCandidate {
  T z;
  std::uint32_t id;
};

template <class T>
inline bool candidate_before(const SampleCandidate<T>& a, const SampleCandidate<T>& b) {
  return ranks_before(a.z, a.id, b.z, b.id);
}

/// Streaming top-k of a row visited in increasing id order: a buffer of candidates compacted
/// to the k first-ranked ones whenever it fills, after which only z > the k-th's z can enter (a
/// later token with an equal z ranks after it). -inf never enters: it can never be drawn.
template <class T>
class TopKStream {
 public:
  explicit TopKStream(std::size_t k = 0) { reset(k); }

  void reset(std::size_t k) {
    k_ = k;
    capacity_ = 2 * k + 64;
    buffer_.clear();
    threshold_ = -std::numeric_limits<T>::infinity();
  }

  /// Entry bound: a token needs z > threshold() to be a candidate.
  T threshold() const { return threshold_; }

  void push(T z, std::size_t id) {
    if (!(z > threshold_)) return;
    buffer_.push_back({z, static_cast<std::uint32_t>(id)});
    if (buffer_.size() >= capacity_) compact();
  }

  /// Merges another stream's candidates (of a later id range) into this one. push's bound
  /// assumes increasing ids, and the other buffer is in no order after its compactions: its
  /// candidates go in by id.
  void merge(const TopKStream& other) {
    merging_.assign(other.buffer_.begin(), other.buffer_.end());
    std::sort(merging_.begin(), merging_.end(),
              [](const SampleCandidate<T>& a, const SampleCandidate<T>& b) { return a.id < b.id; });
    for (const auto& c : merging_) push(c.z, c.id);
  }

  /// The first min(k, found) candidates in rank order.
  const std::vector<SampleCandidate<T>>& finish() {
    compact();
    std::sort(buffer_.begin(), buffer_.end(), candidate_before<T>);
    return buffer_;
  }

 private:
  void compact() {
    if (k_ == 0 || buffer_.size() <= k_) return;
    std::nth_element(buffer_.begin(), buffer_.begin() + std::ptrdiff_t(k_ - 1), buffer_.end(),
                     candidate_before<T>);
    buffer_.resize(k_);
    threshold_ = buffer_[k_ - 1].z;  // the k-th ranked: the smallest z kept
  }

  std::size_t k_ = 0, capacity_ = 0;
  std::vector<SampleCandidate<T>> buffer_, merging_;
  T threshold_;
};

/// What the mass pass sums: weights at inv_t, of the tokens whose (z - max) * inv_tf >= floor
/// (every token when member_check is false), in blocks of block_len tokens.
template <class T>
struct MassJob {
  T max;
  T inv_t;
  T inv_tf;
  T floor;
  bool member_check = false;
  std::uint64_t* blocks = nullptr;  // one sum per block_len tokens, or null
  std::size_t block_len = 2048;
};

template <class T>
inline bool mass_member(const MassJob<T>& job, T z) {
  return !job.member_check || (z - job.max) * job.inv_tf >= job.floor;
}

/// Bounds on the weights of the tokens with z <= bound: the tail of a row whose first-ranked
/// tokens are listed. sum approximates the sum over those tokens of w = sampling_exp((z - max)
/// inv_t) (0 for (z - max) inv_t < -30): the exact sum lies in [sum / tail_low(n) - n 2^-40,
/// sum * tail_high(n)]. The vectorized pass sums 2^k (1 + f) for x = (z - max) inv_t log2 e =
/// k + f (clamped below at kApproxLow): within [1 - 1e-5, 1.0615 (1 + 1e-5)] of 2^x before
/// rounding x; x's own rounding (3 ulp of |x| <= 44, then 2^-16 in the fixed-point form
/// (x + 127) 2^23) moves it by a factor within 1 +- 2e-5; with sampling_exp's own 4e-7 all fit
/// in the 1 +- 5e-5 of tail_low and tail_high. Tokens below -30
/// weigh 0 but add at most 2^-43 each (the n 2^-40 term). Float sums in four accumulators per
/// lane: at most n / 4 + 4 additions each, relative error below that many 2^-24.
struct TailSum {
  double sum = 0.0;
};
inline double tail_summation(std::size_t n) {
  return 1.0 + (double(n) / 4.0 + 4.0) * 0x1p-24;
}
inline double tail_low(std::size_t n) {
  return 1.0615 * (1.0 + 5e-5) * tail_summation(n);
}
inline double tail_high(std::size_t n) {
  return (1.0 + 5e-5) * tail_summation(n);
}

/// The tail pass's terms are clamped at 2^-44 (x >= -44).
constexpr float kApproxLow = -44.0f;

/// Bounds on a tail's fixed-point mass, in units of 2^-40 of the maximum's weight.
struct MassBounds {
  long double low = 0.0L;
  long double high = 0.0L;
};

/// From a tail pass over the tokens at or below the last candidate's z; at_bound is the exact
/// mass of the listed candidates at that z (the pass counts them too).
inline MassBounds tail_pass_bounds(const TailSum& t, std::size_t n, std::uint64_t at_bound) {
  const long double unit = kWeightScale;
  return {std::max(0.0L, (long double)t.sum / tail_low(n) * unit - 2.0L * n - at_bound),
          std::max(0.0L, (long double)t.sum * tail_high(n) * unit - at_bound)};
}

namespace scalar_pass {

/// The largest entry (NaN skipped; -inf for an empty range) and whether there is a NaN.
template <class T>
void max_nan(const T* z, std::size_t n, T& max, bool& nan) {
  max = -std::numeric_limits<T>::infinity();
  nan = false;
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isnan(z[i])) nan = true;
    if (z[i] > max) max = z[i];
  }
}

/// The first index with z == value, or n.
template <class T>
std::size_t first_equal(const T* z, std::size_t n, T value) {
  for (std::size_t i = 0; i < n; ++i) {
    if (z[i] == value) return i;
  }
  return n;
}

/// Feeds z[0, n) (ids offset + i) to the stream; flags a NaN.
template <class T>
void top_k(const T* z, std::size_t n, std::size_t offset, TopKStream<T>& stream, bool& nan) {
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isnan(z[i])) nan = true;
    stream.push(z[i], offset + i);
  }
}

/// The exact mass of z[0, n) (see MassJob); block b of job.blocks covers [b L, (b + 1) L).
template <class T>
std::uint64_t mass(const T* z, std::size_t n, const MassJob<T>& job) {
  std::uint64_t total = 0;
  for (std::size_t b0 = 0; b0 < n; b0 += job.block_len) {
    const std::size_t b1 = std::min(n, b0 + job.block_len);
    std::uint64_t sum = 0;
    for (std::size_t i = b0; i < b1; ++i) {
      if (mass_member(job, z[i])) sum += weight_of(z[i], job.max, job.inv_t);
    }
    if (job.blocks != nullptr) job.blocks[b0 / job.block_len] = sum;
    total += sum;
  }
  return total;
}

/// Appends offset + i for every z[i] >= threshold.
template <class T>
void collect(const T* z, std::size_t n, std::size_t offset, T threshold,
             std::vector<std::uint32_t>& out) {
  for (std::size_t i = 0; i < n; ++i) {
    if (z[i] >= threshold) out.push_back(static_cast<std::uint32_t>(offset + i));
  }
}

/// The tail sum, exactly (within the bounds above, which the vectorized pass needs).
template <class T>
TailSum tail_sum(const T* z, std::size_t n, T max, T inv_t, T bound) {
  TailSum out;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(z[i] <= bound)) continue;
    out.sum += sampling_exp(static_cast<float>((z[i] - max) * inv_t));
  }
  return out;
}

/// collect(z >= window) and tail_sum(z < window) in one pass.
template <class T>
TailSum window_tail(const T* z, std::size_t n, std::size_t offset, T max, T inv_t, T window,
                    std::vector<std::uint32_t>& out) {
  collect(z, n, offset, window, out);
  return tail_sum(z, n, max, inv_t, std::nextafter(window, -std::numeric_limits<T>::infinity()));
}

}  // namespace scalar_pass

/// The float32 passes, vectorized (sampling_simd.cpp); same results as scalar_pass.
void simd_sampling_max_nan(const float* z, std::size_t n, float& max, bool& nan);
std::size_t simd_sampling_first_equal(const float* z, std::size_t n, float value);
void simd_sampling_top_k(const float* z, std::size_t n, std::size_t offset,
                         TopKStream<float>& stream, bool& nan);
std::uint64_t simd_sampling_mass(const float* z, std::size_t n, const MassJob<float>& job);
void simd_sampling_collect(const float* z, std::size_t n, std::size_t offset, float threshold,
                           std::vector<std::uint32_t>& out);
TailSum simd_sampling_tail_sum(const float* z, std::size_t n, float max, float inv_t, float bound);
TailSum simd_sampling_window_tail(const float* z, std::size_t n, std::size_t offset, float max,
                                  float inv_t, float window, std::vector<std::uint32_t>& out);
/// The vectorized weight function on n values (tests compare it with sampling_exp).
void simd_sampling_exp(const float* x, std::size_t n, float* out);

}  // namespace softreg::detail
