// The vectorized softmax family (softmax, log_softmax, softmax_online, logsumexp) against the
// long-double oracle on every Highway target this CPU runs: row sizes on both sides of every
// vector width, cached, online and streamed rows, masked, NaN and infinite rows, misaligned and
// in-place arrays with guards around the output, temperatures (including ones whose shift
// overflows) and non-last axes.
#include <gtest/gtest.h>

#include "simd_sweep.hpp"

namespace {

using namespace simd_sweep;

template <class T>
class SimdSoftmax : public SimdSweep<T> {};
TYPED_TEST_SUITE(SimdSoftmax, Types);

TYPED_TEST(SimdSoftmax, ContiguousRowsMatchTheOracleOnEveryTarget) {
  using T = TypeParam;
  std::size_t salt = 0;
  for (const std::size_t n : kSizes) {
    const std::size_t rows = rows_for(n);
    std::mt19937_64 rng(5000 + n);
    Case<T> uniform{
        "uniform", oracle::random_logits<T>(rows * n, rng, oracle::Dist::kUniform), {rows, n}};
    Case<T> normal{
        "normal", oracle::random_logits<T>(rows * n, rng, oracle::Dist::kNormal), {rows, n}};
    Case<T> special{"special rows", oracle::random_logits<T>(rows * n, rng), {rows, n}};
    make_special<T>(special.x, n, rows, rng);
    for (Case<T>* c : {&uniform, &normal, &special}) {
      for (const double t : kTemperatures) {
        c->temperature = t;
        check_case<T>(*c, salt++);
      }
    }
  }
}

// More than kOnlineRowBytes per row: softmax, log_softmax and logsumexp take the online passes
// (blocks of 2048 entries), rows with a NaN, +inf or nothing but -inf the scalar reference.
TYPED_TEST(SimdSoftmax, LongRowsTakeTheOnlinePathAndMatchTheOracle) {
  using T = TypeParam;
  const std::size_t n = kLong;
  std::mt19937_64 rng(70000);
  Case<T> normal{"normal", oracle::random_logits<T>(2 * n, rng, oracle::Dist::kNormal), {2, n}};
  const std::size_t special_rows = kSanitized ? 3 : 6;
  Case<T> special{
      "special rows", oracle::random_logits<T>(special_rows * n, rng), {special_rows, n}};
  make_special<T>(special.x, n, special_rows, rng);
  std::size_t salt = 0;
  for (Case<T>* c : {&normal, &special}) {
    for (const double t : {1.0, 2.0}) {
      c->temperature = t;
      check_case<T>(*c, salt++, {Layout::misaligned, Layout::in_place});
    }
  }
}

// Outputs above 16 MiB are written with non-temporal stores: softmax rows from the thread's
// scratch row of exponentials, log_softmax rows of 64 KiB or more with the write of each row
// interleaved with the next row's exponentials (a NaN, +inf or fully masked row in between
// drains that pipeline), rows above 256 KiB through the online passes. Native target only (the
// same code on every target; the size makes a sweep slow).
TYPED_TEST(SimdSoftmax, StreamedRowsMatchTheOracle) {
  using T = TypeParam;
  const std::size_t scale = sizeof(double) / sizeof(T);  // the same bytes for float and double
  static_assert(20000 * sizeof(float) >= softreg::detail::kPipelineRowBytes);
  std::mt19937_64 rng(16000);
  std::size_t salt = 700;
  for (const auto& [rows, n] : {std::pair<std::size_t, std::size_t>{1100 * scale, 2049},
                                std::pair<std::size_t, std::size_t>{110 * scale, 20000},
                                std::pair<std::size_t, std::size_t>{32 * scale, 70000}}) {
    ASSERT_GT(rows * n * sizeof(T), softreg::detail::kStreamBytes);
    Case<T> c{"streamed", oracle::random_logits<T>(rows * n, rng), {rows, n}};
    make_special<T>(c.x, n, 16, rng);  // rows 0-15 special, the rest plain
    for (const double t : {1.0, 2.0}) {
      if (kSanitized && t != 1.0) continue;
      c.temperature = t;
      SCOPED_TRACE(testing::Message() << "shape " << oracle::to_shape(c.dims).str() << " T " << t);
      const auto ref = oracle::evaluate<T>(std::span<const T>(c.x), c.dims, c.axis,
                                           oracle::effective_temperature<T>(t));
      for (const Fn f : {Fn::softmax, Fn::log_softmax}) {
        run_and_check<T>(f, c, ref, Layout::misaligned, salt++);
        run_and_check<T>(f, c, ref, Layout::in_place, salt++);
      }
    }
  }
}

// Logits near the ends of the range with temperatures so large that the shift x - max
// overflows although (x - max) / T does not (those rows go to the scalar reference), and ones
// that make (x - max) / T moderate again.
TYPED_TEST(SimdSoftmax, ExtremeLogitsWithHugeTemperatures) {
  using T = TypeParam;
  constexpr bool kFloat = std::is_same_v<T, float>;
  const double big = kFloat ? 3e38 : 1e308;
  const double temps[] = {kFloat ? 1e5 : 1e30, kFloat ? 1e37 : 1e307, 1.0, 0.5};
  std::mt19937_64 rng(1308);
  std::uniform_real_distribution<double> spread(-1.0, 1.0);
  std::size_t salt = 0;
  for (const std::size_t n : {1UL, 2UL, 3UL, 5UL, 8UL, 17UL, 33UL, 100UL, 1000UL}) {
    const std::size_t rows = 3;
    Case<T> c{"extreme", std::vector<T>(rows * n), {rows, n}};
    for (T& v : c.x) v = static_cast<T>(big * spread(rng));
    c.x[0] = static_cast<T>(big);  // row 0 spans the whole range
    if (n > 1) c.x[1] = static_cast<T>(-big);
    for (const double t : temps) {
      c.temperature = t;
      check_case<T>(c, salt++, {Layout::misaligned});
    }
  }
}

// Non-last axes: shapes {3, n, inner} along axis 1, in column blocks of two vectors with the
// leftover columns going to the scalar reference. The first slice holds a NaN column, a fully
// masked column, a +inf entry and partly masked columns.
TYPED_TEST(SimdSoftmax, NonLastAxisMatchesTheOracleOnEveryTarget) {
  using T = TypeParam;
  std::size_t salt = 0;
  // n >= 64 with rows of 256 bytes or more take ranges of whole row segments (wide_range):
  // 70 entries are one range ending in a partial vector, 1100 floats two ranges.
  const auto inners = [](std::size_t n) {
    std::vector<std::size_t> v{1, 2, 3, 7, 8, 9, 16, 17, 33, 40};
    if (n >= softreg::detail::kWideRowsFrom) v.push_back(70);
    if (n == softreg::detail::kWideRowsFrom && !kSanitized) v.push_back(1100);
    return v;
  };
  for (const std::size_t n : {1UL, 5UL, 64UL, 300UL}) {
    for (const std::size_t inner : inners(n)) {
      std::mt19937_64 rng(100 * n + inner);
      Case<T> c{"strided",
                oracle::random_logits<T>(3 * n * inner, rng, oracle::Dist::kNormal),
                {3, n, inner},
                1};
      auto at = [&](std::size_t slice, std::size_t k, std::size_t j) -> T& {
        return c.x[(slice * n + k) * inner + j];
      };
      at(0, n / 2, 0) = kNan<T>;
      if (inner > 1) {
        for (std::size_t k = 0; k < n; ++k) at(0, k, 1) = -kInf<T>;
      }
      if (inner > 2) at(0, 0, 2) = kInf<T>;
      for (std::size_t j = 3; j < inner; j += 5) {
        for (std::size_t k = j % 2; k < n; k += 3) at(0, k, j) = -kInf<T>;
      }
      for (std::size_t k = 1; k < n; k += 4) at(1, k, inner - 1) = -kInf<T>;
      for (const double t : kTemperatures) {
        c.temperature = t;
        check_case<T>(c, salt++, {Layout::misaligned, Layout::in_place});
      }
    }
  }
}

}  // namespace
