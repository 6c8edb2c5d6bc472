#!/usr/bin/env bash
# Runs every benchmark of a build tree side by side with the peers; results go to stdout and
# bench-results/ (JSON). usage: bench/run.sh BUILD_DIR PYTHON
# PYTHON is the benchmark environment's interpreter (make bench: .venv with
# requirements/bench.txt). OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE force slower OpenBLAS kernels:
# they are unset for the peers' commands only.
set -euo pipefail
build_dir=${1:-build}
python=${2:-.venv/bin/python}
bench=$(dirname "$0")
out_dir=${BENCH_OUT:-bench-results}
mkdir -p "$out_dir"
peer() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$python" "$@"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "CPU family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo 'AVX2, no AVX-512');" \
  "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$bench" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "== softmax-family kernels side by side with PyTorch (1 and 2 threads)"
peer "$bench/peers_kernels.py" --bench-kernels "$build_dir/bench/bench_kernels" \
  --json "$out_dir/kernels_vs_torch.json"
echo
echo "== all kernel benchmarks (Google Benchmark, incl. the online pass and axis 0)"
"$build_dir/bench/bench_kernels" --benchmark_out="$out_dir/kernels.json" \
  --benchmark_out_format=json --benchmark_counters_tabular=true --benchmark_min_time=0.3
echo
echo "== Fashion-MNIST training side by side (softreg, scikit-learn, scikit-learn-intelex, PyTorch)"
peer "$bench/peers_fashion_mnist.py" --softreg "$build_dir/softreg" \
  --read-speed "$build_dir/bench/read_speed" --json "$out_dir/fashion_mnist.json"
echo
echo "== token sampling side by side with PyTorch (softreg.sample from the build's Python module)"
peer "$bench/peers_sampling.py" --softreg-python "$build_dir/python" \
  --json "$out_dir/sampling.json"
echo
echo "== attention side by side with PyTorch (SDPA and the naive path; decoding against a copy)"
peer "$bench/peers_attention.py" --softreg-python "$build_dir/python" \
  --fma-peak "$build_dir/bench/fma_peak" --json "$out_dir/attention.json"
echo
echo "== the output layer + loss side by side (fused, materialised on NumPy's BLAS, PyTorch)"
peer "$bench/peers_linear_ce.py" --softreg-python "$build_dir/python" \
  --fma-peak "$build_dir/bench/fma_peak" --json "$out_dir/linear_ce.json"
echo
echo "== sparse text classification side by side (package descriptions by section, TF-IDF)"
peer "$bench/peers_text.py" --softreg-python "$build_dir/python" --json "$out_dir/text.json"
