// sample(): argument checks, then one row per task: the processed logits z', one pass that finds
// the maximum (or the streaming top-k), the filters as cuts of the rank order, and the draw.
#include "softreg/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/check.hpp"
#include "common/thread_pool.hpp"
#include "kernels/sampling_passes.hpp"
#include "kernels/sampling_rules.hpp"
#include "softreg/error.hpp"

namespace softreg {
namespace detail {
namespace {

/// The passes: vectorized for float32, scalar for float64.
template <class T>
struct Passes {
  static void max_nan(const T* z, std::size_t n, T& max, bool& nan) {
    scalar_pass::max_nan(z, n, max, nan);
  }
  static std::size_t first_equal(const T* z, std::size_t n, T v) {
    return scalar_pass::first_equal(z, n, v);
  }
  static void top_k(const T* z, std::size_t n, std::size_t offset, TopKStream<T>& s, bool& nan) {
    scalar_pass::top_k(z, n, offset, s, nan);
  }
  static std::uint64_t mass(const T* z, std::size_t n, const MassJob<T>& job) {
    return scalar_pass::mass(z, n, job);
  }
  static void collect(const T* z, std::size_t n, std::size_t offset, T t,
                      std::vector<std::uint32_t>& out) {
    scalar_pass::collect(z, n, offset, t, out);
  }
  static TailSum tail_sum(const T* z, std::size_t n, T max, T inv_t, T bound) {
    return scalar_pass::tail_sum(z, n, max, inv_t, bound);
  }
  static TailSum window_tail(const T* z, std::size_t n, std::size_t offset, T max, T inv_t,
                             T window, std::vector<std::uint32_t>& out) {
    return scalar_pass::window_tail(z, n, offset, max, inv_t, window, out);
  }
};

template <>
struct Passes<float> {
  static void max_nan(const float* z, std::size_t n, float& max, bool& nan) {
    simd_sampling_max_nan(z, n, max, nan);
  }
  static std::size_t first_equal(const float* z, std::size_t n, float v) {
    return simd_sampling_first_equal(z, n, v);
  }
  static void top_k(const float* z, std::size_t n, std::size_t offset, TopKStream<float>& s,
                    bool& nan) {
    simd_sampling_top_k(z, n, offset, s, nan);
  }
  static std::uint64_t mass(const float* z, std::size_t n, const MassJob<float>& job) {
    return simd_sampling_mass(z, n, job);
  }
  static void collect(const float* z, std::size_t n, std::size_t offset, float t,
                      std::vector<std::uint32_t>& out) {
    simd_sampling_collect(z, n, offset, t, out);
  }
  static TailSum tail_sum(const float* z, std::size_t n, float max, float inv_t, float bound) {
    return simd_sampling_tail_sum(z, n, max, inv_t, bound);
  }
  static TailSum window_tail(const float* z, std::size_t n, std::size_t offset, float max,
                             float inv_t, float window, std::vector<std::uint32_t>& out) {
    return simd_sampling_window_tail(z, n, offset, max, inv_t, window, out);
  }
};

constexpr std::size_t kBlock = 2048;
// A row at least this long is split across the threads when the batch has fewer rows than
// threads. Measured on 2 threads (Zen 5): at 256,000 tokens the split takes chain (c) from 19.6
// to 10.5 us and (b) from 38.5 to 31.1; at 128,256 the fork and merge cost about what they save.
constexpr std::size_t kSplitRow = 131072;

/// The passes over one row: on the calling thread, or split into chunks (whole blocks of
/// kBlock tokens) run on several threads and merged in chunk order. Every result is the same
/// either way: candidates merge in id order, masses are integers, windows concatenate in order.
template <class T>
class RowPasses {
 public:
  void configure(std::size_t v, int workers) {
    v_ = v;
    chunks_ = workers > 1 && v >= kSplitRow ? std::size_t(workers) : 1;
    streams_.resize(chunks_);
    windows_.resize(chunks_);
    maxima_.resize(chunks_);
    flags_.resize(chunks_);
    sums_.resize(chunks_);
  }

  void max_nan(const T* z, T& max, bool& nan) {
    each([&](std::size_t c, std::size_t b, std::size_t e) {
      bool bad = false;
      Passes<T>::max_nan(z + b, e - b, maxima_[c], bad);
      flags_[c] = bad;
    });
    max = *std::max_element(maxima_.begin(), maxima_.end());
    nan = std::find(flags_.begin(), flags_.end(), char{1}) != flags_.end();
  }

