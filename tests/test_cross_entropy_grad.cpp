// cross_entropy_with_grad: loss and S p - q against the oracle, finite differences, aliasing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "ce_oracle.hpp"
#include "softreg/loss.hpp"
#include "softreg/shape.hpp"

namespace {

using ce_oracle::ld;
using softreg::Reduction;

constexpr Reduction kReductions[] = {Reduction::none, Reduction::sum, Reduction::mean};

// One configuration of the loss: everything cross_entropy_with_grad takes besides the logits.
template <class T>
struct Config {
  std::vector<std::size_t> dims;
  int class_axis = -1;
  bool probs = false;
  std::vector<std::int64_t> index;
  std::vector<T> target_probs;
  std::vector<T> weights;
  double smoothing = 0;
  std::int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;

  softreg::Shape shape() const { return softreg::Shape(std::span<const std::size_t>(dims)); }
  std::size_t rows() const { return ce_oracle::layout_of(dims, class_axis).rows(); }
  softreg::CrossEntropyOptions<T> options() const {
    softreg::CrossEntropyOptions<T> opt;
    opt.reduction = reduction;
    opt.class_weights = weights;
    opt.label_smoothing = smoothing;
    opt.ignore_index = ignore_index;
    opt.class_axis = class_axis;
    return opt;
  }
  ce_oracle::Reference reference(const std::vector<T>& logits) const {
    ce_oracle::Problem pb{dims, class_axis, ce_oracle::widen<T>(logits),
                          ce_oracle::widen<T>(weights), smoothing};
    return probs ? ce_oracle::reference_probs(pb, ce_oracle::widen<T>(target_probs))
                 : ce_oracle::reference_index(pb, index, ignore_index);
  }
  double loss(std::span<const T> logits, std::span<T> row_losses = {}) const {
    return probs ? softreg::cross_entropy(logits, shape(), std::span<const T>(target_probs),
                                          options(), row_losses)
                 : softreg::cross_entropy(logits, shape(), std::span<const std::int64_t>(index),
                                          options(), row_losses);
  }
  double with_grad(std::span<T> grad, std::span<const T> logits,
                   std::span<T> row_losses = {}) const {
    return probs
               ? softreg::cross_entropy_with_grad(
                     grad, logits, shape(), std::span<const T>(target_probs), options(), row_losses)
               : softreg::cross_entropy_with_grad(grad, logits, shape(),
                                                  std::span<const std::int64_t>(index), options(),
                                                  row_losses);
  }
};

template <class T>
Config<T> random_config(std::vector<std::size_t> dims, int axis, bool probs, bool weighted,
                        double eps, bool some_ignored, Reduction red, std::mt19937_64& rng) {
  Config<T> cfg;
  cfg.dims = std::move(dims);
  cfg.class_axis = axis;
  cfg.probs = probs;
  cfg.smoothing = eps;
  cfg.reduction = red;
  const auto layout = ce_oracle::layout_of(cfg.dims, axis);
  if (weighted) cfg.weights = ce_oracle::random_weights<T>(layout.n, rng);
  if (probs) {
    cfg.target_probs = ce_oracle::random_probs<T>(cfg.dims, axis, rng);
  } else {
    cfg.index = ce_oracle::random_targets(layout.rows(), layout.n, rng);
    if (some_ignored) {
      for (std::size_t r = 0; r < cfg.index.size(); r += 3) cfg.index[r] = cfg.ignore_index;
    }
  }
  return cfg;
}

// Loss from with_grad equals the oracle (and so cross_entropy), gradient equals scale (S p - q).
template <class T>
void check_against_oracle(const Config<T>& cfg, const std::vector<T>& logits) {
  const auto ref = cfg.reference(logits);
  const std::size_t rows = cfg.rows();
  std::vector<T> grad(logits.size(), T(7)), rows_fused(rows, T(-7)), rows_plain(rows, T(-7));
  const double fused = cfg.with_grad(grad, logits, rows_fused);
  const double plain = cfg.loss(logits, rows_plain);
  ce_oracle::expect_loss<T>(fused, ref, cfg.reduction);
  ce_oracle::expect_loss<T>(plain, ref, cfg.reduction);
  EXPECT_LE(std::fabs(fused - plain), 2 * ce_oracle::loss_tolerance<T>(ref, cfg.reduction));
  ce_oracle::expect_row_losses<T>(rows_fused, ref);
  ce_oracle::expect_grad<T>(grad, ref, cfg.reduction);
}

struct SweepCase {
  std::size_t k;
  std::size_t rows;
};

// Built with a stream: GCC 12 reports a false -Wrestrict on "K" + std::to_string(...).
std::string case_name(const ::testing::TestParamInfo<SweepCase>& param_info) {
  std::ostringstream name;
  name << "K" << param_info.param.k << "_rows" << param_info.param.rows;
  return name.str();
}

class CrossEntropyGradSweep : public ::testing::TestWithParam<SweepCase> {};

template <class T>
void sweep(std::size_t k, std::size_t rows) {
  std::mt19937_64 rng(31 * k + rows);
  const auto logits = ce_oracle::random_logits<T>(rows * k, rng);
  for (bool probs : {false, true}) {
    for (bool weighted : {false, true}) {
      for (double eps : {0.0, 0.1, 1.0}) {
        for (Reduction red : kReductions) {
          SCOPED_TRACE(::testing::Message()
                       << "probs " << probs << " weighted " << weighted << " eps " << eps
                       << " reduction " << static_cast<int>(red));
          const auto cfg = random_config<T>({rows, k}, -1, probs, weighted, eps, !probs, red, rng);
          check_against_oracle(cfg, logits);
        }
      }
    }
  }
}

TEST_P(CrossEntropyGradSweep, Float) {
  sweep<float>(GetParam().k, GetParam().rows);
}
TEST_P(CrossEntropyGradSweep, Double) {
  sweep<double>(GetParam().k, GetParam().rows);
}

INSTANTIATE_TEST_SUITE_P(Sizes, CrossEntropyGradSweep,
                         ::testing::Values(SweepCase{1, 5}, SweepCase{2, 64}, SweepCase{3, 5},
                                           SweepCase{10, 64}, SweepCase{1000, 5},
                                           SweepCase{50257, 1}, SweepCase{10, 1}),
                         case_name);

// A GPT-2 sized row with smoothing: S = sum_k q_k has 50257 terms, so a plain running sum
// loses about K eps relative (most when the big (1 - eps) w_c term comes first, c = 0), which
// the 1e-12 double tolerance sees; a compensated or closed-form S does not.
TEST(CrossEntropyGrad, LargeVocabularySmoothedGradientIsTight) {
  std::mt19937_64 rng(50257);
  constexpr std::size_t k = 50257;
  const auto logits = ce_oracle::random_logits<double>(k, rng);
  for (bool probs : {false, true}) {
    for (std::int64_t c : {std::int64_t{0}, std::int64_t{k / 2}}) {
      SCOPED_TRACE(::testing::Message() << "probs " << probs << " target " << c);
      Config<double> cfg;
      cfg.dims = {1, k};
      cfg.probs = probs;
      cfg.smoothing = 0.1;
      cfg.index = {c};
      cfg.target_probs.assign(k, 0.0);
      cfg.target_probs[static_cast<std::size_t>(c)] = 1.0;
      check_against_oracle(cfg, logits);
    }
  }
}

// Central differences in double: the error is h^2/6 |f'''| (about 1e-10 here) plus the
// loss's rounding over h (about 1e-11), far below the tolerance.
TEST(CrossEntropyGradFiniteDifference, EveryConfiguration) {
  std::mt19937_64 rng(2024);
  constexpr double h = 1e-5;
  for (bool axis1 : {false, true}) {
    for (bool probs : {false, true}) {
      for (bool weighted : {false, true}) {
        for (double eps : {0.0, 0.1}) {
          for (bool some_ignored : {false, true}) {
            if (probs && some_ignored) continue;
            for (Reduction red : kReductions) {
              SCOPED_TRACE(::testing::Message()
                           << "axis1 " << axis1 << " probs " << probs << " weighted " << weighted
                           << " eps " << eps << " ignored " << some_ignored << " reduction "
                           << static_cast<int>(red));
              // (2, 4, 3) with classes on axis 1, or (6, 4) with classes last: 6 rows of 4.
              const auto cfg = axis1 ? random_config<double>({2, 4, 3}, 1, probs, weighted, eps,
                                                             some_ignored, red, rng)
                                     : random_config<double>({6, 4}, -1, probs, weighted, eps,
                                                             some_ignored, red, rng);
              auto z = ce_oracle::random_logits<double>(24, rng, 2.0);
              std::vector<double> grad(z.size()), rows(6);
              cfg.with_grad(grad, z, rows);
              for (std::size_t i = 0; i < z.size(); ++i) {
                const double zi = z[i];
                z[i] = zi + h;
                const double up = cfg.loss(z, rows);
                z[i] = zi - h;
                const double down = cfg.loss(z, rows);
                z[i] = zi;
                const double fd = (up - down) / (2 * h);
                EXPECT_NEAR(grad[i], fd, 1e-8 + 1e-7 * std::fabs(fd)) << "logit " << i;
              }
            }
          }
        }
      }
    }
  }
}

template <class T>
class CrossEntropyGradTyped : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CrossEntropyGradTyped, FloatTypes);

