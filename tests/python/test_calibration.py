"""Temperature scaling and calibration metrics from Python: SoftmaxRegression.calibrate,
TemperatureScaling, fit_temperature, calibration_metrics against float64 NumPy references and
scikit-learn's calibration_curve, the temperature in model files and pickles, and
softreg.report (the same page as `softreg eval --report`)."""
import os
import pickle
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

import softreg
from softreg import SoftmaxRegression, TemperatureScaling

REPO_ROOT = Path(__file__).resolve().parents[2]


def softmax_np(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll_np(z, y, t):
    s = z / t
    m = s.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(s - m).sum(axis=1, keepdims=True)))[:, 0]
    return float(np.mean(lse - s[np.arange(len(y)), y]))


def calibrated_logits(rng, n, k, spread, scale):
    """Logits z ~ N(0, spread^2) whose labels are drawn from softmax(z), returned as scale * z."""
    z = rng.normal(0.0, spread, (n, k))
    p = softmax_np(z)
    u = rng.random(n)[:, None]
    y = (p.cumsum(axis=1) < u).sum(axis=1)
    return scale * z, np.minimum(y, k - 1)


def reference_metrics(p, y, bins):
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], conf, side="right")
    ece, mce = 0.0, 0.0
    counts, acc, mean_conf = [], [], []
    for b in range(bins):
        mask = which == b
        counts.append(int(mask.sum()))
        acc.append(correct[mask].mean() if mask.any() else np.nan)
        mean_conf.append(conf[mask].mean() if mask.any() else np.nan)
        if mask.any():
            gap = abs(acc[-1] - mean_conf[-1])
            ece += mask.mean() * gap
            mce = max(mce, gap)
    brier = ((p - np.eye(p.shape[1])[y]) ** 2).sum(axis=1).mean()
    return ece, mce, brier, np.array(counts), np.array(acc), np.array(mean_conf)


def test_overconfident_logits_recover_the_scale_and_ece_drops(rng):
    z, y = calibrated_logits(rng, 30000, 6, 2.0, 3.0)
    ts = TemperatureScaling().fit(z, y)
    assert ts.temperature_ == pytest.approx(3.0, rel=0.02)
    assert not ts.at_bound_
    # The minimum of the float64 NumPy log loss (a bounded scalar search as the peer).
    ref = minimize_scalar(lambda t: nll_np(z, y, t), bounds=(0.5, 10), method="bounded",
                          options={"xatol": 1e-9})
    assert ts.temperature_ == pytest.approx(ref.x, rel=1e-6)
    assert ts.loss_after_ == pytest.approx(nll_np(z, y, ts.temperature_), rel=1e-12)
    assert ts.loss_before_ == pytest.approx(nll_np(z, y, 1.0), rel=1e-12)
    before = softreg.calibration_metrics(softmax_np(z), y)
    after = softreg.calibration_metrics(ts.transform(z), y)
    assert before["ece"] > 0.1 and after["ece"] < 0.02
    np.testing.assert_allclose(ts.transform(z), softmax_np(z / ts.temperature_), rtol=1e-12,
                               atol=1e-15)
    assert softreg.fit_temperature(z, y)["temperature"] == ts.temperature_


def test_temperature_scaling_edge_cases():
    separable = np.array([[3.0, 0.0], [0.0, 2.0], [5.0, 1.0]])
    ts = TemperatureScaling().fit(separable, [0, 1, 0])
    assert ts.at_bound_ and ts.temperature_ == 0.01
    assert TemperatureScaling(min_temperature=0.2).fit(separable, [0, 1, 0]).temperature_ == 0.2
    assert TemperatureScaling().fit(np.ones((4, 1)), [0, 0, 0, 0]).temperature_ == 1.0
    with pytest.raises(ValueError, match=r"no rows to calibrate on \(n = 0\)"):
        TemperatureScaling().fit(np.zeros((0, 3)), [])
    bad = separable.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"logit \[2, 1\] \(row 2\) is NaN"):
        TemperatureScaling().fit(bad, [0, 1, 0])
    with pytest.raises(ValueError, match="label of row 1 is 2"):
        TemperatureScaling().fit(separable, [0, 2, 0])
    with pytest.raises(AttributeError, match="not fitted"):
        TemperatureScaling().transform(separable)
    # Binary decision values (1-D) are the logits [0, z]; float32 stays float32.
    d = np.array([2.0, -1.0, 0.5, -3.0, 1.0], dtype=np.float32)
    yb = np.array([1, 0, 0, 0, 1])
    tb = TemperatureScaling().fit(d, yb)
    p = tb.transform(d)
    assert p.dtype == np.float32 and p.shape == (5, 2)
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-d / tb.temperature_)), rtol=1e-5)


