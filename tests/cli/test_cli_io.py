"""The command line's data handling: standard input through a real pipe, pandas' index column,
LibSVM numbering, id and sample-weight columns, --precision, notices, and output paths checked
before any work."""
import csv
import gzip
import io
import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import dump_svmlight_file

from test_cli import ANIMALS, assert_one_clear_error, blobs, read_csv_output, write_csv


def same_model(a, b):
    """Model files equal but for the training time (8 bytes) and the CRC-32 (the last 4)."""
    assert len(a) == len(b), f"model sizes differ: {len(a)} and {len(b)}"
    diff = [i for i in range(len(a) - 4) if a[i] != b[i]]
    return not diff or diff[-1] - diff[0] < 8


def piped(softreg_bin, workdir, producer, *args):
    """`producer | softreg ARGS`, a real pipe between two processes; returns softreg's
    CompletedProcess-like (returncode, stdout, stderr)."""
    feed = subprocess.Popen(producer, cwd=workdir, stdout=subprocess.PIPE)
    proc = subprocess.run([softreg_bin, *map(str, args)], cwd=workdir, stdin=feed.stdout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    feed.stdout.close()
    feed.wait()
    return proc


def coef(softreg, workdir, model):
    softreg("export", "--model", model, "--npz", model + ".npz")
    with np.load(workdir / (model + ".npz")) as z:
        return z["coef"], z["intercept"]


@pytest.fixture
def animals(workdir):
    """d.csv: 3 features and a label column, 90 rows of three overlapping classes."""
    x, y = blobs(30, 3, 3, 2.0, seed=21)
    write_csv(workdir / "d.csv", x, ANIMALS[y])
    return x, ANIMALS[y]


# ---------------------------------------------------------------------------------------------
# Standard input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True])
def test_a_pipe_gives_the_same_model_as_the_file(softreg_bin, softreg, workdir, animals, compressed):
    softreg("train", "--data", "d.csv", "--model", "file.srm", "--quiet")
    if compressed:
        (workdir / "d.csv.gz").write_bytes(gzip.compress((workdir / "d.csv").read_bytes()))
    source = "d.csv.gz" if compressed else "d.csv"
    proc = piped(softreg_bin, workdir, ["cat", source],
                 "train", "--data", "-", "--format", "csv", "--model", "pipe.srm")
    assert proc.returncode == 0, proc.stderr.decode()
    assert "training on standard input: 90 rows, 3 features" in proc.stderr.decode()
    assert same_model((workdir / "file.srm").read_bytes(), (workdir / "pipe.srm").read_bytes())
    # predict and eval read the pipe too, and give what the file gives.
    from_file = softreg("predict", "--model", "file.srm", "--data", "d.csv", "--proba").stdout
    proc = piped(softreg_bin, workdir, ["cat", source],
                 "predict", "--model", "file.srm", "--data", "-", "--format", "csv", "--proba")
    assert proc.returncode == 0 and proc.stdout == from_file
    proc = piped(softreg_bin, workdir, ["cat", source],
                 "eval", "--model", "file.srm", "--data", "-", "--format", "csv")
    assert proc.stdout.decode().startswith("standard input: 90 rows, 3 classes")


def test_standard_input_needs_a_format_and_names_itself_in_errors(softreg_bin, softreg, workdir):
    (workdir / "bad.csv").write_text("a,b,label\n1,2,cat\n3,x,dog\n")
    proc = piped(softreg_bin, workdir, ["cat", "bad.csv"], "train", "--data", "-", "--model", "m.srm")
    assert_one_clear_error(proc, "standard input (-)")
    assert "--format" in proc.stderr.decode()
    proc = piped(softreg_bin, workdir, ["cat", "bad.csv"],
                 "train", "--data", "-", "--format", "csv", "--model", "m.srm")
    assert_one_clear_error(proc, "standard input:3:3: expected a number")
    assert not (workdir / "m.srm").exists()


def test_idx_from_standard_input_needs_labels(softreg_bin, softreg, workdir):
    from test_cli import idx_bytes, image_blobs

    imgs, y = image_blobs(20, 2, seed=3)
    (workdir / "x-images-idx3-ubyte").write_bytes(idx_bytes(imgs))
    (workdir / "x-labels-idx1-ubyte").write_bytes(idx_bytes(y.astype(np.uint8)))
    proc = piped(softreg_bin, workdir, ["cat", "x-images-idx3-ubyte"],
                 "train", "--data", "-", "--format", "idx", "--model", "m.srm")
    assert_one_clear_error(proc, "standard input: byte 0: no labels file")
    assert "--labels" in proc.stderr.decode()
    proc = piped(softreg_bin, workdir, ["cat", "x-images-idx3-ubyte"],
                 "train", "--data", "-", "--format", "idx", "--labels", "x-labels-idx1-ubyte",
                 "--model", "m.srm", "--quiet")
    assert proc.returncode == 0, proc.stderr.decode()
    softreg("train", "--data", "x-images-idx3-ubyte", "--model", "f.srm", "--quiet")
    assert same_model((workdir / "f.srm").read_bytes(), (workdir / "m.srm").read_bytes())


# ---------------------------------------------------------------------------------------------
# CSV written by pandas
# ---------------------------------------------------------------------------------------------


def test_pandas_index_column_is_skipped_with_a_notice(softreg, workdir, animals):
    x, labels = animals
    frame = pd.DataFrame(x, columns=["f0", "f1", "f2"])
    frame["label"] = labels
    frame.to_csv(workdir / "with.csv")  # index=True: a nameless first column 0..n-1
    frame.to_csv(workdir / "without.csv", index=False)
    assert (workdir / "with.csv").read_text().startswith(",f0,f1,f2,label\n0,")
    proc = softreg("train", "--data", "with.csv", "--model", "with.srm")
    notice = ("softreg train: notice: with.csv: the first column has no name and holds the row "
              "numbers 0..89 (a pandas index); skipped")
    assert notice in proc.stderr.decode().splitlines()
    softreg("train", "--data", "without.csv", "--model", "without.srm", "--quiet")
    assert same_model((workdir / "with.srm").read_bytes(), (workdir / "without.srm").read_bytes())
    assert "notice" not in softreg("train", "--data", "without.csv", "--model", "w.srm").stderr.decode()
    # --quiet silences notices, with --warm-start and --resume too; predict and eval always
    # print them.
    assert softreg("train", "--data", "with.csv", "--model", "q.srm", "--quiet").stderr == b""
    proc = softreg("train", "--data", "with.csv", "--model", "w.srm", "--warm-start", "with.srm")
    assert notice in proc.stderr.decode().splitlines()
    assert softreg("train", "--data", "with.csv", "--model", "w.srm", "--warm-start", "with.srm",
                   "--quiet").stderr == b""

    proc = softreg("predict", "--model", "with.srm", "--data", "with.csv", "--proba")
    assert proc.stderr.decode().startswith("softreg predict: notice: with.csv: the first column")
    assert proc.stdout == softreg("predict", "--model", "with.srm", "--data", "without.csv",
                                  "--proba").stdout
    proc = softreg("eval", "--model", "with.srm", "--data", "with.csv")
    assert proc.stderr.decode().startswith("softreg eval: notice: with.csv: the first column")


def test_bad_header_names_are_errors_naming_line_and_column(softreg, workdir):
    (workdir / "dup.csv").write_text("a,b,a,label\n1,2,3,x\n4,5,6,y\n")
    proc = softreg("train", "--data", "dup.csv", "--model", "m.srm", ok=False)
    assert_one_clear_error(proc, 'dup.csv:1:5: the header names "a" twice')
    (workdir / "gap.csv").write_text(",a,label\n0,1,x\n7,2,y\n")
    proc = softreg("train", "--data", "gap.csv", "--model", "m.srm", ok=False)
    assert_one_clear_error(proc, "gap.csv:1:1: the first column has no name")
    assert not (workdir / "m.srm").exists()


# ---------------------------------------------------------------------------------------------
# LibSVM numbering
# ---------------------------------------------------------------------------------------------


def sparse_blobs(seed):
    x, y = blobs(40, 12, 3, 0.5, seed=seed)
    rng = np.random.default_rng(seed)
    x[rng.random(x.shape) < 0.5] = 0.0
    x[np.arange(len(y)), y] = 20.0  # column 0 is used, so the 0-based file has an index 0
    return x, y


def test_zero_and_one_based_files_give_the_same_model(softreg, workdir):
    x, y = sparse_blobs(31)
    dump_svmlight_file(x, y, str(workdir / "zero.svm"), zero_based=True)
    dump_svmlight_file(x, y, str(workdir / "one.svm"), zero_based=False)
    assert " 0:" in (workdir / "zero.svm").read_text() and " 0:" not in (workdir / "one.svm").read_text()
    softreg("train", "--data", "zero.svm", "--model", "z.srm", "--quiet")
    softreg("train", "--data", "one.svm", "--model", "o.srm", "--quiet")
    softreg("train", "--data", "zero.svm", "--zero-based", "--model", "zf.srm", "--quiet")
    softreg("train", "--data", "one.svm", "--one-based", "--model", "of.srm", "--quiet")
    # The same weights; the files differ in the numbering they record (index_base).
    o = coef(softreg, workdir, "o.srm")
    for other in ("z.srm", "zf.srm", "of.srm"):
        for mine, theirs in zip(o, coef(softreg, workdir, other)):
            np.testing.assert_array_equal(mine, theirs)
    # Read 0-based, the 1-based file is one column wider (column 0 empty).
    softreg("train", "--data", "one.svm", "--zero-based", "--model", "wide.srm", "--quiet")
    assert coef(softreg, workdir, "wide.srm")[0].shape == (3, 13)
    assert coef(softreg, workdir, "o.srm")[0].shape == (3, 12)
    # Predicting the 0-based file with the model trained on the 1-based one is the same.
    a = softreg("predict", "--model", "o.srm", "--data", "zero.svm", "--proba").stdout
    b = softreg("predict", "--model", "o.srm", "--data", "one.svm", "--proba").stdout
    assert a == b
    # A model trained 0-based reads a file without an index 0 as 0-based too (the file's
    # first feature is simply never set), not shifted by one as automatic would.
    rows = [line for line in (workdir / "zero.svm").read_text().splitlines()]
    stripped = "".join(" ".join(t for t in r.split() if not t.startswith("0:")) + "\n"
                       for r in rows)
    (workdir / "nozero.svm").write_text(stripped)
    assert " 0:" not in stripped
    with_model = softreg("predict", "--model", "z.srm", "--data", "nozero.svm", "--proba").stdout
    forced = softreg("predict", "--model", "z.srm", "--data", "nozero.svm", "--zero-based",
                     "--proba").stdout
    auto = softreg("predict", "--model", "o.srm", "--data", "nozero.svm", "--proba", ok=False)
    assert with_model == forced
    assert auto.returncode != 0 or auto.stdout != with_model


def test_numbering_flags_are_checked(softreg, workdir, animals):
    (workdir / "z.svm").write_text("1 1:1 2:2\n2 0:1 3:2\n")
    proc = softreg("train", "--data", "z.svm", "--one-based", "--model", "m.srm", ok=False)
    assert_one_clear_error(proc, "z.svm:2:3: expected a feature index >= 1")
    proc = softreg("train", "--data", "z.svm", "--zero-based", "--one-based", "--model", "m.srm",
                   ok=False)
    assert proc.returncode == 2 and "excludes" in proc.stderr.decode()
    proc = softreg("train", "--data", "d.csv", "--zero-based", "--model", "m.srm", ok=False)
    assert_one_clear_error(proc, "--zero-based applies to LibSVM data only; d.csv is csv data")
    assert not (workdir / "m.srm").exists()


# ---------------------------------------------------------------------------------------------
# Id and sample-weight columns
# ---------------------------------------------------------------------------------------------


def test_predict_writes_the_id_column_first_exactly(softreg, workdir, animals):
    x, labels = animals
    ids = [f"row {i}" if i % 3 else f'"q",{i}' for i in range(len(labels))]
    frame = pd.DataFrame(x, columns=["f0", "f1", "f2"])
    frame.insert(1, "key", ids)
    frame["label"] = labels
    frame.to_csv(workdir / "ids.csv", index=False)
    softreg("train", "--data", "ids.csv", "--id-column", "key", "--model", "m.srm", "--quiet")
    softreg("train", "--data", "d.csv", "--model", "plain.srm", "--quiet")
    assert same_model((workdir / "m.srm").read_bytes(), (workdir / "plain.srm").read_bytes())
    plain = read_csv_output(softreg("predict", "--model", "m.srm", "--data", "d.csv", "--proba",
                                    "--top-k", "2").stdout)
    header, rows = read_csv_output(softreg("predict", "--model", "m.srm", "--data", "ids.csv",
                                           "--id-column", "key", "--proba", "--top-k", "2").stdout)
    assert header == ["key"] + plain[0]
    assert header[:5] == ["key", "prediction", "proba_bird", "proba_cat", "proba_dog"]
    assert [r[0] for r in rows] == ids
    assert [r[1:] for r in rows] == plain[1]
    # Without a header the id column is "id"; by index here.
    text = (workdir / "ids.csv").read_text().split("\n", 1)[1]
    (workdir / "nohead.csv").write_text(text)
    header, rows = read_csv_output(softreg("predict", "--model", "m.srm", "--data", "nohead.csv",
                                           "--id-column", "1", "--label-column", "4").stdout)
    assert header == ["id", "prediction"] and [r[0] for r in rows] == ids


def test_sample_weight_column_and_file_agree_and_zero_weights_drop_rows(softreg, workdir):
    x, y = blobs(40, 3, 3, 2.0, seed=22)
    labels = ANIMALS[y]
    w = np.where(np.arange(len(y)) % 4 == 0, 0.0, 1.0)
    w[1::4] = 2.5
    frame = pd.DataFrame(x, columns=["f0", "f1", "f2"])
    frame["weight"] = w
    frame["label"] = labels
    frame.to_csv(workdir / "w.csv", index=False)
    (workdir / "weights.txt").write_text("".join(f"{float(v)!r}\n" for v in w))
    frame.drop(columns="weight").to_csv(workdir / "x.csv", index=False)
    common = ["--l2", "0.01", "--tol", "1e-10", "--dtype", "float64", "--quiet"]
    proc = softreg("train", "--data", "w.csv", "--sample-weight", "weight", "--model", "col.srm",
                   *common[:-1])
    assert "sample weights from column weight" in proc.stderr.decode()
    softreg("train", "--data", "w.csv", "--sample-weight", "3", "--model", "idx.srm", *common)
    softreg("train", "--data", "x.csv", "--sample-weight", "weights.txt", "--model", "file.srm",
            *common)
    # The same weights (the files differ in the weight column they record).
    col = coef(softreg, workdir, "col.srm")
    for other in ("idx.srm", "file.srm"):
        for mine, theirs in zip(col, coef(softreg, workdir, other)):
            np.testing.assert_array_equal(mine, theirs)
    # Weight 0 drops a row; weight 2.5 counts it 2.5 times: the same optimum as the rows
    # repeated (2 x and a half-weighted third are not expressible by repetition, so compare
    # against weights 0 / 1 / 2 written as repeated rows instead).
    w2 = np.where(w == 2.5, 2.0, w)
    (workdir / "w2.txt").write_text("".join(f"{float(v)!r}\n" for v in w2))
    softreg("train", "--data", "x.csv", "--sample-weight", "w2.txt", "--model", "w2.srm", *common)
    rep = np.repeat(np.arange(len(y)), w2.astype(int))
    write_csv(workdir / "rep.csv", x[rep], labels[rep])
    softreg("train", "--data", "rep.csv", "--model", "rep.srm", *common)
    cw, bw = coef(softreg, workdir, "w2.srm")
    cr, br = coef(softreg, workdir, "rep.srm")
    np.testing.assert_allclose(cw, cr, rtol=0, atol=1e-6)
    np.testing.assert_allclose(bw, br, rtol=0, atol=1e-6)
    softreg("train", "--data", "x.csv", "--model", "none.srm", *common)
    assert not np.allclose(coef(softreg, workdir, "none.srm")[0], cw, atol=1e-3), \
        "the weights changed nothing"


def test_bad_sample_weights_are_errors_naming_file_and_line(softreg, workdir, animals):
    (workdir / "short.txt").write_text("1\n" * 89)
    proc = softreg("train", "--data", "d.csv", "--sample-weight", "short.txt", "--model", "m.srm",
                   ok=False)
    assert_one_clear_error(proc, "short.txt:90:1: file ends after 89 sample weights; expected 90 "
                                 "sample weights, one per row of d.csv")
    (workdir / "neg.txt").write_text("1\n" * 5 + "-0.5\n" + "1\n" * 84)
    proc = softreg("train", "--data", "d.csv", "--sample-weight", "neg.txt", "--model", "m.srm",
                   ok=False)
    assert_one_clear_error(proc, 'neg.txt:6:1: expected a sample weight (a finite number >= 0), '
                                 'found "-0.5"')
    rows = (workdir / "d.csv").read_text().splitlines()
    rows = [rows[0] + ",w"] + [r + (",-1" if i == 7 else ",1") for i, r in enumerate(rows[1:])]
    (workdir / "dw.csv").write_text("\n".join(rows) + "\n")
    proc = softreg("train", "--data", "dw.csv", "--sample-weight", "w", "--model", "m.srm", ok=False)
    assert_one_clear_error(proc, "dw.csv:9:")
    assert 'expected a sample weight (a finite number >= 0), found "-1"' in proc.stderr.decode()
    proc = softreg("train", "--data", "d.csv", "--sample-weight", "nosuch", "--model", "m.srm",
                   ok=False)
    assert_one_clear_error(proc, 'd.csv:1:1: no header field is named "nosuch"')
    # A file named like a feature column is ambiguous.
    (workdir / "f1").write_text("1\n" * 90)
    proc = softreg("train", "--data", "d.csv", "--sample-weight", "f1", "--model", "m.srm", ok=False)
    assert_one_clear_error(proc, "--sample-weight f1: is both a file and a column of d.csv")
    softreg("train", "--data", "d.csv", "--sample-weight", "./f1", "--model", "m.srm", "--quiet")


# ---------------------------------------------------------------------------------------------
# --precision
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype,kind", [("float32", np.float32), ("float64", np.float64)])
def test_precision_digits_and_max_reads_back_exactly(softreg, workdir, animals, dtype, kind):
    softreg("train", "--data", "d.csv", "--model", "m.srm", "--dtype", dtype, "--quiet")

    def proba(*extra):
        header, rows = read_csv_output(softreg("predict", "--model", "m.srm", "--data", "d.csv",
                                               "--proba", *extra).stdout)
        return [r[1:4] for r in rows]

    default, three, exact, full = proba(), proba("--precision", "3"), proba("--precision", "max"), \
        proba("--precision", "17")
    assert default == proba("--precision", "6")
    for text in (t for row in three for t in row):
        digits = text.split("e")[0].replace("-", "").replace(".", "").lstrip("0")
        assert len(digits) <= 3, text
    # %.17g names the computed value exactly; max is the shortest text that reads back as it.
    for e_row, f_row in zip(exact, full):
        for e, f in zip(e_row, f_row):
            assert kind(e) == kind(float(f)), (e, f)
            assert len(e) <= len(f)
    assert max(len(e) for row in exact for e in row) > 8
    for bad in ("0", "18", "many"):
        proc = softreg("predict", "--model", "m.srm", "--data", "d.csv", "--precision", bad, ok=False)
        assert proc.returncode == 2
        assert_one_clear_error(proc, "--precision: expected 1 to 17 significant digits or \"max\"")


# ---------------------------------------------------------------------------------------------
# Output paths are checked before any work
# ---------------------------------------------------------------------------------------------


def test_unwritable_outputs_fail_before_reading_or_training(softreg, workdir, animals):
    softreg("train", "--data", "d.csv", "--model", "m.srm", "--quiet")
    (workdir / "adir").mkdir()
    for target, reason in (("no/dir/m.srm", "No such file or directory"),
                           ("adir", "is a directory")):
        # Not quiet: training would have printed "training on" first.
        proc = softreg("train", "--data", "d.csv", "--model", target, ok=False)
        assert_one_clear_error(proc, target)
        assert reason in proc.stderr.decode()
        # The data file is missing as well: the output is checked first.
        proc = softreg("predict", "--model", "m.srm", "--data", "missing.csv", "--output", target,
                       ok=False)
        assert_one_clear_error(proc, target)
        assert "missing.csv" not in proc.stderr.decode()
    assert sorted(p.name for p in workdir.iterdir()) == ["adir", "d.csv", "m.srm"]
    assert list((workdir / "adir").iterdir()) == []


def test_sample_weights_for_libsvm_come_from_a_file(softreg, workdir):
    x, y = sparse_blobs(32)
    dump_svmlight_file(x, y, str(workdir / "s.svm"), zero_based=False)
    keep = np.arange(len(y)) % 3 != 0
    dump_svmlight_file(x[keep], y[keep], str(workdir / "kept.svm"), zero_based=False)
    (workdir / "w.txt").write_text("".join("1\n" if k else "0\n" for k in keep))
    common = ["--solver", "lbfgs", "--l2", "0.01", "--tol", "1e-10", "--dtype", "float64",
              "--quiet"]
    softreg("train", "--data", "s.svm", "--sample-weight", "w.txt", "--model", "w.srm", *common)
    softreg("train", "--data", "kept.svm", "--model", "k.srm", *common)
    for a, b in zip(coef(softreg, workdir, "w.srm"), coef(softreg, workdir, "k.srm")):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    proc = softreg("train", "--data", "s.svm", "--id-column", "0", "--model", "m.srm", ok=False)
    assert_one_clear_error(proc, "s.svm: an id column is given, but id and weight columns apply "
                                 "to CSV files only")


def test_columns_are_matched_to_the_model_by_name(softreg, workdir):
    # iris-like: the model is trained on a header; a file with the columns in another order
    # predicts exactly as the training order does (it used to be taken by position).
    x, y = blobs(40, 4, 3, 1.0, 71)
    labels = ANIMALS[y]
    frame = pd.DataFrame(x, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    frame["species"] = labels
    frame.to_csv(workdir / "train.csv", index=False)
    frame[["petal_w", "species", "sepal_l", "petal_l", "sepal_w"]].to_csv(
        workdir / "shuffled.csv", index=False)
    softreg("train", "--data", "train.csv", "--label-column", "species", "--model", "m.srm",
            "--quiet")
    same = softreg("predict", "--model", "m.srm", "--data", "train.csv", "--label-column",
                   "species", "--proba").stdout
    moved = softreg("predict", "--model", "m.srm", "--data", "shuffled.csv", "--label-column",
                    "species", "--proba").stdout
    assert moved == same
    acc = json.loads(softreg("eval", "--model", "m.srm", "--data", "shuffled.csv",
                             "--label-column", "species", "--json").stdout)["accuracy"]
    assert acc > 0.95
    # An unknown or a missing column is named.
    frame.rename(columns={"petal_w": "petal_width"}).to_csv(workdir / "renamed.csv", index=False)
    proc = softreg("predict", "--model", "m.srm", "--data", "renamed.csv", "--label-column",
                   "species", ok=False)
    assert_one_clear_error(proc, 'column "petal_width" is not among the model\'s features',
                           r"renamed\.csv:1: ")
    frame.drop(columns=["sepal_w"]).to_csv(workdir / "fewer.csv", index=False)
    proc = softreg("eval", "--model", "m.srm", "--data", "fewer.csv", "--label-column",
                   "species", ok=False)
    assert_one_clear_error(proc, 'the model\'s feature "sepal_w" is missing')
    # A headerless file is taken by position, with a warning naming the model's features.
    frame.to_csv(workdir / "bare.csv", index=False, header=False)
    proc = softreg("predict", "--model", "m.srm", "--data", "bare.csv", "--label-column", "4")
    assert b"taken by position" in proc.stderr and b'"sepal_l"' in proc.stderr
    # pandas' default index column is skipped with a notice, never used as a feature.
    frame.to_csv(workdir / "indexed.csv")
    proc = softreg("predict", "--model", "m.srm", "--data", "indexed.csv", "--label-column",
                   "species", "--proba")
    assert proc.stdout == same
    assert b"pandas index" in proc.stderr


def test_the_training_weight_column_is_not_a_feature_at_predict(softreg, workdir):
    x, y = blobs(30, 3, 3, 1.0, 72)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["w"] = np.linspace(0.5, 2.0, len(y))
    frame["label"] = ANIMALS[y]
    frame.to_csv(workdir / "t.csv", index=False)
    softreg("train", "--data", "t.csv", "--sample-weight", "w", "--model", "m.srm", "--quiet")
    with_w = softreg("predict", "--model", "m.srm", "--data", "t.csv", "--proba").stdout
    frame.drop(columns=["w"]).to_csv(workdir / "no_w.csv", index=False)
    without = softreg("predict", "--model", "m.srm", "--data", "no_w.csv", "--proba").stdout
    assert with_w == without
    # The weights shaped the fit: unweighted training gives other probabilities.
    softreg("train", "--data", "no_w.csv", "--model", "u.srm", "--quiet")
    assert softreg("predict", "--model", "u.srm", "--data", "no_w.csv", "--proba").stdout != without
