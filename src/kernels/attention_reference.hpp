// The materialising attention reference (AttentionMethod::naive): one query row at a time, its
// scores over every key it sees held in float64, the softmax and the products in float64, the
// results rounded to the data type once. It is the oracle of the tiled kernels' tests.
#pragma once

#include "kernels/attention_plan.hpp"

namespace softreg::detail {

void attention_naive(const AttentionProblem<float>& p, const AttentionForward<float>& a,
                     int threads);
void attention_naive(const AttentionProblem<double>& p, const AttentionForward<double>& a,
                     int threads);
void attention_backward_naive(const AttentionProblem<float>& p, const AttentionBackward<float>& a,
                              int threads);
void attention_backward_naive(const AttentionProblem<double>& p, const AttentionBackward<double>& a,
                              int threads);

}  // namespace softreg::detail
