// The vectorized fused cross-entropy rows (Highway, dispatched at run time): the common case of
// contiguous rows with unsmoothed index targets and optional class weights, forward only or
// forward + backward. Everything else (probability targets, label smoothing, a class axis
// other than the last) runs the scalar rows of cross_entropy.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/row.hpp"

namespace softreg::detail {

template <class T>
struct CrossEntropyRows {
  const T* x = nullptr;  // rows x n logits
  T* grad = nullptr;     // rows x n, or nullptr for the forward pass only; may be x
  std::size_t n = 0;
  const std::int64_t* target = nullptr;  // validated: in [0, n) or ignore_index
  std::int64_t ignore_index = -100;
  const T* weights = nullptr;  // n class weights, or nullptr
  double scale = 1.0;          // the reduction's factor applied to the gradient
  T* row_losses = nullptr;     // one per row, or nullptr
  /// Write the gradient with non-temporal stores (an output far larger than cache); rows of
  /// up to kOnlineRowBytes then keep their exponentials in the thread's scratch row, longer
  /// rows take the online normalizer and compute them again for the write.
  bool stream = false;
  /// Computes row r's loss and gradient the scalar way; called for rows whose maximum is not
  /// finite, before anything of that row is changed (the whole-vector store of the row before
  /// may rewrite its first entries with the bytes they already hold).
  double (*fallback)(const void* context, std::size_t r) = nullptr;
  const void* context = nullptr;
};

/// Rows [begin, end): each row's loss w_c (logsumexp(x) - x_c) (0 for ignored rows and zero
/// weights) is added to `total` in row order and stored in row_losses; grad, if given,
/// receives scale * (w_c p - w_c e_c) (0 for ignored rows).
void simd_cross_entropy_rows(const CrossEntropyRows<float>& job, std::size_t begin, std::size_t end,
                             CompensatedSum& total);
void simd_cross_entropy_rows(const CrossEntropyRows<double>& job, std::size_t begin,
                             std::size_t end, CompensatedSum& total);

}  // namespace softreg::detail