TYPED_TEST(CrossEntropyGradTyped, InPlaceMatchesOutOfPlace) {
  using T = TypeParam;
  std::mt19937_64 rng(99);
  for (bool probs : {false, true}) {
    for (Reduction red : kReductions) {
      SCOPED_TRACE(::testing::Message()
                   << "probs " << probs << " reduction " << static_cast<int>(red));
      const auto cfg = random_config<T>({9, 37}, -1, probs, true, 0.1, !probs, red, rng);
      const auto logits = ce_oracle::random_logits<T>(9 * 37, rng);
      const auto ref = cfg.reference(logits);
      std::vector<T> out(logits.size()), rows_out(9), rows_in(9);
      const double loss_out = cfg.with_grad(out, logits, rows_out);
      std::vector<T> buffer = logits;
      const double loss_in =
          cfg.with_grad(std::span<T>(buffer), std::span<const T>(buffer), rows_in);
      ce_oracle::expect_loss<T>(loss_in, ref, red);
      ce_oracle::expect_grad<T>(buffer, ref, red);
      ce_oracle::expect_row_losses<T>(rows_in, ref);
      EXPECT_LE(std::fabs(loss_in - loss_out), 2 * ce_oracle::loss_tolerance<T>(ref, red));
      for (std::size_t i = 0; i < out.size(); ++i) {
        EXPECT_LE(std::fabs(static_cast<ld>(buffer[i]) - out[i]),
                  2 * ce_oracle::grad_tolerance<T>(ref, red, i))
            << i;
      }
    }
  }
}

