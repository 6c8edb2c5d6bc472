#!/usr/bin/env python3
"""A small next-token model trained with softreg.linear_cross_entropy: the output layer and its
loss without the (tokens x vocabulary) logits.

Text: the manual pages on this machine (/usr/share/man, gzipped roff), stripped of their
formatting requests and split into lower-case words; the --vocab most frequent words (plus
<unk>) are the vocabulary. Model: each token's embedding (vocab x d) feeds an output layer
(vocab x d, PyTorch's layout, plus a bias) that predicts the next token; trained with Adam on
mini-batches, the embedding's gradient being the fused layer's d_hidden scattered back to the
rows it came from. Prints the mean loss per epoch (against log(vocab) for a uniform guess) and
the peak extra memory of one batch's loss and gradients, fused against materialised (logits =
h W^T, softreg.cross_entropy_with_grad on them, then the two products).

Run:  PYTHONPATH=build/python .venv/bin/python examples/python/next_token.py
(or with any interpreter where `pip install .` installed softreg; docs/PYTHON.md).
"""
import argparse
import collections
import glob
import gzip
import re
import time

import numpy as np

import softreg

WORD = re.compile(r"[a-z][a-z0-9_'-]*")


def read_man_pages(limit_words):
    """Lower-case words of the manual pages, formatting requests (lines starting with . or ')
    and escapes (\\fB, \\-) removed, until limit_words words are read."""
    words = []
    for path in sorted(glob.glob("/usr/share/man/man*/*.gz")):
        try:
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
                text = f.read()
        except (OSError, EOFError):
            continue
        for line in text.splitlines():
            if line.startswith((".", "'")):
                continue
            line = re.sub(r"\\f[BIRP]|\\\(..|\\[-e&]|\\.", " ", line)
            words.extend(WORD.findall(line.lower()))
        if len(words) >= limit_words:
            break
    return words[:limit_words]


def peak_growth_mib(fn):
    """MiB by which a call of fn raises the peak resident set (Linux: VmHWM reset to the current
    resident set by writing 5 to /proc/self/clear_refs). Memory that an earlier call left with
    the allocator would not show, so each method is measured before it is otherwise used at this
    batch size."""
    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    before = status("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return float("nan")
    fn()
    return status("VmHWM") - before


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=5_000_000, help="words of text to read")
    ap.add_argument("--train-words", type=int, default=600_000,
                    help="words of that text to train on (the vocabulary comes from all of it)")
    ap.add_argument("--vocab", type=int, default=30_000, help="vocabulary size (most frequent)")
    ap.add_argument("--dim", type=int, default=64, help="embedding width d")
    ap.add_argument("--batch", type=int, default=4096, help="tokens per step")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.01, help="Adam's step size")
    args = ap.parse_args()

    t0 = time.perf_counter()
    words = read_man_pages(args.words)
    if len(words) < 2 * args.batch:
        raise SystemExit(f"next_token.py: only {len(words)} words found under /usr/share/man; "
                         "install some manual pages (the man-db package) or lower --batch")
    counts = collections.Counter(words)
    vocab = ["<unk>"] + [w for w, _ in counts.most_common(args.vocab - 1)]
    index = {w: i for i, w in enumerate(vocab)}
    tokens = np.array([index.get(w, 0) for w in words], dtype=np.int64)
    k, d = len(vocab), args.dim
    print(f"{len(words):,} words of manual pages, vocabulary {k:,} (covers "
          f"{np.mean(tokens != 0):.1%} of the words), read in {time.perf_counter() - t0:.1f} s")

    rng = np.random.default_rng(0)
    emb = (rng.standard_normal((k, d)) * 0.1).astype(np.float32)
    w = (rng.standard_normal((k, d)) / np.sqrt(d)).astype(np.float32)
    b = np.zeros(k, np.float32)
    params = [emb, w, b]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    beta1, beta2, step = 0.9, 0.999, 0
    train = tokens[: args.train_words]
    x, y = train[:-1], train[1:]
    print(f"model: embedding {k} x {d} -> output layer {k} x {d} + bias; uniform guess "
          f"log({k}) = {np.log(k):.3f}")
    h, target = emb[x[: args.batch]], y[: args.batch]
    grads = (h.nbytes + w.nbytes + b.nbytes) / 2**20  # what either way returns

    def fused():
        softreg.linear_cross_entropy(h, w, target, bias=b, weight_layout="kd", return_grad=True)

    def materialised():
        z = h @ w.T + b
        _, g = softreg.cross_entropy_with_grad(z, target, out=z)
        g @ w, g.T @ h, g.sum(axis=0)

    logits = args.batch * k * 4 / 2**20
    print(f"peak extra memory of one step's loss and gradients beyond the gradients themselves "
          f"({args.batch} tokens; the logits alone are {logits:.0f} MiB): fused "
          f"{peak_growth_mib(fused) - grads:.0f} MiB, materialised "
          f"{peak_growth_mib(materialised) - grads:.0f} MiB")
    for epoch in range(args.epochs):
        order = rng.permutation(len(x) - len(x) % args.batch).reshape(-1, args.batch)
        t0, total = time.perf_counter(), 0.0
        for rows in order:
            h = emb[x[rows]]
            loss, dh, dw, db = softreg.linear_cross_entropy(h, w, y[rows], bias=b,
                                                            weight_layout="kd", return_grad=True)
            demb = np.zeros_like(emb)
            np.add.at(demb, x[rows], dh)
            step += 1
            rate = args.lr * np.sqrt(1 - beta2**step) / (1 - beta1**step)
            for p, g, (m, v) in zip(params, (demb, dw, db), moments):
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                p -= rate * m / (np.sqrt(v) + 1e-8)
            total += loss
        print(f"epoch {epoch + 1}: mean loss {total / len(order):.3f} "
              f"({len(order)} steps, {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
