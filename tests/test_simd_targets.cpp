// The vectorized softmax-family and cross-entropy kernels against the long-double oracles, on
// every Highway target this CPU runs: row sizes on both sides of every vector width and of the
// register, cached and online paths, masked, NaN and infinite rows, misaligned and in-place
// arrays with guards around the output, temperatures (including ones whose shift overflows),
// non-last axes, and the fused cross-entropy with weights, ignored rows and every reduction.
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

namespace {

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
std::size_t rows_for(std::size_t n) {
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

const char* layout_name(Layout l) {
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

const char* fn_name(Fn f) {
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

template <class T>
class SimdTargets : public testing::Test {};
using Types = testing::Types<float, double>;
TYPED_TEST_SUITE(SimdTargets, Types);

TYPED_TEST(SimdTargets, ContiguousRowsMatchTheOracleOnEveryTarget) {
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
TYPED_TEST(SimdTargets, LongRowsTakeTheOnlinePathAndMatchTheOracle) {
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
TYPED_TEST(SimdTargets, StreamedRowsMatchTheOracle) {
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
TYPED_TEST(SimdTargets, ExtremeLogitsWithHugeTemperatures) {
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
TYPED_TEST(SimdTargets, NonLastAxisMatchesTheOracleOnEveryTarget) {
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

// ---- cross-entropy

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

// Short rows write their partial vectors whole when the memory past the row belongs to the
// thread's own next rows (masked stores are slow); rows whose vector would reach past the
// thread's range keep the masked accesses. Inputs and outputs end at an inaccessible page, so
// any access past them crashes, on every target, in and out of place, on 1 thread and on 2
// (enough rows that the softmax kernels split them, so thread 0's range ends inside the array;
// cross-entropy also splits into chunks of 64+ rows); the gradient is checked against the
// oracle's probabilities.
TYPED_TEST(SimdTargets, ShortRowsNeverReachPastTheirArrays) {
  using T = TypeParam;
  struct RestoreThreads {
    int saved = softreg::get_num_threads();
    ~RestoreThreads() { softreg::set_num_threads(saved); }
  } restore;
  for (const std::size_t n : {3u, 5u, 10u, 13u, 17u, 31u}) {
    const std::size_t rows = 22001;  // over two grains of 32768 entries even at n = 3
    std::mt19937_64 rng(3100 + n);
    const std::vector<T> x = oracle::random_logits<T>(rows * n, rng, oracle::Dist::kNormal);
    const std::vector<std::size_t> dims{rows, n};
    const auto ref = oracle::evaluate<T>(std::span<const T>(x), dims, -1, 1.0);
    std::vector<std::int64_t> target(rows);
    for (std::size_t r = 0; r < rows; ++r) target[r] = static_cast<std::int64_t>((r * 7) % n);
    FencedArrays fenced(x.size() * sizeof(T));
    ASSERT_TRUE(fenced.ok());
    T* in = fenced.array<T>(0, x.size());
    T* out = fenced.array<T>(1, x.size());
    const softreg::Shape shape{rows, n};
    const std::span<T> out_span(out, x.size());
    const std::span<const T> in_span(in, x.size());
    SCOPED_TRACE(testing::Message() << "n " << n);
    simd_targets::for_each([&](std::int64_t) {
      for (const int threads : {1, 2}) {
        softreg::set_num_threads(threads);
        for (const bool in_place : {false, true}) {
          std::copy(x.begin(), x.end(), in);
          const std::span<const T> src = in_place ? std::span<const T>(in, x.size()) : in_span;
          const std::span<T> dst = in_place ? std::span<T>(in, x.size()) : out_span;
          softreg::softmax(dst, src, shape);
          EXPECT_TRUE(oracle::softmax_ok<T>(std::span<const T>(dst), ref));
          std::copy(x.begin(), x.end(), in);
          softreg::log_softmax(dst, src, shape);
          EXPECT_TRUE(oracle::log_softmax_ok<T>(std::span<const T>(dst), ref));
          std::copy(x.begin(), x.end(), in);
          const double loss = softreg::cross_entropy_with_grad(
              dst, src, shape, std::span<const std::int64_t>(target));
          const double plain = softreg::cross_entropy(std::span<const T>(x), shape,
                                                      std::span<const std::int64_t>(target));
          EXPECT_NEAR(loss, plain, 1e-5 * (1.0 + std::fabs(plain)));
          // mean over the rows: (p - onehot) / rows, entry by entry
          std::size_t bad = 0;
          for (std::size_t i = 0; i < x.size(); ++i) {
            const Real onehot = static_cast<std::int64_t>(i % n) == target[i / n] ? 1 : 0;
            const Real want = (ref.p[i] - onehot) / static_cast<Real>(rows);
            const Real tol = 16 * std::numeric_limits<T>::epsilon() / static_cast<Real>(rows);
            if (std::fabs(static_cast<Real>(dst[i]) - want) > tol && bad++ < 3) {
              ADD_FAILURE() << "gradient entry " << i << ": " << dst[i] << ", want " << want;
            }
          }
        }
      }
    });
  }
}

/// One cross-entropy problem with index targets and its oracle.
template <class T>
struct CeCase {
  std::string name;
  std::vector<std::size_t> dims;
  std::vector<T> logits;
  std::vector<std::int64_t> target;
  std::vector<T> weights;
  std::int64_t ignore_index = -100;

  softreg::CrossEntropyOptions<T> options(Reduction r) const {
    softreg::CrossEntropyOptions<T> o;
    o.reduction = r;
    o.class_weights = weights;
    o.ignore_index = ignore_index;
    return o;
  }
  ce_oracle::Reference reference() const {
    ce_oracle::Problem pb{dims, -1, ce_oracle::widen<T>(logits), ce_oracle::widen<T>(weights), 0};
    return ce_oracle::reference_index(pb, target, ignore_index);
  }
};

/// with_grad in one layout (reductions cycle through the layouts), then the forward pass: the
/// loss, the row losses and the gradient against the oracle, the forward loss against both.
template <class T>
void check_ce(const CeCase<T>& c, const ce_oracle::Reference& ref, Reduction r, Layout layout,
              std::size_t salt) {
  SCOPED_TRACE(testing::Message() << "reduction "
                                  << (r == Reduction::mean  ? "mean"
                                      : r == Reduction::sum ? "sum"
                                                            : "none")
                                  << ", " << layout_name(layout));
  const softreg::Shape shape = oracle::to_shape(c.dims);
  const std::size_t size = c.logits.size();
  const std::size_t rows = c.target.size();
  const std::size_t x_off = layout == Layout::aligned ? 0 : 1 + salt % 3;
  const std::size_t g_off = layout == Layout::aligned ? 0 : 1 + (salt + 1) % 3;
  std::vector<T> grad_buf(size + 2 * kGuard, kSentinel<T>);
  std::vector<T> row_losses(rows, T(-7));
  double fused;
  std::span<T> grad;
  if (layout == Layout::in_place) {
    std::copy(c.logits.begin(), c.logits.end(),
              grad_buf.begin() + static_cast<std::ptrdiff_t>(kGuard + x_off));
    grad = std::span<T>(grad_buf.data() + kGuard + x_off, size);
    fused = softreg::cross_entropy_with_grad(grad, std::span<const T>(grad), shape,
                                             std::span<const std::int64_t>(c.target), c.options(r),
                                             std::span<T>(row_losses));
  } else {
    std::vector<T> x_buf(size + 2 * kGuard, T(0));
    std::copy(c.logits.begin(), c.logits.end(), x_buf.begin() + static_cast<std::ptrdiff_t>(x_off));
    grad = std::span<T>(grad_buf.data() + kGuard + g_off, size);
    fused = softreg::cross_entropy_with_grad(grad, std::span<const T>(x_buf.data() + x_off, size),
                                             shape, std::span<const std::int64_t>(c.target),
                                             c.options(r), std::span<T>(row_losses));
    EXPECT_EQ(std::memcmp(x_buf.data() + x_off, c.logits.data(), size * sizeof(T)), 0)
        << "the logits were modified";
  }
  EXPECT_TRUE(guards_intact(grad_buf, kGuard + (layout == Layout::in_place ? x_off : g_off), size));
  ce_oracle::expect_loss<T>(fused, ref, r);
  ce_oracle::expect_row_losses<T>(row_losses, ref);
  ce_oracle::expect_grad<T>(std::span<const T>(grad), ref, r);

  std::vector<T> plain_rows(rows, T(-7));
  const double plain =
      softreg::cross_entropy(std::span<const T>(c.logits), shape,
                             std::span<const std::int64_t>(c.target), c.options(r), plain_rows);
  ce_oracle::expect_loss<T>(plain, ref, r);
  ce_oracle::expect_row_losses<T>(plain_rows, ref);
  if (std::isfinite(fused) || std::isfinite(plain)) {
    EXPECT_LE(std::fabs(fused - plain), 2 * ce_oracle::loss_tolerance<T>(ref, r))
        << "cross_entropy " << plain << " vs cross_entropy_with_grad " << fused;
  } else {
    EXPECT_EQ(std::isnan(fused), std::isnan(plain)) << plain << " vs " << fused;
    if (!std::isnan(fused)) {
      EXPECT_EQ(fused, plain);
    }
  }
}

template <class T>
void check_ce_case(const CeCase<T>& c, std::size_t salt) {
  SCOPED_TRACE(testing::Message() << c.name << ", shape " << oracle::to_shape(c.dims).str()
                                  << (c.weights.empty() ? "" : ", weighted"));
  const ce_oracle::Reference ref = c.reference();
  simd_targets::for_each([&](std::int64_t) {
    check_ce<T>(c, ref, Reduction::mean, Layout::aligned, salt);
    check_ce<T>(c, ref, Reduction::sum, Layout::misaligned, salt);
    check_ce<T>(c, ref, Reduction::none, Layout::in_place, salt);
  });
}

/// Random logits (normal, spread 4) and targets; every third row ignored; one row has masked
/// entries other than its target. Weighted: random weights with class 0 weighing 0, which
/// some rows target.
template <class T>
CeCase<T> plain_ce(std::size_t n, std::size_t rows, bool weighted, std::mt19937_64& rng) {
  CeCase<T> c;
  c.name = "plain";
  c.dims = {rows, n};
  c.logits = ce_oracle::random_logits<T>(rows * n, rng);
  c.target = ce_oracle::random_targets(rows, n, rng);
  for (std::size_t r = 1; r < rows; r += 3) c.target[r] = c.ignore_index;
  if (rows > 2 && n > 1) {
    const std::size_t r = 2;
    for (std::size_t k = 0; k < n; k += 3) {
      if (static_cast<std::int64_t>(k) != c.target[r]) c.logits[r * n + k] = -kInf<T>;
    }
  }
  if (weighted) {
    c.weights = ce_oracle::random_weights<T>(n, rng);
    c.weights[0] = T(0);
    for (std::size_t r = 0; r < rows; r += 4) c.target[r] = 0;
  }
  return c;
}

/// Rows the scalar rules decide: a NaN row, a +inf row (target on and off the +inf entry),
/// a fully masked row, a row whose target is masked, and plain rows between them.
template <class T>
CeCase<T> special_ce(std::size_t n, bool weighted, std::mt19937_64& rng) {
  const std::size_t rows = 8;
  CeCase<T> c;
  c.name = "special rows";
  c.dims = {rows, n};
  c.logits = ce_oracle::random_logits<T>(rows * n, rng);
  c.target = ce_oracle::random_targets(rows, n, rng);
  auto row = [&](std::size_t r) { return c.logits.data() + r * n; };
  const auto last = static_cast<std::int64_t>(n - 1);
  row(1)[n / 2] = kNan<T>;  // target last: nonzero weight below
  c.target[1] = last;
  row(2)[0] = kInf<T>;
  c.target[2] = 0;
  row(3)[n - 1] = kInf<T>;
  c.target[3] = 0;  // off the +inf entry when n > 1
  std::fill(row(4), row(4) + n, -kInf<T>);
  c.target[4] = last;
  row(5)[n - 1] = -kInf<T>;
  c.target[5] = last;
  c.target[7] = c.ignore_index;
  std::fill(row(7), row(7) + n, kNan<T>);  // ignored: costs nothing
  if (weighted) {
    c.weights = ce_oracle::random_weights<T>(n, rng);
    c.weights[static_cast<std::size_t>(last)] = T(1.5);
    if (n > 1) c.weights[0] = T(0);
  }
  return c;
}

TYPED_TEST(SimdTargets, CrossEntropyMatchesTheOracleOnEveryTarget) {
  using T = TypeParam;
  std::size_t salt = 0;
  for (const std::size_t n : kSizes) {
    std::mt19937_64 rng(9000 + n);
    for (const bool weighted : {false, true}) {
      check_ce_case<T>(plain_ce<T>(n, rows_for(n), weighted, rng), salt++);
      check_ce_case<T>(special_ce<T>(n, weighted, rng), salt++);
    }
  }
  std::mt19937_64 rng(9070);
  check_ce_case<T>(plain_ce<T>(kLong, 3, true, rng), salt++);
}

// Gradients above 16 MiB are written with non-temporal stores: rows that fit in cache from the
// thread's scratch row, rows above 256 KiB through the online normalizer. Native target only
// (the paths are the same code on every target; the size makes a sweep slow).
TYPED_TEST(SimdTargets, CrossEntropyStreamedGradientsMatchTheOracle) {
  using T = TypeParam;
  const std::size_t scale = sizeof(double) / sizeof(T);  // the same bytes for float and double
  std::mt19937_64 rng(9100);
  std::size_t salt = 500;
  for (const auto& [rows, n] : {std::pair<std::size_t, std::size_t>{1100 * scale, 2049},
                                std::pair<std::size_t, std::size_t>{32 * scale, 70000}}) {
    const CeCase<T> c = plain_ce<T>(n, rows, true, rng);
    SCOPED_TRACE(testing::Message() << "shape " << oracle::to_shape(c.dims).str());
    const ce_oracle::Reference ref = c.reference();
    check_ce<T>(c, ref, Reduction::mean, Layout::aligned, salt++);
    check_ce<T>(c, ref, Reduction::sum, Layout::in_place, salt++);
  }
}

// loss.hpp: "NaN logits make that row's loss and gradient NaN". A class weight of 0 on the
// target does not change that: the scalar rows give NaN, and so must the vectorized ones.
TYPED_TEST(SimdTargets, CrossEntropyNanRowIsNanEvenWithAZeroTargetWeight) {
  using T = TypeParam;
  for (const std::size_t n : {1UL, 2UL, 5UL, 8UL, 17UL, 33UL, 100UL, 1000UL}) {
    std::mt19937_64 rng(4400 + n);
    CeCase<T> c;
    c.name = "NaN row, zero weight";
    c.dims = {2, n};
    c.logits = ce_oracle::random_logits<T>(2 * n, rng);
    c.logits[n + (n - 1) / 2] = kNan<T>;
    c.target = {0, 0};
    c.weights.assign(n, T(1));
    c.weights[0] = T(0);
    SCOPED_TRACE(testing::Message() << "n " << n);
    simd_targets::for_each([&](std::int64_t) {
      std::vector<T> grad(c.logits.size());
      std::vector<T> rows(2);
      softreg::cross_entropy_with_grad(
          std::span<T>(grad), std::span<const T>(c.logits), oracle::to_shape(c.dims),
          std::span<const std::int64_t>(c.target), c.options(Reduction::none), std::span<T>(rows));
      EXPECT_EQ(rows[0], T(0));
      EXPECT_TRUE(std::isnan(rows[1])) << "row loss " << rows[1];
      for (std::size_t k = 0; k < n; ++k) EXPECT_TRUE(std::isnan(grad[n + k])) << k;
      std::vector<T> fwd_rows(2);
      softreg::cross_entropy(std::span<const T>(c.logits), oracle::to_shape(c.dims),
                             std::span<const std::int64_t>(c.target), c.options(Reduction::none),
                             std::span<T>(fwd_rows));
      EXPECT_TRUE(std::isnan(fwd_rows[1])) << "forward row loss " << fwd_rows[1];
    });
  }
}

}  // namespace