// sum_k (S p_k - q_k) = S - S = 0 for every row, whatever the weights, smoothing or target mass.
TYPED_TEST(CrossEntropyGradTyped, GradientRowsSumToZero) {
  using T = TypeParam;
  std::mt19937_64 rng(17);
  constexpr std::size_t rows = 12, k = 50;
  for (bool probs : {false, true}) {
    for (bool weighted : {false, true}) {
      for (double eps : {0.0, 0.3}) {
        auto cfg =
            random_config<T>({rows, k}, -1, probs, weighted, eps, false, Reduction::mean, rng);
        if (probs) cfg.target_probs = ce_oracle::random_probs<T>(cfg.dims, -1, rng, 2.5);
        const auto logits = ce_oracle::random_logits<T>(rows * k, rng);
        const auto ref = cfg.reference(logits);
        std::vector<T> grad(logits.size());
        cfg.with_grad(grad, logits);
        for (std::size_t r = 0; r < rows; ++r) {
          ld sum = 0, tol = 0;
          for (std::size_t j = 0; j < k; ++j) {
            sum += grad[r * k + j];
            tol += ce_oracle::grad_tolerance<T>(ref, Reduction::mean, r * k + j);
          }
          EXPECT_LE(std::fabs(sum), tol)
              << "probs " << probs << " weighted " << weighted << " eps " << eps << " row " << r;
        }
      }
    }
  }
}

