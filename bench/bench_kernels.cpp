// Throughput of the softmax-family kernels against a plain copy of the same bytes, at the
// (rows, K) shapes of docs/BENCHMARKS.md. Bytes counted: read + written.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "softreg/loss.hpp"
#include "softreg/softmax.hpp"

namespace {

std::vector<float> random_logits(std::size_t n) {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

void set_bytes(benchmark::State& state, std::size_t elements) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(2 * elements * sizeof(float)));
}

void BM_copy(benchmark::State& state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const auto k = static_cast<std::size_t>(state.range(1));
  const auto x = random_logits(rows * k);
  std::vector<float> out(x.size());
  for (auto _ : state) {
    std::memcpy(out.data(), x.data(), x.size() * sizeof(float));
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, x.size());
}

void BM_softmax(benchmark::State& state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const auto k = static_cast<std::size_t>(state.range(1));
  const auto x = random_logits(rows * k);
  std::vector<float> out(x.size());
  for (auto _ : state) {
    softreg::softmax(out, x, {rows, k});
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, x.size());
}

void BM_log_softmax(benchmark::State& state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const auto k = static_cast<std::size_t>(state.range(1));
  const auto x = random_logits(rows * k);
  std::vector<float> out(x.size());
  for (auto _ : state) {
    softreg::log_softmax(out, x, {rows, k});
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, x.size());
}

void BM_cross_entropy_with_grad(benchmark::State& state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const auto k = static_cast<std::size_t>(state.range(1));
  const auto x = random_logits(rows * k);
  std::vector<float> grad(x.size());
  std::vector<std::int64_t> target(rows);
  for (std::size_t r = 0; r < rows; ++r) target[r] = static_cast<std::int64_t>((r * 7919) % k);
  for (auto _ : state) {
    benchmark::DoNotOptimize(softreg::cross_entropy_with_grad(grad, x, {rows, k}, target));
  }
  set_bytes(state, x.size());
}

void shapes(benchmark::internal::Benchmark* b) {
  b->Args({1024, 50257})->Args({8192, 1000})->Args({65536, 10})->Args({16, 1000000});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_copy)->Apply(shapes);
BENCHMARK(BM_softmax)->Apply(shapes);
BENCHMARK(BM_log_softmax)->Apply(shapes);
BENCHMARK(BM_cross_entropy_with_grad)->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
