// A downstream program: softmax and cross-entropy of one row through the installed library.
#include <cmath>
#include <cstdio>
#include <vector>

#include "softreg/loss.hpp"
#include "softreg/softmax.hpp"

int main() {
  const std::vector<double> z{1000.0, 1001.0, 1002.0};
  std::vector<double> p(z.size());
  softreg::softmax(p, z, {z.size()});
  const std::vector<std::int64_t> target{2};
  const double loss = softreg::cross_entropy(z, {1, z.size()}, target);
  std::printf("softmax = [%.6f, %.6f, %.6f], cross-entropy = %.6f\n", p[0], p[1], p[2], loss);
  // softmax([0, 1, 2])[2] = 1 / (1 + e^-1 + e^-2); the loss is its negative log.
  const double expected = 1.0 / (1.0 + std::exp(-1.0) + std::exp(-2.0));
  const bool ok =
      std::fabs(p[2] - expected) < 1e-12 && std::fabs(loss + std::log(expected)) < 1e-12;
  return ok ? 0 : 1;
}