// The float kernel on float logits against the double kernel on the same values: the float
// bound of loss.hpp plus the (much smaller) double one.
TEST(CrossEntropyGrad, FloatGradientWithinBoundOfDouble) {
  std::mt19937_64 rng(123);
  constexpr std::size_t rows = 16, k = 300;
  for (Reduction red : kReductions) {
    const auto cfg_f = random_config<float>({rows, k}, -1, false, true, 0.1, true, red, rng);
    Config<double> cfg_d;
    cfg_d.dims = cfg_f.dims;
    cfg_d.index = cfg_f.index;
    cfg_d.weights.assign(cfg_f.weights.begin(), cfg_f.weights.end());
    cfg_d.smoothing = cfg_f.smoothing;
    cfg_d.reduction = red;
    const auto logits_f = ce_oracle::random_logits<float>(rows * k, rng, 8.0);
    const std::vector<double> logits_d(logits_f.begin(), logits_f.end());
    const auto ref = cfg_d.reference(logits_d);
    std::vector<float> grad_f(logits_f.size());
    std::vector<double> grad_d(logits_d.size()), rows_d(rows);
    std::vector<float> rows_f(rows);
    const double loss_f = cfg_f.with_grad(grad_f, logits_f, rows_f);
    const double loss_d = cfg_d.with_grad(grad_d, logits_d, rows_d);
    EXPECT_LE(std::fabs(loss_f - loss_d), ce_oracle::loss_tolerance<float>(ref, red) +
                                              ce_oracle::loss_tolerance<double>(ref, red));
    for (std::size_t i = 0; i < grad_f.size(); ++i) {
      EXPECT_LE(std::fabs(static_cast<ld>(grad_f[i]) - grad_d[i]),
                ce_oracle::grad_tolerance<float>(ref, red, i) +
                    ce_oracle::grad_tolerance<double>(ref, red, i))
          << i;
    }
  }
}

// Overwrite, not accumulate: a gradient buffer full of 7s must come back as exact zeros.
TYPED_TEST(CrossEntropyGradTyped, NothingCountedGivesZeroLossAndZeroGradient) {
  using T = TypeParam;
  std::mt19937_64 rng(8);
  const auto logits = ce_oracle::random_logits<T>(4 * 5, rng);
  const std::vector<T> zero_weights(5, T(0));
  for (Reduction red : kReductions) {
    for (bool by_weight : {false, true}) {
      Config<T> cfg;
      cfg.dims = {4, 5};
      cfg.reduction = red;
      cfg.index =
          by_weight ? std::vector<std::int64_t>{0, 1, 2, 3} : std::vector<std::int64_t>(4, -100);
      if (by_weight) cfg.weights = zero_weights;
      std::vector<T> grad(logits.size(), T(7)), rows(4, T(7));
      EXPECT_EQ(cfg.with_grad(grad, logits, rows), 0.0);
      for (T g : grad) EXPECT_EQ(g, T(0));
      for (T v : rows) EXPECT_EQ(v, T(0));
    }
  }
}

