// SecondMomentPreconditioner: the sampled second moments (dense or CSR rows, the latter scattered
// into a dense row) through the vectorized dense products,
// a Cholesky factorization, and two vectorized triangular solves per application.
#include "model/preconditioner.hpp"

#include <algorithm>
#include <cmath>
#include <variant>

#include "common/thread_pool.hpp"
#include "kernels/linear.hpp"

namespace softreg::detail {

namespace {

/// The weighted second moments of the sampled rows of [x~, 1], lower triangle only, as a
/// d1 x d1 row-major matrix (upper entries stay 0), and the sampled rows' total weight.
struct Moments {
  std::vector<double> c;
  double total_weight = 0.0;
};

/// Row i of dense or CSR data as d values: the dense row itself, or the CSR row scattered into
/// `scratch` (d zeros and its entries), so both give the same numbers.
template <class T>
const T* dense_row(const FeatureMatrix<T>& x, std::size_t i, std::vector<T>& scratch) {
  if (const auto* dense = std::get_if<DenseMatrix<T>>(&x)) return dense->row(i).data();
  const auto& csr = std::get<CsrMatrix<T>>(x);
  scratch.assign(csr.cols, T(0));
  for (auto p = csr.indptr[i]; p < csr.indptr[i + 1]; ++p)
    scratch[std::size_t(csr.indices[std::size_t(p)])] += csr.values[std::size_t(p)];
  return scratch.data();
}

template <class T>
Moments second_moments(const FeatureMatrix<T>& x, const Preprocessing& pre,
                       std::span<const std::size_t> rows, std::span<const double> weights,
                       std::size_t m, int threads) {
  const std::size_t d = cols_of(x);
  const std::size_t d1 = d + 1;
  const std::size_t available = rows.empty() ? rows_of(x) : rows.size();
  std::vector<T> scratch;
  // Blocks of sampled rows, transposed to d1 x b (features by rows) in float, so that the
  // product of the block with itself is one call of the dot-product kernel.
  constexpr std::size_t kBlock = 256;
  std::vector<float> bt(d1 * kBlock);
  std::vector<float> zeros(d1, 0.0f);
  constexpr std::size_t kChunk = 32;
  const std::size_t chunks = (d1 + kChunk - 1) / kChunk;
  const int workers = int(std::min<std::size_t>(std::size_t(resolve_threads(threads)), chunks));
  std::vector<float> z(std::size_t(workers) * kChunk * d1);  // one chunk of products per thread
  Moments out{std::vector<double>(d1 * d1, 0.0), 0.0};
  for (std::size_t start = 0; start < m; start += kBlock) {
    const std::size_t b = std::min(kBlock, m - start);
    for (std::size_t r = 0; r < b; ++r) {
      const std::size_t pick = (start + r) * available / m;
      const std::size_t row = rows.empty() ? pick : rows[pick];
      const T* xr = dense_row(x, row, scratch);
      // A row of weight w enters as sqrt(w) x~, so that its product with itself is w x~ x~^T.
      const double w = weights.empty() ? 1.0 : weights[row];
      const double root = std::sqrt(w);
      out.total_weight += w;
      for (std::size_t j = 0; j < d; ++j) {
        double v = double(xr[j]);
        if (pre.kind != Scaling::none) v = (v - pre.offset[j]) * pre.scale[j];
        bt[j * b + r] = static_cast<float>(root * v);
      }
      bt[d * b + r] = static_cast<float>(root);
    }
    // The lower triangle only (the factorization reads nothing else), in chunks of rows dealt
    // to the threads in turn so that the growing rows even out; each entry is computed the
    // same way whatever the thread count.
    parallel_run(workers, [&](int t) {
      float* zt = z.data() + std::size_t(t) * kChunk * d1;
      for (std::size_t ch = std::size_t(t); ch < chunks; ch += std::size_t(workers)) {
        const std::size_t r0 = ch * kChunk;
        const std::size_t r1 = std::min(d1, r0 + kChunk);
        dense_logits(bt.data() + r0 * b, r1 - r0, b, bt.data(), zeros.data(), r1, zt);
        for (std::size_t r = r0; r < r1; ++r) {
          for (std::size_t col = 0; col <= r; ++col) {
            out.c[r * d1 + col] += double(zt[(r - r0) * r1 + col]);
          }
        }
      }
    });
  }
  return out;
}

/// Cholesky, M = L L^T, in place in the lower triangle of the d1 x d1 row-major c; false when
/// M is not numerically positive definite. The dot products keep four partial sums (fixed
/// order): one chain of dependent additions would make this d^3 / 6 loop wait on the adder's
/// latency (0.13 s for d = 784).
bool cholesky_in_place(std::vector<double>& c, std::size_t d1) {
  const auto row_dot = [](const double* a, const double* b, std::size_t len) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    std::size_t p = 0;
    for (; p + 4 <= len; p += 4) {
      s0 += a[p] * b[p];
      s1 += a[p + 1] * b[p + 1];
      s2 += a[p + 2] * b[p + 2];
      s3 += a[p + 3] * b[p + 3];
    }
    for (; p < len; ++p) s0 += a[p] * b[p];
    return (s0 + s1) + (s2 + s3);
  };
  for (std::size_t j = 0; j < d1; ++j) {
    double* rj = c.data() + j * d1;
    const double diag = rj[j] - row_dot(rj, rj, j);
    if (!(diag > 0.0) || !std::isfinite(diag)) return false;
    const double l = std::sqrt(diag);
    rj[j] = l;
    for (std::size_t i = j + 1; i < d1; ++i) {
      double* ri = c.data() + i * d1;
      ri[j] = (ri[j] - row_dot(ri, rj, j)) / l;
    }
  }
  return true;
}

}  // namespace

