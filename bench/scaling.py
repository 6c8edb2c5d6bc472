"""Distributed and streamed training on this machine: time per L-BFGS iteration against the
number of MPI ranks and the number of rows, and the peak memory of --stream (docs/SCALING.md).

    python bench/scaling.py --softreg build/softreg [--json out.json]

Data: prefixes of Debian's Fashion-MNIST training images (15,000 / 30,000 / 60,000 rows),
written once as plain IDX files in a scratch directory (--stream and shards seek in them).
The time per iteration is the difference of two runs (35 and 5 iterations, --tol 0, no Adam
warm-up) divided by 30, so the set-up (reading, the preconditioner) cancels; each figure is
the median of 3. Ranks run one thread each (--threads 1), so 2 ranks use both cores of a
2-core machine and 4 ranks are oversubscribed (2 per core): their figure measures the
communication and the sharing, not a speed-up.
"""
import argparse
import gzip
import json
import math
import os
import re
import shutil
import statistics
import struct
import subprocess
import tempfile
from pathlib import Path

DATA = Path("/usr/share/datasets/fashion-mnist")


def write_prefixes(scratch, sizes):
    images = gzip.open(DATA / "train-images-idx3-ubyte.gz").read()
    labels = gzip.open(DATA / "train-labels-idx1-ubyte.gz").read()
    out = {}
    for n in sizes:
        d = scratch / f"n{n}"
        d.mkdir()
        (d / "train-images-idx3-ubyte").write_bytes(
            struct.pack(">HBBIII", 0, 8, 3, n, 28, 28) + images[16:16 + n * 784])
        (d / "train-labels-idx1-ubyte").write_bytes(
            struct.pack(">HBBI", 0, 8, 1, n) + labels[8:8 + n])
        out[n] = d / "train-images-idx3-ubyte"
    return out


def train_ms(softreg, data, ranks, iters, threads=1):
    """The fit's own time in ms (the model's record), for `iters` iterations."""
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "m"
        cmd = [softreg, "train", "--data", str(data), "--model", str(model), "--threads",
               str(threads), "--max-iter", str(iters), "--tol", "0", "--lbfgs-warmup", "0",
               "--quiet"]
        if ranks > 0:
            flags = ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
            cmd = ["mpirun", *flags, "-np", str(ranks), *cmd, "--distributed"]
        subprocess.run(cmd, check=True)
        info = subprocess.run([softreg, "info", "--model", str(model)], check=True,
                              capture_output=True, text=True).stdout
    m = re.search(r"training\s+\d+ rows, ([\d.]+) (ms|s)\b", info)
    return float(m.group(1)) * (1000.0 if m.group(2) == "s" else 1.0)


def per_iteration_ms(softreg, data, ranks, threads=1, repeats=3):
    values = []
    for _ in range(repeats):
        values.append((train_ms(softreg, data, ranks, 35, threads) -
                       train_ms(softreg, data, ranks, 5, threads)) / 30.0)
    return statistics.median(values)


def peak_rss_mb(softreg, data, extra):
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", softreg, "train", "--data",
                               str(data), "--model", str(Path(tmp) / "m"), "--max-iter", "5",
                               "--quiet", *extra], check=True, capture_output=True, text=True)
    return int(proc.stderr.strip().splitlines()[-1]) / 1024.0


# Networks for the projection: latency (s) and bandwidth (bytes/s) of one message.
NETWORKS = {"InfiniBand HDR (2 us, 12.5 GB/s)": (2e-6, 12.5e9),
            "10 Gb Ethernet (25 us, 1.25 GB/s)": (25e-6, 1.25e9)}
MESSAGE = (784 * 10 + 10 + 4) * 8  # one evaluation's allreduce for Fashion-MNIST, bytes


def allreduce_seconds(nodes, latency, bandwidth, message=MESSAGE):
    """The rank-ordered allreduce as Open MPI runs a non-commutative operator: a reduction up
    a binary tree, then a broadcast down one, each ceil(log2 N) steps of one message."""
    steps = 2 * math.ceil(math.log2(nodes)) if nodes > 1 else 0
    return steps * (latency + message / bandwidth)


def projection(row_seconds, fixed_seconds):
    """Per-iteration compute (rows / nodes x the measured time per row of one 2-core node, plus
    the fixed part every rank repeats: L-BFGS's own vector algebra over the d K parameters)
    against the allreduce, for Fashion-MNIST and for 100 times its rows."""
    lines = ["| nodes | rows | compute | " + " | ".join(f"allreduce, {n}" for n in NETWORKS) + " |",
             "|---|---|---|" + "---|" * len(NETWORKS)]
    for rows in (60000, 6000000):
        for nodes in (8, 16, 32, 64, 128, 256):
            compute = rows / nodes * row_seconds + fixed_seconds
            comm = [allreduce_seconds(nodes, *net) for net in NETWORKS.values()]
            lines.append(f"| {nodes} | {rows:,} | {compute * 1e3:.3f} ms | " +
                         " | ".join(f"{c * 1e3:.3f} ms" + (" (dominates)" if c > compute else "")
                                    for c in comm) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--softreg", default="build/softreg")
    ap.add_argument("--json")
    args = ap.parse_args()
    if shutil.which("mpirun") is None:
        raise SystemExit("mpirun not found (Debian: openmpi-bin)")
    softreg = str(Path(args.softreg).resolve())
    results = {"per_iteration_ms": {}, "peak_rss_mb": {}}
    with tempfile.TemporaryDirectory() as tmp:
        files = write_prefixes(Path(tmp), [500, 15000, 30000, 60000])
        print("| rows | 1 process, 1 thread | 1 process, 2 threads | 1 rank | 2 ranks | "
              "4 ranks (2 per core) |")
        print("|---|---|---|---|---|---|")
        for n, data in files.items():
            row = {
                "process_1_thread": per_iteration_ms(softreg, data, 0),
                "process_2_threads": per_iteration_ms(softreg, data, 0, threads=2),
            }
            for ranks in (1, 2, 4):
                row[f"ranks_{ranks}"] = per_iteration_ms(softreg, data, ranks)
            results["per_iteration_ms"][n] = row
            print(f"| {n} | " + " | ".join(f"{v:.2f} ms" for v in row.values()) + " |")
        full = files[60000]
        for name, extra in (("in_memory", []),
                            ("stream_64mb", ["--stream", "--block-mb", "64"]),
                            ("stream_8mb", ["--stream", "--block-mb", "8"]),
                            ("stream_1mb", ["--stream", "--block-mb", "1"])):
            results["peak_rss_mb"][name] = peak_rss_mb(softreg, full, extra)
        print()
        print("| 60,000 rows, 5 iterations | peak RSS |")
        print("|---|---|")
        for name, mb in results["peak_rss_mb"].items():
            print(f"| {name} | {mb:.0f} MB |")
    # 500 rows: the iteration is almost all the fixed part (the rows cost ~1% of it).
    fixed = results["per_iteration_ms"][500]["process_2_threads"] / 1e3
    row_seconds = (results["per_iteration_ms"][60000]["process_2_threads"] / 1e3 - fixed) / 59500
    results["fixed_seconds_2_threads"] = fixed
    results["row_seconds_2_threads"] = row_seconds
    print(f"\nfixed part {fixed * 1e3:.3f} ms per iteration, {row_seconds * 1e9:.1f} ns per row "
          "(2 threads)\n")
    print(projection(row_seconds, fixed))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
