// Finite-difference and algebraic checks of the softmax-family backward passes and Jacobian.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "oracle.hpp"
#include "softreg/error.hpp"
#include "softreg/softmax.hpp"

namespace {

using oracle::Real;
using Dims = std::vector<std::size_t>;

constexpr Real kEpsD = 0x1p-53L;
constexpr double kInfD = std::numeric_limits<double>::infinity();
constexpr double kNanD = std::numeric_limits<double>::quiet_NaN();

enum class Fwd { kSoftmax, kLogSoftmax, kLogsumexp };

// Central differences of L(x) = <w, f(x / t)> with f evaluated by the oracle in long double:
// with h = 1e-7 (scaled by |x_j|) the truncation error is ~h^2 and the rounding error
// ~2^-64 / h, both below 1e-12, so the tolerances below are set by the double kernels.
std::vector<Real> fd_gradient(Fwd f, const std::vector<double>& x, const std::vector<double>& w,
                              const Dims& dims, int axis, Real t) {
  std::vector<Real> z(x.begin(), x.end());
  auto objective = [&]() {
    const auto ref = oracle::evaluate<Real>(std::span<const Real>(z), dims, axis, t);
    const std::vector<Real>& v = f == Fwd::kSoftmax      ? ref.p
                                 : f == Fwd::kLogSoftmax ? ref.y
                                                         : ref.lse;
    Real s = 0;
    for (std::size_t i = 0; i < v.size(); ++i) s += w[i] * v[i];
    return s;
  };
  std::vector<Real> g(x.size(), oracle::kNan);
  for (std::size_t j = 0; j < x.size(); ++j) {
    if (!std::isfinite(x[j])) continue;
    const Real h = 1e-7L * std::max(1.0L, std::fabs(z[j]));
    const Real xp = z[j] + h;
    const Real xm = z[j] - h;
    z[j] = xp;
    const Real lp = objective();
    z[j] = xm;
    const Real lm = objective();
    z[j] = static_cast<Real>(x[j]);
    g[j] = (lp - lm) / (xp - xm);
  }
  return g;
}

// Relative 1e-7, with a floor at 1e-4 of the largest component so entries with p_j ~ 0 are
// judged against the scale of the row rather than against their own tiny value.
testing::AssertionResult matches_fd(std::span<const double> got, const std::vector<Real>& fd) {
  Real scale = 0;
  for (Real v : fd) {
    if (std::isfinite(v)) scale = std::max(scale, std::fabs(v));
  }
  return oracle::all_within<double>(
      got, fd, [&](std::size_t i) { return 1e-7L * std::max(std::fabs(fd[i]), 1e-4L * scale); },
      "dx vs finite differences");
}

std::vector<double> normal(std::size_t n, double sd, std::mt19937_64& rng) {
  std::normal_distribution<double> d(0.0, sd);
  std::vector<double> v(n);
  for (double& e : v) e = d(rng);
  return v;
}

template <class Out>
std::vector<double> to_double(const std::vector<Out>& v) {
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<double>(v[i]);
  return out;
}

struct Case {
  Dims dims;
  int axis;
};
const Case kCases[] = {{{7}, 0}, {{3, 4, 5}, 0}, {{3, 4, 5}, 1}, {{3, 4, 5}, -1}, {{2, 33}, 1}};

TEST(SoftmaxBackward, SoftmaxMatchesFiniteDifferences) {
  std::mt19937_64 rng(1);
  for (const Case& c : kCases) {
    const std::size_t n = oracle::numel(c.dims);
    for (const double t : {1.0, 0.5, 2.5}) {
      const std::vector<double> x = normal(n, 2.0, rng);
      const std::vector<double> dy = normal(n, 1.0, rng);
      const std::vector<double> p =
          to_double(oracle::evaluate<double>(std::span<const double>(x), c.dims, c.axis, t).p);
      std::vector<double> dx(n, 777.0);
      softreg::softmax_backward(dx, p, dy, oracle::to_shape(c.dims), c.axis, t);
      EXPECT_TRUE(matches_fd(dx, fd_gradient(Fwd::kSoftmax, x, dy, c.dims, c.axis, t)))
          << oracle::to_shape(c.dims).str() << " axis " << c.axis << " T " << t;
    }
  }
}

TEST(SoftmaxBackward, LogSoftmaxMatchesFiniteDifferences) {
  std::mt19937_64 rng(2);
  for (const Case& c : kCases) {
    const std::size_t n = oracle::numel(c.dims);
    for (const double t : {1.0, 0.5, 2.5}) {
      const std::vector<double> x = normal(n, 2.0, rng);
      const std::vector<double> dy = normal(n, 1.0, rng);
      const std::vector<double> y =
          to_double(oracle::evaluate<double>(std::span<const double>(x), c.dims, c.axis, t).y);
      std::vector<double> dx(n, 777.0);
      softreg::log_softmax_backward(dx, y, dy, oracle::to_shape(c.dims), c.axis, t);
      EXPECT_TRUE(matches_fd(dx, fd_gradient(Fwd::kLogSoftmax, x, dy, c.dims, c.axis, t)))
          << oracle::to_shape(c.dims).str() << " axis " << c.axis << " T " << t;
    }
  }
}

TEST(SoftmaxBackward, LogsumexpMatchesFiniteDifferences) {
  std::mt19937_64 rng(3);
  for (const Case& c : kCases) {
    const std::size_t n = oracle::numel(c.dims);
    const std::size_t rows = oracle::layout(c.dims, c.axis).rows();
    std::vector<double> x = normal(n, 3.0, rng);
    x[n / 2] = -kInfD;
    const std::vector<double> dr = normal(rows, 1.0, rng);
    const std::vector<double> r =
        to_double(oracle::evaluate<double>(std::span<const double>(x), c.dims, c.axis).lse);
    std::vector<double> dx(n, 777.0);
    softreg::logsumexp_backward(dx, x, r, dr, oracle::to_shape(c.dims), c.axis);
    std::vector<Real> fd = fd_gradient(Fwd::kLogsumexp, x, dr, c.dims, c.axis, 1);
    fd[n / 2] = 0;  // d/dx of a -inf entry: exp(-inf - r) = 0
    EXPECT_TRUE(matches_fd(dx, fd)) << oracle::to_shape(c.dims).str() << " axis " << c.axis;
  }
}

// A fully masked row has r = -inf, where exp(x - r) would be exp(NaN); the header defines
// dx = 0 there. An empty row writes nothing.
TEST(SoftmaxBackward, LogsumexpMaskedAndEmptyRows) {
  const std::vector<double> x{-kInfD, -kInfD, -kInfD, 1.0, 2.0, -kInfD};
  const std::vector<double> r =
      to_double(oracle::evaluate<double>(std::span<const double>(x), {2, 3}, -1).lse);
  ASSERT_EQ(r[0], -kInfD);
  const std::vector<double> dr{1.5, -2.0};
  std::vector<double> dx(6, 777.0);
  softreg::logsumexp_backward(dx, x, r, dr, softreg::Shape{2, 3});
  EXPECT_EQ(dx[0], 0.0);
  EXPECT_EQ(dx[1], 0.0);
  EXPECT_EQ(dx[2], 0.0);
  EXPECT_EQ(dx[5], 0.0);
  const Real e = std::exp(1.0L);
  EXPECT_NEAR(dx[3], static_cast<double>(-2 * e / (e + e * e)), 1e-15);
  EXPECT_NEAR(dx[4], static_cast<double>(-2 * e * e / (e + e * e)), 1e-15);

  std::vector<double> buf(3, 777.0);
  const std::vector<double> r_empty(3, -kInfD);
  const std::vector<double> dr_empty(3, 1.0);
  softreg::logsumexp_backward(std::span<double>(buf.data() + 1, 0),
                              std::span<const double>(buf.data(), 0), r_empty, dr_empty,
                              softreg::Shape{3, 0});
  EXPECT_EQ(buf, std::vector<double>(3, 777.0));
}

// docs/NUMERICS.md: at r = +inf the backward splits dr evenly over the +inf entries, the limit
// of dr * softmax(x) that the forward's +inf rule gives.
TEST(SoftmaxBackward, LogsumexpPlusInfinityRow) {
  const std::vector<double> x{kInfD, 1.0, kInfD, -kInfD, 0.0, 2.0};
  const std::vector<double> r{kInfD, 2.0 + std::log(std::exp(-2.0) + 1.0)};
  const std::vector<double> dr{3.0, 1.0};
  std::vector<double> dx(6, 777.0);
  softreg::logsumexp_backward(dx, x, r, dr, softreg::Shape{2, 3});
  EXPECT_EQ(dx[0], 1.5);
  EXPECT_EQ(dx[1], 0.0);
  EXPECT_EQ(dx[2], 1.5);
  EXPECT_EQ(dx[3], 0.0);
  EXPECT_NEAR(dx[4], 1.0 / (1.0 + std::exp(2.0)), 1e-15);
  EXPECT_NEAR(dx[5], 1.0 / (1.0 + std::exp(-2.0)), 1e-15);
}

// J_ij = p_i (delta_ij - p_j) may be formed as p_i - p_i^2 on the diagonal, which cancels, so
// each entry is judged against the magnitude of its terms.
TEST(SoftmaxBackward, JacobianMatchesDefinitionAndFiniteDifferences) {
  std::mt19937_64 rng(4);
  for (const std::size_t k : {1UL, 2UL, 6UL, 17UL}) {
    const std::vector<double> x = normal(k, 2.0, rng);
    const std::vector<double> p =
        to_double(oracle::evaluate<double>(std::span<const double>(x), {k}, -1).p);
    std::vector<double> jac(k * k, 777.0);
    softreg::softmax_jacobian(jac, p);
    std::vector<Real> def(k * k);
    for (std::size_t i = 0; i < k; ++i) {
      for (std::size_t j = 0; j < k; ++j) {
        def[i * k + j] = static_cast<Real>(p[i]) * ((i == j ? 1.0L : 0.0L) - p[j]);
      }
    }
    EXPECT_TRUE(oracle::all_within<double>(
        jac, def,
        [&](std::size_t ij) {
          const std::size_t i = ij / k;
          const std::size_t j = ij % k;
          return 4 * kEpsD * p[i] * ((i == j ? 1 : 0) + p[j]);
        },
        "jacobian vs definition"))
        << "K " << k;
    // Column j of J is d p / d x_j: the finite difference of <e_i, p> for each i.
    for (std::size_t i = 0; i < k; ++i) {
      std::vector<double> e(k, 0.0);
      e[i] = 1.0;
      const std::vector<Real> fd = fd_gradient(Fwd::kSoftmax, x, e, {k}, -1, 1);
      EXPECT_TRUE(matches_fd(std::span<const double>(jac).subspan(i * k, k), fd))
          << "K " << k << " row " << i;
    }
  }
}

TEST(SoftmaxBackward, VjpEqualsJacobianTransposeTimesDy) {
  std::mt19937_64 rng(5);
  for (const std::size_t k : {1UL, 7UL, 33UL}) {
    for (const double t : {1.0, 0.3}) {
      const std::vector<double> x = normal(k, 3.0, rng);
      const std::vector<double> dy = normal(k, 1.0, rng);
      const std::vector<double> p =
          to_double(oracle::evaluate<double>(std::span<const double>(x), {k}, -1, t).p);
      std::vector<double> jac(k * k);
      softreg::softmax_jacobian(jac, p);
      std::vector<Real> want(k, 0);
      std::vector<Real> mag(k, 0);
      for (std::size_t j = 0; j < k; ++j) {
        for (std::size_t i = 0; i < k; ++i) {
          want[j] += static_cast<Real>(jac[i * k + j]) * dy[i] / static_cast<Real>(t);
          mag[j] += p[i] * ((i == j ? 1 : 0) + p[j]) * std::fabs(dy[i]) / t;
        }
      }
      std::vector<double> dx(k, 777.0);
      softreg::softmax_backward(dx, p, dy, softreg::Shape{k}, -1, t);
      EXPECT_TRUE(oracle::all_within<double>(
          dx, want, [&](std::size_t j) { return 8 * kEpsD * mag[j] + 1e-300L; }, "J^T dy"))
          << "K " << k << " T " << t;
    }
  }
}

TEST(SoftmaxBackward, InPlaceAndZeroTemperature) {
  std::mt19937_64 rng(6);
  const Dims dims{4, 9};
  const softreg::Shape shape{4, 9};
  const std::vector<double> x = normal(36, 2.0, rng);
  const std::vector<double> dy = normal(36, 1.0, rng);
  const auto ref = oracle::evaluate<double>(std::span<const double>(x), dims, 0, 0.5);
  const std::vector<double> p = to_double(ref.p);
  const std::vector<double> y = to_double(ref.y);
  std::vector<double> out(36);
  std::vector<double> io = dy;
  softreg::softmax_backward(out, p, dy, shape, 0, 0.5);
  softreg::softmax_backward(io, p, io, shape, 0, 0.5);
  for (std::size_t i = 0; i < 36; ++i) EXPECT_NEAR(io[i], out[i], 4e-16 * (1 + std::fabs(out[i])));
  io = dy;
  softreg::log_softmax_backward(out, y, dy, shape, 0, 0.5);
  softreg::log_softmax_backward(io, y, io, shape, 0, 0.5);
  for (std::size_t i = 0; i < 36; ++i) EXPECT_NEAR(io[i], out[i], 4e-16 * (1 + std::fabs(out[i])));

  // T = 0: the forward is a one-hot argmax, whose derivative is zero almost everywhere.
  const auto hard = oracle::evaluate<double>(std::span<const double>(x), dims, -1, 0);
  std::vector<double> dx(36, 777.0);
  softreg::softmax_backward(dx, to_double(hard.p), dy, shape, -1, 0.0);
  EXPECT_EQ(dx, std::vector<double>(36, 0.0));
  std::fill(dx.begin(), dx.end(), 777.0);
  softreg::log_softmax_backward(dx, to_double(hard.y), dy, shape, -1, 0.0);
  EXPECT_EQ(dx, std::vector<double>(36, 0.0));
}

TEST(SoftmaxBackward, NanPropagatesToItsRowOnly) {
  const std::vector<double> x{1, 2, 3, 0.5, -1, 4, 2, 2, 0};
  std::vector<double> p =
      to_double(oracle::evaluate<double>(std::span<const double>(x), {3, 3}, -1).p);
  std::vector<double> dy{1, -1, 0.5, 2, 0, 1, -3, 1, 1};
  for (const bool in_p : {false, true}) {
    std::vector<double> pp = p;
    std::vector<double> dd = dy;
    (in_p ? pp : dd)[4] = kNanD;
    std::vector<double> dx(9, 777.0);
    softreg::softmax_backward(dx, pp, dd, softreg::Shape{3, 3});
    for (std::size_t i = 0; i < 9; ++i) {
      EXPECT_EQ(std::isnan(dx[i]), i >= 3 && i < 6) << "i " << i << " NaN in p " << in_p;
    }
  }
}

// Float kernels on inputs representable in float must agree with the double kernels to the
// float error of each formula, scaled by the magnitudes of its terms.
TEST(SoftmaxBackward, FloatAgreesWithDouble) {
  std::mt19937_64 rng(7);
  constexpr Real kEpsF = 0x1p-24L;
  const Dims dims{3, 50, 4};
  const softreg::Shape shape{3, 50, 4};
  const std::size_t n = 600;
  std::vector<float> xf(n);
  std::vector<float> dyf(n);
  const std::vector<double> xs = normal(n, 3.0, rng);
  const std::vector<double> dys = normal(n, 1.0, rng);
  for (std::size_t i = 0; i < n; ++i) {
    xf[i] = static_cast<float>(xs[i]);
    dyf[i] = static_cast<float>(dys[i]);
  }
  const std::vector<double> x = to_double(xf);
  const std::vector<double> dy = to_double(dyf);
  for (const double t : {1.0, 0.5, 3.0}) {
    const auto ref = oracle::evaluate<double>(std::span<const double>(x), dims, 1, t);
    std::vector<float> pf(n);
    std::vector<float> yf(n);
    for (std::size_t i = 0; i < n; ++i) {
      pf[i] = static_cast<float>(ref.p[i]);
      yf[i] = static_cast<float>(ref.y[i]);
    }
    const oracle::Layout l = oracle::layout(dims, 1);
    std::vector<Real> dyp(l.rows(), 0);
    std::vector<Real> dy_abs(l.rows(), 0);
    std::vector<Real> sum_dy(l.rows(), 0);
    for (std::size_t r = 0; r < l.rows(); ++r) {
      for (std::size_t k = 0; k < l.n; ++k) {
        const std::size_t o = l.offset(r, k);
        dyp[r] += std::fabs(dyf[o] * static_cast<Real>(pf[o]));
        dy_abs[r] += std::fabs(static_cast<Real>(dyf[o]));
      }
    }
    auto row_of = [&](std::size_t o) { return (o / (l.n * l.inner)) * l.inner + o % l.inner; };

    std::vector<float> dxf(n);
    std::vector<double> dxd(n);
    softreg::softmax_backward(dxf, pf, dyf, shape, 1, t);
    softreg::softmax_backward(dxd, to_double(pf), dy, shape, 1, t);
    EXPECT_TRUE(oracle::all_within<float>(
        dxf, std::vector<Real>(dxd.begin(), dxd.end()),
        [&](std::size_t o) {
          return 8 * kEpsF * pf[o] * (std::fabs(dyf[o]) + dyp[row_of(o)]) / t + 1e-37L;
        },
        "softmax_backward float"))
        << "T " << t;

    softreg::log_softmax_backward(dxf, yf, dyf, shape, 1, t);
    softreg::log_softmax_backward(dxd, to_double(yf), dy, shape, 1, t);
    EXPECT_TRUE(oracle::all_within<float>(
        dxf, std::vector<Real>(dxd.begin(), dxd.end()),
        [&](std::size_t o) {
          const Real q = std::exp(static_cast<Real>(yf[o]));
          return 8 * kEpsF * (std::fabs(dyf[o]) + q * (1 + std::fabs(yf[o])) * dy_abs[row_of(o)]) /
                     t +
                 1e-37L;
        },
        "log_softmax_backward float"))
        << "T " << t;
  }
  const auto ref = oracle::evaluate<double>(std::span<const double>(x), dims, 1);
  std::vector<float> rf(ref.lse.size());
  for (std::size_t i = 0; i < rf.size(); ++i) rf[i] = static_cast<float>(ref.lse[i]);
  std::vector<float> drf(rf.size(), 0.75f);
  std::vector<float> dxf(n);
  std::vector<double> dxd(n);
  softreg::logsumexp_backward(dxf, xf, rf, drf, shape, 1);
  softreg::logsumexp_backward(dxd, x, to_double(rf), to_double(drf), shape, 1);
  const oracle::Layout l = oracle::layout(dims, 1);
  EXPECT_TRUE(oracle::all_within<float>(
      dxf, std::vector<Real>(dxd.begin(), dxd.end()),
      [&](std::size_t o) {
        const std::size_t r = (o / (l.n * l.inner)) * l.inner + o % l.inner;
        const Real d = static_cast<Real>(xf[o]) - rf[r];
        return 8 * kEpsF * (1 + std::fabs(d)) * 0.75L * std::exp(d) + 1e-37L;
      },
      "logsumexp_backward float"));
}

TEST(SoftmaxBackward, ArgumentErrorsThrow) {
  const softreg::Shape shape{2, 3};
  std::vector<double> p(6, 1.0 / 3);
  std::vector<double> dy(6, 1.0);
  std::vector<double> dx(6);
  for (const double t : {-1.0, kNanD, kInfD}) {
    EXPECT_THROW(softreg::softmax_backward(dx, p, dy, shape, -1, t), softreg::InvalidArgument);
    EXPECT_THROW(softreg::log_softmax_backward(dx, p, dy, shape, -1, t), softreg::InvalidArgument);
  }
  EXPECT_THROW(softreg::softmax_backward(std::span<double>(dx).first(5), p, dy, shape),
               softreg::InvalidArgument);
  EXPECT_THROW(softreg::softmax_backward(dx, std::span<const double>(p).first(5), dy, shape),
               softreg::InvalidArgument);
  EXPECT_THROW(softreg::log_softmax_backward(dx, p, std::span<const double>(dy).first(5), shape),
               softreg::InvalidArgument);
  EXPECT_THROW(softreg::softmax_backward(dx, p, dy, shape, 2), softreg::InvalidArgument);
  std::vector<double> buf(7, 1.0);
  EXPECT_THROW(softreg::softmax_backward(std::span<double>(buf).subspan(1, 6), p,
                                         std::span<const double>(buf).first(6), shape),
               softreg::InvalidArgument);
  std::vector<double> r(2, 0.0);
  EXPECT_THROW(softreg::logsumexp_backward(dx, p, std::span<const double>(r).first(1), r, shape),
               softreg::InvalidArgument);
  EXPECT_THROW(softreg::logsumexp_backward(dx, p, r, std::span<const double>(r).first(1), shape),
               softreg::InvalidArgument);
  std::vector<double> jac(8);
  EXPECT_THROW(softreg::softmax_jacobian(jac, std::span<const double>(p).first(3)),
               softreg::InvalidArgument);
}

}  // namespace
