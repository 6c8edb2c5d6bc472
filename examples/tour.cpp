// A short tour of softreg's numerics: the overflow the subtract-max trick prevents, the seed's
// worked example, temperature, online softmax over an LLM-sized vocabulary, and the edge cases.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "softreg/loss.hpp"
#include "softreg/online_softmax.hpp"
#include "softreg/softmax.hpp"

namespace {

void print_row(const char* label, const std::vector<float>& v) {
  std::printf("  %-26s [", label);
  for (std::size_t i = 0; i < v.size(); ++i) std::printf(i ? ", %.4f" : "%.4f", double(v[i]));
  std::printf("]\n");
}

void overflow() {
  std::printf("1. Large logits z = [1000, 1001, 1002]\n");
  const std::vector<float> z{1000, 1001, 1002};
  std::vector<float> naive(3);
  float sum = 0;
  for (std::size_t i = 0; i < 3; ++i) sum += naive[i] = std::exp(z[i]);
  for (auto& v : naive) v /= sum;
  print_row("naive exp(z)/sum:", naive);
  std::vector<float> p(3);
  softreg::softmax(p, z, {3});
  print_row("softreg::softmax:", p);
}

void worked_example() {
  std::printf("\n2. The worked 3-class example (2 samples, 3 features)\n");
  const double x[2][3] = {{1.0, 0.5, -0.5}, {0.2, -0.3, 0.8}};
  const double w[3][3] = {{0.1, 0.2, 0.3}, {0.4, -0.1, 0.2}, {-0.2, 0.3, 0.1}};
  const double b[3] = {0.0, 0.1, -0.1};
  std::vector<double> z(6, 0.0);
  for (int i = 0; i < 2; ++i) {
    for (int k = 0; k < 3; ++k) {
      z[i * 3 + k] = b[k];
      for (int f = 0; f < 3; ++f) z[i * 3 + k] += x[i][f] * w[f][k];
    }
  }
  const std::vector<std::int64_t> y{0, 2};
  std::vector<double> p(6), dz(6);
  softreg::softmax(p, z, {2, 3});
  const double loss = softreg::cross_entropy_with_grad(dz, z, {2, 3}, y);
  for (int i = 0; i < 2; ++i) {
    std::printf("  sample %d: Z = [%6.3f %6.3f %6.3f]  P = [%.3f %.3f %.3f]\n", i, z[i * 3],
                z[i * 3 + 1], z[i * 3 + 2], p[i * 3], p[i * 3 + 1], p[i * 3 + 2]);
  }
  std::printf("  mean cross-entropy %.3f; gradient (P - Y)/n row 0 = [%.3f %.3f %.3f]\n", loss,
              dz[0], dz[1], dz[2]);
}

void temperature() {
  std::printf("\n3. Temperature on z = [2, 1, 0]\n");
  const std::vector<float> z{2, 1, 0};
  std::vector<float> p(3);
  for (const double t : {0.0, 0.5, 1.0, 2.0, 1e6}) {
    softreg::softmax(p, z, {3}, -1, t);
    char label[32];
    std::snprintf(label, sizeof label, "T = %g:", t);
    print_row(label, p);
  }
}

void online_vocabulary() {
  const std::size_t vocab = 50257;
  std::printf("\n4. Online softmax over a %zu-token vocabulary split across 4 workers\n", vocab);
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  std::vector<float> logits(vocab);
  for (auto& v : logits) v = normal(rng);
  std::vector<softreg::OnlineSoftmax> parts(4);
  const std::size_t chunk = (vocab + 3) / 4;
  for (std::size_t w = 0; w < 4; ++w) {
    const std::size_t lo = w * chunk;
    const std::size_t hi = std::min(vocab, lo + chunk);
    parts[w].update(std::span<const float>(logits).subspan(lo, hi - lo));
  }
  for (std::size_t w = 1; w < 4; ++w) parts[0].merge(parts[w]);
  std::vector<float> three_pass(vocab), online(vocab), lse(1);
  softreg::softmax(three_pass, logits, {vocab});
  parts[0].normalize(online, logits);
  softreg::logsumexp(lse, logits, {vocab});
  double max_rel = 0.0;
  for (std::size_t i = 0; i < vocab; ++i) {
    max_rel = std::max(max_rel, std::fabs(double(online[i]) - three_pass[i]) / three_pass[i]);
  }
  std::printf("  merged logsumexp %.6f, three-pass logsumexp %.6f\n", parts[0].logsumexp(),
              double(lse[0]));
  std::printf("  largest relative difference between the two softmaxes: %.2g\n", max_rel);
}

void edge_cases() {
  std::printf("\n5. Edge cases (rows of a 4 x 3 batch)\n");
  const float inf = INFINITY;
  const std::vector<float> z{1, NAN, 2, -inf, -inf, -inf, inf, 0, inf, 1e30f, -1e30f, 0};
  std::vector<float> p(12);
  std::vector<std::int64_t> arg(4);
  softreg::softmax(p, z, {4, 3});
  softreg::argmax(arg, z, {4, 3});
  const char* names[] = {"NaN in the row:", "fully masked (-inf):", "two +inf entries:", "+-1e30:"};
  for (std::size_t r = 0; r < 4; ++r) {
    std::vector<float> row(p.begin() + long(3 * r), p.begin() + long(3 * r + 3));
    print_row(names[r], row);
    std::printf("  %-26s %lld\n", "  argmax:", static_cast<long long>(arg[r]));
  }
}

}  // namespace

int main() {
  overflow();
  worked_example();
  temperature();
  online_vocabulary();
  edge_cases();
  return 0;
}