  std::size_t first_equal(const T* z, T value) {
    each([&](std::size_t c, std::size_t b, std::size_t e) {
      sums_[c] = b + Passes<T>::first_equal(z + b, e - b, value);
    });
    for (std::size_t c = 0; c < chunks_; ++c) {
      if (sums_[c] < end(c)) return std::size_t(sums_[c]);
    }
    return v_;
  }

  /// The first k candidates in rank order (held by the passes until the next top_k).
  const std::vector<SampleCandidate<T>>& top_k(const T* z, std::size_t k, bool& nan) {
    each([&](std::size_t c, std::size_t b, std::size_t e) {
      streams_[c].reset(k);
      bool bad = false;
      Passes<T>::top_k(z + b, e - b, b, streams_[c], bad);
      flags_[c] = bad;
    });
    nan = std::find(flags_.begin(), flags_.end(), char{1}) != flags_.end();
    for (std::size_t c = 1; c < chunks_; ++c) streams_[0].merge(streams_[c]);
    return streams_[0].finish();
  }

  std::uint64_t mass(const T* z, MassJob<T> job) {
    std::uint64_t* blocks = job.blocks;
    each([&](std::size_t c, std::size_t b, std::size_t e) {
      MassJob<T> part = job;
      if (blocks != nullptr) part.blocks = blocks + b / kBlock;
      sums_[c] = Passes<T>::mass(z + b, e - b, part);
    });
    std::uint64_t total = 0;
    for (const std::uint64_t x : sums_) total += x;
    return total;
  }

  void collect(const T* z, T bound, std::vector<std::uint32_t>& out) {
    if (chunks_ == 1) return Passes<T>::collect(z, v_, 0, bound, out);
    each([&](std::size_t c, std::size_t b, std::size_t e) {
      windows_[c].clear();
      Passes<T>::collect(z + b, e - b, b, bound, windows_[c]);
    });
    for (const auto& w : windows_) out.insert(out.end(), w.begin(), w.end());
  }

  /// The indices with z >= window (appended in order) and the tail sum over z < window.
  TailSum window_tail(const T* z, T max, T inv_t, T window, std::vector<std::uint32_t>& out) {
    std::vector<double>& sums = tail_;
    sums.assign(chunks_, 0.0);
    each([&](std::size_t c, std::size_t b, std::size_t e) {
      windows_[c].clear();
      sums[c] = Passes<T>::window_tail(z + b, e - b, b, max, inv_t, window, windows_[c]).sum;
    });
    TailSum result;
    for (std::size_t c = 0; c < chunks_; ++c) {
      out.insert(out.end(), windows_[c].begin(), windows_[c].end());
      result.sum += sums[c];
    }
    return result;
  }

  TailSum tail_sum(const T* z, T max, T inv_t, T bound) {
    std::vector<double>& sums = tail_;
    sums.assign(chunks_, 0.0);
    each([&](std::size_t c, std::size_t b, std::size_t e) {
      sums[c] = Passes<T>::tail_sum(z + b, e - b, max, inv_t, bound).sum;
    });
    TailSum out;
    for (const double x : sums) out.sum += x;
    return out;
  }

 private:
  std::size_t begin(std::size_t c) const {
    return c == 0 ? 0 : std::min(v_, (v_ * c / chunks_) / kBlock * kBlock);
  }
  std::size_t end(std::size_t c) const { return c + 1 == chunks_ ? v_ : begin(c + 1); }

  template <class F>
  void each(F&& f) {
    if (chunks_ == 1) {
      f(std::size_t{0}, std::size_t{0}, v_);
      return;
    }
    fork_join(int(chunks_),
              [&](int c) { f(std::size_t(c), begin(std::size_t(c)), end(std::size_t(c))); });
  }