template <class T>
std::unique_ptr<SecondMomentPreconditioner> SecondMomentPreconditioner::build(
    const FeatureMatrix<T>& x, const Preprocessing& pre, std::span<const std::size_t> rows,
    std::span<const double> weights, std::size_t k, double l2, int threads, Communicator* comm) {
  if (cols_of(x) > kMaxFeatures || k < 2) return nullptr;
  const std::size_t d = cols_of(x);
  const std::size_t d1 = d + 1;
  const std::size_t available = rows.empty() ? rows_of(x) : rows.size();
  if (available == 0 && comm == nullptr) return nullptr;
  const std::size_t m = comm != nullptr ? rows.size() : std::min(available, kSampleRows);
  Moments moments = second_moments(x, pre, rows, weights, m, threads);
  std::vector<double>& c = moments.c;
  if (comm != nullptr) {
    c.push_back(moments.total_weight);
    comm->sum(c);
    moments.total_weight = c.back();
    c.pop_back();
  }
  if (!(moments.total_weight > 0.0)) return nullptr;
  const double q = (1.0 / double(k)) * (1.0 - 1.0 / double(k));
  double trace = 0.0;
  for (std::size_t i = 0; i < d1 * d1; ++i) c[i] *= q / moments.total_weight;
  for (std::size_t i = 0; i < d; ++i) c[i * d1 + i] += l2;
  for (std::size_t i = 0; i < d1; ++i) trace += c[i * d1 + i];
  const double delta = 1e-9 * trace / double(d1) + 1e-300;
  for (std::size_t i = 0; i < d1; ++i) c[i * d1 + i] += delta;
  if (!cholesky_in_place(c, d1)) return nullptr;

  auto result = std::make_unique<SecondMomentPreconditioner>();
  result->d1_ = d1;
  result->k_ = k;
  result->upper_.assign(d1 * d1, 0.0);
  for (std::size_t i = 0; i < d1; ++i) {
    for (std::size_t j = 0; j <= i; ++j) result->upper_[j * d1 + i] = c[i * d1 + j];
  }
  result->chol_ = std::move(c);
  return result;
}

void SecondMomentPreconditioner::apply(std::span<double> theta) const {
  // Rows padded to whole vectors of classes: each row update is a few full multiply-adds.
  const std::size_t w = cholesky_solve_width(k_);
  work_.assign(d1_ * w, 0.0);
  for (std::size_t i = 0; i < d1_; ++i) {
    std::copy_n(theta.begin() + std::ptrdiff_t(i * k_), k_, work_.begin() + std::ptrdiff_t(i * w));
  }
  cholesky_solve(chol_.data(), upper_.data(), d1_, work_.data(), w);
  for (std::size_t i = 0; i < d1_; ++i) {
    std::copy_n(work_.begin() + std::ptrdiff_t(i * w), k_, theta.begin() + std::ptrdiff_t(i * k_));
  }
}

template std::unique_ptr<SecondMomentPreconditioner> SecondMomentPreconditioner::build<float>(
    const FeatureMatrix<float>&, const Preprocessing&, std::span<const std::size_t>,
    std::span<const double>, std::size_t, double, int, Communicator*);
template std::unique_ptr<SecondMomentPreconditioner> SecondMomentPreconditioner::build<double>(
    const FeatureMatrix<double>&, const Preprocessing&, std::span<const std::size_t>,
    std::span<const double>, std::size_t, double, int, Communicator*);

}  // namespace softreg::detail
