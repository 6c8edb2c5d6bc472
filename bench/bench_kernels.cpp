// Throughput of the softmax-family kernels against a copy of the same bytes, at the (rows, K)
// shapes of docs/BENCHMARKS.md, on 1 and 2 threads. Bytes counted: read + written (the logits
// read once and the output written once; the kernels' later passes over a row hit cache).
// bench/peers_kernels.py runs this program and PyTorch side by side and prints the ratios.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "common/thread_pool.hpp"
#include "softreg/loss.hpp"
#include "softreg/online_softmax.hpp"
#include "softreg/softmax.hpp"
#include "softreg/threads.hpp"

namespace {

std::vector<float> random_logits(std::size_t n) {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

struct Case {
  std::size_t rows;
  std::size_t k;
  int threads;
};

Case setup(benchmark::State& state) {
  const Case c{static_cast<std::size_t>(state.range(0)), static_cast<std::size_t>(state.range(1)),
               static_cast<int>(state.range(2))};
  softreg::set_num_threads(c.threads);
  return c;
}

void set_bytes(benchmark::State& state, std::size_t elements) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(2 * elements * sizeof(float)));
}

/// memcpy split over the same number of threads as the kernel it is compared with.
void BM_copy(benchmark::State& state) {
  const Case c = setup(state);
  const auto x = random_logits(c.rows * c.k);
  std::vector<float> out(x.size());
  const std::size_t bytes = x.size() * sizeof(float);
  for (auto _ : state) {
    softreg::detail::parallel_for(c.threads, bytes, std::size_t(1) << 16,
                                  [&](std::size_t b, std::size_t e) {
                                    std::memcpy(reinterpret_cast<char*>(out.data()) + b,
                                                reinterpret_cast<const char*>(x.data()) + b, e - b);
                                  });
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, x.size());
}

template <class Kernel>
void run_kernel(benchmark::State& state, Kernel kernel) {
  const Case c = setup(state);
  const auto x = random_logits(c.rows * c.k);
  std::vector<float> out(x.size());
  for (auto _ : state) {
    kernel(out, x, softreg::Shape{c.rows, c.k});
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, x.size());
}

void BM_softmax(benchmark::State& state) {
  run_kernel(state, [](std::span<float> o, std::span<const float> x, const softreg::Shape& s) {
    softreg::softmax(o, x, s);
  });
}

/// The two-pass (online normalizer) kernel, for comparison with the size-chosen one.
void BM_softmax_online(benchmark::State& state) {
  run_kernel(state, [](std::span<float> o, std::span<const float> x, const softreg::Shape& s) {
    softreg::softmax_online(o, x, s);
  });
}

void BM_log_softmax(benchmark::State& state) {
  run_kernel(state, [](std::span<float> o, std::span<const float> x, const softreg::Shape& s) {
    softreg::log_softmax(o, x, s);
  });
}

/// Softmax over axis 0 of the transposed problem (K x rows): classes are strided by `rows`.
void BM_softmax_axis0(benchmark::State& state) {
  run_kernel(state, [](std::span<float> o, std::span<const float> x, const softreg::Shape& s) {
    softreg::softmax(o, x, softreg::Shape{s[1], s[0]}, 0);
  });
}

void BM_logsumexp(benchmark::State& state) {
  const Case c = setup(state);
  const auto x = random_logits(c.rows * c.k);
  std::vector<float> out(c.rows);
  for (auto _ : state) {
    softreg::logsumexp(out, x, {c.rows, c.k});
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>((x.size() + c.rows) * sizeof(float)));
}

/// Fused forward + backward from logits, mean over the rows: reads the logits, writes dlogits.
void BM_cross_entropy_with_grad(benchmark::State& state) {
  const Case c = setup(state);
  const auto x = random_logits(c.rows * c.k);
  std::vector<float> grad(x.size());
  std::vector<std::int64_t> target(c.rows);
  for (std::size_t r = 0; r < c.rows; ++r) {
    target[r] = static_cast<std::int64_t>((r * 7919) % c.k);
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(softreg::cross_entropy_with_grad(grad, x, {c.rows, c.k}, target));
  }
  set_bytes(state, x.size());
}

void shapes(benchmark::internal::Benchmark* b) {
  for (const int threads : {1, 2}) {
    b->Args({1024, 50257, threads})
        ->Args({8192, 1000, threads})
        ->Args({65536, 10, threads})
        ->Args({16, 1000000, threads});
  }
  b->ArgNames({"rows", "K", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_copy)->Apply(shapes);
BENCHMARK(BM_softmax)->Apply(shapes);
BENCHMARK(BM_softmax_online)->Apply(shapes);
BENCHMARK(BM_log_softmax)->Apply(shapes);
BENCHMARK(BM_logsumexp)->Apply(shapes);
BENCHMARK(BM_softmax_axis0)->Apply(shapes);
BENCHMARK(BM_cross_entropy_with_grad)->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
