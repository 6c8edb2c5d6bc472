// The sparse (CSR) counterparts of the dense products in kernels/linear.hpp: logits and gradient
// products over rows.
#pragma once

#include <algorithm>
#include <cstddef>

#include "softreg/matrix.hpp"

namespace softreg::detail {

/// Logits of m rows of a CSR matrix, Z = X_b W + b with W d x K row-major: the rows listed in
/// `rows`, or rows [row_begin, row_begin + m) when rows is null.
template <class T>
inline void csr_logits(const CsrMatrix<T>& x, const std::size_t* rows, std::size_t row_begin,
                       std::size_t m, const T* w, const T* b, std::size_t k, T* z) {
  for (std::size_t r = 0; r < m; ++r) {
    const std::size_t i = rows ? rows[r] : row_begin + r;
    T* zr = z + r * k;
    std::copy(b, b + k, zr);
    for (auto p = x.indptr[i]; p < x.indptr[i + 1]; ++p) {
      const T v = x.values[std::size_t(p)];
      const T* wr = w + std::size_t(x.indices[std::size_t(p)]) * k;
      for (std::size_t c = 0; c < k; ++c) zr[c] += v * wr[c];
    }
  }
}

/// G += X_b^T dZ for a CSR block, accumulated straight into the double gradient.
template <class T>
inline void csr_gradient(const CsrMatrix<T>& x, const std::size_t* rows, std::size_t row_begin,
                         std::size_t m, const T* dz, std::size_t k, double* g) {
  for (std::size_t r = 0; r < m; ++r) {
    const std::size_t i = rows ? rows[r] : row_begin + r;
    const T* dzr = dz + r * k;
    for (auto p = x.indptr[i]; p < x.indptr[i + 1]; ++p) {
      const double v = x.values[std::size_t(p)];
      double* gr = g + std::size_t(x.indices[std::size_t(p)]) * k;
      for (std::size_t c = 0; c < k; ++c) gr[c] += v * double(dzr[c]);
    }
  }
}

}  // namespace softreg::detail
