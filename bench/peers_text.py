"""Sparse text classification side by side: softreg (L-BFGS, Newton-CG, SAGA; from the build's
Python module) against scikit-learn (lbfgs, saga), scikit-learn-intelex, and liblinear (one
versus rest through scikit-learn: a different objective, shown as a reference line).

The corpus is apt's package index (bench/text_corpus.py): each package's one-line description
labelled with its archive section, TF-IDF over unigrams and bigrams, a stratified 80/20 split.
Every solver gets the same float64 CSR matrix in memory and solves mean cross-entropy +
(lambda / 2) ||W||^2 with lambda = 1 / (C n) (scikit-learn's C), C = 10 by default. Objectives
are recomputed here in float64 from each solver's weights. For every multinomial peer, softreg
runs again with its target loss set to the objective that peer reached: the ratio is the
peer's time over softreg's time to the same objective.
"""
import argparse
import json
import sys
import time
import warnings

import peer_env  # first: settles the OpenBLAS environment before NumPy loads

import numpy as np  # noqa: E402

import text_corpus  # noqa: E402


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def objective(coef, intercept, x, y, lam):
    lp = log_softmax(np.asarray(x @ coef.T) + intercept)
    return float(-lp[np.arange(len(y)), y].mean() + 0.5 * lam * np.sum(coef * coef))


def accuracy(coef, intercept, x, y):
    return float(((np.asarray(x @ coef.T) + intercept).argmax(axis=1) == y).mean())


def fit_sklearn(cls, x, y, **kw):
    from sklearn.exceptions import ConvergenceWarning
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = cls(**kw).fit(x, y)
    seconds = time.perf_counter() - t0
    return dict(seconds=seconds, iterations=int(np.max(m.n_iter_)), coef=m.coef_,
                intercept=m.intercept_)


def saga_time_to(x, y, c, target, lam):
    """scikit-learn saga's time to `target`: the fewest epochs whose run (from scratch, tol 0)
    ends at or below it, found by doubling then bisection; the time of that run."""
    from sklearn.linear_model import LogisticRegression

    def run(epochs):
        r = fit_sklearn(LogisticRegression, x, y, solver="saga", C=c, max_iter=epochs, tol=0.0)
        return r, objective(r["coef"], r["intercept"], x, y, lam)

    hi, r_hi, f_hi = peer_env.fewest_to_reach(run, target, 4, 1024)
    return dict(seconds=r_hi["seconds"], epochs=hi, objective=f_hi, reached=bool(f_hi <= target))


