#!/usr/bin/python3
"""Fashion-MNIST training side by side: softreg (its CLI) against scikit-learn and PyTorch.

Every run includes loading the data from the gzip IDX files. All solve the same problem:
pixels / 255, mean cross-entropy + (lambda / 2) ||W||^2 with lambda = 1e-4
(scikit-learn's C = 1 / (lambda n)). Objectives are recomputed here in float64 from each
solver's weights, so they are compared on one ruler.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"
LAMBDA = 1e-4


def load_idx(images, labels):
    with gzip.open(images, "rb") as f:
        raw = f.read()
    n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows * cols)
    with gzip.open(labels, "rb") as f:
        y = np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64)
    return x.astype(np.float32) / np.float32(255.0), y


def train_data():
    return load_idx(f"{DATA}/train-images-idx3-ubyte.gz", f"{DATA}/train-labels-idx1-ubyte.gz")


def test_data():
    return load_idx(f"{DATA}/t10k-images-idx3-ubyte.gz", f"{DATA}/t10k-labels-idx1-ubyte.gz")


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def objective(coef, intercept, x, y):
    """coef (K, d), intercept (K,), float64 throughout."""
    lp = log_softmax(x.astype(np.float64) @ coef.T + intercept)
    return -lp[np.arange(len(y)), y].mean() + 0.5 * LAMBDA * np.sum(coef * coef)


def scores(coef, intercept, x, y):
    lp = log_softmax(x.astype(np.float64) @ coef.T + intercept)
    return float((lp.argmax(axis=1) == y).mean()), float(-lp[np.arange(len(y)), y].mean())


def run_measured(cmd):
    """Runs a command; returns (wall seconds, stdout, stderr)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return seconds, proc.stdout, proc.stderr


def peak_rss_mb(cmd):
    """Peak resident memory of a command, by GNU time (a child forked from this large Python
    process would report the parent's pages in its own ru_maxrss)."""
    proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return int(proc.stderr.strip().splitlines()[-1]) / 1024.0


def sklearn_lbfgs(max_iter):
    from sklearn.linear_model import LogisticRegression
    t0 = time.perf_counter()
    x, y = train_data()
    clf = LogisticRegression(C=1.0 / (LAMBDA * len(y)), solver="lbfgs", max_iter=max_iter,
                             tol=1e-10, multi_class="multinomial")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(x, y)
    seconds = time.perf_counter() - t0
    return dict(seconds=seconds, iterations=int(clf.n_iter_[0]), coef=clf.coef_,
                intercept=clf.intercept_)


