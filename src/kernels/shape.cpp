// Shape bookkeeping: construction, printing and the outer x n x inner view along an axis.
#include "softreg/shape.hpp"

#include <string>

#include "softreg/error.hpp"

namespace softreg {

Shape::Shape(std::initializer_list<std::size_t> dims)
    : Shape(std::span<const std::size_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const std::size_t> dims) {
  if (dims.size() > kMaxDims) {
    throw InvalidArgument("softreg::Shape: " + std::to_string(dims.size()) +
                          " dimensions given, at most " + std::to_string(kMaxDims) +
                          " are supported");
  }
  for (std::size_t i = 0; i < dims.size(); ++i) dims_[i] = dims[i];
  ndim_ = dims.size();
}

std::size_t Shape::numel() const {
  std::size_t n = 1;
  for (std::size_t i = 0; i < ndim_; ++i) n *= dims_[i];
  return n;
}

std::string Shape::str() const {
  std::string s = "(";
  for (std::size_t i = 0; i < ndim_; ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(dims_[i]);
  }
  if (ndim_ == 1) s += ",";
  return s + ")";
}

AxisLayout axis_layout(const Shape& shape, int axis, const char* caller) {
  const int ndim = static_cast<int>(shape.ndim());
  if (ndim == 0) {
    throw InvalidArgument(std::string(caller) +
                          ": the shape has no dimensions; an axis needs at least one");
  }
  if (axis < -ndim || axis >= ndim) {
    throw InvalidArgument(std::string(caller) + ": axis " + std::to_string(axis) +
                          " is out of range for shape " + shape.str() + " (expected -" +
                          std::to_string(ndim) + " <= axis < " + std::to_string(ndim) + ")");
  }
  const auto a = static_cast<std::size_t>(axis < 0 ? axis + ndim : axis);
  AxisLayout layout;
  for (std::size_t i = 0; i < a; ++i) layout.outer *= shape[i];
  layout.n = shape[a];
  for (std::size_t i = a + 1; i < shape.ndim(); ++i) layout.inner *= shape[i];
  return layout;
}

}  // namespace softreg