  std::size_t v_ = 0, chunks_ = 1;
  std::vector<TopKStream<T>> streams_;
  std::vector<std::vector<std::uint32_t>> windows_;
  std::vector<T> maxima_;
  std::vector<char> flags_;  // not vector<bool>: chunks write their own entries concurrently
  std::vector<std::uint64_t> sums_;
  std::vector<double> tail_;
};

/// One thread's buffers, reused from row to row.
template <class T>
struct RowWorkspace {
  std::vector<T> zp;
  RowPasses<T> passes;
  std::vector<SampleCandidate<T>> ranked;  // the enumerated kept tokens, in rank order
  std::vector<std::uint32_t> window;
  std::vector<std::uint32_t> by_id;
  std::vector<std::uint64_t> blocks;
  std::vector<std::int64_t> history;
};

// Top-p without top-k first lists this many first-ranked tokens in the pass that finds the
// maximum: when the cut is among them and the bounds on the rest decide it, no pass computes
// every token's exact weight.
constexpr std::size_t kTopPCandidates = 64;
// A min-p set larger than this is drawn from by a vectorized pass over the row instead of
// being listed.
constexpr std::size_t kEnumerateLimit = 8192;

/// The top-p cut of the first `kept` ranked tokens: token j stays while the mass ranked before
/// it is below top_p of `total`, the mass of the tokens top-p chooses among (weights at the
/// filter temperature).
template <class T>
std::size_t top_p_cut(const std::vector<SampleCandidate<T>>& ranked, std::size_t kept, T max,
                      T inv_tf, double top_p, std::uint64_t total) {
  std::uint64_t before = 0;
  for (std::size_t j = 0; j < kept; ++j) {
    if (j > 0 && !below_mass(before, top_p, total)) return j;
    before += weight_of(ranked[j].z, max, inv_tf);
  }
  return kept;
}

/// The min-p cut: the first ranked token whose filter distance is below log(min_p).
template <class T>
std::size_t min_p_cut(const std::vector<SampleCandidate<T>>& ranked, std::size_t kept, T max,
                      T inv_tf, T floor_l) {
  for (std::size_t j = 0; j < kept; ++j) {
    if ((ranked[j].z - max) * inv_tf < floor_l) return j;
  }
  return kept;
}

/// What the filters leave: a prefix of the rank order, listed in `ws.ranked` (kept = its first
/// `kept` entries) or, when too long to list, described by the min-p membership test alone.
struct Kept {
  bool listed = false;
  std::size_t kept = 0;
};

template <class T>
class RowSampler {
 public:
  RowSampler(const SampleJob<T>& job, RowWorkspace<T>& ws) : job_(job), s_(job.settings), ws_(ws) {}

  /// Samples row r; returns a RowStatus (ok, or the reason the row cannot be sampled).
  RowStatus run(std::size_t r);

 private:
  bool scan(const T* z);
  Kept filter(const T* z);
  void filter_top_p(const T* z, Kept& kept);
  bool bounded_top_p(const T* z, Kept& kept);
  enum class Decision { cut, close, beyond };
  bool window_top_p(const T* z, Kept& kept);
  Decision decide_top_p(const MassBounds& tail, bool exact, Kept& kept);
  std::optional<MassBounds> tail_bounds(const T* z, T bound, std::uint64_t at_bound);
  void filter_min_p(const T* z, Kept& kept);
  void draw(const T* z, const Kept& kept, std::size_t r);
  void report(const T* z, const Kept& kept, std::size_t r, std::int64_t token, std::uint64_t mass);

