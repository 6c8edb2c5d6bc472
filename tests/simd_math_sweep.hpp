// Shared pieces of the exp / log accuracy tests (test_simd_exp.cpp, test_simd_log.cpp,
// test_simd_math_tails.cpp): ULP at an exact value, the sweep over inputs on every target, and
// the rules of each function. The exact value is computed in double for float results and in
// 80-bit long double for double results; a ULP is the spacing of the result type at the exact
// value (for a result below the smallest normal number, the smallest subnormal).
#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "../src/kernels/softmax_simd.hpp"
#include "softreg/softmax.hpp"
#include "targets.hpp"

namespace simd_math_sweep {

using Real = long double;
using simd_targets::kSanitized;

/// Sweeps are thinned under the sanitizers, which run about ten times slower; odd strides
/// reach every pattern of the low mantissa bits.
constexpr std::uint32_t thin(std::uint32_t stride) {
  return kSanitized ? 8 * stride + 1 : stride;
}
constexpr std::size_t count(std::size_t n) {
  return kSanitized ? n / 8 : n;
}

template <class T>
using Exact = std::conditional_t<std::is_same_v<T, float>, double, long double>;

/// Spacing of T at the exact value v (v may lie outside T's range).
template <class T>
Exact<T> ulp_at(Exact<T> v) {
  using E = Exact<T>;
  v = std::fabs(v);
  constexpr int kDigits = std::numeric_limits<T>::digits;  // 24 or 53
  const E smallest = static_cast<E>(std::numeric_limits<T>::denorm_min());
  if (v < static_cast<E>(std::numeric_limits<T>::min())) return smallest;
  int e = 0;
  (void)std::frexp(v, &e);  // v = m 2^e, m in [0.5, 1)
  return std::ldexp(E(1), e - kDigits);
}

template <class T>
std::string show(T x) {
  std::ostringstream s;
  s.precision(std::numeric_limits<T>::max_digits10);
  s << x;
  if constexpr (std::is_same_v<T, float>) {
    s << " (0x" << std::hex << std::bit_cast<std::uint32_t>(x) << ")";
  } else {
    s << " (0x" << std::hex << std::bit_cast<std::uint64_t>(x) << ")";
  }
  return s.str();
}

/// What one result is worth: a rule violation (wrong special value), or an error in ULP
/// counted toward the normal or the subnormal maximum.
struct Verdict {
  bool ok = true;
  bool measured = false;
  bool subnormal = false;
  double ulp = 0;
};

template <class T>
Verdict measure(T got, Exact<T> exact, Exact<T> ulp) {
  Verdict v;
  if (!std::isfinite(got)) {
    v.ok = false;
    return v;
  }
  v.measured = true;
  v.subnormal = std::fabs(exact) < static_cast<Exact<T>>(std::numeric_limits<T>::min());
  v.ulp = static_cast<double>(std::fabs(static_cast<Exact<T>>(got) - exact) / ulp);
  v.ok = v.ulp <= 1.0;
  return v;
}

/// Per-target statistics of one function.
template <class T>
struct Stats {
  std::string target;
  std::size_t points = 0;
  std::size_t failures = 0;
  double max_normal = 0;
  T worst_normal = 0;
  double max_subnormal = 0;
  T worst_subnormal = 0;
  std::size_t subnormal_points = 0;
  std::string first;

  void add(T x, T got, Exact<T> exact, const Verdict& v) {
    ++points;
    if (v.measured) {
      subnormal_points += v.subnormal ? 1 : 0;
      if (v.subnormal && v.ulp > max_subnormal) {
        max_subnormal = v.ulp;
        worst_subnormal = x;
      } else if (!v.subnormal && v.ulp > max_normal) {
        max_normal = v.ulp;
        worst_normal = x;
      }
    }
    if (!v.ok) {
      if (failures < 8) {
        first += "  x = " + show(x) + ": got " + show(got) + ", exact " +
                 show(static_cast<double>(exact)) +
                 (v.measured ? ", " + std::to_string(v.ulp) + " ulp" : std::string()) + "\n";
      }
      ++failures;
    }
  }
};

/// Runs `kernel` on chunks of inputs for every target, the exact values computed once per
/// chunk; check(x, got, exact) gives each result's verdict.
template <class T, class ExactFn, class CheckFn>
class Sweep {
 public:
  using Kernel = void (*)(T*, const T*, std::size_t);

