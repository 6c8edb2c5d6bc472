// Decimal number parsing for the text readers: std::from_chars plus the cases it leaves out.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace softreg::detail {

enum class NumberStatus { ok, not_a_number, out_of_range };

struct NumberResult {
  const char* end;  // one past the last character used
  NumberStatus status;
};

/// Clinger's fast path for the numbers datasets are full of ("-3.456789", "0.25", "1e-3"):
/// when the decimal mantissa and the power of ten are both exact in T, one multiplication or
/// division is the correctly rounded result, the same value from_chars gives. Returns the end
/// of the number, or nullptr to leave anything else (many digits, large exponents, inf, nan,
/// a dangling "1e") to from_chars. Measured: the CSV reader spent 55% of its time in
/// libstdc++'s from_chars before this.
template <class T>
[[gnu::always_inline]] inline const char* parse_short_decimal(const char* p, const char* end,
                                                              T& out) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  constexpr bool is_float = std::is_same_v<T, float>;
  // Integers up to 2^24 (float) or 2^53 (double), and powers of ten up to 10^10 or 10^22, are
  // exact.
  constexpr std::uint64_t kMaxMantissa = is_float ? std::uint64_t{1} << 24 : std::uint64_t{1} << 53;
  constexpr int kMaxPow = is_float ? 10 : 22;
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const auto digit = [](char c) { return static_cast<unsigned>(c - '0') < 10; };
  const char* s = p;
  const bool negative = s != end && *s == '-';
  if (negative) ++s;
  std::uint64_t m = 0;
  const char* int_start = s;
  while (s != end && digit(*s)) m = m * 10 + static_cast<unsigned>(*s++ - '0');
  std::ptrdiff_t n_digits = s - int_start;
  int exp10 = 0;
  if (s != end && *s == '.') {
    const char* frac_start = ++s;
    while (s != end && digit(*s)) m = m * 10 + static_cast<unsigned>(*s++ - '0');
    n_digits += s - frac_start;
    exp10 = -static_cast<int>(s - frac_start);
  }
  // 19 digits always fit in 64 bits; longer mantissas may have wrapped.
  if (n_digits == 0 || n_digits > 19 || m > kMaxMantissa) return nullptr;
  if (s != end && (*s == 'e' || *s == 'E')) {
    const char* t = s + 1;
    const bool exp_negative = t != end && *t == '-';
    if (t != end && (*t == '-' || *t == '+')) ++t;
    if (t == end || !digit(*t)) return nullptr;
    int e = 0;
    while (t != end && digit(*t)) {
      if (e < 1000) e = e * 10 + (*t - '0');
      ++t;
    }
    exp10 += exp_negative ? -e : e;
    s = t;
  }
  if (exp10 < -kMaxPow || exp10 > kMaxPow) return nullptr;
  // Through int64: m fits, and the signed conversion is one instruction, the unsigned one a
  // branch.
  T v = static_cast<T>(static_cast<std::int64_t>(m));
  if (exp10 < 0) {
    v /= static_cast<T>(kPow10[-exp10]);
  } else if (exp10 > 0) {
    v *= static_cast<T>(kPow10[exp10]);
  }
  out = negative ? -v : v;
  return s;
}

/// Parses the longest decimal number at the start of [p, end) into `out`. Beyond from_chars it
/// accepts a leading '+' and turns underflow into the nearest representable value (0 or a
/// denormal) rather than an error: 1e-50 in a float dataset is 0, not bad input. Overflow is
/// out_of_range. NaN and inf parse as ok; callers decide whether they are allowed.
template <class T>
NumberResult parse_number(const char* p, const char* end, T& out) {
  const char* start = p;
  if (p != end && *p == '+' && end - p > 1 && (p[1] == '.' || (p[1] >= '0' && p[1] <= '9'))) ++p;
  if (const char* fast = parse_short_decimal(p, end, out)) return {fast, NumberStatus::ok};
  const auto [ptr, ec] = std::from_chars(p, end, out);
  if (ec == std::errc::invalid_argument) return {start, NumberStatus::not_a_number};
  if (ec == std::errc::result_out_of_range) {
    long double wide = 0;
    const auto [wptr, wec] = std::from_chars(p, ptr, wide);
    bool underflow = false;
    if (wec == std::errc{}) {
      underflow = std::fabs(wide) < 1.0L;
    } else {
      // Beyond long double too: the exponent's sign, or a mantissa below 1, tells the direction.
      const std::string_view tok(p, static_cast<std::size_t>(ptr - p));
      const auto e = tok.find_first_of("eE");
      const std::string_view mant = tok.substr(tok[0] == '-' ? 1 : 0);
      underflow = e != std::string_view::npos ? tok.size() > e + 1 && tok[e + 1] == '-'
                                              : mant[0] == '0' || mant[0] == '.';
    }
    if (!underflow) return {ptr, NumberStatus::out_of_range};
    out = static_cast<T>(wec == std::errc{} ? wide : 0.0L);
    if (*p == '-') out = -std::fabs(out);
  }
  return {ptr, NumberStatus::ok};
}

}  // namespace softreg::detail
