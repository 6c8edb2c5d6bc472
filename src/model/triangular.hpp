// Triangular solves with a Cholesky factor, vectorized across right-hand sides with run-time
// dispatch (Highway).
#pragma once

#include <cstddef>

namespace softreg::detail {

/// The row width cholesky_solve needs for k right-hand sides: k rounded up to a whole number of
/// double vectors of the dispatched target.
std::size_t cholesky_solve_width(std::size_t k);

/// b <- (L L^T)^-1 b for the lower Cholesky factor L (`lower`, d1 x d1 row-major, positive
/// diagonal) and its transpose (`upper` = L^T, d1 x d1 row-major; only the triangles are read).
/// b is d1 x w row-major, w = cholesky_solve_width(k) for some k: every column is solved,
/// padding columns included (they stay 0 if they are 0). Each entry is a dot product
/// accumulated in double in a fixed order.
void cholesky_solve(const double* lower, const double* upper, std::size_t d1, double* b,
                    std::size_t w);

}  // namespace softreg::detail