  Sweep(Kernel kernel, ExactFn exact, CheckFn check)
      : kernel_(kernel), exact_fn_(exact), check_(check) {
    targets_ = simd_targets::all();
    for (const std::int64_t t : targets_) {
      stats_.emplace_back();
      stats_.back().target = simd_targets::name(t);
    }
  }

  void add(T x) {
    pending_.push_back(x);
    if (pending_.size() == kChunk) flush();
  }

  void flush() {
    if (pending_.empty()) return;
    exact_.resize(pending_.size());
    got_.resize(pending_.size());
    ulp_.resize(pending_.size());
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      exact_[i] = exact_fn_(pending_[i]);
      ulp_[i] = ulp_at<T>(exact_[i]);
    }
    simd_targets::TargetGuard guard;
    for (std::size_t t = 0; t < targets_.size(); ++t) {
      simd_targets::force(targets_[t]);
      kernel_(got_.data(), pending_.data(), pending_.size());
      for (std::size_t i = 0; i < pending_.size(); ++i) {
        stats_[t].add(pending_[i], got_[i], exact_[i],
                      check_(pending_[i], got_[i], exact_[i], ulp_[i]));
      }
    }
    pending_.clear();
  }

  /// Asserts the bound and prints the measured maxima.
  void report(const std::string& label) {
    flush();
    for (const Stats<T>& s : stats_) {
      std::string subnormal;
      if (s.subnormal_points > 0) {
        subnormal = ", " + std::to_string(s.max_subnormal) + " ulp (subnormal results, at " +
                    show(s.worst_subnormal) + ")";
      }
      std::printf("[ ULP      ] %-8s %-6s max %.3f ulp (at %s)%s, %zu points\n", label.c_str(),
                  s.target.c_str(), s.max_normal, show(s.worst_normal).c_str(), subnormal.c_str(),
                  s.points);
      testing::Test::RecordProperty(label + "_" + s.target + "_max_ulp",
                                    std::to_string(s.max_normal));
      if (s.max_subnormal > 0) {
        testing::Test::RecordProperty(label + "_" + s.target + "_max_ulp_subnormal",
                                      std::to_string(s.max_subnormal));
      }
      EXPECT_EQ(s.failures, 0u) << label << " on " << s.target << ": " << s.failures << " of "
                                << s.points << " results break the rules, first:\n"
                                << s.first;
      EXPECT_LE(s.max_normal, 1.0) << label << " on " << s.target;
      EXPECT_LE(s.max_subnormal, 1.0) << label << " on " << s.target;
    }
  }

 private:
  static constexpr std::size_t kChunk = 1 << 14;
  Kernel kernel_;
  ExactFn exact_fn_;
  CheckFn check_;
  std::vector<std::int64_t> targets_;
  std::vector<Stats<T>> stats_;
  std::vector<T> pending_;
  std::vector<Exact<T>> exact_;
  std::vector<Exact<T>> ulp_;
  std::vector<T> got_;
};

template <class T, class ExactFn, class CheckFn>
Sweep<T, ExactFn, CheckFn> make_sweep(void (*kernel)(T*, const T*, std::size_t), ExactFn exact,
                                      CheckFn check) {
  return Sweep<T, ExactFn, CheckFn>(kernel, exact, check);
}

inline void exp_f32(float* out, const float* x, std::size_t n) {
  softreg::detail::vector_exp(out, x, n);
}
inline void exp_f64(double* out, const double* x, std::size_t n) {
  softreg::detail::vector_exp(out, x, n);
}
inline void log_f32(float* out, const float* x, std::size_t n) {
  softreg::detail::vector_log(out, x, n);
}
inline void log_f64(double* out, const double* x, std::size_t n) {
  softreg::detail::vector_log(out, x, n);
}

/// exp's rules for type T: NaN stays NaN, 0 below `zero_below`, +inf above `inf_above`, an
/// exact value beyond the largest finite number may come back as +inf (or as that number when
/// it is within 1 ULP), and everything else is within 1 ULP.
template <class T>
Verdict exp_rule(T x, T got, Exact<T> exact, Exact<T> ulp, T zero_below, T inf_above) {
  Verdict v;
  const T inf = std::numeric_limits<T>::infinity();
  if (std::isnan(x)) {
    v.ok = std::isnan(got);
    return v;
  }
  if (x < zero_below) {
    v.ok = got == T(0) && !std::signbit(got);
    return v;
  }
  if (x > inf_above) {
    v.ok = got == inf;
    return v;
  }
  if (exact > static_cast<Exact<T>>(std::numeric_limits<T>::max()) && got == inf) return v;
  return measure<T>(got, exact, ulp);
}

}  // namespace simd_math_sweep
