"""softreg calibrate, the temperature in predict / eval / info, eval's calibration metrics against
NumPy, and the HTML report of eval --report (parsed: its SVG elements and numbers)."""
import json
import struct
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from test_cli import (
    ANIMALS,
    blobs,
    eval_json,
    idx_bytes,
    image_blobs,
    info_fields,
    read_csv_output,
    softmax_rows,
    tmp_leftovers,
    write_csv,
)


def top_label_calibration(p, y, bins):
    """ECE, MCE, Brier and the bin counts of probabilities p (n, K) against class indices y, in
    float64, independently of the library: bins as np.linspace / searchsorted (right)."""
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], conf, side="right")
    ece, mce, counts = 0.0, 0.0, []
    for b in range(bins):
        mask = which == b
        counts.append(int(mask.sum()))
        if mask.any():
            gap = abs(correct[mask].mean() - conf[mask].mean())
            ece += mask.mean() * gap
            mce = max(mce, gap)
    onehot = np.eye(p.shape[1])[y]
    brier = ((p - onehot) ** 2).sum(axis=1).mean()
    return ece, mce, brier, counts


@pytest.fixture
def overconfident(workdir):
    """Overlapping 3-class blobs in 10 dimensions; trained with almost no penalty on 60 rows the
    model is far too sure (on this seed T = 12.4 and the test ECE falls from 0.093 to 0.019); a
    validation and a test file from the same distribution."""
    x, y = blobs(700, 10, 3, 5.0, seed=21)
    labels = ANIMALS[y]
    write_csv(workdir / "train.csv", x[:60], labels[:60])
    write_csv(workdir / "valid.csv", x[60:960], labels[60:960])
    write_csv(workdir / "test.csv", x[960:], labels[960:])
    return x, labels


def test_calibrate_fits_t_rewrites_the_model_and_predict_uses_it(softreg, workdir, overconfident):
    x, labels = overconfident
    softreg("train", "--data", "train.csv", "--model", "m.srm", "--l2", "1e-8", "--quiet")
    before = eval_json(softreg, "--model", "m.srm", "--data", "test.csv")
    assert before["temperature"] == 1.0
    out = softreg("calibrate", "--model", "m.srm", "--data", "valid.csv", "--json").stdout
    fit = json.loads(out)
    assert fit["temperature"] > 1.2, fit  # overconfident: T > 1 softens the probabilities
    assert fit["log_loss_after"] < fit["log_loss_before"]
    assert fit["ece_after"] < fit["ece_before"]
    assert not fit["at_bound"]
    assert tmp_leftovers(workdir) == []
    assert json.loads(softreg("info", "--model", "m.srm", "--json").stdout)["temperature"] == (
        fit["temperature"])
    assert info_fields(softreg, "m.srm")["temperature"].startswith(f"{fit['temperature']:.6g}")

    # predict --proba gives softmax(z / T) of the exported weights' logits.
    softreg("export", "--model", "m.srm", "--npz", "w.npz")
    w = np.load(workdir / "w.npz")
    xt = x[960:]
    z = xt @ w["coef"].T + w["intercept"]
    header, rows = read_csv_output(
        softreg("predict", "--model", "m.srm", "--data", "test.csv", "--proba",
                "--precision", "max").stdout)
    proba = np.array([[float(v) for v in r[1:]] for r in rows])
    np.testing.assert_allclose(proba, softmax_rows(z / fit["temperature"]), rtol=1e-5, atol=1e-6)
    # argmax predictions do not change; eval's metrics are those of the new probabilities.
    after = eval_json(softreg, "--model", "m.srm", "--data", "test.csv")
    assert after["accuracy"] == before["accuracy"]
    assert after["confusion"] == before["confusion"]
    assert after["temperature"] == fit["temperature"]
    classes = after["classes"]
    y = np.array([classes.index(v) for v in labels[960:]])
    p = softmax_rows(z / fit["temperature"])
    ece, mce, brier, counts = top_label_calibration(p, y, 15)
    assert after["ece"] == pytest.approx(ece, abs=1e-5)
    assert after["mce"] == pytest.approx(mce, abs=1e-4)
    assert after["brier"] == pytest.approx(brier, abs=1e-5)
    assert [b["count"] for b in after["reliability"]] == counts
    assert after["ece"] < before["ece"]


