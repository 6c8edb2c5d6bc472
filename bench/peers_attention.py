"""Scaled dot-product attention side by side: softreg.attention against PyTorch on the CPU.

Peers, in the same process, float32, batch 1, 16 heads: torch.nn.functional.
scaled_dot_product_attention with its CPU flash kernel forced (sdpa_kernel(FLASH_ATTENTION)), and
the naive matmul-softmax-matmul a user writes by hand (q @ k^T * scale, masked_fill for causal,
softmax, @ v). Shapes: d 64 and 128, seq 1024 and 4096, causal and not; the forward alone (torch
under no_grad) and forward + backward (torch autograd with requires_grad inputs; softreg's
attention(..., return_lse=True) then attention_backward). Decoding: one query row per head against
a key/value cache of 32,768 rows, d 128, set against a copy of the same bytes (torch's copy_ of a
tensor as large as K and V together, on the same threads). Times are medians of interleaved calls
(each method in turn, so a slow phase of the machine hits all alike); GFLOP/s count 4 seq_q seq_k d
per head forward (half for causal) and 2.5 times that backward (the five products against the
forward's two), and are set against the float32 FMA peak that bench/fma_peak measures on the same
threads. Peak extra memory: each method runs in a fresh process at seq 4096, d 64; the growth of
the peak resident set during one call (after a first call), less the outputs every method returns.
"""
import argparse
import json
import os
import subprocess
import sys

import peer_env  # first: settles the OpenBLAS environment before NumPy / torch load

import numpy as np  # noqa: E402

HEADS = 16


def inputs(seq, d, seq_q=None, seed=0):
    rng = np.random.default_rng(seed)
    seq_q = seq if seq_q is None else seq_q
    q = rng.standard_normal((1, HEADS, seq_q, d), dtype=np.float32)
    k = rng.standard_normal((1, HEADS, seq, d), dtype=np.float32)
    v = rng.standard_normal((1, HEADS, seq, d), dtype=np.float32)
    g = rng.standard_normal((1, HEADS, seq_q, d), dtype=np.float32)
    return q, k, v, g


