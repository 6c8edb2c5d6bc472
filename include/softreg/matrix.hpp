// Dense row-major and sparse CSR matrices of float or double: the feature matrices of datasets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

namespace softreg {

/// A rows x cols row-major matrix that owns its storage. Element (i, j) is data[i * cols + j].
template <class T>
struct DenseMatrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<T> data;

  DenseMatrix() = default;
  DenseMatrix(std::size_t r, std::size_t c) : rows(r), cols(c), data(r * c) {}

  std::span<T> row(std::size_t i) { return {data.data() + i * cols, cols}; }
  std::span<const T> row(std::size_t i) const { return {data.data() + i * cols, cols}; }
  T& operator()(std::size_t i, std::size_t j) { return data[i * cols + j]; }
  T operator()(std::size_t i, std::size_t j) const { return data[i * cols + j]; }
};

/// A rows x cols sparse matrix in compressed sparse row form: the entries of row i are
/// values[indptr[i] .. indptr[i + 1]) at columns indices[...] (0-based, strictly increasing
/// within a row). indptr has rows + 1 entries, indptr[0] == 0. Nothing is ever densified.
template <class T>
struct CsrMatrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<std::int64_t> indptr{0};
  std::vector<std::int32_t> indices;
  std::vector<T> values;

  std::size_t nnz() const { return values.size(); }
};

/// The feature matrix of a dataset: dense or sparse.
template <class T>
using FeatureMatrix = std::variant<DenseMatrix<T>, CsrMatrix<T>>;

template <class T>
std::size_t rows_of(const FeatureMatrix<T>& x) {
  return std::visit([](const auto& m) { return m.rows; }, x);
}
template <class T>
std::size_t cols_of(const FeatureMatrix<T>& x) {
  return std::visit([](const auto& m) { return m.cols; }, x);
}

}  // namespace softreg
