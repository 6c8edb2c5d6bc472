"""Markdown tables for docs/BENCHMARKS.md from one make bench run's JSON files
(bench-results/kernels_vs_torch.json, fashion_mnist.json, sampling.json, attention.json and
linear_ce.json; any of them may be missing). Usage:
    python bench/tables.py [bench-results]
"""
import json
import os
import sys

SHAPES = [(1024, 50257), (8192, 1000), (65536, 10), (16, 1000000)]
OPS = ["softmax", "log_softmax", "logsumexp", "cross_entropy_with_grad"]
EAGER = {"aten._softmax.out": "out=", "aten._log_softmax.out": "out=",
         "torch.logsumexp(out=)": "out=", "torch.softmax": "eager", "torch.log_softmax": "eager",
         "torch.logsumexp": "eager", "F.cross_entropy + backward": "autograd",
         "aten log_softmax/nll pair": "aten pair"}


def form(name):
    return "compile" if name.startswith("torch.compile") else EAGER.get(name, name)


def kernels(path):
    data = json.load(open(path))
    by = {(r["op"], r["rows"], r["k"], r["threads"]): r for r in data["results"]}
    print("| op | rows x K | 1 thr: softreg ms | PyTorch ms (form) | ratio | vs eager | copy "
          "| 2 thr: softreg ms | PyTorch ms (form) | ratio | vs eager | copy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for op in OPS:
        for rows, k in SHAPES:
            cells = []
            for t in (1, 2):
                r = by[(op, rows, k, t)]
                cells.append(f"{r['softreg_ms']:.2f} | {r['torch_ms']:.2f} ({form(r['torch_form'])})"
                             f" | {r['ratio']:.1f} | {r['eager_ratio']:.1f} | {r['copy_fraction']:.2f}")
            print(f"| {op} | {rows} x {k} | " + " | ".join(cells) + " |")


def training(path):
    data = json.load(open(path))
    print("| run | seconds | iterations | objective | test accuracy | test log loss | ratio |")
    print("|---|---|---|---|---|---|---|")
    for r in data["results"]:
        if "objective" not in r:
            continue
        ratio = f"{r['ratio']:.1f}x" if "ratio" in r else ""
        if r.get("target_reached") is False:
            ratio += " (objective not reached)"
        print(f"| {r['name'].strip()} | {r['seconds']:.2f} | {r.get('iterations')} | "
              f"{r['objective']:.6f} | {r['test_accuracy']:.4f} | {r['test_log_loss']:.4f} | "
              f"{ratio} |")
    for r in data["results"]:
        if "objective" in r:
            continue
        print(f"- {r['name']}: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                             for k, v in r.items() if k != "name"))


def sampling(path):
    data = json.load(open(path))
    print("| chain | rows x V | threads | softreg us | PyTorch us (form) | ratio | / (a) | read / copy |")
    print("|---|---|---|---|---|---|---|---|")
    for r in data["results"]:
        copy = f"{r['copy_fraction']:.2f}" if "copy_fraction" in r else ""
        print(f"| ({r['chain']}) {r['label']} | {r['rows']} x {r['vocab']} | {r['threads']} | "
              f"{r['softreg_us']:.1f} | {r['torch_us']:.1f} ({r['torch_form']}) | "
              f"{r['ratio']:.1f} | {r.get('vs_chain_a', float('nan')):.2f} | {copy} |")


def attention(path):
    res = json.load(open(path))["results"]
    fma = res["fma_peak"]
    print(f"float32 FMA peak ({fma['target']}, bench/fma_peak): {fma['gflops_1']:.0f} GFLOP/s on 1 "
          f"thread, {fma['gflops_n']:.0f} on {res['threads']}\n")
    print("| case | softreg ms | torch SDPA ms | torch naive ms | vs SDPA | vs naive | GFLOP/s "
          "| of peak |")
    print("|---|---|---|---|---|---|---|---|")
    for c in res["cases"]:
        t = c["seconds"]
        print(f"| {c['name']} | {t['softreg']*1e3:.1f} | {t['sdpa']*1e3:.1f} | "
              f"{t['naive']*1e3:.1f} | {t['sdpa']/t['softreg']:.2f} | "
              f"{t['naive']/t['softreg']:.2f} | {c['gflops']:.0f} | {c['of_peak']:.0%} |")
    dec = res["decode"]
    t, nbytes = dec["seconds"], dec["bytes"]
    print(f"\nDecode (1 query row x 16 heads, cache 32768, d 128, {nbytes / 2**20:.0f} MiB of K and "
          f"V): softreg {t['softreg']*1e3:.2f} ms ({nbytes / t['softreg'] / 1e9:.1f} GB/s), torch "
          f"SDPA {t['sdpa']*1e3:.2f} ms ({t['sdpa']/t['softreg']:.2f}x), copy {t['copy']*1e3:.2f} "
          f"ms: softreg reads at {t['copy']/t['softreg']:.0%} of the copy's bandwidth.\n")
    mem = res["memory_mib"]
    print("Peak extra memory at seq 4096, d 64 (MiB): " +
          ", ".join(f"{k} {v:.0f}" for k, v in mem.items()))


def linear_ce(path):
    data = json.load(open(path))
    print("| case | threads | softreg s | materialised s | torch s | three GEMMs s | / GEMMs | "
          "vs torch | GFLOP/s | of peak |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in data["results"]:
        t = r["seconds"]
        print(f"| {r['case']} (n {r['n']}, d {r['d']}, K {r['k']}) | {r['threads']} | "
              f"{t['softreg']:.2f} | {t['materialised']:.2f} | {t['torch']:.2f} | "
              f"{t['three GEMMs']:.2f} | {t['softreg'] / t['three GEMMs']:.2f} | "
              f"{t['torch'] / t['softreg']:.2f} | {r['gflops']:.0f} | "
              f"{r['gflops'] / r['peak_gflops']:.0%} |")
    print("\nPeak extra memory (MiB): " +
          ", ".join(f"{k} {v:.0f}" for k, v in data["memory_mib"].items()))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench-results"
    parts = [("kernels_vs_torch.json", kernels), ("fashion_mnist.json", training),
             ("sampling.json", sampling), ("attention.json", attention),
             ("linear_ce.json", linear_ce)]
    present = [(name, fn) for name, fn in parts if os.path.exists(os.path.join(out, name))]
    if not present:
        sys.exit(f"tables.py: no benchmark results in {out}/ (run make bench)")
    env = json.load(open(os.path.join(out, present[0][0])))["environment"]
    print(f"CPU: {env['cpu']}; " + ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v))
    b = env["blas"]
    print(f"NumPy BLAS: OpenBLAS {b['version']} ({b['architecture']} kernels, "
          f"{b['num_threads']} threads)")
    for name, fn in present:
        print()
        fn(os.path.join(out, name))


if __name__ == "__main__":
    main()
