"""End-to-end tests of the softreg command line: round trips, model files, metrics, errors, help."""
import csv
import gzip
import io
import json
import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
ANIMALS = np.array(["cat", "dog", "bird"])


# ---------------------------------------------------------------------------------------------
# Data generation and parsing helpers
# ---------------------------------------------------------------------------------------------


def blobs(n_per_class, d, k, spread, seed):
    """k Gaussian blobs of n_per_class rows around N(0, 5^2) centres in d dimensions; rows shuffled."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 5.0, (k, d))
    x = np.vstack([rng.normal(c, spread, (n_per_class, d)) for c in centres])
    y = np.repeat(np.arange(k), n_per_class)
    order = rng.permutation(len(y))
    return x[order], y[order]


def write_csv(path, x, labels, label_name="label", label_pos=None):
    """Header f0..f{d-1} with the label column inserted at label_pos (default: last)."""
    d = x.shape[1]
    names = [f"f{j}" for j in range(d)]
    pos = d if label_pos is None else label_pos
    names.insert(pos, label_name)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names)
        for row, lab in zip(x, labels):
            fields = [repr(float(v)) for v in row]
            fields.insert(pos, lab)
            w.writerow(fields)


def libsvm_text(x, labels):
    """LibSVM lines with only the nonzero entries, 1-based increasing indices."""
    lines = []
    for row, lab in zip(x, labels):
        pairs = [f"{j + 1}:{float(v)!r}" for j, v in enumerate(row) if v != 0.0]
        lines.append(" ".join([str(lab), *pairs]))
    return "\n".join(lines) + "\n"


def idx_bytes(arr):
    """An unsigned-byte IDX file: magic 00 00 08 ndims, big-endian dimensions, the bytes."""
    head = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def image_blobs(n_per_class, k, seed):
    """uint8 4x4 'images' whose class sets the mean pixel pattern: separable blobs in IDX."""
    rng = np.random.default_rng(seed)
    patterns = rng.integers(30, 226, (k, 16)).astype(float)
    x = np.vstack([rng.normal(p, 6.0, (n_per_class, 16)) for p in patterns])
    y = np.repeat(np.arange(k), n_per_class)
    order = rng.permutation(len(y))
    imgs = np.clip(np.rint(x[order]), 0, 255).astype(np.uint8).reshape(-1, 4, 4)
    return imgs, y[order]


def read_csv_output(data):
    """predict's CSV (bytes or str) as (header, rows)."""
    text = data.decode() if isinstance(data, bytes) else data
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def eval_json(softreg, *args):
    proc = softreg("eval", *args, "--json")
    lines = proc.stdout.decode().strip().splitlines()
    assert len(lines) == 1, f"eval --json printed {len(lines)} lines"
    return json.loads(lines[0])


def info_fields(softreg, model):
    """`softreg info` as a dict of first word -> rest of the line."""
    out = softreg("info", "--model", model).stdout.decode()
    fields = {}
    for line in out.splitlines():
        key, _, rest = line.strip().partition(" ")
        fields[key] = rest.strip()
    return fields


def tmp_leftovers(directory):
    return sorted(p.name for p in Path(directory).iterdir() if ".tmp" in p.name)


def logsumexp_rows(z):
    m = z.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]


def softmax_rows(z):
    return np.exp(z - logsumexp_rows(z)[:, None])


# ---------------------------------------------------------------------------------------------
# train -> predict -> eval round trips
# ---------------------------------------------------------------------------------------------


