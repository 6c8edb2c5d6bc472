#!/usr/bin/env bash
# Runs every benchmark of a build tree; results go to stdout and bench-results/ (JSON).
set -euo pipefail
build_dir=${1:-build}
out_dir=${BENCH_OUT:-bench-results}
mkdir -p "$out_dir"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== softmax-family kernels side by side with PyTorch (1 and 2 threads)"
/usr/bin/python3 "$(dirname "$0")/peers_kernels.py" --bench-kernels "$build_dir/bench/bench_kernels" \
  --json "$out_dir/kernels_vs_torch.json"
echo
echo "== all kernel benchmarks (Google Benchmark, incl. the online pass and axis 0)"
"$build_dir/bench/bench_kernels" --benchmark_out="$out_dir/kernels.json" \
  --benchmark_out_format=json --benchmark_counters_tabular=true --benchmark_min_time=0.3
echo
echo "== Fashion-MNIST training side by side (softreg, scikit-learn, PyTorch)"
/usr/bin/python3 "$(dirname "$0")/peers_fashion_mnist.py" --softreg "$build_dir/softreg" \
  --read-speed "$build_dir/bench/read_speed" --json "$out_dir/fashion_mnist.json"