def test_calibrate_output_option_keeps_the_model_and_text_report(softreg, workdir, overconfident):
    softreg("train", "--data", "train.csv", "--model", "m.srm", "--l2", "1e-8", "--quiet")
    original = (workdir / "m.srm").read_bytes()
    text = softreg("calibrate", "--model", "m.srm", "--data", "valid.csv", "--output", "c.srm",
                   "--bins", "10").stdout.decode()
    assert (workdir / "m.srm").read_bytes() == original
    assert "temperature" in text and "log loss" in text and "ECE" in text and "(10 bins)" in text
    assert "model written to c.srm" in text
    t = json.loads(softreg("info", "--model", "c.srm", "--json").stdout)["temperature"]
    assert t != 1.0
    # Calibrating again on the same data keeps T (the fit is from the logits, not the old T).
    again = json.loads(softreg("calibrate", "--model", "c.srm", "--data", "valid.csv",
                               "--json").stdout)
    assert again["temperature"] == pytest.approx(t, rel=1e-9)
    assert again["previous_temperature"] == t


def test_calibrate_errors(softreg, workdir, overconfident):
    softreg("train", "--data", "train.csv", "--model", "m.srm", "--quiet")
    before = (workdir / "m.srm").read_bytes()
    (workdir / "nolabels.csv").write_text("f0,f1,f2,f3,f4\n1,2,3,4,5\n")
    proc = softreg("calibrate", "--model", "m.srm", "--data", "nolabels.csv", ok=False)
    assert proc.returncode != 0 and proc.stdout == b""
    proc = softreg("calibrate", "--model", "m.srm", "--data", "valid.csv", "--output",
                   "missing/dir/c.srm", ok=False)
    assert proc.returncode == 1 and b"missing/dir" in proc.stderr
    assert (workdir / "m.srm").read_bytes() == before


def test_eval_bins_option_and_json_fields(softreg, workdir, overconfident):
    softreg("train", "--data", "train.csv", "--model", "m.srm", "--quiet")
    e = eval_json(softreg, "--model", "m.srm", "--data", "test.csv", "--bins", "7")
    assert e["bins"] == 7 and len(e["reliability"]) == 7
    assert e["reliability"][0]["lower"] == 0.0 and e["reliability"][-1]["upper"] == 1.0
    assert sum(b["count"] for b in e["reliability"]) == e["n"]
    for b in e["reliability"]:
        assert (b["confidence"] is None) == (b["count"] == 0)
    text = softreg("eval", "--model", "m.srm", "--data", "test.csv").stdout.decode()
    for word in ("ECE", "MCE", "Brier score", "temperature"):
        assert word in text
    proc = softreg("eval", "--model", "m.srm", "--data", "test.csv", "--bins", "0", ok=False)
    assert proc.returncode == 2


def test_version_2_model_files_still_work(softreg, workdir, overconfident):
    """A version 3 file cut back to version 2 (no temperature, no histories) predicts with T = 1."""
    import zlib

    softreg("train", "--data", "train.csv", "--model", "m.srm", "--quiet")
    data = (workdir / "m.srm").read_bytes()
    info = json.loads(softreg("info", "--model", "m.srm", "--json").stdout)
    h = len(info["loss_history"])
    assert len(info["accuracy_history"]) == h > 0 and info["valid_loss_history"] == []
    # Version 3 adds: temperature, the accuracy history (count, h values), two empty counts.
    extra = 8 + 8 + 8 * h + 8 + 8
    assert struct.unpack("<d", data[-4 - extra:-4 - extra + 8])[0] == 1.0
    v2 = bytearray(data[: len(data) - 4 - extra])
    v2[8:12] = struct.pack("<I", 2)
    v2 += struct.pack("<I", zlib.crc32(bytes(v2)))
    (workdir / "v2.srm").write_bytes(bytes(v2))
    fields = info_fields(softreg, "v2.srm")
    assert fields["temperature"].startswith("1 (not calibrated)")
    a = softreg("predict", "--model", "m.srm", "--data", "test.csv", "--proba").stdout
    b = softreg("predict", "--model", "v2.srm", "--data", "test.csv", "--proba").stdout
    assert a == b


class ReportParser(HTMLParser):
    """Collects the tags (with their attributes and the class of the <svg> they are in) of an
    HTML page."""

    def __init__(self):
        super().__init__()
        self.tags = []
        self.svg = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg":
            self.svg = attrs.get("class", "")
        self.tags.append((tag, attrs, self.svg))

    def handle_endtag(self, tag):
        if tag == "svg":
            self.svg = None

    def having(self, tag, klass=None, within=None):
        return [a for t, a, svg in self.tags
                if t == tag and (klass is None or klass in a.get("class", "").split())
                and (within is None or (svg is not None and within in svg.split()))]