def make_roundtrip_data(fmt, workdir):
    """Writes separable training data in one format; returns (data options, true labels)."""
    if fmt == "csv":
        x, y = blobs(40, 5, 3, 0.5, seed=1)
        labels = ANIMALS[y]
        write_csv(workdir / "blobs.csv", x, labels, label_name="species", label_pos=2)
        return ["--data", "blobs.csv", "--label-column", "species"], list(labels)
    if fmt == "libsvm":
        x, y = blobs(40, 30, 3, 0.5, seed=2)
        rng = np.random.default_rng(3)
        x[rng.random(x.shape) < 0.6] = 0.0  # sparse rows; classes stay apart
        x[np.arange(len(y)), y] = 25.0  # one strong, class-specific feature per row
        labels = [str(v) for v in y + 1]
        (workdir / "blobs.svm").write_text(libsvm_text(x, labels))
        return ["--data", "blobs.svm"], labels
    if fmt == "npy":
        x, y = blobs(40, 6, 4, 0.5, seed=4)
        np.save(workdir / "x.npy", x.astype(np.float32))
        np.save(workdir / "y.npy", y.astype(np.int64))
        return ["--data", "x.npy", "--labels", "y.npy"], [str(v) for v in y]
    if fmt in ("idx", "idx_gz"):
        imgs, y = image_blobs(40, 3, seed=5)
        suffix = ".gz" if fmt == "idx_gz" else ""
        pack = gzip.compress if suffix else (lambda b: b)
        (workdir / f"blob-images-idx3-ubyte{suffix}").write_bytes(pack(idx_bytes(imgs)))
        (workdir / f"blob-labels-idx1-ubyte{suffix}").write_bytes(pack(idx_bytes(y.astype(np.uint8))))
        return ["--data", f"blob-images-idx3-ubyte{suffix}"], [str(v) for v in y]
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["csv", "libsvm", "npy", "idx", "idx_gz"])
def test_train_predict_eval_round_trip_separable_blobs(softreg, workdir, fmt):
    data, truth = make_roundtrip_data(fmt, workdir)
    softreg("train", *data, "--model", "m.srm", "--quiet")
    header, rows = read_csv_output(softreg("predict", "--model", "m.srm", *data).stdout)
    assert header == ["prediction"]
    predicted = [r[0] for r in rows]
    assert len(predicted) == len(truth)
    accuracy = np.mean(np.array(predicted) == np.array(truth))
    assert accuracy >= 0.99, f"{fmt}: predict accuracy {accuracy}"
    report = eval_json(softreg, "--model", "m.srm", *data)
    assert report["n"] == len(truth)
    assert report["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert sorted(report["classes"], key=str) == sorted(set(truth), key=str)


def test_string_labels_come_back_as_strings(softreg, workdir):
    x, y = blobs(30, 4, 3, 0.5, seed=6)
    labels = ANIMALS[y]
    write_csv(workdir / "animals.csv", x, labels, label_name="species", label_pos=0)
    softreg("train", "--data", "animals.csv", "--label-column", "species", "--model", "m.srm", "--quiet")
    header, rows = read_csv_output(
        softreg("predict", "--model", "m.srm", "--data", "animals.csv", "--label-column", "species").stdout
    )
    assert header == ["prediction"]
    assert [r[0] for r in rows] == list(labels)
    assert info_fields(softreg, "m.srm")["classes"] == "3: bird cat dog"


def test_labels_with_commas_and_quotes_round_trip_through_csv(softreg, workdir):
    x, y = blobs(30, 3, 3, 0.5, seed=7)
    names = np.array(['big, "fat" cat', "dog", "bird"])
    write_csv(workdir / "quoted.csv", x, names[y])
    softreg("train", "--data", "quoted.csv", "--model", "m.srm", "--quiet")
    header, rows = read_csv_output(
        softreg("predict", "--model", "m.srm", "--data", "quoted.csv", "--proba").stdout
    )
    assert header == ["prediction", 'proba_big, "fat" cat', "proba_bird", "proba_dog"]
    assert [r[0] for r in rows] == list(names[y])


def test_integer_labels_sort_numerically_and_export_as_int64(softreg, workdir):
    x, y = blobs(30, 3, 3, 0.5, seed=8)
    values = np.array([10, 9, 2])
    write_csv(workdir / "ints.csv", x, [str(v) for v in values[y]])
    softreg("train", "--data", "ints.csv", "--model", "m.srm", "--quiet")
    assert info_fields(softreg, "m.srm")["classes"] == "3: 2 9 10"
    _, rows = read_csv_output(softreg("predict", "--model", "m.srm", "--data", "ints.csv").stdout)
    assert [r[0] for r in rows] == [str(v) for v in values[y]]
    softreg("export", "--model", "m.srm", "--npz", "m.npz")
    classes = np.load(workdir / "m.npz")["classes"]
    assert classes.dtype == np.int64
    assert classes.tolist() == [2, 9, 10]


def test_two_classes_libsvm_plus_minus_one(softreg, workdir):
    x, y = blobs(50, 8, 2, 0.5, seed=9)
    labels = np.where(y == 1, "+1", "-1")
    (workdir / "pm.svm").write_text(libsvm_text(x, labels))
    softreg("train", "--data", "pm.svm", "--model", "m.srm", "--quiet")
    assert info_fields(softreg, "m.srm")["classes"] == "2: -1 1"
    predict = softreg("predict", "--model", "m.srm", "--data", "pm.svm", "--proba")
    header, rows = read_csv_output(predict.stdout)
    assert header == ["prediction", "proba_-1", "proba_1"]
    assert [r[0] for r in rows] == [lab.lstrip("+") for lab in labels]
    report = eval_json(softreg, "--model", "m.srm", "--data", "pm.svm")
    assert report["accuracy"] == 1.0
    assert np.array(report["confusion"]).tolist() == [[50, 0], [0, 50]]
    # Top-k accuracy is keyed by its k = min(5, classes): top-2 of two classes always hits.
    assert report["top_k"] == 2 and report["top2_accuracy"] == 1.0
    assert "top5_accuracy" not in report


# ---------------------------------------------------------------------------------------------
# Model files: repeatable predictions, info, export
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def overlapping(workdir):
    """Overlapping 3-class blobs on very different feature scales, written as CSV."""
    x, y = blobs(100, 4, 3, 4.0, seed=10)
    x = x * np.array([1.0, 100.0, 0.01, 3.0]) + np.array([5.0, -300.0, 0.2, 0.0])
    labels = ANIMALS[y]
    write_csv(workdir / "overlap.csv", x, labels)
    return x, labels


def test_predict_twice_is_byte_identical_and_output_file_matches_stdout(softreg, workdir, overlapping):
    softreg("train", "--data", "overlap.csv", "--model", "m.srm", "--quiet")
    args = ["predict", "--model", "m.srm", "--data", "overlap.csv", "--proba", "--top-k", "2"]
    first = softreg(*args).stdout
    second = softreg(*args).stdout
    assert first == second
    softreg(*args, "--output", "pred.csv")
    assert (workdir / "pred.csv").read_bytes() == first


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_predict_to_a_full_device_fails_and_says_so(softreg_bin, softreg, workdir, overlapping):
    import subprocess

    softreg("train", "--data", "overlap.csv", "--model", "m.srm", "--quiet")
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([softreg_bin, "predict", "--model", "m.srm", "--data", "overlap.csv"],
                              cwd=workdir, stdout=full, stderr=subprocess.PIPE, timeout=60)
    assert proc.returncode != 0
    assert b"standard output: writing the predictions failed: No space left on device" in proc.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize("command", [["eval"], ["eval", "--json"], ["info"], ["--help"]])
def test_every_report_to_a_full_device_fails_and_says_so(softreg_bin, softreg, workdir,
                                                         overlapping, command):
    import subprocess

    softreg("train", "--data", "overlap.csv", "--model", "m.srm", "--quiet")
    args = {"eval": ["--model", "m.srm", "--data", "overlap.csv"], "info": ["--model", "m.srm"],
            "--help": []}[command[0]]
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([softreg_bin, *command, *args], cwd=workdir, stdout=full,
                              stderr=subprocess.PIPE, timeout=60)
    assert proc.returncode == 1
    assert b"standard output: write failed: No space left on device" in proc.stderr


def test_info_shows_features_and_classes(softreg, workdir, overlapping):
    softreg("train", "--data", "overlap.csv", "--model", "m.srm", "--scale", "minmax", "--quiet")
    fields = info_fields(softreg, "m.srm")
    assert fields["features"] == "4"
    assert fields["classes"] == "3: bird cat dog"
    assert fields["preprocessing"] == "minmax"
    assert fields["training"].startswith("300 rows")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("scale", ["none", "standard", "minmax"])
def test_export_npz_reproduces_predict(softreg, workdir, overlapping, scale, dtype):
    x, _ = overlapping
    softreg("train", "--data", "overlap.csv", "--model", "m.srm", "--scale", scale, "--dtype", dtype,
            "--quiet")
    softreg("export", "--model", "m.srm", "--npz", "m.npz")
    npz = np.load(workdir / "m.npz")
    coef, intercept, classes = npz["coef"], npz["intercept"], npz["classes"]
    assert coef.shape == (3, 4) and intercept.shape == (3,)
    assert classes.tolist() == ["bird", "cat", "dog"]
    header, rows = read_csv_output(
        softreg("predict", "--model", "m.srm", "--data", "overlap.csv", "--proba").stdout
    )
    predicted = np.array([r[0] for r in rows])
    proba = np.array([[float(v) for v in r[1:]] for r in rows])
    logits = x @ coef.T + intercept
    top2 = np.sort(logits, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > (1e-9 if dtype == "float64" else 1e-3)
    assert clear.mean() > 0.95
    np.testing.assert_array_equal(predicted[clear], classes[np.argmax(logits, axis=1)][clear])
    np.testing.assert_allclose(proba, softmax_rows(logits), atol=1e-5)


@pytest.mark.parametrize("scale", ["none", "standard", "minmax"])
def test_export_npz_reproduces_predict_on_sparse_libsvm(softreg, workdir, scale):
    x, y = blobs(60, 20, 3, 3.0, seed=15)
    x = x * np.linspace(0.5, 5.0, 20) + np.linspace(-3.0, 3.0, 20)
    x[np.random.default_rng(16).random(x.shape) < 0.6] = 0.0
    (workdir / "sparse.svm").write_text(libsvm_text(x, y))
    softreg("train", "--data", "sparse.svm", "--model", "m.srm", "--scale", scale, "--dtype", "float64",
            "--quiet")
    softreg("export", "--model", "m.srm", "--npz", "m.npz")
    npz = np.load(workdir / "m.npz")
    _, rows = read_csv_output(softreg("predict", "--model", "m.srm", "--data", "sparse.svm", "--proba").stdout)
    logits = x @ npz["coef"].T + npz["intercept"]
    np.testing.assert_array_equal([int(r[0]) for r in rows], npz["classes"][np.argmax(logits, axis=1)])
    np.testing.assert_allclose([[float(v) for v in r[1:]] for r in rows], softmax_rows(logits), atol=1e-5)


# ---------------------------------------------------------------------------------------------
# eval --json against numpy
# ---------------------------------------------------------------------------------------------


def test_eval_json_matches_numpy_from_predict_proba(softreg, workdir, overlapping):
    _, labels = overlapping
    softreg("train", "--data", "overlap.csv", "--model", "m.srm", "--scale", "standard", "--quiet")
    report = eval_json(softreg, "--model", "m.srm", "--data", "overlap.csv")
    for key in ("accuracy", "log_loss", "n", "confusion"):
        assert key in report
    header, rows = read_csv_output(
        softreg("predict", "--model", "m.srm", "--data", "overlap.csv", "--proba").stdout
    )
    classes = [h[len("proba_"):] for h in header[1:]]
    assert classes == report["classes"]
    predicted = np.array([r[0] for r in rows])
    proba = np.array([[float(v) for v in r[1:]] for r in rows])
    truth = np.array([classes.index(lab) for lab in labels])
    n = len(truth)

    accuracy = np.mean(np.argmax(proba, axis=1) == truth)
    log_loss = -np.mean(np.log(proba[np.arange(n), truth]))
    assert 0.6 < accuracy < 1.0  # overlapping data: the metrics are not trivial
    assert report["n"] == n
    assert report["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert report["log_loss"] == pytest.approx(log_loss, rel=1e-6, abs=1e-6)

    confusion = np.array(report["confusion"])
    assert confusion.shape == (3, 3)
    assert confusion.sum() == n
    expected = np.zeros((3, 3), dtype=int)
    np.add.at(expected, (truth, np.array([classes.index(p) for p in predicted])), 1)
    np.testing.assert_array_equal(confusion, expected)
    assert confusion.sum(axis=1).tolist() == np.bincount(truth, minlength=3).tolist()


# ---------------------------------------------------------------------------------------------
# predict --proba, --top-k, --output
# ---------------------------------------------------------------------------------------------


def test_proba_rows_sum_to_one(softreg, workdir, overlapping):
    softreg("train", "--data", "overlap.csv", "--model", "m.srm", "--quiet")
    predict = softreg("predict", "--model", "m.srm", "--data", "overlap.csv", "--proba")
    _, rows = read_csv_output(predict.stdout)
    proba = np.array([[float(v) for v in r[1:]] for r in rows])
    assert proba.shape == (300, 3)
    assert np.all(proba >= 0) and np.all(proba <= 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("top_k", [1, 2, 3, 7])
def test_top_k_lists_the_most_probable_classes_in_order(softreg, workdir, overlapping, top_k):
    softreg("train", "--data", "overlap.csv", "--model", "m.srm", "--quiet")
    header, rows = read_csv_output(
        softreg("predict", "--model", "m.srm", "--data", "overlap.csv", "--proba", "--top-k", top_k).stdout
    )
    shown = min(top_k, 3)
    classes = [h[len("proba_"):] for h in header[1:4]]
    expected_header = ["prediction", *[f"proba_{c}" for c in classes]]
    for r in range(1, shown + 1):
        expected_header += [f"top{r}", f"top{r}_proba"]
    assert header == expected_header
    for row in rows:
        proba = {c: float(v) for c, v in zip(classes, row[1:4])}
        tops = row[4::2]
        top_proba = [float(v) for v in row[5::2]]
        assert len(tops) == shown
        assert tops[0] == row[0]
        assert top_proba == sorted(top_proba, reverse=True)
        assert top_proba == [proba[c] for c in tops]
        assert len(set(tops)) == shown
        rest = [p for c, p in proba.items() if c not in tops]
        assert all(p <= top_proba[-1] for p in rest)


def test_output_is_written_atomically_by_rename(softreg, workdir, overlapping):
    softreg("train", "--data", "overlap.csv", "--model", "m.srm", "--quiet")
    (workdir / "pred.csv").write_text("old contents\n")
    os.link(workdir / "pred.csv", workdir / "old-link.csv")
    softreg("predict", "--model", "m.srm", "--data", "overlap.csv", "--output", "pred.csv")
    # A rename replaces the directory entry; writing in place would change the shared inode.
    assert (workdir / "old-link.csv").read_text() == "old contents\n"
    header, rows = read_csv_output((workdir / "pred.csv").read_bytes())
    assert header == ["prediction"] and len(rows) == 300
    assert tmp_leftovers(workdir) == []


def test_model_is_written_atomically_by_rename(softreg, workdir, overlapping):
    softreg("train", "--data", "overlap.csv", "--model", "m.srm", "--quiet")
    os.link(workdir / "m.srm", workdir / "first.srm")
    before = (workdir / "first.srm").read_bytes()
    softreg("train", "--data", "overlap.csv", "--model", "m.srm", "--scale", "standard", "--quiet")
    assert (workdir / "first.srm").read_bytes() == before
    assert (workdir / "m.srm").read_bytes() != before
    assert tmp_leftovers(workdir) == []


# ---------------------------------------------------------------------------------------------
# Bad input: one clear line, non-zero exit, nothing written, nothing clobbered
# ---------------------------------------------------------------------------------------------


@dataclass
class Bad:
    """A command that must fail. files are written first (None: left absent); corrupt builds
    bad.srm from good.srm's bytes; the one stderr line must name `blame` and match `pos`;
    `target` is the output option whose file must neither appear nor change."""

    args: list
    blame: str
    pos: str | None = None
    files: dict = field(default_factory=dict)
    target: str | None = None
    corrupt: Callable | None = None


def text_pos(name, line):
    return rf"{re.escape(name)}:{line}:\d+: "


def byte_pos(name, offset=r"\d+"):
    return rf"{re.escape(name)}: byte {offset}: "


def train_bad(data, content, pos, *extra):
    return Bad(["train", "--data", data, *extra], data, pos, {data: content}, "--model")


def csv_train_bad(data, line, *rows):
    """train on a CSV with header a,b,c,label and these rows; the error belongs on `line`."""
    return train_bad(data, csv_lines(*rows), text_pos(data, line))


def predict_bad(data, content, pos):
    return Bad(["predict", "--model", "good.srm", "--data", data], data, pos, {data: content}, "--output")


def model_bad(corrupt, command="predict"):
    args = [command, "--model", "bad.srm"] + ([] if command == "export" else ["--data", "good.csv"])
    target = {"predict": "--output", "export": "--npz", "eval": None}[command]
    return Bad(args, "bad.srm", byte_pos("bad.srm"), {}, target, corrupt)


def csv_lines(*rows, header="a,b,c,label"):
    return "\n".join([header, *rows]) + "\n"


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def truncated_gzip_csv():
    """A gzipped CSV cut inside its deflate stream, and the line on which the readable data ends."""
    x, y = blobs(60, 3, 3, 0.5, seed=12)
    rows = [",".join(repr(float(v)) for v in row) + f",{lab}" for row, lab in zip(x, ANIMALS[y])]
    packed = gzip.compress(csv_lines(*rows).encode())
    cut = packed[: len(packed) // 2]
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    return cut, readable.count(b"\n") + 1


def flip_byte(where):
    def build(good):
        data = bytearray(good)
        data[{"first": 0, "middle": len(data) // 2, "last": len(data) - 1}[where]] ^= 0x10
        return bytes(data)

    return build


def bad_cases():
    imgs, y = image_blobs(10, 2, seed=13)
    images, labels = idx_bytes(imgs), idx_bytes(y.astype(np.uint8))
    gz_cut, gz_line = truncated_gzip_csv()
    x5, y4 = npy_bytes(np.ones((5, 4))), npy_bytes(np.arange(4))

    def idx_train(prefix, image_bytes, label_bytes, blame, pos, gz=""):
        data, lab = f"{prefix}-images-idx3-ubyte{gz}", f"{prefix}-labels-idx1-ubyte{gz}"
        return Bad(["train", "--data", data], blame, pos, {data: image_bytes, lab: label_bytes}, "--model")

    return {
        "csv_ragged_short_row": csv_train_bad("short.csv", 3, "1,2,3,cat", "4,5,dog"),
        "csv_ragged_long_row": csv_train_bad("long.csv", 3, "1,2,3,cat", "4,5,6,7,dog"),
        "csv_non_numeric_field": csv_train_bad("abc.csv", 3, "1,2,3,cat", "4,abc,6,dog"),
        "csv_nan_feature": csv_train_bad("nan.csv", 4, "1,2,3,cat", "4,5,6,dog", "nan,1,2,cat"),
        "csv_inf_feature": csv_train_bad("inf.csv", 3, "1,2,3,cat", "4,-inf,6,dog"),
        "csv_nan_feature_at_predict": predict_bad(
            "pnan.csv", csv_lines("1,2,3,cat", "4,5,NaN,dog"), text_pos("pnan.csv", 3)
        ),
        "csv_missing_labels_for_train": train_bad(
            "nolabel.csv", csv_lines("1,2,3", "4,5,6", header="a,b,c"), text_pos("nolabel.csv", 1)
        ),
        "csv_single_class_for_train": train_bad(
            "one.csv", csv_lines("1,2,3,cat", "4,5,6,cat"), re.escape("one.csv"), "--quiet"
        ),
        "npy_missing_labels_for_train": train_bad("x.npy", x5, byte_pos("x.npy")),
        "npy_label_count_mismatch": Bad(
            ["train", "--data", "x5.npy", "--labels", "y4.npy"], "y4.npy", byte_pos("y4.npy"),
            {"x5.npy": x5, "y4.npy": y4}, "--model",
        ),
        # The model knows its features by name: the header line is at fault.
        "csv_wrong_feature_count_at_predict": predict_bad(
            "wide.csv", csv_lines("1,2,3,4,cat", header="a,b,c,d,label"), r"wide\.csv:1: "
        ),
        "npy_wrong_feature_count_at_predict": predict_bad("wide.npy", x5, byte_pos("wide.npy")),
        "libsvm_index_beyond_model_at_predict": predict_bad(
            "wide.svm", "cat 1:1 2:2\ndog 1:1 4:2\n", text_pos("wide.svm", 2)
        ),
        "csv_empty_file": train_bad("empty.csv", "", text_pos("empty.csv", 1)),
        "libsvm_empty_file": train_bad("empty.svm", "", text_pos("empty.svm", 1)),
        "npy_empty_file": train_bad("empty.npy", b"", byte_pos("empty.npy", 0)),
        "idx_truncated": idx_train(
            "t", images[:-5], labels, "t-images-idx3-ubyte", byte_pos("t-images-idx3-ubyte")
        ),
        "idx_truncated_gzip": idx_train(
            "g", gzip.compress(images)[:-6], gzip.compress(labels), "g-images-idx3-ubyte.gz",
            byte_pos("g-images-idx3-ubyte.gz"), gz=".gz",
        ),
        "csv_truncated_gzip": predict_bad("cut.csv.gz", gz_cut, text_pos("cut.csv.gz", gz_line)),
        "idx_wrong_magic": idx_train(
            "m", b"\x01" + images[1:], labels, "m-images-idx3-ubyte", byte_pos("m-images-idx3-ubyte", 0)
        ),
        "idx_labels_wrong_type": idx_train(
            "w", images, labels[:2] + b"\x0d" + labels[3:], "w-labels-idx1-ubyte",
            byte_pos("w-labels-idx1-ubyte"),
        ),
        # An index 0 makes a file 0-based unless it is read as 1-based.
        "libsvm_index_zero": train_bad(
            "zero.svm", "1 1:1 2:2\n2 0:1 3:2\n", text_pos("zero.svm", 2), "--one-based"
        ),
        "libsvm_decreasing_indices": train_bad("dec.svm", "1 1:1 2:2\n2 3:1 2:2\n", text_pos("dec.svm", 2)),
        "libsvm_repeated_index": train_bad("rep.svm", "1 1:1 2:2\n2 2:1 2:2\n", text_pos("rep.svm", 2)),
        "model_flipped_first_byte": model_bad(flip_byte("first")),
        "model_flipped_middle_byte": model_bad(flip_byte("middle")),
        "model_flipped_last_byte": model_bad(flip_byte("last")),
        "model_truncated": model_bad(lambda good: good[: len(good) * 2 // 3]),
        "model_corrupted_at_eval": model_bad(flip_byte("middle"), "eval"),
        "model_corrupted_at_export": model_bad(flip_byte("middle"), "export"),
        "model_is_a_csv_file": Bad(
            ["predict", "--model", "good.csv", "--data", "good.csv"], "good.csv", byte_pos("good.csv", 0),
            {}, "--output",
        ),
        "nonexistent_data_file": train_bad("missing.csv", None, re.escape("missing.csv") + ": "),
        "nonexistent_model_file": Bad(
            ["predict", "--model", "missing.srm", "--data", "good.csv"], "missing.srm",
            re.escape("missing.srm") + ": ", {}, "--output",
        ),
        "nonexistent_labels_file": Bad(
            ["train", "--data", "x5.npy", "--labels", "nolabels.npy"], "nolabels.npy",
            re.escape("nolabels.npy") + ": ", {"x5.npy": x5}, "--model",
        ),
        "unknown_solver": Bad(["train", "--data", "good.csv", "--solver", "newton"], "--solver", target="--model"),
        "negative_l2": Bad(["train", "--data", "good.csv", "--l2", "-1"], "--l2", target="--model"),
    }


BAD_CASES = bad_cases()


@pytest.fixture
def good_model(softreg, workdir):
    """A valid 3-feature, 3-class model good.srm trained on good.csv (labels cat/dog/bird)."""
    x, y = blobs(20, 3, 3, 0.5, seed=11)
    write_csv(workdir / "good.csv", x, ANIMALS[y])
    softreg("train", "--data", "good.csv", "--model", "good.srm", "--quiet")
    return workdir / "good.srm"


def assert_one_clear_error(proc, blame, pos=None):
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode != 0, f"exit code 0; stderr: {stderr!r}"
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {stderr!r}"
    line = lines[0]
    assert len(line) < 300, f"the error line is {len(line)} characters long: {line!r}"
    assert blame in line, f"the error does not name {blame}: {line!r}"
    if pos is not None:
        assert re.search(pos, line), f"the error lacks the position /{pos}/: {line!r}"
    assert proc.stdout == b"", f"stdout is not empty: {proc.stdout[:200]!r}"


def make_valid_target(softreg, target, name):
    """Writes a valid file at `name` with the command that owns `target`."""
    if target == "--model":
        softreg("train", "--data", "good.csv", "--model", name, "--quiet")
    elif target == "--output":
        softreg("predict", "--model", "good.srm", "--data", "good.csv", "--proba", "--output", name)
    else:
        softreg("export", "--model", "good.srm", "--npz", name)


@pytest.mark.parametrize("case_id", list(BAD_CASES))
def test_bad_input_fails_cleanly_and_writes_nothing(softreg, workdir, good_model, case_id):
    case = BAD_CASES[case_id]
    for name, content in case.files.items():
        if content is not None:
            (workdir / name).write_bytes(content.encode() if isinstance(content, str) else content)
    if case.corrupt is not None:
        (workdir / "bad.srm").write_bytes(case.corrupt(good_model.read_bytes()))
    args = list(case.args)
    out = None
    if case.target is not None:
        out = workdir / {"--model": "out.srm", "--output": "out.csv", "--npz": "out.npz"}[case.target]
        args += [case.target, out.name]
    before = sorted(p.name for p in workdir.iterdir())

    assert_one_clear_error(softreg(*args, ok=False), case.blame, case.pos)
    assert sorted(p.name for p in workdir.iterdir()) == before, "a failing command left files behind"

    if out is not None:
        make_valid_target(softreg, case.target, out.name)
        old = out.read_bytes()
        assert softreg(*args, ok=False).returncode != 0
        assert out.read_bytes() == old, f"{out.name} was clobbered by a failing command"
        assert tmp_leftovers(workdir) == []


def test_unwritable_output_path_fails_cleanly(softreg, workdir, good_model):
    proc = softreg("predict", "--model", "good.srm", "--data", "good.csv", "--output", "no/such/dir/out.csv",
                   ok=False)
    assert_one_clear_error(proc, "no/such/dir/out.csv")
    proc = softreg("train", "--data", "good.csv", "--model", "no/such/dir/m.srm", "--quiet", ok=False)
    assert_one_clear_error(proc, "no/such/dir/m.srm")
    assert tmp_leftovers(workdir) == []


# ---------------------------------------------------------------------------------------------
# Help and usage
# ---------------------------------------------------------------------------------------------

REQUIRED_OPTIONS = {
    "train": ["--data", "--model"],
    "predict": ["--model", "--data"],
    "eval": ["--model", "--data"],
    "info": ["--model"],
    "export": ["--model", "--npz"],
}


@pytest.mark.parametrize("command", list(REQUIRED_OPTIONS))
def test_subcommand_help_exits_zero_and_lists_required_options(softreg, command):
    proc = softreg(command, "--help")
    assert proc.returncode == 0
    text = proc.stdout.decode()
    for option in REQUIRED_OPTIONS[command]:
        lines = [line for line in text.splitlines() if re.search(rf"{option}\b", line)]
        assert lines, f"{command} --help does not mention {option}"
        assert any("REQUIRED" in line for line in lines), f"{command} --help does not mark {option} required"


@pytest.mark.parametrize("command", list(REQUIRED_OPTIONS))
def test_subcommand_without_required_options_fails(softreg, workdir, command):
    proc = softreg(command, ok=False)
    assert proc.returncode != 0
    assert REQUIRED_OPTIONS[command][0] in proc.stderr.decode()


def test_no_subcommand_exits_nonzero_with_usage(softreg):
    proc = softreg(ok=False)
    assert proc.returncode != 0
    text = (proc.stdout + proc.stderr).decode()
    for command in REQUIRED_OPTIONS:
        assert re.search(rf"\b{command}\b", text), f"usage does not list '{command}': {text!r}"


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------


def test_sgd_with_a_seed_is_deterministic(softreg, workdir):
    x, y = blobs(200, 8, 3, 3.0, seed=14)
    write_csv(workdir / "d.csv", x, ANIMALS[y])
    common = ["--data", "d.csv", "--solver", "sgd", "--epochs", "4", "--batch-size", "32", "--threads", "2",
              "--quiet"]
    for name, seed in (("a.srm", 3), ("b.srm", 3), ("c.srm", 4)):
        softreg("train", *common, "--seed", seed, "--model", name)
        softreg("export", "--model", name, "--npz", name.replace(".srm", ".npz"))
    a, b = (workdir / "a.srm").read_bytes(), (workdir / "b.srm").read_bytes()
    # The format stores the training time (8 bytes) and a CRC-32 of everything (last 4 bytes):
    # everything else must be identical.
    assert len(a) == len(b)
    diff = [i for i in range(len(a) - 4) if a[i] != b[i]]
    assert not diff or diff[-1] - diff[0] < 8, f"model files differ at bytes {diff}"
    npz_a, npz_b, npz_c = (np.load(workdir / f"{s}.npz") for s in "abc")
    np.testing.assert_array_equal(npz_a["coef"], npz_b["coef"])
    np.testing.assert_array_equal(npz_a["intercept"], npz_b["intercept"])
    assert not np.array_equal(npz_a["coef"], npz_c["coef"]), "another seed gave the same weights"
    pred = [softreg("predict", "--model", m, "--data", "d.csv", "--proba").stdout for m in ("a.srm", "b.srm")]
    assert pred[0] == pred[1]


# ---------------------------------------------------------------------------------------------
# Real data: one quick run on Fashion-MNIST's test set (10000 rows)
# ---------------------------------------------------------------------------------------------


def test_fashion_mnist_t10k_short_training(softreg, workdir):
    images = FASHION_MNIST / "t10k-images-idx3-ubyte.gz"
    assert images.exists(), f"{images} is missing"
    softreg("train", "--data", images, "--model", "f.srm", "--max-iter", "15", "--quiet", timeout=60)
    fields = info_fields(softreg, "f.srm")
    assert fields["features"] == "784"
    assert fields["classes"] == "10: 0 1 2 3 4 5 6 7 8 9"
    report = eval_json(softreg, "--model", "f.srm", "--data", images)
    assert report["n"] == 10000
    assert report["accuracy"] > 0.7
    assert np.array(report["confusion"]).sum() == 10000


@pytest.mark.parametrize("flag,value,rule", [
    ("--l2", "nan", "finite and >= 0"),
    ("--tol", "-1", ">= 0"),
    ("--valid-fraction", "1", "in [0, 1)"),
    ("--max-iter", "-1", ">= 0"),
    ("--epochs", "-3", ">= 0"),
    ("--lbfgs-memory", "10001", "in [0, 10000]"),
    ("--lbfgs-warmup", "-2", "or -1 for automatic"),
    ("--batch-size", "0", "a whole number in [1, 9223372036854775807]"),
    ("--lr", "-0.5", "finite and >= 0"),
    ("--momentum", "1", "in [0, 1)"),
    ("--patience", "0", ">= 1"),
    ("--class-weight", "cat:-1", 'class_weight["cat"] must be finite and >= 0'),
])
def test_train_options_out_of_range_are_usage_errors_worded_with_the_flag(
    softreg, workdir, flag, value, rule
):
    """The library's option rules, worded with the command's flag, before any data is read
    (the data file does not exist)."""
    proc = softreg("train", "--data", "missing.csv", "--model", "m.srm", flag, value, ok=False)
    assert proc.returncode == 2
    assert_one_clear_error(proc, f"{flag}: ")
    line = proc.stderr.decode()
    got = value.split(':')[-1]
    assert rule in line and (f"got {got}" in line or f'got "{got}"' in line), line
    assert "missing.csv" not in line
    assert not (workdir / "m.srm").exists()


def test_info_json_and_what_each_solver_counts(softreg, workdir):
    x, y = blobs(60, 3, 3, 0.5, seed=8)
    write_csv(workdir / "d.csv", x, ANIMALS[y])
    softreg("train", "--data", "d.csv", "--model", "l.srm", "--solver", "lbfgs", "--quiet")
    softreg("train", "--data", "d.csv", "--model", "s.srm", "--solver", "sgd", "--epochs", "3",
            "--quiet")
    lbfgs = json.loads(softreg("info", "--model", "l.srm", "--json").stdout)
    sgd = json.loads(softreg("info", "--model", "s.srm", "--json").stdout)
    assert lbfgs["solver"] == "lbfgs" and lbfgs["iterations"] >= 1 and "epochs" not in lbfgs
    assert lbfgs["classes"] == ["bird", "cat", "dog"] and lbfgs["features"] == 3
    assert lbfgs["converged"] is True and lbfgs["grad_norm"] <= 1e-5
    assert lbfgs["valid_loss"] is None and len(lbfgs["loss_history"]) == lbfgs["iterations"]
    assert sgd["solver"] == "sgd" and sgd["epochs"] == 3 and sgd["grad_norm"] is None
    text = softreg("info", "--model", "s.srm").stdout.decode()
    assert "nan" not in text and "epochs" in text and "iterations" not in text, text
    assert "max |gradient|" in softreg("info", "--model", "l.srm").stdout.decode()


def test_auto_picks_saga_for_large_sparse_data_and_lbfgs_when_scaled(softreg, workdir):
    # 3 classes x 40,000 features = 120,000 weights >= 100,000: SAGA, unless scaled.
    rng = np.random.default_rng(7)
    lines = []
    for i in range(300):
        cols = np.sort(rng.choice(40000, size=8, replace=False)) + 1
        cols[0] = 1 + i % 3  # one feature tells the class
        cols = np.unique(cols)
        lines.append(f"{i % 3} " + " ".join(f"{c}:{rng.random() + 0.5:.3f}" for c in cols))
    (workdir / "s.svm").write_text("\n".join(lines) + "\n")
    proc = softreg("train", "--data", "s.svm", "--model", "a.srm", "--lbfgs-memory", "5")
    err = proc.stderr.decode()
    assert "solver saga (auto)" in err, err
    assert "warning: --lbfgs-memory does not apply to --solver saga (chosen by --solver auto)" \
        in err
    info = softreg("info", "--model", "a.srm").stdout.decode()
    assert "saga" in info, info
    proc = softreg("train", "--data", "s.svm", "--model", "b.srm", "--scale", "standard",
                   "--max-iter", "3")
    assert "solver lbfgs (auto)" in proc.stderr.decode()


def test_options_that_do_not_apply_are_warned_about_or_refused(softreg, workdir):
    x, y = blobs(30, 3, 3, 0.5, seed=4)
    write_csv(workdir / "d.csv", x, ANIMALS[y])
    proc = softreg("train", "--data", "d.csv", "--model", "m.srm", "--epochs", "5", "--lr", "0.1")
    err = proc.stderr.decode()
    assert "solver lbfgs (auto)" in err  # dense data: auto picks L-BFGS
    assert "warning: --epochs does not apply to --solver lbfgs (chosen by --solver auto); " \
        "ignored" in err
    assert "warning: --lr does not apply to --solver lbfgs (chosen by --solver auto); " \
        "ignored" in err
    proc = softreg("train", "--data", "d.csv", "--model", "l.srm", "--solver", "lbfgs",
                   "--epochs", "5")
    assert "warning: --epochs does not apply to --solver lbfgs; ignored" in proc.stderr.decode()
    proc = softreg("train", "--data", "d.csv", "--model", "s.srm", "--solver", "adam",
                   "--epochs", "2", "--max-iter", "7", "--momentum", "0.5")
    err = proc.stderr.decode()
    assert "warning: --max-iter does not apply to --solver adam; ignored" in err
    assert "warning: --momentum does not apply to --solver adam; ignored" in err
    assert "--epochs" not in err  # it applies
    assert "|grad|max" not in err  # Adam never forms the full gradient
    quiet = softreg("train", "--data", "d.csv", "--model", "q.srm", "--epochs", "5", "--quiet")
    assert quiet.stderr == b""
    proc = softreg("train", "--data", "d.csv", "--model", "w.srm", "--warm-start", "m.srm",
                   "--scale", "standard", ok=False)
    assert proc.returncode == 2
    assert_one_clear_error(proc, "--scale: does not apply with --warm-start")
    assert not (workdir / "w.srm").exists()
