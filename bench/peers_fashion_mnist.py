"""Fashion-MNIST training side by side: softreg (its CLI) against scikit-learn (lbfgs,
newton-cholesky, saga), scikit-learn-intelex, and PyTorch (L-BFGS, an SGD and an Adam loop);
then CSV reading against pandas.read_csv (C and pyarrow engines) and numpy.loadtxt.

Every training run includes loading the data from the gzip IDX files. All solve the same
problem: pixels / 255, mean cross-entropy + (lambda / 2) ||W||^2 with lambda = 1e-4
(scikit-learn's C = 1 / (lambda n)). Objectives are recomputed here in float64 from each
solver's weights, so they are compared on one ruler. For every full-batch peer, softreg is run
again with --target-loss set to the objective that peer reached, and the ratio is the peer's
time over softreg's time to the same objective.
"""
import argparse
import gzip
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings

import peer_env  # first: settles the OpenBLAS environment before NumPy loads

import numpy as np  # noqa: E402

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


def fit_logistic(cls, **params):
    """Loads the data and fits a LogisticRegression-like class; the seconds include loading."""
    t0 = time.perf_counter()
    x, y = train_data()
    clf = cls(C=1.0 / (LAMBDA * len(y)), **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(x, y)
    seconds = time.perf_counter() - t0
    return dict(seconds=seconds, iterations=int(np.max(clf.n_iter_)), coef=clf.coef_,
                intercept=clf.intercept_)


def sklearn_fit(solver, max_iter):
    from sklearn.linear_model import LogisticRegression
    return fit_logistic(LogisticRegression, solver=solver, max_iter=max_iter, tol=1e-10)


class _Messages(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def sklearnex_fit(max_iter):
    """Intel's LogisticRegression (oneDAL). Its log says whether the fit ran accelerated or
    fell back to scikit-learn; a fallback is reported, never passed off as Intel's."""
    from sklearnex.linear_model import LogisticRegression
    log = logging.getLogger("sklearnex")
    handler = _Messages()
    log.addHandler(handler)
    old_level = log.level
    log.setLevel(logging.INFO)
    try:
        r = fit_logistic(LogisticRegression, solver="lbfgs", max_iter=max_iter, tol=1e-10)
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
    fit_messages = [m for m in handler.messages if ".fit:" in m]
    r["accelerated"] = any("running accelerated" in m for m in fit_messages) and not any(
        "fallback" in m for m in fit_messages)
    r["log"] = fit_messages[:4]
    return r


def sklearnex_time_to(target, max_iter):
    """scikit-learn-intelex's time to `target`: the fewest L-BFGS iterations whose run (from
    scratch, loading included) ends at or below it, by doubling then bisection; that run."""
    x, y = train_data()

    def run(iters):
        r = sklearnex_fit(iters)
        return r, objective(r["coef"], r["intercept"], x, y)

    hi, r_hi, f_hi = peer_env.fewest_to_reach(run, target, 16, max_iter)
    return dict(seconds=r_hi["seconds"], iterations=hi, objective=f_hi,
                reached=bool(f_hi <= target))


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


def torch_minibatch(optimizer, lr, target_acc, xtest, ytest, max_epochs=10):
    """A mini-batch loop (batch 256): SGD with momentum 0.9 or Adam; seconds until the test
    accuracy first reaches target_acc (evaluation time excluded, loading included)."""
    import torch
    torch.manual_seed(0)
    t0 = time.perf_counter()
    x, y = train_data()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    w = torch.zeros(x.shape[1], 10, requires_grad=True)
    b = torch.zeros(10, requires_grad=True)
    opt = (torch.optim.SGD([w, b], lr=lr, momentum=0.9) if optimizer == "sgd"
           else torch.optim.Adam([w, b], lr=lr))
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


def softreg_train(binary, tmp, extra, repeats=1):
    """One softreg train run; with repeats, the median of that many (the runs are
    deterministic: the same model each time, only the time varies)."""
    model = os.path.join(tmp, "model.srm")
    npz = os.path.join(tmp, "model.npz")
    cmd = [binary, "train", "--data", f"{DATA}/train-images-idx3-ubyte.gz", "--model", model,
           "--l2", str(LAMBDA), "--quiet"] + extra
    seconds = float(np.median([run_measured(cmd)[0] for _ in range(repeats)]))
    subprocess.run([binary, "export", "--model", model, "--npz", npz], check=True,
                   capture_output=True)
    info = json.loads(subprocess.run([binary, "info", "--model", model, "--json"], check=True,
                                     capture_output=True, text=True).stdout)
    iters = int(info.get("iterations", info.get("epochs")))
    z = np.load(npz)
    return dict(seconds=seconds, iterations=iters, coef=z["coef"], intercept=z["intercept"],
                cmd=cmd)


def csv_reads(path, read_speed):
    """Seconds to read the CSV into a float32 matrix: softreg's reader (best of 3, in its own
    process), pandas.read_csv with the C and pyarrow engines, numpy.loadtxt (best of 2)."""
    import pandas as pd

    def best(fn, repeats):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    out = json.loads(subprocess.run([read_speed, path], check=True, capture_output=True,
                                    text=True).stdout)
    rows = {"softreg read_dataset<float>": out["seconds"]}
    rows["pandas.read_csv (engine='c')"] = best(
        lambda: pd.read_csv(path, dtype=np.float32).to_numpy(), 2)
    try:
        import pyarrow  # noqa: F401
        rows["pandas.read_csv (engine='pyarrow')"] = best(
            lambda: pd.read_csv(path, engine="pyarrow", dtype=np.float32).to_numpy(), 2)
    except ImportError:
        print("  (pyarrow is not installed: its engine is left out)")
    rows["numpy.loadtxt"] = best(
        lambda: np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32), 2)
    return out["file_mb"], rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--softreg", default="build/softreg")
    ap.add_argument("--read-speed", default="build/bench/read_speed")
    ap.add_argument("--max-iter", type=int, default=400, help="L-BFGS iterations of the peers")
    ap.add_argument("--saga-epochs", type=int, default=30)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    record = peer_env.describe()
    xtr, ytr = train_data()
    xte, yte = test_data()
    rows = []

    def add(name, r, **extra):
        obj = float(objective(r["coef"], r["intercept"], xtr, ytr))
        acc, ll = scores(r["coef"], r["intercept"], xte, yte)
        rows.append(dict(name=name, seconds=r["seconds"], iterations=r.get("iterations"),
                         objective=obj, test_accuracy=acc, test_log_loss=ll, **extra))
        print(f"  {name:<44} {r['seconds']:8.2f} s  iters {r.get('iterations')!s:>5}  "
              f"objective {obj:.6f}  test acc {acc:.4f}  log loss {ll:.4f}", flush=True)
        return obj

    print(f"Fashion-MNIST, lambda = {LAMBDA}; every time includes loading the gzip IDX files")
    with tempfile.TemporaryDirectory() as tmp:
        it = args.max_iter

        def versus(name, r):
            """Records a peer's run, then softreg's run to the objective the peer reached."""
            obj = add(name, r, **({"sklearnex_log": r["log"]} if "log" in r else {}))
            # --tol 0: only the target (or the relative-decrease floor, 1e-10) stops it.
            # The median of three runs: a run of one or two seconds on this kind of machine
            # varies by a quarter from one start to the next.
            mine = softreg_train(args.softreg, tmp, ["--max-iter", str(4 * it), "--tol", "0",
                                                    "--target-loss", repr(obj)], repeats=3)
            mine_obj = add("  softreg lbfgs to that objective", mine)
            rows[-1]["peer"] = name
            rows[-1]["ratio"] = r["seconds"] / mine["seconds"]
            # softreg stops on its own objective, summed from float32 passes: recomputed here in
            # float64 it may sit a few 1e-7 relative above the target (4e-7 measured).
            reached = bool(mine_obj <= obj * (1 + 1e-6))
            rows[-1]["target_reached"] = reached
            print(f"  {'':<44} ratio {r['seconds'] / mine['seconds']:.1f}x"
                  f"{'' if reached else '  (target not reached)'}", flush=True)

        versus(f"scikit-learn lbfgs ({it} it)", sklearn_fit("lbfgs", it))
        versus("scikit-learn newton-cholesky", sklearn_fit("newton-cholesky", 100))
        r = sklearnex_fit(it)
        label = "accelerated" if r["accelerated"] else "FELL BACK to scikit-learn"
        versus(f"scikit-learn-intelex lbfgs ({it} it; {label})", r)
        # The comparison: each to scikit-learn lbfgs's objective. Intel's run goes past
        # it (to a tighter one); its time to that objective is found by rerunning it shorter.
        target = next(row["objective"] for row in rows if row["name"].startswith("scikit-learn lbfgs"))
        mine = next(row for row in rows if row.get("peer", "").startswith("scikit-learn lbfgs"))
        t = sklearnex_time_to(target, it)
        rows.append(dict(name="scikit-learn-intelex lbfgs to scikit-learn lbfgs's objective",
                         seconds=t["seconds"], iterations=t["iterations"],
                         objective=t["objective"], ratio=t["seconds"] / mine["seconds"]))
        print(f"  scikit-learn-intelex to scikit-learn lbfgs's {target:.6f}: {t['iterations']} it, "
              f"{t['seconds']:.2f} s -> softreg's {mine['seconds']:.2f} s is "
              f"{t['seconds'] / mine['seconds']:.1f}x faster", flush=True)
        versus(f"pytorch lbfgs ({it} it)", torch_lbfgs(it))
        # saga does not converge in a sensible time here: its objective is reported, not matched.
        add(f"scikit-learn saga ({args.saga_epochs} epochs)", sklearn_fit("saga", args.saga_epochs))
        add(f"softreg lbfgs (100 it, the default)",
            softreg_train(args.softreg, tmp, ["--max-iter", "100"]))

        # PyTorch's loops get a small learning-rate grid; the fastest to the target is kept.
        for optimizer, rates in (("sgd", (0.05, 0.1, 0.2)), ("adam", (0.001, 0.003, 0.01))):
            runs = [(torch_minibatch(optimizer, lr, 0.84, xte, yte), lr) for lr in rates]
            reached = [(r["seconds"], lr, r) for r, lr in runs if r["seconds"] == r["seconds"]]
            for r, lr in runs:
                print(f"  pytorch {optimizer} (lr {lr}) to test acc 0.84  {r['seconds']:8.2f} s  "
                      f"epochs {r['epochs']}  acc {r['accuracy']:.4f}", flush=True)
            if reached:
                seconds, lr, r = min(reached, key=lambda t: t[0])
                rows.append(dict(name=f"pytorch {optimizer} (lr {lr}) to 0.84", **r))
            else:
                rows.append(dict(name=f"pytorch {optimizer} to 0.84 (not reached in 10 epochs)",
                                 seconds=float("nan")))
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
            mb, reads = csv_reads(csv, args.read_speed)
            ours = reads["softreg read_dataset<float>"]
            print(f"CSV read, {mb:.0f} MB (60000 x 785 integers), best of repeated reads:")
            for name, seconds in reads.items():
                print(f"  {name:<44} {seconds:8.2f} s  {mb / seconds:6.0f} MB/s  "
                      f"ratio {seconds / ours:5.1f}x", flush=True)
                rows.append(dict(name=f"csv read: {name}", seconds=seconds, mb_per_s=mb / seconds,
                                 ratio=seconds / ours))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": record, "results": rows}, f, indent=1, default=float)


if __name__ == "__main__":
    main()