def methods(torch, softreg, q, k, v, g, causal, backward):
    """(name, callable) for softreg, torch SDPA and torch naive."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    F = torch.nn.functional
    flash = SDPBackend.FLASH_ATTENTION  # forced: an error, not a silent fallback, if unusable
    scale = 1.0 / np.sqrt(q.shape[-1])
    tq, tk, tv, tg = (torch.from_numpy(x) for x in (q, k, v, g))
    seq_q, seq_k = q.shape[2], k.shape[2]
    future = torch.ones(seq_q, seq_k, dtype=torch.bool).tril().logical_not() if causal else None

    def naive(a, b, c):
        s = (a @ b.transpose(-2, -1)) * scale
        if future is not None:
            s = s.masked_fill(future, float("-inf"))
        return torch.softmax(s, dim=-1) @ c

    if not backward:
        def ours():
            softreg.attention(q, k, v, causal=causal)

        def sdpa():
            with torch.no_grad(), sdpa_kernel(flash):
                F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)

        def torch_naive():
            with torch.no_grad():
                naive(tq, tk, tv)

        return [("softreg", ours), ("torch sdpa", sdpa), ("torch naive", torch_naive)]

    def ours():
        out, lse = softreg.attention(q, k, v, causal=causal, return_lse=True)
        softreg.attention_backward(g, q, k, v, out, lse, causal=causal)

    leaves = [x.clone().requires_grad_(True) for x in (tq, tk, tv)]

    def sdpa():
        for x in leaves:
            x.grad = None
        with sdpa_kernel(flash):
            F.scaled_dot_product_attention(*leaves, is_causal=causal).backward(tg)

    def torch_naive():
        for x in leaves:
            x.grad = None
        naive(*leaves).backward(tg)

    return [("softreg", ours), ("torch sdpa", sdpa), ("torch naive", torch_naive)]


def peak(fma_peak, threads):
    out = subprocess.run([fma_peak, str(threads)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def memory_child(args):
    """Runs one method once and prints the growth of the peak resident set in MiB."""
    import torch

    sys.path.insert(0, args.softreg_python)
    import softreg

    torch.set_num_threads(args.threads)
    softreg.set_num_threads(args.threads)
    q, k, v, g = inputs(4096, 64)
    backward = args.memory_child.endswith("+bwd")
    name = args.memory_child.removesuffix("+bwd")
    fn = dict(methods(torch, softreg, q, k, v, g, False, backward))[name]
    # The outputs every method returns (out; with the backward dq, dk, dv) are subtracted, so
    # what remains is working memory.
    outputs = (q.nbytes + (q.nbytes + k.nbytes + v.nbytes if backward else 0)) / 2**20
    print(json.dumps({"mib": max(peer_env.peak_growth_mib(fn) - outputs, 0.0)}))


def memory(args, name):
    cmd = [sys.executable, __file__, "--softreg-python", args.softreg_python, "--fma-peak",
           args.fma_peak, "--threads", str(args.threads), "--memory-child", name]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["mib"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--softreg-python", required=True,
                    help="directory holding the softreg package (a build's python/)")
    ap.add_argument("--fma-peak", required=True, help="the bench/fma_peak program")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per method and case")
    ap.add_argument("--seqs", default="1024,4096")
    ap.add_argument("--json", help="write the results here too")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args)
        return
    sys.path.insert(0, args.softreg_python)
    import torch

    import softreg

    record = peer_env.describe()
    threads = args.threads
    torch.set_num_threads(threads)
    softreg.set_num_threads(threads)
    fma = peak(args.fma_peak, threads)
    print(f"float32 FMA peak ({fma['target']}): {fma['gflops_1']:.0f} GFLOP/s on 1 thread, "
          f"{fma['gflops_n']:.0f} on {threads}")
    results = {"threads": threads, "fma_peak": fma, "cases": []}
    print(f"{'case':<34} {'softreg':>10} {'sdpa':>10} {'naive':>10} {'vs sdpa':>8} "
          f"{'vs naive':>8} {'GFLOP/s':>8} {'of peak':>8}")
    for backward in (False, True):
        for seq in (int(s) for s in args.seqs.split(",")):
            for d in (64, 128):
                for causal in (False, True):
                    q, k, v, g = inputs(seq, d)
                    fns = methods(torch, softreg, q, k, v, g, causal, backward)
                    t = peer_env.interleaved_medians([f for _, f in fns], args.min_time, least=3)
                    flops = 4.0 * seq * seq * d * HEADS * (0.5 if causal else 1.0)
                    if backward:
                        flops *= 3.5
                    gf = flops / t[0] / 1e9
                    name = (f"{'fwd+bwd' if backward else 'fwd'} seq {seq} d {d}"
                            f"{' causal' if causal else ''}")
                    print(f"{name:<34} {t[0]*1e3:9.1f}ms {t[1]*1e3:9.1f}ms {t[2]*1e3:9.1f}ms "
                          f"{t[1]/t[0]:7.2f}x {t[2]/t[0]:7.2f}x {gf:8.0f} "
                          f"{gf / fma['gflops_n']:7.0%}", flush=True)
                    results["cases"].append(dict(
                        name=name, backward=backward, seq=seq, d=d, causal=causal,
                        seconds=dict(softreg=t[0], sdpa=t[1], naive=t[2]), gflops=gf,
                        of_peak=gf / fma["gflops_n"]))
    # Decoding against a long cache, and a copy of the same bytes.
    q, k, v, _ = inputs(32768, 128, seq_q=1)
    tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
    from torch.nn.attention import SDPBackend, sdpa_kernel

    F = torch.nn.functional
    kv = torch.empty(2 * k.size, dtype=torch.float32)
    kv_src = torch.from_numpy(np.concatenate([k.ravel(), v.ravel()]))

    def ours():
        softreg.attention(q, k, v)

    def sdpa():
        with torch.no_grad(), sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            F.scaled_dot_product_attention(tq, tk, tv)

    def copy():
        kv.copy_(kv_src)

    t = peer_env.interleaved_medians([ours, sdpa, copy], args.min_time)
    nbytes = k.nbytes + v.nbytes
    print(f"decode: 1 query row x {HEADS} heads, cache 32768 x d 128 ({nbytes / 2**20:.0f} MiB of "
          f"K and V): softreg {t[0]*1e3:.2f} ms ({nbytes / t[0] / 1e9:.1f} GB/s), sdpa "
          f"{t[1]*1e3:.2f} ms ({t[1]/t[0]:.2f}x), copy {t[2]*1e3:.2f} ms ({nbytes / t[2] / 1e9:.1f}"
          f" GB/s read); softreg reads at {t[2]/t[0]:.0%} of the copy's bandwidth")
    results["decode"] = dict(seconds=dict(softreg=t[0], sdpa=t[1], copy=t[2]), bytes=nbytes)
    mem = {}
    for name in ("softreg", "torch sdpa", "torch naive"):
        for suffix in ("", "+bwd"):
            mem[name + suffix] = memory(args, name + suffix)
    print("peak extra memory at seq 4096, d 64 (MiB; the scores alone are "
          f"{HEADS * 4096 * 4096 * 4 / 2**20:.0f} MiB): " +
          ", ".join(f"{k} {v:.0f}" for k, v in mem.items()))
    results["memory_mib"] = mem
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": record, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
