// Rules a fit follows wherever its rows come from (memory, a shard, a streamed file).
#pragma once

#include <span>
#include <string>
#include <vector>

namespace softreg::detail {

/// The distinct labels in scikit-learn's order: numerically if all are integers, else as
/// strings.
std::vector<std::string> sorted_classes(std::span<const std::string> labels);

/// The full-batch solvers' second stopping rule: the relative decrease below which two
/// iterations in a row stop them, from tol (see fit.cpp).
double relative_loss_tolerance(double tol);

}  // namespace softreg::detail
