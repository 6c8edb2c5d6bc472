// Shapes of contiguous row-major N-D arrays and their view along one axis.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>

namespace softreg {

/// The dimensions of a contiguous row-major array, at most kMaxDims of them. Cheap to copy,
/// never allocates. A shape with zero dimensions is a scalar (one element).
class Shape {
 public:
  static constexpr std::size_t kMaxDims = 8;

  Shape() = default;
  /// Throws InvalidArgument if more than kMaxDims dimensions are given.
  Shape(std::initializer_list<std::size_t> dims);
  explicit Shape(std::span<const std::size_t> dims);

  std::size_t ndim() const { return ndim_; }
  std::size_t operator[](std::size_t i) const { return dims_[i]; }
  std::span<const std::size_t> dims() const { return {dims_.data(), ndim_}; }
  /// Product of the dimensions (1 for a scalar, 0 if any dimension is 0).
  std::size_t numel() const;
  /// "(2, 3, 4)".
  std::string str() const;

 private:
  std::array<std::size_t, kMaxDims> dims_{};
  std::size_t ndim_ = 0;
};

/// A contiguous array seen along one axis as `outer` x `n` x `inner`: element (o, k, i) is at
/// offset (o * n + k) * inner + i. A "row" is the n elements of one (o, i) pair, spaced
/// `inner` apart; rows are numbered o * inner + i. For the last axis inner == 1.
struct AxisLayout {
  std::size_t outer = 1;
  std::size_t n = 0;
  std::size_t inner = 1;

  std::size_t size() const { return outer * n * inner; }
  std::size_t rows() const { return outer * inner; }
  /// Offset of element 0 of row r.
  std::size_t row_start(std::size_t r) const { return (r / inner) * n * inner + r % inner; }
};

/// The layout of `shape` along `axis` (negative counts from the end, as in NumPy).
/// Throws InvalidArgument naming `caller` if the shape is a scalar or axis is out of
/// [-ndim, ndim).
AxisLayout axis_layout(const Shape& shape, int axis, const char* caller);

}  // namespace softreg
