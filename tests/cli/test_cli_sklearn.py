"""softreg train (L-BFGS, float64) reaches scikit-learn's regularized multinomial optimum."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

LAMBDA = 1e-2
REL_TOL = 1e-6


def overlapping_blobs(n, d, k, seed, uneven):
    """n rows of k overlapping Gaussian blobs; `uneven` spreads the feature scales over 0.5..20
    and shifts them by up to 10 (scaling then matters), otherwise they stay within 0.5..2."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, (k, d))
    y = rng.integers(0, k, n)
    x = centres[y] + rng.normal(0.0, 2.5, (n, d))
    if uneven:
        return x * rng.uniform(0.5, 20.0, d) + rng.uniform(-10.0, 10.0, d), y
    return x * rng.uniform(0.5, 2.0, d), y


def objective(x, y, coef, intercept, lam):
    """Mean cross-entropy of softmax(x coef^T + intercept) plus (lam / 2) ||coef||^2."""
    z = x @ coef.T + intercept
    m = z.max(axis=1, keepdims=True)
    log_z = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    ce = np.mean(log_z - z[np.arange(len(y)), y])
    return ce + 0.5 * lam * np.sum(coef**2)


def sklearn_optimum(x, y, lam):
    """scikit-learn's optimum of the same objective, coef (K, d) and intercept (K) in full softmax
    form. K >= 3: its multinomial fit with C = 1 / (lam n). K = 2: its binary fit estimates
    u = w1 - w0 of the symmetric pair w0 = -w1 = -u / 2, whose penalty (lam / 2) (|w0|^2 +
    |w1|^2) = (lam / 4) |u|^2 is the binary fit's at C = 2 / (lam n)."""
    k = len(np.unique(y))
    model = LogisticRegression(
        C=(2.0 if k == 2 else 1.0) / (lam * len(y)), solver="lbfgs", tol=1e-12, max_iter=10000
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    coef, intercept = model.coef_, model.intercept_
    if k == 2:
        coef = np.vstack([-coef[0], coef[0]]) / 2
        intercept = np.array([-intercept[0], intercept[0]]) / 2
    # Guard the K = 2 reconstruction: it must reproduce scikit-learn's own probabilities.
    z = x @ coef.T + intercept
    p = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p / p.sum(axis=1, keepdims=True), model.predict_proba(x), atol=1e-10)
    return coef, intercept


def train_softreg(softreg, workdir, x, y, scale):
    np.save(workdir / "x.npy", x)
    np.save(workdir / "y.npy", y.astype(np.int64))
    softreg(
        "train", "--data", "x.npy", "--labels", "y.npy", "--model", "m.srm",
        "--dtype", "float64", "--l2", repr(LAMBDA), "--max-iter", "1000", "--tol", "1e-10",
        "--scale", scale, "--quiet",
    )
    softreg("export", "--model", "m.srm", "--npz", "m.npz")
    npz = np.load(workdir / "m.npz")
    assert npz["classes"].tolist() == sorted(np.unique(y).tolist())
    return npz["coef"], npz["intercept"]


def assert_same_optimum(f_softreg, f_sklearn):
    gap = (f_softreg - f_sklearn) / abs(f_sklearn)
    assert abs(gap) <= REL_TOL, f"softreg {f_softreg!r} vs scikit-learn {f_sklearn!r}: relative gap {gap:.3g}"


def assert_same_weights(coef, intercept, sk_coef, sk_intercept):
    """The penalized optimum is unique in coef; intercepts only up to a common shift."""
    scale = np.abs(sk_coef).max()
    np.testing.assert_allclose(coef, sk_coef, rtol=0, atol=1e-3 * scale)
    centred, sk_centred = intercept - intercept.mean(), sk_intercept - sk_intercept.mean()
    np.testing.assert_allclose(centred, sk_centred, rtol=0, atol=1e-3 * scale)


@pytest.mark.parametrize("k", [3, 2])
def test_lbfgs_reaches_sklearn_optimum(softreg, workdir, k):
    x, y = overlapping_blobs(500, 10, k, seed=20 + k, uneven=False)
    coef, intercept = train_softreg(softreg, workdir, x, y, "none")
    sk_coef, sk_intercept = sklearn_optimum(x, y, LAMBDA)
    f_softreg = objective(x, y, coef, intercept, LAMBDA)
    f_sklearn = objective(x, y, sk_coef, sk_intercept, LAMBDA)
    assert_same_optimum(f_softreg, f_sklearn)
    assert_same_weights(coef, intercept, sk_coef, sk_intercept)
    # Overlapping classes, so the penalty, not separability, bounds the weights.
    assert np.mean(np.argmax(x @ coef.T + intercept, axis=1) == y) < 0.98


@pytest.mark.parametrize("k", [3, 2])
def test_lbfgs_with_standard_scaling_reaches_sklearn_optimum(softreg, workdir, k):
    x, y = overlapping_blobs(500, 10, k, seed=30 + k, uneven=True)
    coef_raw, intercept = train_softreg(softreg, workdir, x, y, "standard")
    mean, std = x.mean(axis=0), x.std(axis=0, ddof=0)
    xs = (x - mean) / std
    # export folds x' = (x - mean) / std into the weights: coef_raw = coef_scaled / std.
    coef_scaled = coef_raw * std
    intercept_scaled = intercept + coef_raw @ mean
    sk_coef, sk_intercept = sklearn_optimum(xs, y, LAMBDA)
    f_softreg = objective(xs, y, coef_scaled, intercept_scaled, LAMBDA)
    f_sklearn = objective(xs, y, sk_coef, sk_intercept, LAMBDA)
    assert_same_optimum(f_softreg, f_sklearn)
    assert_same_weights(coef_scaled, intercept_scaled, sk_coef, sk_intercept)