def torch_lbfgs(max_iter):
    import torch
    t0 = time.perf_counter()
    x, y = train_data()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    w = torch.zeros(x.shape[1], 10, requires_grad=True)
    b = torch.zeros(10, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=max_iter, history_size=10,
                            tolerance_grad=1e-10, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + 0.5 * LAMBDA * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    seconds = time.perf_counter() - t0
    iters = opt.state[opt._params[0]]["n_iter"]
    return dict(seconds=seconds, iterations=int(iters), coef=w.detach().numpy().T.astype(np.float64),
                intercept=b.detach().numpy().astype(np.float64))


def torch_sgd(target_acc, xtest, ytest, max_epochs=10):
    """Mini-batch SGD with momentum; seconds until the test accuracy first reaches target_acc
    (evaluation time excluded)."""
    import torch
    torch.manual_seed(0)
    t0 = time.perf_counter()
    x, y = train_data()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    w = torch.zeros(x.shape[1], 10, requires_grad=True)
    b = torch.zeros(10, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=0.1, momentum=0.9)
    xte = torch.from_numpy(xtest)
    paused = 0.0
    for epoch in range(1, max_epochs + 1):
        perm = torch.randperm(len(y))
        for i in range(0, len(y), 256):
            idx = perm[i:i + 256]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(xt[idx] @ w + b, yt[idx]) + \
                0.5 * LAMBDA * (w * w).sum()
            loss.backward()
            opt.step()
        p0 = time.perf_counter()
        with torch.no_grad():
            acc = float(((xte @ w + b).argmax(1).numpy() == ytest).mean())
        paused += time.perf_counter() - p0
        if acc >= target_acc:
            return dict(seconds=time.perf_counter() - t0 - paused, epochs=epoch, accuracy=acc)
    return dict(seconds=float("nan"), epochs=max_epochs, accuracy=acc)


def softreg_train(binary, tmp, extra):
    model = os.path.join(tmp, "model.srm")
    npz = os.path.join(tmp, "model.npz")
    cmd = [binary, "train", "--data", f"{DATA}/train-images-idx3-ubyte.gz", "--model", model,
           "--l2", str(LAMBDA), "--quiet"] + extra
    seconds, _, _ = run_measured(cmd)
    subprocess.run([binary, "export", "--model", model, "--npz", npz], check=True,
                   capture_output=True)
    info = subprocess.run([binary, "info", "--model", model], check=True, capture_output=True,
                          text=True).stdout
    iters = int(info.split("iterations")[1].split()[0])
    z = np.load(npz)
    return dict(seconds=seconds, iterations=iters, coef=z["coef"], intercept=z["intercept"],
                cmd=cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--softreg", default="build/softreg")
    ap.add_argument("--read-speed", default="build/bench/read_speed")
    ap.add_argument("--max-iter", type=int, default=400)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    xtr, ytr = train_data()
    xte, yte = test_data()
    rows = []

    def add(name, r):
        obj = objective(r["coef"], r["intercept"], xtr, ytr)
        acc, ll = scores(r["coef"], r["intercept"], xte, yte)
        rows.append(dict(name=name, seconds=r["seconds"], iterations=r.get("iterations"),
                         objective=obj, test_accuracy=acc, test_log_loss=ll))
        print(f"  {name:<34} {r['seconds']:8.2f} s  iters {r.get('iterations')!s:>5}  "
              f"objective {obj:.6f}  test acc {acc:.4f}  log loss {ll:.4f}", flush=True)
        return obj

    print(f"Fashion-MNIST, lambda = {LAMBDA}, {os.cpu_count()} cores")
    ref = add(f"scikit-learn lbfgs ({args.max_iter} it)", sklearn_lbfgs(args.max_iter))
    add(f"pytorch lbfgs ({args.max_iter} it)", torch_lbfgs(args.max_iter))
    with tempfile.TemporaryDirectory() as tmp:
        add(f"softreg lbfgs to sklearn's objective",
            softreg_train(args.softreg, tmp, ["--max-iter", str(4 * args.max_iter),
                                              "--target-loss", repr(ref)]))
        add(f"softreg lbfgs ({args.max_iter} it)",
            softreg_train(args.softreg, tmp, ["--max-iter", str(args.max_iter)]))
        sgd = torch_sgd(0.84, xte, yte)
        print(f"  pytorch sgd to test acc 0.84          {sgd['seconds']:8.2f} s  epochs "
              f"{sgd['epochs']}  acc {sgd['accuracy']:.4f}", flush=True)
        rows.append(dict(name="pytorch sgd to 0.84", **sgd))
        for solver, extra in (("sgd", ["--lr", "0.2", "--schedule", "cosine"]),
                              ("adam", ["--lr", "0.02", "--schedule", "cosine"])):
            for epochs in (1, 2, 3, 4, 6, 8):
                r = softreg_train(args.softreg, tmp, ["--solver", solver, "--epochs", str(epochs)] + extra)
                acc, _ = scores(r["coef"], r["intercept"], xte, yte)
                if acc >= 0.84 or epochs == 8:
                    add(f"softreg {solver} {' '.join(extra)} ({epochs} ep)", r)
                    break
        rss = peak_rss_mb([args.softreg, "train", "--data", f"{DATA}/train-images-idx3-ubyte.gz",
                           "--model", os.path.join(tmp, "m"), "--max-iter", "100", "--quiet"])
        data_mb = xtr.nbytes / 1e6
        print(f"  softreg peak RSS training: {rss:.0f} MB for {data_mb:.0f} MB of float32 data "
              f"({rss / data_mb:.2f}x)")
        rows.append(dict(name="softreg peak rss mb", value=rss, ratio=rss / data_mb))
        csv = os.path.join(tmp, "fashion-mnist.csv")
        with open(csv, "w") as f:
            f.write(",".join([f"p{i}" for i in range(784)] + ["label"]) + "\n")
            np.savetxt(f, np.column_stack([np.rint(xtr * 255).astype(np.int64), ytr]), fmt="%d",
                       delimiter=",")
        if os.path.exists(args.read_speed):
            out = json.loads(subprocess.run([args.read_speed, csv], check=True,
                                            capture_output=True, text=True).stdout)
            print(f"  softreg CSV read: {out['file_mb']:.0f} MB in {out['seconds']:.2f} s = "
                  f"{out['mb_per_s']:.0f} MB/s")
            rows.append(dict(name="softreg csv read mb/s", value=out["mb_per_s"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1, default=float)


if __name__ == "__main__":
    main()