def test_calibration_metrics_match_numpy_and_sklearn(rng):
    z, y = calibrated_logits(rng, 5000, 4, 1.5, 2.0)
    p = softmax_np(z)
    for bins in (1, 7, 15, 100):
        got = softreg.calibration_metrics(p, y, bins)
        ece, mce, brier, counts, acc, conf = reference_metrics(p, y, bins)
        assert got["ece"] == pytest.approx(ece, rel=1e-12, abs=1e-15)
        assert got["mce"] == pytest.approx(mce, rel=1e-12, abs=1e-15)
        assert got["brier"] == pytest.approx(brier, rel=1e-12)
        np.testing.assert_array_equal(got["bin_count"], counts)
        np.testing.assert_allclose(got["bin_accuracy"], acc, rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(got["bin_confidence"], conf, rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(got["bin_lower"], np.linspace(0, 1, bins + 1)[:-1])
    # float32 probabilities give the same metrics to float32 precision.
    got32 = softreg.calibration_metrics(p.astype(np.float32), y)
    assert got32["ece"] == pytest.approx(reference_metrics(p, y, 15)[0], abs=1e-5)

    # Two classes: the reliability data of the positive class is scikit-learn's
    # calibration_curve, and the Brier score is twice brier_score_loss (all K columns).
    zb, yb = calibrated_logits(rng, 3000, 2, 2.0, 1.5)
    pb = softmax_np(zb)
    for bins in (5, 10, 15):
        prob_true, prob_pred = calibration_curve(yb, pb[:, 1], n_bins=bins, strategy="uniform")
        r = softreg._core.reliability_bins(pb[:, 1], yb.astype(np.uint8), bins)
        nonempty = r["bin_count"] > 0
        np.testing.assert_allclose(r["bin_accuracy"][nonempty], prob_true, rtol=1e-12)
        np.testing.assert_allclose(r["bin_confidence"][nonempty], prob_pred, rtol=1e-12)
    assert softreg.calibration_metrics(pb, yb)["brier"] == pytest.approx(
        2 * brier_score_loss(yb, pb[:, 1]), rel=1e-12)
    empty = softreg.calibration_metrics(np.zeros((0, 3)), np.zeros(0, dtype=np.int64))
    assert np.isnan(empty["ece"]) and np.isnan(empty["brier"]) and empty["bin_count"].sum() == 0


@pytest.fixture
def overfit(rng):
    """Overlapping 3-class data in 10 dimensions, trained on 60 rows with almost no penalty:
    an overconfident model, a validation set and a test set."""
    centres = rng.normal(0.0, 5.0, (3, 10))
    y = rng.integers(0, 3, 2000)
    X = centres[y] + rng.normal(0.0, 5.0, (2000, 10))
    labels = np.array(["ant", "bee", "cow"])[y]
    est = SoftmaxRegression(alpha=1e-8, max_iter=500).fit(X[:60], labels[:60])
    return est, X, labels


def test_estimator_calibrate_sets_temperature_used_by_predict_proba(overfit, tmp_path):
    est, X, labels = overfit
    Xv, yv, Xt, yt = X[60:1000], labels[60:1000], X[1000:], labels[1000:]
    assert est.temperature_ == 1.0
    z = est.decision_function(Xt)
    pred = est.predict(Xt)
    assert est.calibrate(Xv, yv) is est
    t = est.temperature_
    assert t > 2.0 and t == est.calibration_["temperature"]
    np.testing.assert_allclose(est.predict_proba(Xt), softmax_np(z / t), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(est.predict_log_proba(Xt), np.log(softmax_np(z / t)), rtol=1e-9)
    np.testing.assert_array_equal(est.predict(Xt), pred)
    np.testing.assert_array_equal(est.decision_function(Xt), z)
    index = {c: i for i, c in enumerate(est.classes_)}
    y_index = np.array([index[v] for v in yt])
    ece_before = softreg.calibration_metrics(softmax_np(z), y_index)["ece"]
    ece_after = softreg.calibration_metrics(est.predict_proba(Xt), y_index)["ece"]
    assert ece_after < ece_before
    # The same T as TemperatureScaling on the validation logits.
    zv = est.decision_function(Xv)
    assert TemperatureScaling().fit(zv, [index[v] for v in yv]).temperature_ == t

    # Model files and pickles keep T; a refit resets it.
    est.save_model(tmp_path / "m.srm")
    back = softreg.load_model(tmp_path / "m.srm")
    assert back.temperature_ == t
    np.testing.assert_array_equal(back.predict_proba(Xt), est.predict_proba(Xt))
    again = pickle.loads(pickle.dumps(est))
    assert again.temperature_ == t
    np.testing.assert_array_equal(again.predict_proba(Xt), est.predict_proba(Xt))
    assert est.fit(X[:60], labels[:60]).temperature_ == 1.0
    with pytest.raises(ValueError, match="not among classes_"):
        est.calibrate(Xv, np.where(yv == "ant", "elk", yv))


def test_training_histories_reach_python(rng):
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(int)
    est = SoftmaxRegression(validation_fraction=0.25, max_iter=10).fit(X, y)
    info = est.training_info_
    h = len(info["loss_history"])
    assert len(info["accuracy_history"]) == h > 0
    assert len(info["valid_loss_history"]) == len(info["valid_accuracy_history"]) == h
    assert all(0.5 < a <= 1.0 for a in info["accuracy_history"])
    assert SoftmaxRegression(max_iter=10).fit(X, y).training_info_["valid_loss_history"] == []


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def having(self, tag, klass):
        return [a for t, a in self.tags if t == tag and klass in (a.get("class") or "").split()]


def test_report_from_python(overfit, tmp_path):
    est, X, labels = overfit
    est.calibrate(X[60:1000], labels[60:1000])
    path = softreg.report(est, X[1000:], labels[1000:], tmp_path / "r.html", bins=10,
                          title="A <test> report")
    assert Path(path) == tmp_path / "r.html"
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script" not in html and "A &lt;test&gt; report" in html
    page = Tags()
    page.feed(html)
    assert len(page.having("svg", "confusion")) == 1
    assert len(page.having("svg", "reliability")) == 2
    assert len(page.having("rect", "cell")) == 9
    metrics = {a["data-metric"]: float(a["data-value"]) for t, a in page.tags
               if t == "dd"}
    assert metrics["accuracy"] == pytest.approx(est.score(X[1000:], labels[1000:]), abs=1e-15)
    assert metrics["temperature"] == est.temperature_
    assert page.having("figure", "wrong") == []
    # Images: the grid of the most confidently wrong rows (X's 10 features as 2 x 5 images, or
    # given images of any size).
    softreg.report(est, X[1000:], labels[1000:], tmp_path / "i.html", images=(2, 5),
                   max_images=7)
    assert len(Tags_of(tmp_path / "i.html").having("figure", "wrong")) == 7
    pics = (np.arange(len(X[1000:]) * 9) % 256).astype(np.uint8).reshape(-1, 3, 3)
    softreg.report(est, X[1000:], labels[1000:], tmp_path / "j.html", images=pics)
    assert len(Tags_of(tmp_path / "j.html").having("figure", "wrong")) == 24
    with pytest.raises(ValueError, match="square images"):
        softreg.report(est, X[1000:], labels[1000:], tmp_path / "k.html", images=True)
    with pytest.raises(ValueError, match="not among the model's classes"):
        softreg.report(est, X[1000:1010], ["elk"] * 10, tmp_path / "k.html")
    assert not (tmp_path / "k.html").exists()


def Tags_of(path):
    page = Tags()
    page.feed(Path(path).read_text(encoding="utf-8"))
    return page


def test_python_report_is_the_cli_report(tmp_path):
    """The same model and data give the same page from Python and from `softreg eval --report`
    (one implementation in the library), apart from the model and data names in the header."""
    given = Path(os.environ.get("SOFTREG_BIN", "build/softreg"))
    binary = given if given.is_absolute() else REPO_ROOT / given
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.skip(f"the softreg command line is not built at {binary} (set SOFTREG_BIN)")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    est = SoftmaxRegression(dtype="float64").fit(X, y)
    est.calibrate(X[:150], y[:150])
    est.save_model(tmp_path / "m.srm")
    np.save(tmp_path / "x.npy", X[150:])
    (tmp_path / "y.txt").write_text("".join(f"{v}\n" for v in y[150:]))
    subprocess.run([str(binary), "eval", "--model", tmp_path / "m.srm", "--data",
                    tmp_path / "x.npy", "--labels", tmp_path / "y.txt", "--report",
                    tmp_path / "cli.html"], check=True, capture_output=True)
    softreg.report(softreg.load_model(tmp_path / "m.srm"), X[150:], y[150:],
                   tmp_path / "py.html")
    cli_html = (tmp_path / "cli.html").read_text(encoding="utf-8")
    py_html = (tmp_path / "py.html").read_text(encoding="utf-8")
    start = cli_html.index('<dl class="summary">')
    assert py_html[py_html.index('<dl class="summary">'):] == cli_html[start:]
