// SecondMomentPreconditioner: the sampled second moments through the vectorized dense products,
// a Cholesky factorization, and two triangular solves per application.
#include "model/preconditioner.hpp"

#include <algorithm>
#include <cmath>
#include <variant>

#include "model/dense_pass.hpp"

namespace softreg::detail {

template <class T>
std::unique_ptr<SecondMomentPreconditioner> SecondMomentPreconditioner::build(
    const FeatureMatrix<T>& x, const Preprocessing& pre, std::span<const std::size_t> rows,
    std::size_t k, double l2) {
  const auto* dense = std::get_if<DenseMatrix<T>>(&x);
  if (dense == nullptr || dense->cols > kMaxFeatures || k < 2) return nullptr;
  const std::size_t d = dense->cols;
  const std::size_t d1 = d + 1;
  const std::size_t available = rows.empty() ? dense->rows : rows.size();
  if (available == 0) return nullptr;
  const std::size_t m = std::min(available, kSampleRows);

  // Blocks of sampled rows, transposed to d1 x b (features by rows) in float, so that the
  // product of the block with itself is one call of the dot-product kernel.
  constexpr std::size_t kBlock = 256;
  std::vector<float> bt(d1 * kBlock);
  std::vector<float> zeros(d1, 0.0f);
  std::vector<float> z(d1 * d1);
  std::vector<double> c(d1 * d1, 0.0);
  for (std::size_t start = 0; start < m; start += kBlock) {
    const std::size_t b = std::min(kBlock, m - start);
    for (std::size_t r = 0; r < b; ++r) {
      const std::size_t pick = (start + r) * available / m;
      const std::size_t row = rows.empty() ? pick : rows[pick];
      const auto xr = dense->row(row);
      for (std::size_t j = 0; j < d; ++j) {
        double v = double(xr[j]);
        if (pre.kind != Scaling::none) v = (v - pre.offset[j]) * pre.scale[j];
        bt[j * b + r] = static_cast<float>(v);
      }
      bt[d * b + r] = 1.0f;
    }
    dense_logits(bt.data(), d1, b, bt.data(), zeros.data(), d1, z.data());
    for (std::size_t i = 0; i < d1 * d1; ++i) c[i] += double(z[i]);
  }
  const double q = (1.0 / double(k)) * (1.0 - 1.0 / double(k));
  double trace = 0.0;
  for (std::size_t i = 0; i < d1 * d1; ++i) c[i] *= q / double(m);
  for (std::size_t i = 0; i < d; ++i) c[i * d1 + i] += l2;
  for (std::size_t i = 0; i < d1; ++i) trace += c[i * d1 + i];
  const double delta = 1e-9 * trace / double(d1) + 1e-300;
  for (std::size_t i = 0; i < d1; ++i) c[i * d1 + i] += delta;

  // Cholesky, M = L L^T, in place in the lower triangle.
  for (std::size_t j = 0; j < d1; ++j) {
    double* rj = c.data() + j * d1;
    double diag = rj[j];
    for (std::size_t p = 0; p < j; ++p) diag -= rj[p] * rj[p];
    if (!(diag > 0.0) || !std::isfinite(diag)) return nullptr;
    const double l = std::sqrt(diag);
    rj[j] = l;
    for (std::size_t i = j + 1; i < d1; ++i) {
      double* ri = c.data() + i * d1;
      double s = ri[j];
      for (std::size_t p = 0; p < j; ++p) s -= ri[p] * rj[p];
      ri[j] = s / l;
    }
  }
  auto result = std::make_unique<SecondMomentPreconditioner>();
  result->d1_ = d1;
  result->k_ = k;
  result->chol_ = std::move(c);
  return result;
}

namespace {

/// The two triangular solves on a copy of theta whose rows are padded to kWidth classes (a
/// compile-time width, so every row update is a few full vector multiply-adds).
template <std::size_t kWidth>
void solve_padded(const std::vector<double>& chol, std::size_t d1, std::size_t k,
                  std::span<double> theta, std::vector<double>& work) {
  work.assign(d1 * kWidth, 0.0);
  for (std::size_t i = 0; i < d1; ++i) {
    std::copy(theta.begin() + std::ptrdiff_t(i * k), theta.begin() + std::ptrdiff_t(i * k + k),
              work.begin() + std::ptrdiff_t(i * kWidth));
  }
  double* y = work.data();
  // L Y = Theta.
  for (std::size_t i = 0; i < d1; ++i) {
    const double* li = chol.data() + i * d1;
    double acc[kWidth];
    for (std::size_t c = 0; c < kWidth; ++c) acc[c] = y[i * kWidth + c];
    for (std::size_t p = 0; p < i; ++p) {
      const double l = li[p];
      const double* yp = y + p * kWidth;
      for (std::size_t c = 0; c < kWidth; ++c) acc[c] -= l * yp[c];
    }
    const double inv = 1.0 / li[i];
    for (std::size_t c = 0; c < kWidth; ++c) y[i * kWidth + c] = acc[c] * inv;
  }
  // L^T X = Y, from the last row up.
  for (std::size_t i = d1; i-- > 0;) {
    double* yi = y + i * kWidth;
    const double inv = 1.0 / chol[i * d1 + i];
    for (std::size_t c = 0; c < kWidth; ++c) yi[c] *= inv;
    const double* li = chol.data() + i * d1;
    for (std::size_t p = 0; p < i; ++p) {
      const double l = li[p];
      double* yp = y + p * kWidth;
      for (std::size_t c = 0; c < kWidth; ++c) yp[c] -= l * yi[c];
    }
  }
  for (std::size_t i = 0; i < d1; ++i) {
    std::copy(work.begin() + std::ptrdiff_t(i * kWidth),
              work.begin() + std::ptrdiff_t(i * kWidth + k), theta.begin() + std::ptrdiff_t(i * k));
  }
}

}  // namespace

void SecondMomentPreconditioner::apply(std::span<double> theta) const {
  if (k_ <= 4) {
    solve_padded<4>(chol_, d1_, k_, theta, work_);
  } else if (k_ <= 8) {
    solve_padded<8>(chol_, d1_, k_, theta, work_);
  } else if (k_ <= 16) {
    solve_padded<16>(chol_, d1_, k_, theta, work_);
  } else {
    // Wide K: one class at a time.
    std::vector<double> column(d1_);
    std::vector<double> scratch;
    for (std::size_t c = 0; c < k_; ++c) {
      for (std::size_t i = 0; i < d1_; ++i) column[i] = theta[i * k_ + c];
      solve_padded<1>(chol_, d1_, 1, column, scratch);
      for (std::size_t i = 0; i < d1_; ++i) theta[i * k_ + c] = column[i];
    }
  }
}

template std::unique_ptr<SecondMomentPreconditioner> SecondMomentPreconditioner::build<float>(
    const FeatureMatrix<float>&, const Preprocessing&, std::span<const std::size_t>, std::size_t,
    double);
template std::unique_ptr<SecondMomentPreconditioner> SecondMomentPreconditioner::build<double>(
    const FeatureMatrix<double>&, const Preprocessing&, std::span<const std::size_t>, std::size_t,
    double);

}  // namespace softreg::detail
