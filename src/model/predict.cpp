// Predictions of a fitted SoftmaxRegression: logits by blocks of rows with the preprocessing
// folded into the weights (the same products as training), then the softmax-family kernels.
#include <algorithm>
#include <cmath>
#include <string>
#include <variant>

#include "common/thread_pool.hpp"
#include "kernels/linear.hpp"
#include "model/csr_pass.hpp"
#include "softreg/error.hpp"
#include "softreg/model.hpp"
#include "softreg/softmax.hpp"

namespace softreg {
namespace {

constexpr std::size_t kBlockRows = 512;

}  // namespace

template <class T>
void SoftmaxRegression::decision_function(const FeatureMatrix<T>& x, std::span<T> out,
                                          int threads) const {
  const std::size_t n = rows_of(x);
  const std::size_t k = n_classes();
  if (cols_of(x) != d_) {
    throw InvalidArgument("softreg::SoftmaxRegression: the data has " + std::to_string(cols_of(x)) +
                          " features but the model was trained on " + std::to_string(d_));
  }
  if (out.size() != n * k) {
    throw InvalidArgument("softreg::SoftmaxRegression: out has " + std::to_string(out.size()) +
                          " entries, expected n K = " + std::to_string(n * k));
  }
  std::vector<double> w_raw, b_raw;
  folded_weights(w_raw, b_raw);
  const auto* dense = std::get_if<DenseMatrix<T>>(&x);
  const auto* sparse = std::get_if<CsrMatrix<T>>(&x);
  // The training pass's products: dense rows take W transposed (K x d), CSR rows W itself.
  std::vector<T> w(w_raw.size() + detail::kSparsePad);  // the sparse rows read past the end
  for (std::size_t j = 0; j < d_; ++j) {
    for (std::size_t c = 0; c < k; ++c) {
      w[dense ? c * d_ + j : j * k + c] = T(w_raw[j * k + c]);
    }
  }
  std::vector<T> b(b_raw.begin(), b_raw.end());
  b.resize(b.size() + detail::kSparsePad);
  const std::size_t blocks = (n + kBlockRows - 1) / kBlockRows;
  const int workers = static_cast<int>(std::min<std::size_t>(
      std::size_t(detail::resolve_threads(threads)), std::max<std::size_t>(blocks, 1)));
  detail::fork_join(workers, [&](int t) {
    const std::size_t row_begin =
        std::min(n, blocks * std::size_t(t) / std::size_t(workers) * kBlockRows);
    const std::size_t row_end =
        std::min(n, blocks * std::size_t(t + 1) / std::size_t(workers) * kBlockRows);
    const std::size_t m = row_end - row_begin;
    if (m == 0) return;
    T* z = out.data() + row_begin * k;
    if (dense) {
      detail::dense_logits(dense->data.data() + row_begin * d_, m, d_, w.data(), b.data(), k, z);
    } else {
      detail::csr_logits(*sparse, nullptr, row_begin, m, w.data(), b.data(), k, z);
    }
  });
}

template <class T>
void SoftmaxRegression::predict_proba(const FeatureMatrix<T>& x, std::span<T> out,
                                      int threads) const {
  decision_function(x, out, threads);
  softmax(out, std::span<const T>(out), {rows_of(x), n_classes()}, -1, temperature_);
}

template <class T>
void SoftmaxRegression::predict_log_proba(const FeatureMatrix<T>& x, std::span<T> out,
                                          int threads) const {
  decision_function(x, out, threads);
  log_softmax(out, std::span<const T>(out), {rows_of(x), n_classes()}, -1, temperature_);
}

template <class T>
std::vector<std::int64_t> SoftmaxRegression::predict(const FeatureMatrix<T>& x, int threads) const {
  const std::size_t n = rows_of(x);
  std::vector<T> z(n * n_classes());
  decision_function(x, std::span<T>(z), threads);
  std::vector<std::int64_t> out(n);
  argmax(out, std::span<const T>(z), {n, n_classes()});
  for (std::size_t i = 0; i < n; ++i) {
    if (out[i] < 0) {
      throw Error("softreg::SoftmaxRegression::predict: the logits of row " + std::to_string(i) +
                  " are NaN; no class can be predicted");
    }
  }
  return out;
}

template <class T>
double SoftmaxRegression::score(const FeatureMatrix<T>& x, std::span<const std::string> labels,
                                int threads) const {
  if (labels.size() != rows_of(x)) {
    throw InvalidArgument("softreg::SoftmaxRegression::score: " + std::to_string(labels.size()) +
                          " labels for " + std::to_string(rows_of(x)) + " rows");
  }
  const auto pred = predict(x, threads);
  std::size_t hits = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) {
    hits += classes_[std::size_t(pred[i])] == labels[i] ? 1 : 0;
  }
  return pred.empty() ? 0.0 : double(hits) / double(pred.size());
}

#define SOFTREG_PREDICT_INSTANTIATE(T)                                                           \
  template void SoftmaxRegression::decision_function<T>(const FeatureMatrix<T>&, std::span<T>,   \
                                                        int) const;                              \
  template void SoftmaxRegression::predict_proba<T>(const FeatureMatrix<T>&, std::span<T>, int)  \
      const;                                                                                     \
  template void SoftmaxRegression::predict_log_proba<T>(const FeatureMatrix<T>&, std::span<T>,   \
                                                        int) const;                              \
  template std::vector<std::int64_t> SoftmaxRegression::predict<T>(const FeatureMatrix<T>&, int) \
      const;                                                                                     \
  template double SoftmaxRegression::score<T>(const FeatureMatrix<T>&,                           \
                                              std::span<const std::string>, int) const;
SOFTREG_PREDICT_INSTANTIATE(float)
SOFTREG_PREDICT_INSTANTIATE(double)
#undef SOFTREG_PREDICT_INSTANTIATE

}  // namespace softreg
