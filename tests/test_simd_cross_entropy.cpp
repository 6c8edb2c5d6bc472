// The vectorized fused cross-entropy against the long-double oracle on every target: index
// targets with weights, ignored rows and every reduction, streamed gradients, NaN rows.
#include <gtest/gtest.h>

#include "simd_sweep.hpp"

namespace {

using namespace simd_sweep;

template <class T>
class SimdCrossEntropy : public SimdSweep<T> {};
TYPED_TEST_SUITE(SimdCrossEntropy, Types);

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

TYPED_TEST(SimdCrossEntropy, CrossEntropyMatchesTheOracleOnEveryTarget) {
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
TYPED_TEST(SimdCrossEntropy, CrossEntropyStreamedGradientsMatchTheOracle) {
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
TYPED_TEST(SimdCrossEntropy, CrossEntropyNanRowIsNanEvenWithAZeroTargetWeight) {
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
