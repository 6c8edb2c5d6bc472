// Short rows (a few vectors) of the softmax family and of cross-entropy, in arrays that end at an
// inaccessible page, on every target and on 1 and 2 threads: no access past the arrays.
#include <gtest/gtest.h>

#include "simd_sweep.hpp"
#include "thread_guard.hpp"

namespace {

using namespace simd_sweep;

template <class T>
class SimdShortRows : public SimdSweep<T> {};
TYPED_TEST_SUITE(SimdShortRows, Types);

// Short rows write their partial vectors whole when the memory past the row belongs to the
// thread's own next rows (masked stores are slow); rows whose vector would reach past the
// thread's range keep the masked accesses. Inputs and outputs end at an inaccessible page, so
// any access past them crashes, on every target, in and out of place, on 1 thread and on 2
// (enough rows that the softmax kernels split them, so thread 0's range ends inside the array;
// cross-entropy also splits into chunks of 64+ rows); the gradient is checked against the
// oracle's probabilities.
TYPED_TEST(SimdShortRows, ShortRowsNeverReachPastTheirArrays) {
  using T = TypeParam;
  const softreg_test::ThreadCountGuard restore;
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

}  // namespace
