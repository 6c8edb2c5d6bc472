// Shared pieces of the per-target sweeps (test_simd_softmax.cpp, test_simd_cross_entropy.cpp,
// test_simd_short_rows.cpp): sizes around every vector width, special rows, layouts with guards
// around the output, and the check of one case against the long-double oracle on every target.
#pragma once

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "ce_oracle.hpp"
#include "oracle.hpp"
#include "softreg/loss.hpp"
#include "softreg/online_softmax.hpp"
#include "softreg/softmax.hpp"
#include "softreg/threads.hpp"
#include "targets.hpp"

namespace simd_sweep {

using oracle::Real;
using simd_targets::kSanitized;
using softreg::Reduction;

// Both sides of 1, 2 and 4 vectors for every width from 1 to 16 lanes, longer cached rows, and
// (kLong) a row of more than kOnlineRowBytes for float and double, which takes the online path.
constexpr std::size_t kSizes[] = {1,  2,  3,  4,  5,  7,   8,    9,    15,   16,   17,  31,
                                  32, 33, 63, 64, 65, 100, 1000, 2047, 2048, 2049, 4097};
constexpr std::size_t kLong = 70000;
static_assert(kLong * sizeof(float) > softreg::detail::kOnlineRowBytes);

constexpr double kTemperatures[] = {1.0, 0.5, 2.0};

template <class T>
constexpr T kSentinel = T(777);
constexpr std::size_t kGuard = 16;

template <class T>
constexpr T kInf = std::numeric_limits<T>::infinity();
template <class T>
constexpr T kNan = std::numeric_limits<T>::quiet_NaN();

/// Rows short enough for the register path come in batches of 16 pairs of rows: use more than
/// 16 of them so that batches and pairs both end part-way.
inline std::size_t rows_for(std::size_t n) {
  if (n <= 100) return 19;
  if (n <= 4097) return 5;
  return 2;
}

/// Row r of a "special" array: r % 8 picks plain, about a quarter masked (-inf), a NaN, one or
/// two +inf, fully masked, all masked but one, plain, and a tie of two maxima.
template <class T>
void make_special(std::vector<T>& x, std::size_t n, std::size_t rows, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::size_t> pick(0, n - 1);
  for (std::size_t r = 0; r < rows; ++r) {
    T* row = x.data() + r * n;
    switch (r % 8) {
      case 1:
        for (std::size_t k = 0; k < n; k += 4) row[(k + r) % n] = -kInf<T>;
        if (n > 1) row[pick(rng)] = T(3);  // keep something finite
        break;
      case 2:
        row[pick(rng)] = kNan<T>;
        break;
      case 3:
        row[pick(rng)] = kInf<T>;
        row[pick(rng)] = kInf<T>;
        break;
      case 4:
        std::fill(row, row + n, -kInf<T>);
        break;
      case 5:
        std::fill(row, row + n, -kInf<T>);
        row[pick(rng)] = T(-4);
        break;
      case 7: {
        const std::size_t a = pick(rng);
        const std::size_t b = pick(rng);
        row[a] = T(60);
        row[b] = T(60);
        break;
      }
      default:
        break;
    }
  }
}

/// An input array with its shape, axis and temperature.
template <class T>
struct Case {
  std::string name;
  std::vector<T> x;
  std::vector<std::size_t> dims;
  int axis = -1;
  double temperature = 1.0;
};

/// How the arrays are laid out in memory for one run.
enum class Layout { aligned, misaligned, in_place };

inline const char* layout_name(Layout l) {
  switch (l) {
    case Layout::aligned:
      return "aligned";
    case Layout::misaligned:
      return "misaligned";
    default:
      return "in place";
  }
}

template <class T>
testing::AssertionResult guards_intact(const std::vector<T>& buf, std::size_t off,
                                       std::size_t size) {
  for (std::size_t i = 0; i < buf.size(); ++i) {
    if (i >= off && i < off + size) continue;
    if (std::memcmp(&buf[i], &kSentinel<T>, sizeof(T)) != 0) {
      return testing::AssertionFailure()
             << "element " << static_cast<long>(i) - static_cast<long>(off)
             << " relative to the output was written: " << buf[i];
    }
  }
  return testing::AssertionSuccess();
}

enum class Fn { softmax, log_softmax, online, logsumexp };

inline const char* fn_name(Fn f) {
  switch (f) {
    case Fn::softmax:
      return "softmax";
    case Fn::log_softmax:
      return "log_softmax";
    case Fn::online:
      return "softmax_online";
    default:
      return "logsumexp";
  }
}

template <class T>
void call(Fn f, std::span<T> out, std::span<const T> x, const softreg::Shape& shape, int axis,
          double t) {
  switch (f) {
    case Fn::softmax:
      softreg::softmax(out, x, shape, axis, t);
      break;
    case Fn::log_softmax:
      softreg::log_softmax(out, x, shape, axis, t);
      break;
    case Fn::online:
      softreg::softmax_online(out, x, shape, axis, t);
      break;
    case Fn::logsumexp:
      softreg::logsumexp(out, x, shape, axis);
      break;
  }
}

/// Runs f on the case in the given layout and checks it against the reference and the guards.
template <class T>
void run_and_check(Fn f, const Case<T>& c, const oracle::Reference& ref, Layout layout,
                   std::size_t salt) {
  SCOPED_TRACE(testing::Message() << fn_name(f) << ", " << layout_name(layout));
  const softreg::Shape shape = oracle::to_shape(c.dims);
  const std::size_t size = c.x.size();
  const std::size_t out_size = f == Fn::logsumexp ? oracle::layout(c.dims, c.axis).rows() : size;
  const std::size_t x_off = layout == Layout::aligned ? 0 : 1 + salt % 3;
  const std::size_t out_off = layout == Layout::aligned ? 0 : 1 + (salt + 1) % 3;
  std::vector<T> out_buf(out_size + 2 * kGuard, kSentinel<T>);
  std::vector<T> x_buf;
  std::span<T> out;
  if (layout == Layout::in_place) {
    std::copy(c.x.begin(), c.x.end(),
              out_buf.begin() + static_cast<std::ptrdiff_t>(kGuard + x_off));
    out = std::span<T>(out_buf.data() + kGuard + x_off, size);
    call<T>(f, out, std::span<const T>(out), shape, c.axis, c.temperature);
  } else {
    x_buf.assign(size + 2 * kGuard, T(0));
    std::copy(c.x.begin(), c.x.end(), x_buf.begin() + static_cast<std::ptrdiff_t>(x_off));
    out = std::span<T>(out_buf.data() + kGuard + out_off, out_size);
    call<T>(f, out, std::span<const T>(x_buf.data() + x_off, size), shape, c.axis, c.temperature);
    EXPECT_EQ(std::memcmp(x_buf.data() + x_off, c.x.data(), size * sizeof(T)), 0)
        << "the input was modified";
  }
  const std::size_t off = kGuard + (layout == Layout::in_place ? x_off : out_off);
  EXPECT_TRUE(guards_intact(out_buf, off, out_size));
  const std::span<const T> got(out);
  switch (f) {
    case Fn::softmax:
    case Fn::online:
      EXPECT_TRUE(oracle::softmax_ok<T>(got, ref));
      break;
    case Fn::log_softmax:
      EXPECT_TRUE(oracle::log_softmax_ok<T>(got, ref));
      break;
    case Fn::logsumexp:
      EXPECT_TRUE(oracle::logsumexp_ok<T>(got, ref));
      break;
  }
}

/// Every function in every layout for one case, on every target. The reference is computed once.
template <class T>
void check_case(const Case<T>& c, std::size_t salt,
                std::initializer_list<Layout> layouts = {Layout::aligned, Layout::misaligned,
                                                         Layout::in_place}) {
  SCOPED_TRACE(testing::Message() << c.name << ", shape " << oracle::to_shape(c.dims).str()
                                  << " axis " << c.axis << " T " << c.temperature);
  const auto ref = oracle::evaluate<T>(std::span<const T>(c.x), c.dims, c.axis,
                                       oracle::effective_temperature<T>(c.temperature));
  simd_targets::for_each([&](std::int64_t) {
    for (const Layout layout : layouts) {
      for (const Fn f : {Fn::softmax, Fn::log_softmax, Fn::online}) {
        run_and_check<T>(f, c, ref, layout, salt);
      }
      // logsumexp takes no temperature; its output has another shape, so never in place.
      if (c.temperature == 1.0 && layout != Layout::in_place) {
        run_and_check<T>(Fn::logsumexp, c, ref, layout, salt);
      }
    }
  });
}

/// Two arrays that end exactly where an inaccessible page begins.
class FencedArrays {
 public:
  explicit FencedArrays(std::size_t bytes) {
    page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    span_ = (bytes + page_ - 1) / page_ * page_;
    base_ = static_cast<char*>(mmap(nullptr, 2 * (span_ + page_), PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      return;
    }
    fenced_ = mprotect(base_ + span_, page_, PROT_NONE) == 0 &&
              mprotect(base_ + 2 * span_ + page_, page_, PROT_NONE) == 0;
  }
  ~FencedArrays() {
    if (base_ != nullptr) munmap(base_, 2 * (span_ + page_));
  }
  FencedArrays(const FencedArrays&) = delete;
  FencedArrays& operator=(const FencedArrays&) = delete;
  bool ok() const { return base_ != nullptr && fenced_; }
  /// Array i (0 or 1) of `count` elements ending at its fence.
  template <class T>
  T* array(int i, std::size_t count) const {
    char* end = base_ + span_ + static_cast<std::size_t>(i) * (span_ + page_);
    return reinterpret_cast<T*>(end - count * sizeof(T));
  }

 private:
  std::size_t page_ = 0, span_ = 0;
  char* base_ = nullptr;
  bool fenced_ = false;
};

template <class T>
class SimdSweep : public testing::Test {};
using Types = testing::Types<float, double>;

}  // namespace simd_sweep