TYPED_TEST(CrossEntropyGradTyped, ClassAxisOneMatchesTransposedLastAxis) {
  using T = TypeParam;
  constexpr std::size_t n = 2, c = 9, len = 4;
  std::mt19937_64 rng(77);
  for (bool probs : {false, true}) {
    auto cfg = random_config<T>({n, c, len}, 1, probs, true, 0.1, !probs, Reduction::mean, rng);
    const auto logits = ce_oracle::random_logits<T>(n * c * len, rng);
    Config<T> cfg_t = cfg;
    cfg_t.dims = {n, len, c};
    cfg_t.class_axis = -1;
    std::vector<T> logits_t(logits.size());
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < c; ++j) {
        for (std::size_t l = 0; l < len; ++l) {
          logits_t[(i * len + l) * c + j] = logits[(i * c + j) * len + l];
          if (probs)
            cfg_t.target_probs[(i * len + l) * c + j] = cfg.target_probs[(i * c + j) * len + l];
        }
      }
    }
    check_against_oracle(cfg, logits);
    check_against_oracle(cfg_t, logits_t);
    const auto ref = cfg.reference(logits);
    std::vector<T> grad(logits.size()), grad_t(logits.size());
    cfg.with_grad(grad, logits);
    cfg_t.with_grad(grad_t, logits_t);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < c; ++j) {
        for (std::size_t l = 0; l < len; ++l) {
          const std::size_t a = (i * c + j) * len + l;
          EXPECT_LE(std::fabs(static_cast<ld>(grad[a]) - grad_t[(i * len + l) * c + j]),
                    2 * ce_oracle::grad_tolerance<T>(ref, Reduction::mean, a));
        }
      }
    }
  }
}

TYPED_TEST(CrossEntropyGradTyped, ExtremeNanAndMaskedRows) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity();
  const T nan = std::numeric_limits<T>::quiet_NaN();
  // Rows: +-1000, +-1e30 (finite maths, finite gradient), a NaN row, a masked class
  // without target mass (its gradient is exactly S * 0 - 0 = 0).
  const std::vector<T> logits{1000,  -1000, 0,   1e30f, -1e30f, 0, -1e30f, 1e30f,
                              1e30f, 1,     nan, 2,     -inf,   1, 2};
  Config<T> cfg;
  cfg.dims = {5, 3};
  cfg.index = {1, 0, 0, 0, 2};
  cfg.reduction = Reduction::mean;
  const auto ref = cfg.reference(logits);
  std::vector<T> grad(logits.size()), rows(5);
  const double loss = cfg.with_grad(grad, logits, rows);
  EXPECT_TRUE(std::isnan(loss));
  ce_oracle::expect_row_losses<T>(rows, ref);
  ce_oracle::expect_grad<T>(grad, ref, Reduction::mean);
  for (std::size_t i = 0; i < 9; ++i) EXPECT_TRUE(std::isfinite(grad[i])) << i;
  for (std::size_t i = 9; i < 12; ++i) EXPECT_TRUE(std::isnan(grad[i])) << i;
  EXPECT_EQ(grad[12], T(0));
}

// docs/NUMERICS.md's limits: +inf entries share the mass (p = 1/c, y = -log c there), so the
// loss is finite if the target is one of them and +inf otherwise; a fully masked row costs +inf
// with target mass (gradient -q) and 0 when ignored.
TYPED_TEST(CrossEntropyGradTyped, InfiniteLogitRowsFollowTheLimits) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity();
  const std::vector<T> logits{inf, 0,    1,    inf,  inf,  1,    inf, 0,
                              1,   -inf, -inf, -inf, -inf, -inf, -inf};
  Config<T> cfg;
  cfg.dims = {5, 3};
  cfg.index = {0, 1, 2, 0, -100};
  cfg.reduction = Reduction::sum;
  const auto ref = cfg.reference(logits);
  std::vector<T> grad(logits.size(), T(7)), rows(5), rows_plain(5);
  EXPECT_EQ(cfg.with_grad(grad, logits, rows), inf);
  EXPECT_EQ(cfg.loss(logits, rows_plain), inf);
  ce_oracle::expect_row_losses<T>(rows, ref);
  ce_oracle::expect_row_losses<T>(rows_plain, ref);
  EXPECT_EQ(rows[0], T(0));
  EXPECT_NEAR(rows[1], std::log(2.0), 1e-6);
  EXPECT_EQ(rows[2], inf);
  EXPECT_EQ(rows[3], inf);
  EXPECT_EQ(rows[4], T(0));
  ce_oracle::expect_grad<T>(grad, ref, Reduction::sum);
  const std::vector<T> want{0, 0, 0, T(0.5), T(-0.5), 0, 1, 0, -1, -1, 0, 0, 0, 0, 0};
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(grad[i], want[i]) << i;
}

}  // namespace