  const SampleJob<T>& job_;
  const SampleSettings<T>& s_;
  RowWorkspace<T>& ws_;
  std::size_t v_ = 0;
  T max_ = 0;
  bool nan_ = false;
  const std::vector<SampleCandidate<T>>* candidates_ = nullptr;
  std::size_t want_ = 0;  // candidates asked of the first pass
};

// Pass 1: the streaming top-k (when k or top_n asks for candidates) or the maximum.
template <class T>
bool RowSampler<T>::scan(const T* z) {
  nan_ = false;
  candidates_ = nullptr;
  // top_n beyond V only pads.
  std::size_t want = s_.greedy ? 0 : std::min(std::max(s_.k, job_.outputs.top_n), v_);
  want_ = want;
  if (!s_.greedy && s_.use_top_p && s_.k == 0 && want > 0) {
    want_ = want = std::max(want, std::min(kTopPCandidates, v_));
  }
  if (want > 0) {
    candidates_ = &ws_.passes.top_k(z, want, nan_);
    max_ = candidates_->empty() ? -std::numeric_limits<T>::infinity() : candidates_->front().z;
  } else {
    ws_.passes.max_nan(z, max_, nan_);
  }
  return !nan_;
}

template <class T>
RowStatus RowSampler<T>::run(std::size_t r) {
  v_ = job_.vocab;
  const T* z = processed_row(job_, r, ws_.zp, ws_.history);
  if (!scan(z)) return RowStatus::nan;
  if (max_ == -std::numeric_limits<T>::infinity()) return RowStatus::nothing;
  if (max_ == std::numeric_limits<T>::infinity()) {
    z = only_infinite(z, v_, ws_.zp);
    scan(z);
  }
  if (s_.greedy) {
    const std::size_t token =
        candidates_ != nullptr ? candidates_->front().id : ws_.passes.first_equal(z, max_);
    write_greedy(job_, r, static_cast<std::int64_t>(token));
    return RowStatus::ok;
  }
  draw(z, filter(z), r);
  return RowStatus::ok;
}

template <class T>
Kept RowSampler<T>::filter(const T* z) {
  Kept kept;
  if (s_.k > 0) {
    const std::size_t n = std::min(s_.k, candidates_->size());
    ws_.ranked.assign(candidates_->begin(), candidates_->begin() + std::ptrdiff_t(n));
    kept = {true, n};
  }
  if (s_.use_top_p) filter_top_p(z, kept);
  if (s_.use_min_p) filter_min_p(z, kept);
  return kept;
}

// top-p over the listed survivors, or over the whole row: the exact total mass from one pass,
// then windows of the top tokens (z' >= max - t T_f for t = 4, 8, 16, 32, then all) until one
// holds the cut.
// top-p from the listed first-ranked candidates alone: their masses are exact, the rest of the
// row is bounded by one cheap pass (TailSum), and the cut is taken if every comparison with
// top_p of the total comes out the same at both ends of the bounds. False leaves it to the
// exact path (the cut lies beyond the candidates, or too close to call).
template <class T>
bool RowSampler<T>::bounded_top_p(const T* z, Kept& kept) {
  const auto& c = *candidates_;
  ws_.ranked.assign(c.begin(), c.end());
  std::uint64_t at_bound = 0;
  for (const auto& x : c) {
    if (x.z == c.back().z) at_bound += weight_of(x.z, max_, s_.inv_tf);
  }
  // Fewer candidates than asked for: every finite token is listed, the total is exact.
  MassBounds tail;
  if (c.size() == want_) {
    const std::optional<MassBounds> bounds = tail_bounds(z, c.back().z, at_bound);
    if (!bounds) return false;
    tail = *bounds;
  }
  return decide_top_p(tail, c.size() < want_, kept) == Decision::cut;
}

// Without candidates: a window of the top tokens (z' >= max - t T_f, t = 8 then 16) listed
// exactly and the rest bounded by the tail pass; the cut is taken when the bounds decide it.
template <class T>
bool RowSampler<T>::window_top_p(const T* z, Kept& kept) {
  // The pass scales by inv_t log2 e 2^23 in float: beyond float's range it bounds nothing.
  if (!std::isfinite(static_cast<float>(double(s_.inv_tf) * double(kLog2e) * 8388608.0))) {
    return false;
  }
  for (const double t : {8.0, 16.0}) {
    const T bound = static_cast<T>(double(max_) - t * s_.t_f);
    ws_.window.clear();
    const TailSum rest = ws_.passes.window_tail(z, max_, s_.inv_tf, bound, ws_.window);
    ws_.ranked.clear();
    for (const std::uint32_t i : ws_.window) ws_.ranked.push_back({z[i], i});
    std::sort(ws_.ranked.begin(), ws_.ranked.end(), candidate_before<T>);
    const Decision d = decide_top_p(tail_pass_bounds(rest, v_, 0), false, kept);
    if (d == Decision::cut) return true;
    if (d == Decision::close) return false;
  }
  return false;
}

// Walks ws_.ranked (exact masses) against top_p of a total known within the listed mass plus
// `tail`: the cut when every comparison comes out the same at both ends, `close` when one
// does not, `beyond` when every listed token stays and the tail is not empty (`exact`: it is).
template <class T>
typename RowSampler<T>::Decision RowSampler<T>::decide_top_p(const MassBounds& tail, bool exact,
                                                             Kept& kept) {
  const auto& c = ws_.ranked;
  std::uint64_t listed = 0;
  for (const auto& x : c) listed += weight_of(x.z, max_, s_.inv_tf);
  // The total lies in [listed + low, listed + high]; integers, so round outward.
  const std::uint64_t total_low = listed + std::uint64_t(std::floor(tail.low));
  const std::uint64_t total_high = listed + std::uint64_t(std::ceil(tail.high));
  std::uint64_t before = 0;
  for (std::size_t j = 0; j < c.size(); ++j) {
    if (j > 0 && !below_mass(before, s_.top_p, total_high)) {
      kept = {true, j};
      return Decision::cut;
    }
    if (j > 0 && !below_mass(before, s_.top_p, total_low)) return Decision::close;
    before += weight_of(c[j].z, max_, s_.inv_tf);
  }
  if (exact) {  // every token stays
    kept = {true, c.size()};
    return Decision::cut;
  }
  return Decision::beyond;
}

// Bounds, in units of 2^-40 of the maximum's weight, on the mass of the tokens ranked after the
// listed candidates: one cheap pass over the tokens at or below the last candidate.
template <class T>
std::optional<MassBounds> RowSampler<T>::tail_bounds(const T* z, T bound, std::uint64_t at_bound) {
  // The pass scales by inv_t log2 e 2^23 in float: beyond float's range (1 / T above 3.5e31)
  // it cannot bound anything.
  if (!std::isfinite(static_cast<float>(double(s_.inv_tf) * double(kLog2e) * 8388608.0))) {
    return std::nullopt;
  }
  return tail_pass_bounds(ws_.passes.tail_sum(z, max_, s_.inv_tf, bound), v_, at_bound);
}

template <class T>
void RowSampler<T>::filter_top_p(const T* z, Kept& kept) {
  if (!kept.listed) {
    const bool decided = candidates_ != nullptr ? !candidates_->empty() && bounded_top_p(z, kept)
                                                : window_top_p(z, kept);
    if (decided) return;
  }
  std::uint64_t total = 0;
  if (kept.listed) {
    for (std::size_t j = 0; j < kept.kept; ++j)
      total += weight_of(ws_.ranked[j].z, max_, s_.inv_tf);
  } else {
    MassJob<T> all{max_, s_.inv_tf, s_.inv_tf, T(0), false, nullptr, kBlock};
    total = ws_.passes.mass(z, all);
    for (const double t : {4.0, 8.0, 16.0, 32.0, HUGE_VAL}) {
      const T bound = t == HUGE_VAL ? -std::numeric_limits<T>::infinity()
                                    : static_cast<T>(double(max_) - t * s_.t_f);
      ws_.window.clear();
      ws_.passes.collect(z, bound, ws_.window);
      std::uint64_t mass = 0;
      for (const std::uint32_t i : ws_.window) mass += weight_of(z[i], max_, s_.inv_tf);
      if (!below_mass(mass, s_.top_p, total) || t == HUGE_VAL) break;
    }
    ws_.ranked.clear();
    for (const std::uint32_t i : ws_.window) {
      if (z[i] != -std::numeric_limits<T>::infinity()) ws_.ranked.push_back({z[i], i});
    }
    std::sort(ws_.ranked.begin(), ws_.ranked.end(), candidate_before<T>);
    kept = {true, ws_.ranked.size()};
  }
  kept.kept = top_p_cut(ws_.ranked, kept.kept, max_, s_.inv_tf, s_.top_p, total);
}

// min-p: a cut of the listed tokens, or the tokens whose filter distance reaches log(min_p),
// collected through a slightly lower bound on z' and listed when there are few of them.
template <class T>
void RowSampler<T>::filter_min_p(const T* z, Kept& kept) {
  if (!kept.listed) {
    const T bound = static_cast<T>(double(max_) + (double(s_.floor_l) - 1e-3) * s_.t_f);
    ws_.window.clear();
    ws_.passes.collect(z, bound, ws_.window);
    if (ws_.window.size() > kEnumerateLimit) return;  // drawn by the membership test
    ws_.ranked.clear();
    for (const std::uint32_t i : ws_.window) {
      if (z[i] != -std::numeric_limits<T>::infinity()) ws_.ranked.push_back({z[i], i});
    }
    std::sort(ws_.ranked.begin(), ws_.ranked.end(), candidate_before<T>);
    kept = {true, ws_.ranked.size()};
  }
  kept.kept = min_p_cut(ws_.ranked, kept.kept, max_, s_.inv_tf, s_.floor_l);
}

template <class T>
void RowSampler<T>::draw(const T* z, const Kept& kept, std::size_t r) {
  const double u = row_uniform(job_, r);
  std::uint64_t mass = 0;
  std::int64_t token = -1;
  if (kept.listed) {
    ws_.by_id.clear();
    for (std::size_t j = 0; j < kept.kept; ++j) ws_.by_id.push_back(ws_.ranked[j].id);
    std::sort(ws_.by_id.begin(), ws_.by_id.end());
    for (const std::uint32_t i : ws_.by_id) mass += weight_of(z[i], max_, s_.inv_t);
    const std::uint64_t point = draw_point(u, mass);
    std::uint64_t run = 0;
    for (const std::uint32_t i : ws_.by_id) {
      run += weight_of(z[i], max_, s_.inv_t);
      if (run > point) {
        token = i;
        break;
      }
    }
  } else {
    // Every token, or the min-p members: one vectorized pass for the block sums, then the
    // block that holds the point, token by token.
    ws_.blocks.assign((v_ + kBlock - 1) / kBlock, 0);
    MassJob<T> job{max_, s_.inv_t, s_.inv_tf, s_.floor_l, s_.use_min_p, ws_.blocks.data(), kBlock};
    mass = ws_.passes.mass(z, job);
    const std::uint64_t point = draw_point(u, mass);
    std::uint64_t run = 0;
    std::size_t b = 0;
    while (run + ws_.blocks[b] <= point) run += ws_.blocks[b++];
    for (std::size_t i = b * kBlock; i < std::min(v_, (b + 1) * kBlock); ++i) {
      if (!mass_member(job, z[i])) continue;
      run += weight_of(z[i], max_, s_.inv_t);
      if (run > point) {
        token = static_cast<std::int64_t>(i);
        break;
      }
    }
  }
  report(z, kept, r, token, mass);
}

template <class T>
void RowSampler<T>::report(const T* z, const Kept& kept, std::size_t r, std::int64_t token,
                           std::uint64_t mass) {
  const SamplingOutputs& out = job_.outputs;
  out.tokens[r] = token;
  const double log_mass = std::log(double(mass)) - std::log(kWeightScale);
  const auto logp = [&](std::size_t i) { return double((z[i] - max_) * s_.inv_t) - log_mass; };
  if (!out.logprobs.empty()) out.logprobs[r] = logp(std::size_t(token));
  if (out.top_n == 0) return;
  // The first kept tokens in rank order: the list, or the candidates (kept ones form a
  // prefix of them).
  std::size_t filled = 0;
  const auto put = [&](std::uint32_t id) {
    if (!out.top_tokens.empty()) out.top_tokens[r * out.top_n + filled] = id;
    if (!out.top_logprobs.empty()) out.top_logprobs[r * out.top_n + filled] = logp(id);
    ++filled;
  };
  if (kept.listed) {
    for (std::size_t j = 0; j < kept.kept && filled < out.top_n; ++j) put(ws_.ranked[j].id);
  } else {
    const MassJob<T> job{max_, s_.inv_t, s_.inv_tf, s_.floor_l, s_.use_min_p, nullptr, kBlock};
    for (const auto& c : *candidates_) {
      if (filled == out.top_n || !mass_member(job, c.z)) break;
      put(c.id);
    }
  }
  pad_top(out, r, filled);
}

template <class T>
void sample_impl(std::span<const T> logits, std::size_t rows, std::size_t vocab,
                 const SamplingOptions& options, const SamplingInputs<T>& inputs,
                 const SamplingOutputs& outputs) {
  const SampleJob<T> job =
      make_job("softreg::sample", logits, rows, vocab, options, inputs, outputs);
  std::vector<RowStatus> status(rows, RowStatus::ok);
  const int workers = resolve_threads(options.threads);
  if (std::size_t(workers) > rows && vocab >= kSplitRow) {
    // Fewer rows than threads: each long row's passes use them all, one row after another.
    RowWorkspace<T> ws;
    ws.passes.configure(vocab, workers);
    RowSampler<T> sampler(job, ws);
    for (std::size_t r = 0; r < rows; ++r) status[r] = sampler.run(r);
  } else {
    parallel_for(workers, rows, 1, [&](std::size_t b, std::size_t e) {
      RowWorkspace<T> ws;
      ws.passes.configure(vocab, 1);
      RowSampler<T> sampler(job, ws);
      for (std::size_t r = b; r < e; ++r) status[r] = sampler.run(r);
    });
  }
  throw_first_bad_row(job, status);
}

}  // namespace
}  // namespace detail

void sample(std::span<const float> logits, std::size_t rows, std::size_t vocab,
            const SamplingOptions& options, const SamplingInputs<float>& inputs,
            const SamplingOutputs& outputs) {
  detail::sample_impl(logits, rows, vocab, options, inputs, outputs);
}
void sample(std::span<const double> logits, std::size_t rows, std::size_t vocab,
            const SamplingOptions& options, const SamplingInputs<double>& inputs,
            const SamplingOutputs& outputs) {
  detail::sample_impl(logits, rows, vocab, options, inputs, outputs);
}

double sampling_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t step) {
  return detail::philox_uniform(seed, stream, step);
}

}  // namespace softreg
