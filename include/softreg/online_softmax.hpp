// The online (single-pass) softmax normalizer: a running maximum with a rescaled sum, and the
// merge of partial (max, sum) pairs so one row can be split across workers or chunks.
#pragma once

#include <cstddef>
#include <span>

namespace softreg {

/// Accumulates, over the entries x_j seen so far, m = max x_j and s = sum exp((x_j - m) / T),
/// rescaling s whenever m grows (s <- s * exp((m_old - m_new) / T)). Two normalizers that saw
/// disjoint pieces of a row merge into the normalizer of the whole row, in any order, up to
/// rounding. State is kept in double (with a compensation term for the sum) for float and
/// double inputs alike.
///
/// Edge cases follow docs/NUMERICS.md: a NaN entry makes logsumexp() and normalize() NaN;
/// +inf entries take all the mass (s counts them); nothing seen, or only -inf seen, gives
/// m = -inf, s = 0, logsumexp() = -inf and normalize() writes zeros.
///
/// Error: logsumexp() is within 4 eps_f64 (1 + |r|) of the exact value for any split into
/// pieces, so a float row normalized with it meets the softmax() bound of softmax.hpp.
class OnlineSoftmax {
 public:
  /// T > 0 and finite; anything else throws InvalidArgument (T == 0 has no normalizer: use
  /// softmax() with temperature 0 for the argmax).
  explicit OnlineSoftmax(double temperature = 1.0);

  /// Folds the entries of x into the state; one read of x, no allocation.
  void update(std::span<const float> x);
  void update(std::span<const double> x);
  /// Folds one entry.
  void update(double x);

  /// Folds in another normalizer's state, as if its entries had been seen here. Throws
  /// InvalidArgument if the temperatures differ.
  void merge(const OnlineSoftmax& other);

  /// Largest entry seen (before division by T); -inf if none; NaN entries are ignored here.
  double max() const { return max_; }
  /// sum exp((x_j - max) / T); for max == +inf, the number of +inf entries.
  double sum() const { return sum_ + comp_; }
  /// Whether a NaN entry was seen.
  bool has_nan() const { return nan_; }
  double temperature() const { return temperature_; }

  /// log sum exp(x_j / T) over everything seen.
  double logsumexp() const;

  /// exp((x - max) / T) / sum for one entry x of the row: its softmax probability once every
  /// entry has been folded in. NaN if a NaN was seen or x is NaN; 0 if only -inf was seen; for
  /// max == +inf, 1 / count on +inf entries and 0 elsewhere.
  double probability(double x) const;

  /// out_j = exp((x_j - max) / T) / sum for a piece x of the row (any piece, any order, after
  /// every piece has been folded in). out may be x (in place); sizes must match.
  void normalize(std::span<float> out, std::span<const float> x) const;
  void normalize(std::span<double> out, std::span<const double> x) const;

 private:
  double temperature_;
  double max_;
  double sum_ = 0.0;
  double comp_ = 0.0;  // Neumaier compensation of sum_
  bool nan_ = false;
};

}  // namespace softreg
