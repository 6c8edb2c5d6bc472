"""Softmax-family kernels side by side: softreg (bench/bench_kernels) against PyTorch.

One run measures, on 1 and 2 threads and at the (rows, K) shapes of docs/BENCHMARKS.md:
a copy of the same bytes (memcpy split over the threads, from bench_kernels), softreg's
softmax, log_softmax, logsumexp and fused cross-entropy forward + backward, and PyTorch's
fastest form of each: eager (with and without a preallocated output; for cross-entropy
autograd, and the explicit aten forward/backward pair) and torch.compile of the same function
(inductor's generated C++; compiled once per shape before timing). Bandwidth counts bytes read + written: the
logits read once and the output written once (for logsumexp, one value per row).
Ratios are same-run: softreg speed / PyTorch speed, and softreg GB/s / copy GB/s. Both
sides report a median: PyTorch's of single calls, softreg's of five Google Benchmark
repetitions.
"""
import argparse
import json
import subprocess
import sys
import time

import peer_env  # first: settles the OpenBLAS environment before NumPy / torch load

SHAPES = [(1024, 50257), (8192, 1000), (65536, 10), (16, 1000000)]
OPS = ["softmax", "log_softmax", "logsumexp", "cross_entropy_with_grad"]


def best_time(fn, min_time):
    """Median of repeated calls after a warm-up, with at least min_time seconds in all."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def compiled(torch, fn):
    """torch.compile of fn for fixed shapes (inductor, the default backend)."""
    return torch.compile(fn, dynamic=False)


def torch_forms(torch, op, rows, k, compile_forms=True):
    """(name, callable) pairs computing op on fresh random logits; the fastest is reported."""
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(1)
    x = torch.randn(rows, k, generator=gen) * 3.0
    out = torch.empty_like(x)
    target = torch.randint(0, k, (rows,), generator=gen)
    if op == "softmax":
        fn = compiled(torch, lambda t: torch.softmax(t, -1))
        forms = [("torch.softmax", lambda: torch.softmax(x, -1)),
                 ("aten._softmax.out", lambda: torch.ops.aten._softmax.out(x, -1, False, out=out)),
                 ("torch.compile(softmax)", lambda: fn(x))]
    elif op == "log_softmax":
        fn = compiled(torch, lambda t: torch.log_softmax(t, -1))
        forms = [("torch.log_softmax", lambda: torch.log_softmax(x, -1)),
                 ("aten._log_softmax.out",
                  lambda: torch.ops.aten._log_softmax.out(x, -1, False, out=out)),
                 ("torch.compile(log_softmax)", lambda: fn(x))]
    elif op == "logsumexp":
        lse = torch.empty(rows)
        fn = compiled(torch, lambda t: torch.logsumexp(t, -1))
        forms = [("torch.logsumexp", lambda: torch.logsumexp(x, -1)),
                 ("torch.logsumexp(out=)", lambda: torch.logsumexp(x, -1, out=lse)),
                 ("torch.compile(logsumexp)", lambda: fn(x))]
    else:
        forms = cross_entropy_forms(torch, F, x, target)
    return forms if compile_forms else [f for f in forms if not f[0].startswith("torch.compile")]


def cross_entropy_forms(torch, F, x, target):
    """Forward + backward to the logits' gradient: autograd eager, the explicit aten pair, and
    torch.compile of the loss (AOTAutograd compiles its backward too)."""
    xr = x.clone().requires_grad_(True)
    loss_fn = compiled(torch, lambda t, y: F.cross_entropy(t, y))

    def autograd():
        loss = F.cross_entropy(xr, target)
        loss.backward()
        xr.grad = None
        return loss

    def compiled_autograd():
        loss = loss_fn(xr, target)
        loss.backward()
        xr.grad = None
        return loss

    def explicit():
        logp = torch.ops.aten._log_softmax(x, 1, False)
        loss, total = torch.ops.aten.nll_loss_forward(logp, target, None, 1, -100)
        dlogp = torch.ops.aten.nll_loss_backward(torch.ones(()), logp, target, None, 1, -100,
                                                 total)
        return loss, torch.ops.aten._log_softmax_backward_data(dlogp, logp, 1, x.dtype)

    return [("F.cross_entropy + backward", autograd), ("aten log_softmax/nll pair", explicit),
            ("torch.compile(cross_entropy) + backward", compiled_autograd)]


def run_softreg(binary, min_time):
    # Five repetitions, their median reported: the same statistic as PyTorch's side (median
    # of calls), and as robust to a burst of noise from other tenants of the machine.
    cmd = [binary, "--benchmark_format=json", f"--benchmark_min_time={min_time / 5}",
           "--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true",
           "--benchmark_filter=BM_(copy|softmax|log_softmax|logsumexp|cross_entropy_with_grad)/"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = {}
    for b in json.loads(res.stdout)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"]  # BM_softmax/rows:1024/K:50257/threads:1/real_time
        parts = name.split("/")
        op = parts[0][3:]
        rows, k, threads = (int(p.split(":")[1]) for p in parts[1:4])
        ms = b["real_time"] if b["time_unit"] == "ms" else b["real_time"] / 1e6
        out[(op, rows, k, threads)] = {"ms": ms, "gbs": b["bytes_per_second"] / 1e9}
    return out


def bytes_moved(op, rows, k):
    elements = rows * k
    return 4 * (elements + rows) if op == "logsumexp" else 8 * elements


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-kernels", required=True, help="path to build/bench/bench_kernels")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per measurement")
    ap.add_argument("--json", help="write the results here too")
    ap.add_argument("--no-compile", action="store_true",
                    help="leave out the torch.compile forms (they compile for a while first)")
    args = ap.parse_args()
    record = peer_env.describe()
    try:
        import torch
    except ImportError:
        sys.exit("peers_kernels.py: PyTorch is not installed in this environment "
                 "(pip install -r requirements/bench.txt)")
    blas = next((p.split("=", 1)[1] for p in torch.__config__.show().replace(",", " ").split()
                 if p.startswith("BLAS_INFO=")), "unknown")
    print(f"PyTorch {torch.__version__} (BLAS {blas}, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()})", flush=True)

    ours = run_softreg(args.bench_kernels, args.min_time)
    results = []
    print("GB/s = (bytes read + written) / time; ratio = PyTorch's fastest form's time / "
          "softreg time (eager: its fastest eager form); copy = softreg GB/s / memcpy GB/s")
    header = (f"{'op':<24}{'rows x K':>16}{'thr':>4}{'softreg ms':>11}{'GB/s':>7}"
              f"{'torch ms':>10}{'GB/s':>7}{'ratio':>7}{'eager':>7}{'copy':>7}  torch form")
    print(header)
    print("-" * len(header))
    for threads in (1, 2):
        torch.set_num_threads(threads)
        torch._dynamo.reset()  # inductor fixes the thread count of its code when it compiles
        for op in OPS:
            for rows, k in SHAPES:
                mine = ours[(op, rows, k, threads)]
                copy = ours[("copy", rows, k, threads)]
                timed = [(best_time(fn, args.min_time), name)
                         for name, fn in torch_forms(torch, op, rows, k, not args.no_compile)]
                t, form = min(timed)
                eager = min(tm for tm, name in timed if not name.startswith("torch.compile"))
                torch_ms = t * 1e3
                torch_gbs = bytes_moved(op, rows, k) / t / 1e9
                row = {"op": op, "rows": rows, "k": k, "threads": threads,
                       "softreg_ms": mine["ms"], "softreg_gbs": mine["gbs"],
                       "torch_ms": torch_ms, "torch_gbs": torch_gbs, "torch_form": form,
                       "ratio": torch_ms / mine["ms"], "eager_ms": eager * 1e3,
                       "eager_ratio": eager * 1e3 / mine["ms"], "copy_gbs": copy["gbs"],
                       "copy_fraction": mine["gbs"] / copy["gbs"]}
                results.append(row)
                print(f"{op:<24}{f'{rows} x {k}':>16}{threads:>4}{mine['ms']:>11.2f}"
                      f"{mine['gbs']:>7.1f}{torch_ms:>10.2f}{torch_gbs:>7.1f}"
                      f"{row['ratio']:>7.1f}{row['eager_ratio']:>7.1f}"
                      f"{row['copy_fraction']:>7.2f}  {form}", flush=True)
    print()
    print("memcpy (bench_kernels BM_copy): " + ", ".join(
        f"{r} x {k} on {t}: {ours[('copy', r, k, t)]['gbs']:.1f} GB/s"
        for t in (1, 2) for r, k in SHAPES))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": record, "torch_blas": blas, "results": results}, f,
                      indent=1)


if __name__ == "__main__":
    main()
