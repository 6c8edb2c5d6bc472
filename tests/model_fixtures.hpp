// Synthetic classification data for the objective, optimizer and model tests.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "model/saga.hpp"
#include "softreg/data.hpp"
#include "softreg/matrix.hpp"
#include "softreg/objective.hpp"
#include "softreg/optim.hpp"

namespace softreg_test {

/// n rows of d features in K Gaussian blobs with centres `spread` apart (per class a random
/// centre), labels "0".."K-1" (or the given names). Seeded: the same data every run.
template <class T>
softreg::Dataset<T> blobs(std::size_t n, std::size_t d, std::size_t k, double spread,
                          std::uint64_t seed, const std::vector<std::string>& names = {}) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> centres(k * d);
  for (auto& c : centres) c = spread * normal(rng);
  softreg::Dataset<T> data;
  softreg::DenseMatrix<T> x(n, d);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = i % k;
    for (std::size_t j = 0; j < d; ++j) x(i, j) = T(centres[c * d + j] + normal(rng));
    data.labels.push_back(names.empty() ? std::to_string(c) : names[c]);
  }
  data.features = std::move(x);
  data.source = "blobs";
  return data;
}

/// The CSR form of a dense matrix (zeros dropped).
template <class T>
softreg::CsrMatrix<T> to_csr(const softreg::DenseMatrix<T>& x) {
  softreg::CsrMatrix<T> s;
  s.rows = x.rows;
  s.cols = x.cols;
  for (std::size_t i = 0; i < x.rows; ++i) {
    for (std::size_t j = 0; j < x.cols; ++j) {
      if (x(i, j) != T(0)) {
        s.indices.push_back(static_cast<std::int32_t>(j));
        s.values.push_back(x(i, j));
      }
    }
    s.indptr.push_back(static_cast<std::int64_t>(s.values.size()));
  }
  return s;
}

/// The same features in another element type (each value converted).
template <class To, class From>
softreg::FeatureMatrix<To> cast_features(const softreg::FeatureMatrix<From>& x) {
  if (const auto* s = std::get_if<softreg::CsrMatrix<From>>(&x)) {
    softreg::CsrMatrix<To> out;
    out.rows = s->rows;
    out.cols = s->cols;
    out.indptr = s->indptr;
    out.indices = s->indices;
    out.values.assign(s->values.begin(), s->values.end());
    return out;
  }
  const auto& d = std::get<softreg::DenseMatrix<From>>(x);
  softreg::DenseMatrix<To> out(d.rows, d.cols);
  for (std::size_t i = 0; i < d.data.size(); ++i) out.data[i] = To(d.data[i]);
  return out;
}

/// SAGA over data's features converted to T, for K classes and lambda l2, with the full
/// objective of the same values evaluated in E (the iterates' solver state is T's, the
/// reference is E's).
template <class T, class E = T>
struct SagaSetup {
  SagaSetup(const softreg::Dataset<double>& data, std::size_t k, double l2)
      : x(cast_features<T>(data.features)),
        xe(cast_features<E>(x)),
        y(labels(data)),
        f(xe, y, k, options(l2)) {
    problem.y = y;
    problem.k = k;
    problem.l2 = l2;
    full = [this](std::span<const double> th, std::span<double> g) { return f.evaluate(th, g); };
  }
  SagaSetup(const SagaSetup&) = delete;  // full refers to this object's f
  SagaSetup& operator=(const SagaSetup&) = delete;

  softreg::OptimResult run(const softreg::detail::SagaOptions& o, std::vector<double>& theta,
                           const softreg::ProgressCallback& progress = {}) {
    theta.assign(f.n_params(), 0.0);
    return softreg::detail::saga<T>(x, problem, theta, o, full, progress, {});
  }

  static std::vector<std::int64_t> labels(const softreg::Dataset<double>& data) {
    std::vector<std::int64_t> out;
    for (const auto& l : data.labels) out.push_back(std::stoll(l));
    return out;
  }
  static softreg::ObjectiveOptions options(double l2) {
    softreg::ObjectiveOptions oo;
    oo.l2 = l2;
    return oo;
  }

  softreg::FeatureMatrix<T> x;
  softreg::FeatureMatrix<E> xe;  // the objective keeps a reference
  std::vector<std::int64_t> y;
  softreg::SoftmaxObjective<E> f;
  softreg::detail::SagaProblem problem;
  softreg::Objective full;
};

/// The objective of objective.hpp by plain loops in long double, as an independent reference.
inline long double naive_objective(const softreg::DenseMatrix<double>& x,
                                   const std::vector<std::int64_t>& y, std::size_t k,
                                   const std::vector<double>& theta, double l2,
                                   const std::vector<double>& sample_w,
                                   const std::vector<double>& class_w) {
  const std::size_t d = x.cols;
  long double total = 0, weight_sum = 0;
  for (std::size_t i = 0; i < x.rows; ++i) {
    std::vector<long double> z(k);
    long double m = -INFINITY;
    for (std::size_t c = 0; c < k; ++c) {
      z[c] = theta[d * k + c];
      for (std::size_t j = 0; j < d; ++j) z[c] += (long double)x(i, j) * theta[j * k + c];
      m = std::max(m, z[c]);
    }
    long double s = 0;
    for (std::size_t c = 0; c < k; ++c) s += std::exp(z[c] - m);
    const long double ce = -(z[std::size_t(y[i])] - m - std::log(s));
    const long double sw = sample_w.empty() ? 1.0L : sample_w[i];
    const long double cw = class_w.empty() ? 1.0L : class_w[std::size_t(y[i])];
    total += sw * cw * ce;
    weight_sum += sw;
  }
  long double penalty = 0;
  for (std::size_t j = 0; j < d * k; ++j) penalty += (long double)theta[j] * theta[j];
  return total / weight_sum + 0.5L * l2 * penalty;
}

}  // namespace softreg_test
