"""Token sampling side by side: softreg.sample against the same filter chains written in PyTorch.

Logits: float32 rows shaped like a language model's output (every token N(0, 1.5^2), 32 random
tokens raised by N(10, 2^2)), V = 128,256 (Llama 3) and 256,000 (Gemma). Chains: (a) T 0.8 +
top-k 40 + top-p 0.95, (b) T 0.8 + top-p 0.95 with top-k off, (c) min-p 0.05. PyTorch forms,
the fastest reported: for (a) top-k then softmax / cumsum / mask / multinomial, or a full sort;
for (b) the sort (Hugging Face's TopPLogitsWarper), for (c) softmax / max / mask; each drawn
by torch.multinomial or by the exponential race (argmax of p / E, E ~ Exp(1)). One row on 1 and 2 threads, and a batch of 64 rows of 128,256 on 2 threads, where
softreg's read bandwidth (logits bytes / time) is also set against a copy of the same bytes
(torch's copy_ on 2 threads: bytes of the source / time). Times are medians of repeated calls;
softreg's three chains are called in turn, so their ratios to chain (a) see the same machine.
llama.cpp's published figure for its default chain, about 80 us per token, is quoted as a
reference line (not measured here).
"""
import argparse
import json
import sys
import time

import peer_env  # first: settles the OpenBLAS environment before NumPy / torch load

import numpy as np  # noqa: E402

CHAINS = {
    "a": dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.0),
    "b": dict(temperature=0.8, top_k=0, top_p=0.95, min_p=0.0),
    "c": dict(temperature=1.0, top_k=0, top_p=1.0, min_p=0.05),
}
LABELS = {"a": "T 0.8 + top-k 40 + top-p 0.95", "b": "T 0.8 + top-p 0.95 (top-k off)",
          "c": "min-p 0.05"}


def median_time(fn, min_time):
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < 7 or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def interleaved_medians(fns, min_time):
    """Median time of each function, the functions called in turn (so that a slow phase of the
    machine hits all of them alike)."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    start = time.perf_counter()
    while len(times[0]) < 7 or time.perf_counter() - start < min_time * len(fns):
        for t, fn in zip(times, fns):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [sorted(t)[len(t) // 2] for t in times]


def logits(rows, v, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((rows, v), dtype=np.float32) * 1.5
    for r in range(rows):
        z[r, rng.integers(0, v, 32)] += rng.normal(10.0, 2.0, 32).astype(np.float32)
    return z


def torch_forms(torch, chain, x):
    """(name, callable) pairs drawing one token per row of x with the chain."""
    c = CHAINS[chain]
    t, k, p, min_p = c["temperature"], c["top_k"], c["top_p"], c["min_p"]

    def race(probs):
        # The exponential race (argmax of p / E, E ~ Exp(1)): a draw from probs without
        # multinomial's cumulative sum, as gpt-fast and vLLM write it.
        return torch.argmax(probs / torch.empty_like(probs).exponential_(1), dim=-1, keepdim=True)

    def nucleus(sorted_logits):
        probs = torch.softmax(sorted_logits, -1)
        cum = torch.cumsum(probs, -1)
        probs = probs.masked_fill(cum - probs >= p, 0.0)
        return probs

    def via_topk():
        vals, idx = torch.topk(x / t, k, dim=-1)
        probs = nucleus(vals) if p < 1.0 else torch.softmax(vals, -1)
        return idx.gather(-1, torch.multinomial(probs, 1))

    def via_sort():
        vals, idx = torch.sort(x / t, dim=-1, descending=True)
        if k > 0:
            vals, idx = vals[:, :k], idx[:, :k]
        return idx.gather(-1, torch.multinomial(nucleus(vals), 1))

    def via_topk_race():
        vals, idx = torch.topk(x / t, k, dim=-1)
        return idx.gather(-1, race(nucleus(vals)))

    def via_sort_race():
        vals, idx = torch.sort(x / t, dim=-1, descending=True)
        return idx.gather(-1, race(nucleus(vals)))

    def min_p_probs():
        probs = torch.softmax(x / t, -1)
        top = probs.amax(-1, keepdim=True)
        return probs.masked_fill(probs < min_p * top, 0.0)

    if chain == "a":
        return [("topk + softmax/cumsum + multinomial", via_topk),
                ("topk + softmax/cumsum + exponential race", via_topk_race),
                ("sort + softmax/cumsum + multinomial", via_sort)]
    if chain == "b":
        return [("sort + softmax/cumsum + multinomial", via_sort),
                ("sort + softmax/cumsum + exponential race", via_sort_race)]
    return [("softmax + max mask + multinomial", lambda: torch.multinomial(min_p_probs(), 1)),
            ("softmax + max mask + exponential race", lambda: race(min_p_probs()))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--softreg-python", required=True,
                    help="directory holding the softreg package (build/python)")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per measurement")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    sys.path.insert(0, args.softreg_python)
    import softreg
    import torch

    record = peer_env.describe()
    print(f"PyTorch {torch.__version__}", flush=True)
    results = []
    header = (f"{'chain':<34}{'rows x V':>14}{'thr':>4}{'softreg us':>11}{'torch us':>10}"
              f"{'ratio':>7}{'/ (a)':>7}  torch form")
    print("ratio = PyTorch's fastest form's time / softreg's; / (a) = softreg's time over its "
          "chain (a), timed in turn")
    print(header)
    print("-" * len(header))
    cases = [(1, 128256, t) for t in (1, 2)] + [(1, 256000, t) for t in (1, 2)]
    cases.append((64, 128256, 2))
    for rows, v, threads in cases:
        z = logits(rows, v)
        x = torch.from_numpy(z)
        torch.set_num_threads(threads)
        softreg.set_num_threads(threads)
        # softreg's three chains timed in turn: their ratios are the second target.
        ours = dict(zip(CHAINS, interleaved_medians(
            [lambda o=o: softreg.sample(z, seed=1, **o) for o in CHAINS.values()], args.min_time)))
        for chain, opts in CHAINS.items():
            mine = ours[chain]
            timed = [(median_time(fn, args.min_time), name) for name, fn in torch_forms(torch, chain, x)]
            theirs, form = min(timed)
            row = {"chain": chain, "label": LABELS[chain], "rows": rows, "vocab": v,
                   "threads": threads, "softreg_us": mine * 1e6, "torch_us": theirs * 1e6,
                   "torch_form": form, "ratio": theirs / mine, "vs_chain_a": mine / ours["a"]}
            if rows > 1:
                dst = torch.empty_like(x)
                copy = median_time(lambda: dst.copy_(x), args.min_time)
                row["read_gbs"] = z.nbytes / mine / 1e9
                row["copy_gbs"] = z.nbytes / copy / 1e9
                row["copy_fraction"] = copy / mine
            results.append(row)
            extra = (f"  read {row['read_gbs']:.1f} GB/s = {row['copy_fraction']:.2f} x copy"
                     if rows > 1 else "")
            print(f"({chain}) {LABELS[chain]:<30}{f'{rows} x {v}':>14}{threads:>4}"
                  f"{mine * 1e6:>11.1f}{theirs * 1e6:>10.1f}{row['ratio']:>7.1f}"
                  f"{row['vs_chain_a']:>7.2f}  {form}{extra}", flush=True)
    softreg.set_num_threads(0)
    print("\nreference line (not measured here): llama.cpp's default chain, about 80 us per token")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": record, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
