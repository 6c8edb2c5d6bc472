// Argument validation shared by the layers: sizes against shapes, aliasing, temperatures, and
// the number format of messages.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <span>
#include <string>

#include "softreg/error.hpp"
#include "softreg/shape.hpp"

namespace softreg::detail {

/// A double printed with enough digits to tell apart the values users pass (1e-50, not 0.000000).
inline std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

/// Throws InvalidArgument "<caller>: <what>".
[[noreturn]] inline void invalid_argument(const char* caller, const std::string& what) {
  throw InvalidArgument(std::string(caller) + ": " + what);
}

/// Throws InvalidArgument "<caller>: <what> has <size> elements, expected <expected>" unless
/// they are equal (or, with empty_ok, size is 0: an optional array not given).
inline void check_count(const char* caller, const char* what, std::size_t size,
                        std::size_t expected, bool empty_ok = false) {
  if (size != expected && !(empty_ok && size == 0)) {
    invalid_argument(caller, std::string(what) + " has " + std::to_string(size) +
                                 " elements, expected " + std::to_string(expected));
  }
}

/// Throws InvalidArgument unless `size` == `expected`.
inline void check_size(const char* caller, const char* what, std::size_t size, std::size_t expected,
                       const Shape& shape) {
  if (size != expected) {
    throw InvalidArgument(std::string(caller) + ": " + what + " has " + std::to_string(size) +
                          " elements, expected " + std::to_string(expected) + " for shape " +
                          shape.str());
  }
}

/// Throws InvalidArgument if two arrays overlap without being the same array.
template <class A, class B>
void check_alias(const char* caller, const char* out_name, std::span<A> out, const char* in_name,
                 std::span<B> in) {
  if (out.empty() || in.empty()) return;
  const auto* o0 = reinterpret_cast<const char*>(out.data());
  const auto* o1 = o0 + out.size_bytes();
  const auto* i0 = reinterpret_cast<const char*>(in.data());
  const auto* i1 = i0 + in.size_bytes();
  const bool overlap = o0 < i1 && i0 < o1;
  if (overlap && !(o0 == i0 && o1 == i1)) {
    throw InvalidArgument(std::string(caller) + ": " + out_name + " partially overlaps " + in_name +
                          "; pass the same array for in-place use or disjoint arrays");
  }
}

/// Validates a temperature and returns it in the kernel's type T. T >= 0 and finite; for float
/// a positive temperature must not round to 0.
template <class T>
T checked_temperature(const char* caller, double temperature) {
  if (!(temperature >= 0.0) || temperature == std::numeric_limits<double>::infinity()) {
    throw InvalidArgument(std::string(caller) + ": temperature must be finite and >= 0, got " +
                          format_number(temperature));
  }
  const T t = static_cast<T>(temperature);
  if (std::isinf(t)) {
    throw InvalidArgument(std::string(caller) + ": temperature " + format_number(temperature) +
                          " overflows float32; use float64");
  }
  if (temperature > 0.0 && t == T(0)) {
    throw InvalidArgument(std::string(caller) + ": temperature " + format_number(temperature) +
                          " rounds to 0 in float32; use float64 or T = 0 for the argmax");
  }
  return t;
}

}  // namespace softreg::detail
