// Typed wrappers over the CBLAS matrix products the objective and the model use.
#pragma once

#include <cblas.h>

#include <cstddef>

namespace softreg::detail {

/// C (m x n) = alpha * A (m x k) * B (k x n) + beta * C, all row-major and contiguous.
inline void gemm_nn(std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                    const float* b, float beta, float* c) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(n), int(k), alpha, a, int(k),
              b, int(n), beta, c, int(n));
}
inline void gemm_nn(std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
                    const double* b, double beta, double* c) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(n), int(k), alpha, a, int(k),
              b, int(n), beta, c, int(n));
}

/// C (m x n) = alpha * A^T * B + beta * C where A is k x m and B is k x n, row-major.
inline void gemm_tn(std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                    const float* b, float beta, float* c) {
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(m), int(n), int(k), alpha, a, int(m), b,
              int(n), beta, c, int(n));
}
inline void gemm_tn(std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
                    const double* b, double beta, double* c) {
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(m), int(n), int(k), alpha, a, int(m), b,
              int(n), beta, c, int(n));
}

/// Our own threads split the rows; OpenBLAS must not add its own on top of them.
inline void use_single_threaded_blas() {
  openblas_set_num_threads(1);
}

}  // namespace softreg::detail
