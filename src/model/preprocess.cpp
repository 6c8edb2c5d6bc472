// Standardization and min-max scaling fitted on training rows, applied by folding into weights.
#include "model/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <variant>

namespace softreg::detail {

FeatureMoments::FeatureMoments(std::size_t d)
    : sum(d, 0.0),
      sum_sq(d, 0.0),
      min(d, std::numeric_limits<double>::infinity()),
      max(d, -std::numeric_limits<double>::infinity()) {}

namespace {

using Moments = FeatureMoments;

/// Adds the per-feature sums over `rows` (all rows if empty) to m, each row weighted by
/// weights[row] (1 if weights is empty).
template <class T>
void add_rows(Moments& m, const FeatureMatrix<T>& x, std::span<const std::size_t> rows,
              std::span<const double> weights) {
  const std::size_t d = cols_of(x);
  const std::size_t n = rows.empty() ? rows_of(x) : rows.size();
  auto row_at = [&](std::size_t r) { return rows.empty() ? r : rows[r]; };
  auto weight_of = [&](std::size_t i) { return weights.empty() ? 1.0 : weights[i]; };
  if (const auto* dense = std::get_if<DenseMatrix<T>>(&x)) {
    for (std::size_t r = 0; r < n; ++r) {
      const std::size_t i = row_at(r);
      const auto row = dense->row(i);
      const double w = weight_of(i);
      m.weight += w;
      for (std::size_t j = 0; j < d; ++j) m.add(j, double(row[j]), w);
    }
  } else {
    const auto& csr = std::get<CsrMatrix<T>>(x);
    std::vector<std::size_t> nonzero(d, 0);
    for (std::size_t r = 0; r < n; ++r) {
      const std::size_t i = row_at(r);
      const double w = weight_of(i);
      m.weight += w;
      for (auto p = csr.indptr[i]; p < csr.indptr[i + 1]; ++p) {
        const auto j = std::size_t(csr.indices[std::size_t(p)]);
        m.add(j, double(csr.values[std::size_t(p)]), w);
        ++nonzero[j];
      }
    }
    for (std::size_t j = 0; j < d; ++j) {
      if (nonzero[j] < n) m.add(j, 0.0, 0.0);  // the implicit zeros; sums are unaffected
    }
  }
}

template <class T>
Moments moments(const FeatureMatrix<T>& x, std::span<const std::size_t> rows,
                std::span<const double> weights) {
  Moments m(cols_of(x));
  add_rows(m, x, rows, weights);
  return m;
}

}  // namespace

template <class T>
void FeatureMoments::add(const FeatureMatrix<T>& x, std::span<const std::size_t> rows,
                         std::span<const double> weights) {
  add_rows(*this, x, rows, weights);
}

void FeatureMoments::combine(Communicator* comm) {
  Moments& m = *this;
  if (comm == nullptr) return;
  const std::size_t d = m.sum.size();
  std::vector<double> sums(2 * d + 1);
  std::copy(m.sum.begin(), m.sum.end(), sums.begin());
  std::copy(m.sum_sq.begin(), m.sum_sq.end(), sums.begin() + std::ptrdiff_t(d));
  sums[2 * d] = m.weight;
  comm->sum(sums);
  std::copy_n(sums.begin(), d, m.sum.begin());
  std::copy_n(sums.begin() + std::ptrdiff_t(d), d, m.sum_sq.begin());
  m.weight = sums[2 * d];
  // A rank without rows holds +-inf extremes; the largest finite stand-in keeps max NaN-free.
  constexpr double kBig = std::numeric_limits<double>::max();
  std::vector<double> extremes(2 * d);
  for (std::size_t j = 0; j < d; ++j) {
    extremes[j] = std::clamp(m.max[j], -kBig, kBig);
    extremes[d + j] = std::clamp(-m.min[j], -kBig, kBig);
  }
  comm->max(extremes);
  for (std::size_t j = 0; j < d; ++j) {
    m.max[j] = extremes[j];
    m.min[j] = -extremes[d + j];
  }
}

template <class T>
Preprocessing fit_preprocessing(const FeatureMatrix<T>& x, Scaling kind,
                                std::span<const std::size_t> rows, Communicator* comm) {
  Preprocessing pre;
  pre.kind = kind;
  if (kind == Scaling::none) return pre;
  Moments m = moments(x, rows, {});
  m.combine(comm);
  return m.preprocessing(kind);
}

Preprocessing FeatureMoments::preprocessing(Scaling kind) const {
  const Moments& m = *this;
  Preprocessing pre;
  pre.kind = kind;
  if (kind == Scaling::none) return pre;
  const double n = m.weight;
  const std::size_t d = m.sum.size();
  pre.offset.assign(d, 0.0);
  pre.scale.assign(d, 1.0);
  for (std::size_t j = 0; j < d; ++j) {
    if (kind == Scaling::standard) {
      const double mean = n > 0 ? m.sum[j] / n : 0.0;
      const double var = n > 0 ? std::max(0.0, m.sum_sq[j] / n - mean * mean) : 0.0;
      const double sd = std::sqrt(var);
      pre.offset[j] = mean;
      // A feature constant over the training rows carries no signal: leave it unscaled, as
      // scikit-learn's StandardScaler does, instead of dividing by zero.
      pre.scale[j] = sd > 1e-12 * std::max(1.0, std::fabs(mean)) ? 1.0 / sd : 1.0;
    } else {
      const double lo = n > 0 ? m.min[j] : 0.0;
      const double range = n > 0 ? m.max[j] - lo : 0.0;
      pre.offset[j] = lo;
      pre.scale[j] = range > 0.0 ? 1.0 / range : 1.0;
    }
  }
  return pre;
}

template Preprocessing fit_preprocessing<float>(const FeatureMatrix<float>&, Scaling,
                                                std::span<const std::size_t>, Communicator*);
template Preprocessing fit_preprocessing<double>(const FeatureMatrix<double>&, Scaling,
                                                 std::span<const std::size_t>, Communicator*);

template <class T>
std::vector<double> inverse_hessian_diagonal(const FeatureMatrix<T>& x, const Preprocessing& pre,
                                             std::span<const std::size_t> rows,
                                             std::span<const double> weights, std::size_t k,
                                             double l2, Communicator* comm) {
  Moments m = moments(x, rows, weights);
  m.combine(comm);
  return m.inverse_hessian_diagonal(pre, k, l2);
}

std::vector<double> FeatureMoments::inverse_hessian_diagonal(const Preprocessing& pre,
                                                             std::size_t k, double l2) const {
  const Moments& m = *this;
  const double n = m.weight;
  const std::size_t d = m.sum.size();
  const double q = (1.0 / double(k)) * (1.0 - 1.0 / double(k));
  std::vector<double> h(d * k + k, 1.0 / q);
  for (std::size_t j = 0; j < d; ++j) {
    const double mean = n > 0 ? m.sum[j] / n : 0.0;
    double second = n > 0 ? m.sum_sq[j] / n : 0.0;
    if (pre.kind != Scaling::none) {
      const double o = pre.offset[j];
      second = std::max(0.0, second - 2.0 * o * mean + o * o) * pre.scale[j] * pre.scale[j];
    }
    // A feature that is always 0 and no penalty would give 1/0: fall back to the bias scale.
    const double curvature = q * second + l2;
    const double inv = curvature > 0.0 ? 1.0 / curvature : 1.0 / q;
    for (std::size_t c = 0; c < k; ++c) h[j * k + c] = inv;
  }
  return h;
}

template std::vector<double> inverse_hessian_diagonal<float>(const FeatureMatrix<float>&,
                                                             const Preprocessing&,
                                                             std::span<const std::size_t>,
                                                             std::span<const double>, std::size_t,
                                                             double, Communicator*);
template std::vector<double> inverse_hessian_diagonal<double>(const FeatureMatrix<double>&,
                                                              const Preprocessing&,
                                                              std::span<const std::size_t>,
                                                              std::span<const double>, std::size_t,
                                                              double, Communicator*);

template void FeatureMoments::add<float>(const FeatureMatrix<float>&, std::span<const std::size_t>,
                                         std::span<const double>);
template void FeatureMoments::add<double>(const FeatureMatrix<double>&,
                                          std::span<const std::size_t>, std::span<const double>);

void fold(const Preprocessing& pre, std::size_t d, std::size_t k, std::span<const double> theta,
          std::span<double> theta_raw) {
  std::copy(theta.begin(), theta.end(), theta_raw.begin());
  if (pre.kind == Scaling::none) return;
  double* b = theta_raw.data() + d * k;
  for (std::size_t j = 0; j < d; ++j) {
    const double shift = pre.offset[j] * pre.scale[j];
    for (std::size_t c = 0; c < k; ++c) {
      theta_raw[j * k + c] = pre.scale[j] * theta[j * k + c];
      b[c] -= shift * theta[j * k + c];
    }
  }
}

void unfold_gradient(const Preprocessing& pre, std::size_t d, std::size_t k,
                     std::span<double> grad) {
  if (pre.kind == Scaling::none) return;
  const double* gb = grad.data() + d * k;
  for (std::size_t j = 0; j < d; ++j) {
    const double shift = pre.offset[j] * pre.scale[j];
    for (std::size_t c = 0; c < k; ++c) {
      grad[j * k + c] = pre.scale[j] * grad[j * k + c] - shift * gb[c];
    }
  }
}

}  // namespace softreg::detail