def fit_softreg(softreg, x, y, lam, solver, target=None, max_iter=1000, tol=1e-4, repeats=1):
    """With a target, tol is 0: the run stops at the target (or max_iter), never before. With
    repeats, the median time of that many runs (each gives the same model)."""
    if repeats > 1:
        runs = [fit_softreg(softreg, x, y, lam, solver, target, max_iter, tol)
                for _ in range(repeats)]
        return dict(runs[0], seconds=float(np.median([r["seconds"] for r in runs])))
    from softreg import _core
    options = _core.TrainOptions()
    options.solver = solver
    options.l2 = lam
    options.max_iter = max_iter
    options.tol = tol
    if target is not None:
        options.target_loss = target
        options.tol = 0.0
    t0 = time.perf_counter()
    matrix = softreg.estimator._library_matrix(x.astype(np.float32))
    model = _core.Model.fit(matrix, y, options, None, None)
    seconds = time.perf_counter() - t0
    w, b = model.folded_weights()
    info = model.info
    return dict(seconds=seconds, iterations=int(info["iterations"]),
                coef=np.ascontiguousarray(np.asarray(w).T, dtype=np.float64),
                intercept=np.asarray(b, dtype=np.float64))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--softreg-python", required=True, help="the build's python/ directory")
    ap.add_argument("--C", type=float, default=10.0)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--quick", action="store_true", help="skip the slow peers (saga, liblinear)")
    args = ap.parse_args()
    sys.path.insert(0, args.softreg_python)
    import softreg
    from sklearn.linear_model import LogisticRegression

    texts, labels = text_corpus.load()
    x_train, x_test, y_train_s, y_test_s = text_corpus.tfidf(texts, labels)
    classes, y_train = np.unique(y_train_s, return_inverse=True)
    y_test = np.searchsorted(classes, y_test_s)
    known = np.isin(y_test_s, classes)
    x_test, y_test = x_test[known], y_test[known]
    n, d = x_train.shape
    lam = 1.0 / (args.C * n)
    print(f"corpus: {len(texts)} package descriptions from {text_corpus.index_path()}; train "
          f"{n} x {d} (nnz/row {x_train.nnz / n:.1f}), test {x_test.shape[0]}, "
          f"{len(classes)} classes; C = {args.C:g} (lambda = {lam:.4g})")
    peer_env.describe()

    rows, peers = [], {}

    def record(name, r, multinomial=True):
        r["objective"] = objective(r["coef"], r["intercept"], x_train, y_train, lam) \
            if multinomial else float("nan")
        r["test_accuracy"] = accuracy(r["coef"], r["intercept"], x_test, y_test)
        del r["coef"], r["intercept"]
        r["name"] = name
        rows.append(r)
        print(f"  {name:44s} {r['seconds']:8.2f} s  {r['iterations']:5d} it  objective "
              f"{r['objective']:.6f}  test acc {r['test_accuracy']:.4f}", flush=True)
        return r

    common = dict(C=args.C, max_iter=1000, tol=1e-4)
    peers["scikit-learn lbfgs"] = record(
        "scikit-learn lbfgs", fit_sklearn(LogisticRegression, x_train, y_train, solver="lbfgs",
                                          **common))
    try:
        from sklearnex.linear_model import LogisticRegression as IntelLR
        peers["scikit-learn-intelex lbfgs"] = record(
            "scikit-learn-intelex lbfgs", fit_sklearn(IntelLR, x_train, y_train,
                                                      solver="lbfgs", **common))
    except ImportError:
        print("  scikit-learn-intelex: not installed")
    if not args.quick:
        peers["scikit-learn saga"] = record(
            "scikit-learn saga", fit_sklearn(LogisticRegression, x_train, y_train,
                                             solver="saga", **common))
        from sklearn.multiclass import OneVsRestClassifier
        t0 = time.perf_counter()
        ovr = OneVsRestClassifier(LogisticRegression(C=args.C, solver="liblinear", tol=1e-4))
        ovr.fit(x_train, y_train)
        coef = np.vstack([e.coef_ for e in ovr.estimators_])
        intercept = np.concatenate([e.intercept_ for e in ovr.estimators_])
        record("liblinear one-vs-rest (other objective)",
               dict(seconds=time.perf_counter() - t0, iterations=0, coef=coef,
                    intercept=intercept), multinomial=False)
    solvers = ("lbfgs", "newton-cg", "saga")
    for solver in solvers:
        record(f"softreg {solver} (tol 1e-4)",
               fit_softreg(softreg, x_train, y_train, lam, solver))

    print("time to each peer's objective (softreg with a target loss, median of 3 runs, the "
          "fastest of its solvers):")
    ratios = {}
    for name, peer in peers.items():
        best = None
        for solver in solvers:
            r = fit_softreg(softreg, x_train, y_train, lam, solver,
                            target=peer["objective"] + 1e-12, repeats=3)
            r["objective"] = objective(r["coef"], r["intercept"], x_train, y_train, lam)
            r["test_accuracy"] = accuracy(r["coef"], r["intercept"], x_test, y_test)
            del r["coef"], r["intercept"]
            print(f"  to {name}'s {peer['objective']:.6f}: softreg {solver} {r['seconds']:.2f} s "
                  f"({r['iterations']} it, objective {r['objective']:.6f}, test acc "
                  f"{r['test_accuracy']:.4f})", flush=True)
            if best is None or r["seconds"] < best["seconds"]:
                best = dict(r, solver=solver)
        ratios[name] = dict(peer_seconds=peer["seconds"], softreg_seconds=best["seconds"],
                            solver=best["solver"], ratio=peer["seconds"] / best["seconds"],
                            accuracy_difference=best["test_accuracy"] - peer["test_accuracy"])
        print(f"  -> {peer['seconds'] / best['seconds']:.2f}x faster than {name} "
              f"(test accuracy {best['test_accuracy'] - peer['test_accuracy']:+.4f})")
    if not args.quick:
        target = peers["scikit-learn lbfgs"]["objective"]
        t = saga_time_to(x_train, y_train, args.C, target, lam)
        best = ratios["scikit-learn lbfgs"]
        ratios["scikit-learn saga to the lbfgs objective"] = dict(
            peer_seconds=t["seconds"], softreg_seconds=best["softreg_seconds"],
            solver=best["solver"], ratio=t["seconds"] / best["softreg_seconds"],
            peer_epochs=t["epochs"])
        print(f"scikit-learn saga to scikit-learn lbfgs's {target:.6f}: {t['epochs']} epochs, "
              f"{t['seconds']:.2f} s (objective {t['objective']:.6f}) -> softreg "
              f"{best['solver']} {best['softreg_seconds']:.2f} s is "
              f"{t['seconds'] / best['softreg_seconds']:.2f}x faster", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=peer_env.describe(), C=args.C, shape=[n, d],
                           classes=len(classes), runs=rows, ratios=ratios), f, indent=1)


if __name__ == "__main__":
    main()
