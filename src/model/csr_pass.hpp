// The sparse (CSR) counterparts of the dense products in kernels/linear.hpp: logits over rows,
// and the gradient product X^T dZ by columns through a transposed copy of the rows' entries.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/linear.hpp"
#include "softreg/matrix.hpp"

namespace softreg::detail {

/// Logits of m rows of a CSR matrix, Z = X_b W + b with W d x K row-major: the rows listed in
/// `rows`, or rows [row_begin, row_begin + m) when rows is null. w and b must be readable
/// kSparsePad elements past their ends (kernels/linear.hpp).
template <class T>
inline void csr_logits(const CsrMatrix<T>& x, const std::size_t* rows, std::size_t row_begin,
                       std::size_t m, const T* w, const T* b, std::size_t k, T* z) {
  for (std::size_t r = 0; r < m; ++r) {
    const std::size_t i = rows ? rows[r] : row_begin + r;
    const auto p0 = std::size_t(x.indptr[i]);
    sparse_row_logits(x.indices.data() + p0, x.values.data() + p0,
                      std::size_t(x.indptr[i + 1]) - p0, w, b, k, z + r * k);
  }
}

/// The entries of m rows of a CSR matrix regrouped by column (a CSC copy of those rows): column
/// j's entries are [start[j], start[j + 1]), each the row's position in the list (0 .. m) and
/// its value, positions increasing. X^T dZ is then one independent sum per column, each in one
/// fixed order, so any split of the columns across threads gives the same bits, and no thread
/// needs a d x K partial gradient of its own.
template <class T>
struct ColumnIndex {
  std::vector<std::int64_t> start;  // d + 1
  std::vector<std::uint32_t> pos;   // nnz: the entry's row, as a position in the list
  std::vector<T> value;             // nnz

  /// Rows rows[0 .. m) (or row_begin .. row_begin + m when rows is null) of x; m < 2^32.
  void build(const CsrMatrix<T>& x, const std::size_t* rows, std::size_t row_begin, std::size_t m) {
    const std::size_t d = x.cols;
    start.assign(d + 1, 0);
    std::size_t nnz = 0;
    for (std::size_t r = 0; r < m; ++r) {
      const std::size_t i = rows ? rows[r] : row_begin + r;
      for (auto p = x.indptr[i]; p < x.indptr[i + 1]; ++p) ++start[std::size_t(x.indices[p]) + 1];
      nnz += std::size_t(x.indptr[i + 1] - x.indptr[i]);
    }
    for (std::size_t j = 0; j < d; ++j) start[j + 1] += start[j];
    pos.resize(nnz);
    value.resize(nnz);
    std::vector<std::int64_t> next(start.begin(), start.end() - 1);
    for (std::size_t r = 0; r < m; ++r) {
      const std::size_t i = rows ? rows[r] : row_begin + r;
      for (auto p = x.indptr[i]; p < x.indptr[i + 1]; ++p) {
        const auto e = std::size_t(next[std::size_t(x.indices[p])]++);
        pos[e] = std::uint32_t(r);
        value[e] = x.values[std::size_t(p)];
      }
    }
  }

  /// Column boundaries splitting the entries into `parts` runs of about equal size (columns
  /// whole): part t is columns [cut[t], cut[t + 1]).
  std::vector<std::size_t> balanced_cuts(std::size_t parts) const {
    const std::size_t d = start.size() - 1;
    std::vector<std::size_t> cut(parts + 1, d);
    cut[0] = 0;
    const auto total = double(start[d]);
    for (std::size_t t = 1; t < parts; ++t) {
      const auto target = std::int64_t(total * double(t) / double(parts));
      cut[t] = std::size_t(std::lower_bound(start.begin(), start.end(), target) - start.begin());
      cut[t] = std::clamp(cut[t], cut[t - 1], d);
    }
    return cut;
  }
};

/// G[j] += sum over column j's entries of value * dZ[pos] for columns [j0, j1): G is d x K
/// double, dZ is m x K in T (rows in the index's positions), readable kSparsePad past its end.
template <class T>
inline void csr_column_gradient(const ColumnIndex<T>& index, std::size_t j0, std::size_t j1,
                                const T* dz, std::size_t k, double* g) {
  for (std::size_t j = j0; j < j1; ++j) {
    const auto e0 = std::size_t(index.start[j]);
    sparse_column_sum(index.pos.data() + e0, index.value.data() + e0,
                      std::size_t(index.start[j + 1]) - e0, dz, k, g + j * k);
  }
}

}  // namespace softreg::detail
