#!/usr/bin/env python3
"""Fashion-MNIST with softreg.SoftmaxRegression and scikit-learn's LogisticRegression side by
side: training time, accuracy and log loss on the test images, and the training objective.

Both solve the same problem on pixels / 255: mean cross-entropy + (lambda / 2) ||W||^2, with
lambda = --l2 (softreg's alpha) and scikit-learn's C = 1 / (lambda n). Both run L-BFGS for at
most --max-iter iterations. The objective is recomputed here in float64 from each model's
coef_ and intercept_, so the two are measured with one ruler.

Run:  PYTHONPATH=build/python .venv/bin/python examples/python/fashion_mnist.py
(or with any interpreter where `pip install .` installed it; docs/PYTHON.md). Needs Debian's
dataset-fashion-mnist (IDX files in /usr/share/datasets/fashion-mnist).
"""
import argparse
import os
import time
import warnings

import numpy as np

import softreg

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


def objective(model, X, y, lam):
    """Mean cross-entropy + (lam / 2) ||coef||^2 in float64, from the model's coefficients."""
    z = X.astype(np.float64) @ model.coef_.T.astype(np.float64) + model.intercept_
    log_p = softreg.log_softmax(z)
    return -log_p[np.arange(len(y)), y].mean() + 0.5 * lam * np.sum(model.coef_ ** 2)


def evaluate(name, model, seconds, train, test, lam):
    (X, y), (X_test, y_test) = train, test
    log_p = model.predict_log_proba(X_test).astype(np.float64)
    return {
        "name": name,
        "seconds": seconds,
        "iterations": int(np.max(model.n_iter_)),
        "objective": objective(model, X, y, lam),
        "train accuracy": float(np.mean(model.predict(X) == y)),
        "test accuracy": float(np.mean(model.predict(X_test) == y_test)),
        "test log loss": float(-log_p[np.arange(len(y_test)), y_test].mean()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--l2", type=float, default=1e-4, help="lambda (default 1e-4)")
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None,
                        help="worker threads for both (default: every core)")
    parser.add_argument("--no-sklearn", action="store_true", help="train softreg only")
    args = parser.parse_args()

    t0 = time.perf_counter()
    train = softreg.read_dataset(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    test = softreg.read_dataset(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
    (X, y), (X_test, y_test) = train, test
    print(f"read {X.shape[0]} training and {X_test.shape[0]} test images of {X.shape[1]} pixels "
          f"({X.dtype}) with softreg.read_dataset in {time.perf_counter() - t0:.2f} s")
    lam, n = args.l2, X.shape[0]
    print(f"objective: mean cross-entropy + (lambda/2)||W||^2, lambda = {lam:g} "
          f"(scikit-learn C = 1/(lambda n) = {1 / (lam * n):.4g}), L-BFGS, "
          f"max_iter = {args.max_iter}\n")

    results = []
    ours = softreg.SoftmaxRegression(alpha=lam, max_iter=args.max_iter, tol=1e-6,
                                     n_jobs=args.threads)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reaching max_iter is expected here
        ours.fit(X, y)
    results.append(evaluate("softreg", ours, time.perf_counter() - t0, train, test, lam))

    if not args.no_sklearn:
        from sklearn.linear_model import LogisticRegression

        theirs = LogisticRegression(C=1 / (lam * n), solver="lbfgs",
                                    max_iter=args.max_iter, n_jobs=args.threads)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.fit(X, y)
        results.append(evaluate("scikit-learn", theirs, time.perf_counter() - t0, train, test,
                                lam))

    rows = ["seconds", "iterations", "objective", "train accuracy", "test accuracy",
            "test log loss"]
    print(f"{'':16s}" + "".join(f"{r['name']:>16s}" for r in results))
    for row in rows:
        cells = "".join(
            f"{r[row]:16d}" if isinstance(r[row], int) else f"{r[row]:16.6f}" for r in results
        )
        print(f"{row:16s}{cells}")
    if len(results) == 2:
        agree = np.mean(ours.predict(X_test) == theirs.predict(X_test))
        print(f"\nthe two models predict the same class for {agree:.2%} of the test images")

    print("\nthe first five test images (softreg):")
    proba = ours.predict_proba(X_test[:5])
    for i, p in enumerate(proba):
        top = np.argsort(p)[::-1][:2]
        print(f"  image {i + 1} (true: {CLASSES[y_test[i]]:11s}) predicted "
              f"{CLASSES[top[0]]:11s} (p = {p[top[0]]:.3f}), runner-up {CLASSES[top[1]]:11s} "
              f"(p = {p[top[1]]:.3f})")


if __name__ == "__main__":
    main()