def parse_report(path):
    p = ReportParser()
    p.feed(Path(path).read_text(encoding="utf-8"))
    return p


def test_eval_report_on_idx_images(softreg, workdir):
    imgs, y = image_blobs(60, 3, seed=4)
    noisy = imgs.copy()
    noisy[::7] = imgs[::-7][: len(noisy[::7])]  # some rows that look like another class
    (workdir / "train-images-idx3-ubyte").write_bytes(idx_bytes(noisy[:120]))
    (workdir / "train-labels-idx1-ubyte").write_bytes(idx_bytes(y[:120].astype(np.uint8)))
    (workdir / "test-images-idx3-ubyte").write_bytes(idx_bytes(noisy[120:]))
    (workdir / "test-labels-idx1-ubyte").write_bytes(idx_bytes(y[120:].astype(np.uint8)))
    softreg("train", "--data", "train-images-idx3-ubyte", "--model", "m.srm", "--quiet",
            "--valid-fraction", "0.25", "--max-iter", "15")
    softreg("calibrate", "--model", "m.srm", "--data", "test-images-idx3-ubyte")
    out = softreg("eval", "--model", "m.srm", "--data", "test-images-idx3-ubyte", "--json",
                  "--report", "r.html", "--class-names", "zero,one,two & more").stdout
    e = json.loads(out)
    assert tmp_leftovers(workdir) == []
    html = (workdir / "r.html").read_text(encoding="utf-8")
    assert "<script" not in html and "http:" not in html and "https:" not in html
    page = parse_report(workdir / "r.html")
    assert len(page.having("svg", "confusion")) == 1
    assert len(page.having("svg", "reliability")) == 2  # before and after
    assert len(page.having("svg", "curve")) == 2
    assert len(page.having("path", "train")) == 2 and len(page.having("path", "valid")) == 2
    cells = page.having("rect", "cell")
    assert [int(c["data-count"]) for c in cells] == [v for row in e["confusion"] for v in row]
    bars = page.having("rect", "bar", within="after")
    assert [int(b["data-count"]) for b in bars] == [
        b["count"] for b in e["reliability"] if b["count"] > 0]
    for b, want in zip(bars, [b for b in e["reliability"] if b["count"] > 0]):
        assert float(b["data-accuracy"]) == pytest.approx(want["accuracy"], abs=1e-12)
    metrics = {a["data-metric"]: float(a["data-value"]) for a in page.having("dd")}
    assert metrics["accuracy"] == pytest.approx(e["accuracy"], abs=1e-15)
    assert metrics["log_loss"] == pytest.approx(e["log_loss"], rel=1e-12)
    assert metrics["ece_after"] == pytest.approx(e["ece"], abs=1e-12)
    assert metrics["temperature"] == e["temperature"]
    assert metrics["n"] == e["n"] == 60
    assert f"{e['accuracy']:.4f}" in html
    # The most confidently wrong images: one figure per misclassified row (fewer than 24 here),
    # each a PNG data URI of 4 x 4 pixels.
    wrong = e["n"] - sum(e["confusion"][i][i] for i in range(3))
    figures = page.having("figure", "wrong")
    assert len(figures) == min(wrong, 24) > 0
    imgs_ = page.having("img")
    assert all(i["src"].startswith("data:image/png;base64,") for i in imgs_)
    import base64

    png = base64.b64decode(imgs_[0]["src"].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (4, 4)
    assert "two &amp; more" in html


def test_eval_report_without_images_or_validation(softreg, workdir, overconfident):
    softreg("train", "--data", "train.csv", "--model", "m.srm", "--quiet")
    softreg("eval", "--model", "m.srm", "--data", "test.csv", "--report", "r.html")
    page = parse_report(workdir / "r.html")
    assert len(page.having("svg", "reliability")) == 1  # not calibrated: before only
    assert len(page.having("path", "valid")) == 0 and len(page.having("path", "train")) == 2
    assert page.having("figure") == []
    proc = softreg("eval", "--model", "m.srm", "--data", "test.csv", "--report",
                   "no/such/dir/r.html", ok=False)
    assert proc.returncode == 1 and proc.stdout == b""
    proc = softreg("eval", "--model", "m.srm", "--data", "test.csv", "--report", "r2.html",
                   "--class-names", "a,b", ok=False)
    assert proc.returncode == 1 and b"--class-names: 2 names for the model's 3 classes" in (
        proc.stderr)
    assert not (workdir / "r2.html").exists()
