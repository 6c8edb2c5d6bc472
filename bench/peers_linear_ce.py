"""The language-model output layer and its loss side by side: softreg.linear_cross_entropy
against the materialised path and PyTorch, forward + backward, float32.

Cases: GPT-2 small's head (n = 4096 tokens, d = 768, K = 50,257) on 1 and 2 threads, and a
Llama-3-sized vocabulary (n = 1024, d = 2048, K = 128,256) on 2 threads; weight in PyTorch's
(K, d) layout, no bias, mean reduction. Methods: softreg (return_grad=True); the materialised
path on NumPy's BLAS (logits = h @ W^T, softreg.cross_entropy_with_grad on the n x K logits,
then d_hidden = G @ W and d_weight = G^T @ h); PyTorch 2.13 (F.linear + F.cross_entropy, then
backward); and, as the floor, the three plain products alone on NumPy's BLAS (h @ W^T, G @ W,
G^T @ h with G the size of the logits). Times are medians of interleaved calls. GFLOP/s count
the three products (6 n d K) against the float32 FMA peak bench/fma_peak measures on the same
threads. Memory: each method runs in a fresh process; the growth of the peak resident set during
one cold call, less the gradients it returns (the n x K logits are reported for scale).
"""
import argparse
import json
import os
import subprocess
import sys

import peer_env  # first: settles the OpenBLAS environment before NumPy / torch load

import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402

CASES = {"gpt2": (4096, 768, 50257), "llama3": (1024, 2048, 128256)}


def inputs(case):
    n, d, k = CASES[case]
    rng = np.random.default_rng(0)
    h = rng.standard_normal((n, d), dtype=np.float32)
    w = (rng.standard_normal((k, d), dtype=np.float32) * np.float32(d ** -0.5))
    t = rng.integers(0, k, n)
    return h, w, t


def methods(torch, softreg, h, w, t):
    F = torch.nn.functional
    th, tw, tt = torch.from_numpy(h), torch.from_numpy(w), torch.from_numpy(t)
    leaves = [th.clone().requires_grad_(True), tw.clone().requires_grad_(True)]
    logits = np.empty((h.shape[0], w.shape[0]), np.float32)  # the three GEMMs' buffer

    def ours():
        softreg.linear_cross_entropy(h, w, t, weight_layout="kd", return_grad=True)

    def materialised():
        z = h @ w.T  # a new (n, K) array each call, as a user's code has
        softreg.cross_entropy_with_grad(z, t, out=z)
        z @ w
        z.T @ h

    def torch_path():
        for x in leaves:
            x.grad = None
        F.cross_entropy(F.linear(leaves[0], leaves[1]), tt).backward()

    def three_gemms():
        np.matmul(h, w.T, out=logits)
        logits @ w
        logits.T @ h

    return [("softreg", ours), ("materialised", materialised), ("torch", torch_path),
            ("three GEMMs", three_gemms)]


def memory_child(args):
    import torch

    sys.path.insert(0, args.softreg_python)
    import softreg

    torch.set_num_threads(args.threads)
    softreg.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads)
    case, name = args.memory_child.split(":")
    h, w, t = inputs(case)
    fn = dict(methods(torch, softreg, h, w, t))[name]

    grads = (h.nbytes + w.nbytes) / 2**20  # d_hidden and d_weight, which every method returns
    # One cold call in a fresh process: a warm-up call would leave its freed blocks with the
    # allocators (PyTorch's, glibc's) and hide them from the measured call.
    print(json.dumps({"mib": max(peer_env.peak_growth_mib(fn, warm=False) - grads, 0.0)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--softreg-python", required=True)
    ap.add_argument("--fma-peak", required=True)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--json")
    ap.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args)
        return
    sys.path.insert(0, args.softreg_python)
    import torch

    import softreg

    record = peer_env.describe()
    results = []
    print(f"{'case':<22} {'softreg':>9} {'material.':>9} {'torch':>9} {'3 GEMMs':>9} "
          f"{'/3 GEMMs':>8} {'vs torch':>8} {'GFLOP/s':>8} {'of peak':>8}")
    for case, threads in (("gpt2", 1), ("gpt2", 2), ("llama3", 2)):
        peak = json.loads(subprocess.run([args.fma_peak, str(threads)], check=True,
                                         capture_output=True, text=True).stdout)
        torch.set_num_threads(threads)
        softreg.set_num_threads(threads)
        with threadpoolctl.threadpool_limits(threads):
            h, w, t = inputs(case)
            fns = methods(torch, softreg, h, w, t)
            secs = peer_env.interleaved_medians([f for _, f in fns], args.min_time, least=3)
        n, d, k = CASES[case]
        gf = 6.0 * n * d * k / secs[0] / 1e9
        peak_gf = peak["gflops_n"]
        label = f"{case} {threads} thr"
        print(f"{label:<22} {secs[0]:8.2f}s {secs[1]:8.2f}s {secs[2]:8.2f}s {secs[3]:8.2f}s "
              f"{secs[0] / secs[3]:8.2f} {secs[2] / secs[0]:7.2f}x {gf:8.0f} "
              f"{gf / peak_gf:7.0%}", flush=True)
        results.append(dict(case=case, n=n, d=d, k=k, threads=threads,
                            seconds={name: s for (name, _), s in zip(fns, secs)},
                            gflops=gf, peak_gflops=peak_gf))
        del fns, h, w, t
    memory = {}
    for case, (n, d, k) in CASES.items():
        for name in ("softreg", "materialised", "torch"):
            cmd = [sys.executable, __file__, "--softreg-python", args.softreg_python,
                   "--fma-peak", args.fma_peak, "--threads", "2", "--memory-child",
                   f"{case}:{name}"]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            memory[f"{case} {name}"] = json.loads(out.strip().splitlines()[-1])["mib"]
        logits = n * k * 4 / 2**20
        print(f"peak extra memory, {case} (the n x K logits are {logits:.0f} MiB): " +
              ", ".join(f"{name} {memory[f'{case} {name}']:.0f} MiB "
                        f"({memory[f'{case} {name}'] / logits:.1%})"
                        for name in ("softreg", "materialised", "torch")), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": record, "results": results, "memory_mib": memory}, f,
                      indent=1)


if __name__ == "__main__":
    main()
