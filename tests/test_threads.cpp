// The worker count (threads.hpp) and its promise: any thread count gives bitwise-identical
// results, for every kernel that splits its rows over the workers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "oracle.hpp"
#include "softreg/error.hpp"
#include "softreg/loss.hpp"
#include "softreg/softmax.hpp"
#include "softreg/threads.hpp"
#include "thread_guard.hpp"

namespace {

using softreg::Reduction;

using softreg_test::ThreadCountGuard;

/// The default threads.hpp documents: SOFTREG_NUM_THREADS if it holds a positive integer, else
/// every core. Returns 0 when the variable is set to something this check does not interpret.
int documented_default() {
  if (const char* env = std::getenv("SOFTREG_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    // Values beyond a few thousand are not checked: the header does not say what they give.
    if (end != env && *end == '\0' && n > 0 && n <= 1024) return static_cast<int>(n);
    return 0;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

TEST(Threads, SetAndGetTheWorkerCount) {
  ThreadCountGuard guard;
  EXPECT_GE(softreg::get_num_threads(), 1);
  for (const int n : {1, 2, 3, 7, 64}) {
    softreg::set_num_threads(n);
    EXPECT_EQ(softreg::get_num_threads(), n);
  }
  softreg::set_num_threads(0);
  EXPECT_GE(softreg::get_num_threads(), 1);
  if (const int want = documented_default(); want > 0) {
    EXPECT_EQ(softreg::get_num_threads(), want);
  }
}

TEST(Threads, NegativeCountThrowsAndKeepsTheCurrentOne) {
  ThreadCountGuard guard;
  softreg::set_num_threads(3);
  EXPECT_THROW(softreg::set_num_threads(-1), softreg::InvalidArgument);
  EXPECT_THROW(softreg::set_num_threads(-1000), softreg::InvalidArgument);
  EXPECT_EQ(softreg::get_num_threads(), 3);
}

constexpr int kThreadCounts[] = {2, 3, 7};

template <class T>
bool same_bits(std::span<const T> a, std::span<const T> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <class T>
std::size_t first_difference(std::span<const T> a, std::span<const T> b) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return i;
  }
  return a.size();
}

/// Random logits; with `special`, a few rows the scalar rules decide (NaN, +inf, masked)
/// among them, so that the split also crosses rows that leave the vectorized path.
template <class T>
std::vector<T> logits(std::size_t size, std::uint64_t seed, bool special) {
  std::mt19937_64 rng(seed);
  std::vector<T> x = oracle::random_logits<T>(size, rng, oracle::Dist::kNormal);
  if (!special) return x;
  x[size / 3] = std::numeric_limits<T>::quiet_NaN();
  x[size / 2] = std::numeric_limits<T>::infinity();
  for (std::size_t i = 2 * size / 3; i < size; i += 7) x[i] = -std::numeric_limits<T>::infinity();
  return x;
}

/// Runs body(out) at 1 thread and at every count of kThreadCounts; the outputs must match the
/// 1-thread output bit for bit.
template <class T, class Body>
void expect_deterministic(std::size_t out_size, Body body, const char* what) {
  SCOPED_TRACE(what);
  ThreadCountGuard guard;
  softreg::set_num_threads(1);
  std::vector<T> want(out_size);
  body(std::span<T>(want));
  for (const int threads : kThreadCounts) {
    softreg::set_num_threads(threads);
    std::vector<T> got(out_size, T(-3));
    body(std::span<T>(got));
    const std::span<const T> g(got), w(want);
    EXPECT_TRUE(same_bits(g, w)) << threads << " threads: first difference at "
                                 << first_difference(g, w) << " of " << out_size;
  }
}

struct Shape2 {
  std::vector<std::size_t> dims;
  int axis;
};

template <class T>
void softmax_family_deterministic(const Shape2& s) {
  const softreg::Shape shape = oracle::to_shape(s.dims);
  const std::size_t size = oracle::numel(s.dims);
  const std::size_t rows = oracle::layout(s.dims, s.axis).rows();
  const std::vector<T> x = logits<T>(size, size + s.dims.size(), true);
  const std::span<const T> xs(x);
  SCOPED_TRACE(testing::Message() << "shape " << shape.str() << " axis " << s.axis);
  expect_deterministic<T>(
      size, [&](std::span<T> out) { softreg::softmax(out, xs, shape, s.axis); }, "softmax");
  expect_deterministic<T>(
      size, [&](std::span<T> out) { softreg::softmax(out, xs, shape, s.axis, 2.0); },
      "softmax T = 2");
  expect_deterministic<T>(
      size, [&](std::span<T> out) { softreg::log_softmax(out, xs, shape, s.axis); }, "log_softmax");
  expect_deterministic<T>(
      size, [&](std::span<T> out) { softreg::softmax_online(out, xs, shape, s.axis); },
      "softmax_online");
  expect_deterministic<T>(
      rows, [&](std::span<T> out) { softreg::logsumexp(out, xs, shape, s.axis); }, "logsumexp");
}

template <class T>
class Threads : public testing::Test {};
using Types = testing::Types<float, double>;
TYPED_TEST_SUITE(Threads, Types);

TYPED_TEST(Threads, SoftmaxFamilyIsBitwiseIdenticalForAnyThreadCount) {
  using T = TypeParam;
  for (const Shape2& s : {Shape2{{4096, 1000}, -1}, Shape2{{65536, 10}, -1},
                          Shape2{{16, 100000}, -1}, Shape2{{3, 64, 4096}, 1}}) {
    softmax_family_deterministic<T>(s);
  }
}

TYPED_TEST(Threads, CrossEntropyIsBitwiseIdenticalForAnyThreadCount) {
  using T = TypeParam;
  struct Rows {
    std::size_t rows;
    std::size_t k;
  };
  for (const Rows shape : {Rows{4096, 1000}, Rows{65536, 10}, Rows{16, 100000}, Rows{1000, 3}}) {
    const std::vector<std::size_t> dims{shape.rows, shape.k};
    SCOPED_TRACE(testing::Message() << shape.rows << " x " << shape.k);
    // No NaN or infinite logits here: they would make every reduced loss NaN or infinite,
    // whatever the order of the sum.
    const std::vector<T> x = logits<T>(shape.rows * shape.k, shape.rows + shape.k, false);
    std::mt19937_64 rng(shape.rows);
    std::uniform_int_distribution<std::int64_t> cls(0, static_cast<std::int64_t>(shape.k) - 1);
    std::vector<std::int64_t> target(shape.rows);
    for (auto& c : target) c = cls(rng);
    for (std::size_t r = 5; r < shape.rows; r += 11) target[r] = -100;
    std::vector<T> weights(shape.k);
    std::uniform_real_distribution<double> w(0.0, 2.0);
    for (T& v : weights) v = static_cast<T>(w(rng));
    weights[0] = T(0);
    struct Config {
      bool weighted;
      Reduction red;
    };
    for (const Config cfg : {Config{false, Reduction::mean}, Config{true, Reduction::sum},
                             Config{true, Reduction::none}}) {
      const bool weighted = cfg.weighted;
      const Reduction red = cfg.red;
      {
        SCOPED_TRACE(testing::Message()
                     << (weighted ? "weighted, " : "") << "reduction " << static_cast<int>(red));
        softreg::CrossEntropyOptions<T> opt;
        opt.reduction = red;
        if (weighted) opt.class_weights = weights;
        // Everything one call produces, laid end to end: gradient, row losses, then the loss
        // (a double) in its bytes; and the forward pass's loss and row losses.
        const std::size_t grad_size = x.size();
        const std::size_t loss_slots = (sizeof(double) + sizeof(T) - 1) / sizeof(T);
        const std::size_t total = 2 * (grad_size + shape.rows + loss_slots);
        expect_deterministic<T>(
            total,
            [&](std::span<T> out) {
              std::span<T> grad = out.subspan(0, grad_size);
              std::span<T> row_losses = out.subspan(grad_size, shape.rows);
              const double loss = softreg::cross_entropy_with_grad(
                  grad, std::span<const T>(x), oracle::to_shape(dims),
                  std::span<const std::int64_t>(target), opt, row_losses);
              std::memcpy(out.data() + grad_size + shape.rows, &loss, sizeof(double));
              const std::size_t second = grad_size + shape.rows + loss_slots;
              std::span<T> fwd_rows = out.subspan(second, shape.rows);
              const double fwd =
                  softreg::cross_entropy(std::span<const T>(x), oracle::to_shape(dims),
                                         std::span<const std::int64_t>(target), opt, fwd_rows);
              std::memcpy(out.data() + second + shape.rows, &fwd, sizeof(double));
              // The rest of the second half is unused.
              std::fill(out.begin() + static_cast<std::ptrdiff_t>(second + shape.rows + loss_slots),
                        out.end(), T(0));
            },
            "cross_entropy");
      }
    }
  }
}

}  // namespace
