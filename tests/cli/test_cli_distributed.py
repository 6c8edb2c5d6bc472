"""softreg train --distributed under mpirun (Open MPI): N ranks against one process.

Each model is judged by the objective it reaches, evaluated here in float64 NumPy from the
exported weights (an independent reference): the distributed fit's must equal the single
process's within 1e-6 relative. Runs as root need --allow-run-as-root; --oversubscribe lets
3 ranks share this machine's 2 cores.
"""
import gzip
import os
import shutil
import signal
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

MPIRUN = shutil.which("mpirun")
MPI_FLAGS = ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
L2 = 1e-3


def mpirun(softreg_bin, workdir, n, *args, timeout=120):
    env = dict(os.environ, OMPI_MCA_rmaps_base_oversubscribe="1")
    return subprocess.run(
        [MPIRUN, *MPI_FLAGS, "-np", str(n), softreg_bin, *map(str, args)],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def mpi_ready(softreg_bin, tmp_path_factory):
    """Skips (with the reason) where mpirun is missing or softreg was built without MPI."""
    if MPIRUN is None:
        pytest.skip("mpirun not found (Debian: openmpi-bin); the distributed tests need it")
    d = tmp_path_factory.mktemp("probe")
    (d / "t.csv").write_text("a,label\n0,0\n1,1\n")
    proc = mpirun(softreg_bin, d, 1, "train", "--data", "t.csv", "--model", "m", "--distributed",
                  "--quiet")
    if b"built without MPI" in proc.stderr:
        pytest.skip("softreg was built without MPI (-DSOFTREG_BUILD_MPI=OFF)")
    assert proc.returncode == 0, proc.stderr.decode()


def problem(n=1200, d=12, k=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = rng.normal(size=(d, k))
    y = np.argmax(x @ w + rng.gumbel(size=(n, k)), axis=1)
    return x, y


def write_csv(path, x, y):
    with open(path, "w") as f:
        f.write(",".join([f"f{j}" for j in range(x.shape[1])] + ["label"]) + "\n")
        for row, label in zip(x, y):
            f.write(",".join(f"{v:.9g}" for v in row) + f",{label}\n")


def write_libsvm(path, x, y, opener=open):
    with opener(path, "wt") as f:
        for row, label in zip(x, y):
            pairs = " ".join(f"{j + 1}:{v:.9g}" for j, v in enumerate(row) if abs(v) > 0.3)
            f.write(f"{label} {pairs}\n")


def write_idx(images, labels, x, y):
    """ubyte IDX images (x scaled to bytes) and labels, gzipped; returns the pixels read back."""
    pixels = np.clip(np.round((x - x.min()) / (x.max() - x.min()) * 255), 0, 255).astype(np.uint8)
    with gzip.open(images, "wb") as f:
        f.write(struct.pack(">HBBII", 0, 8, 2, *pixels.shape) + pixels.tobytes())
    with gzip.open(labels, "wb") as f:
        f.write(struct.pack(">HBBI", 0, 8, 1, len(y)) + y.astype(np.uint8).tobytes())
    return pixels / 255.0


def exported(softreg, workdir, model):
    softreg("export", "--model", model, "--npz", model + ".npz")
    z = np.load(workdir / (model + ".npz"))
    return z["coef"], z["intercept"], z["classes"]


def objective(coef, intercept, classes, x, y, l2=L2):
    """Mean cross-entropy of softmax(x W + b) plus (l2 / 2) ||W||^2, in float64."""
    z = x @ coef.T + intercept
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    index = {c: i for i, c in enumerate(classes.tolist())}
    rows = np.array([index[str(v)] if isinstance(classes[0], str) else index[v] for v in y])
    return -logp[np.arange(len(y)), rows].mean() + 0.5 * l2 * (coef ** 2).sum()


def train_both(softreg, softreg_bin, workdir, n_ranks, data, *extra):
    args = ["train", "--data", data, "--l2", L2, "--tol", "1e-7", "--max-iter", "300", *extra]
    softreg(*args, "--model", "single.model", "--quiet")
    proc = mpirun(softreg_bin, workdir, n_ranks, *args, "--model", "dist.model", "--distributed")
    assert proc.returncode == 0, proc.stderr.decode()
    return proc


@pytest.mark.parametrize("n_ranks", [2, 3])
@pytest.mark.parametrize("fmt", ["csv", "libsvm", "libsvm.gz", "idx", "npy"])
def test_distributed_equals_single_process(mpi_ready, softreg, softreg_bin, workdir, n_ranks,
                                           fmt):
    x, y = problem()
    if fmt == "csv":
        data, extra = "train.csv", []
        write_csv(workdir / data, x, y)
    elif fmt.startswith("libsvm"):
        data, extra = "train.svm" + (".gz" if fmt.endswith("gz") else ""), []
        write_libsvm(workdir / data, x, y, gzip.open if fmt.endswith("gz") else open)
        x = np.where(np.abs(x) > 0.3, x, 0.0)
    elif fmt == "idx":
        data, extra = "train-images-idx3-ubyte.gz", []
        x = write_idx(workdir / data, workdir / "train-labels-idx1-ubyte.gz", x, y)
    else:
        data, extra = "x.npy", ["--labels", "y.npy"]
        np.save(workdir / "x.npy", x)
        np.save(workdir / "y.npy", y.astype(np.int64))
    proc = train_both(softreg, softreg_bin, workdir, n_ranks, data, *extra)
    assert f"over {n_ranks} ranks".encode() in proc.stderr
    assert b"converged" in proc.stderr
    f_single = objective(*exported(softreg, workdir, "single.model"), x, y)
    f_dist = objective(*exported(softreg, workdir, "dist.model"), x, y)
    assert abs(f_dist - f_single) <= 1e-6 * f_single, (f_single, f_dist)


def test_fixed_ranks_are_bitwise_reproducible(mpi_ready, softreg, softreg_bin, workdir):
    x, y = problem(n=900, seed=3)
    write_csv(workdir / "t.csv", x, y)
    runs = []
    for name in ("a.model", "b.model"):
        proc = mpirun(softreg_bin, workdir, 3, "train", "--data", "t.csv", "--model", name,
                      "--distributed", "--quiet", "--threads", "2")
        assert proc.returncode == 0, proc.stderr.decode()
        runs.append(exported(softreg, workdir, name))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])


@pytest.mark.parametrize("solver", ["newton-cg", "sgd", "adam"])
def test_other_solvers_match(mpi_ready, softreg, softreg_bin, workdir, solver):
    x, y = problem(n=800, seed=5)
    write_csv(workdir / "t.csv", x, y)
    extra = ["--solver", solver] + (["--epochs", "4", "--batch-size", "64"]
                                    if solver != "newton-cg" else [])
    train_both(softreg, softreg_bin, workdir, 2, "t.csv", *extra)
    single = exported(softreg, workdir, "single.model")
    dist = exported(softreg, workdir, "dist.model")
    if solver == "newton-cg":
        f1, f2 = objective(*single, x, y), objective(*dist, x, y)
        assert abs(f1 - f2) <= 1e-6 * f1
    else:
        # The same global mini-batches, each split across the ranks: the same steps up to
        # the order of the sums.
        np.testing.assert_allclose(dist[0], single[0], rtol=0, atol=1e-6)


def test_ranks_without_rows(mpi_ready, softreg, softreg_bin, workdir):
    """Two long rows and three ranks: the byte ranges of some ranks hold no line start."""
    x, _ = problem(n=4, d=300, k=2, seed=7)
    y = np.array([0, 1, 0, 1])
    write_csv(workdir / "t.csv", x[:3], y[:3])
    proc = mpirun(softreg_bin, workdir, 3, "train", "--data", "t.csv", "--model", "m",
                  "--distributed", "--l2", 0.1)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"3 rows over 3 ranks" in proc.stderr
    softreg("train", "--data", "t.csv", "--model", "s", "--l2", 0.1, "--quiet")
    f1 = objective(*exported(softreg, workdir, "s"), x[:3], y[:3], l2=0.1)
    f2 = objective(*exported(softreg, workdir, "m"), x[:3], y[:3], l2=0.1)
    assert abs(f1 - f2) <= 1e-6 * max(f1, 1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "sgd", "adam"])
def test_ranks_with_only_the_header_or_nothing(mpi_ready, softreg, softreg_bin, workdir, solver):
    """39 bytes over 4 ranks: rank 0 holds the header alone, rank 3 nothing."""
    (workdir / "t.csv").write_text("a,b,label\n1,2,0\n3,1,1\n0.5,0.2,0\n")
    args = ["train", "--data", "t.csv", "--solver", solver, "--epochs", "3", "--scale",
            "standard", "--quiet"]
    proc = mpirun(softreg_bin, workdir, 4, *args, "--model", "d", "--distributed")
    assert proc.returncode == 0, proc.stderr.decode()
    softreg(*args, "--model", "s")
    d, s = exported(softreg, workdir, "d"), exported(softreg, workdir, "s")
    np.testing.assert_allclose(d[0], s[0], rtol=1e-5, atol=1e-6)


def test_bad_line_in_one_shard_stops_every_rank(mpi_ready, softreg_bin, workdir):
    x, y = problem(n=600, seed=9)
    write_csv(workdir / "t.csv", x, y)
    lines = (workdir / "t.csv").read_text().splitlines()
    lines[590] = lines[590].replace(",", ",oops", 1)  # line 591: the last rank's shard
    (workdir / "t.csv").write_text("\n".join(lines) + "\n")
    proc = mpirun(softreg_bin, workdir, 3, "train", "--data", "t.csv", "--model", "m",
                  "--distributed", timeout=60)
    err = proc.stderr.decode()
    assert proc.returncode != 0
    assert "rank 2 of 3: t.csv:591:" in err, err
    assert err.count("softreg: error:") == 1, err  # said once, by rank 0
    assert not (workdir / "m").exists()


def test_missing_file_names_every_rank(mpi_ready, softreg_bin, workdir):
    proc = mpirun(softreg_bin, workdir, 2, "train", "--data", "nope.csv", "--model", "m",
                  "--distributed", timeout=60)
    err = proc.stderr.decode()
    assert proc.returncode != 0
    assert "rank 0 to 1 of 2: nope.csv: cannot open" in err, err
    assert err.count("softreg: error:") == 1, err


def test_refused_options(mpi_ready, softreg_bin, workdir):
    x, y = problem(n=100, seed=1)
    write_csv(workdir / "t.csv", x, y)
    for extra, words in ((["--solver", "saga"], "solver saga cannot run distributed"),
                         (["--valid-fraction", "0.2"], "validation split")):
        proc = mpirun(softreg_bin, workdir, 2, "train", "--data", "t.csv", "--model", "m",
                      "--distributed", *extra, timeout=60)
        assert proc.returncode != 0 and words in proc.stderr.decode(), proc.stderr.decode()
        assert not (workdir / "m").exists()


# --stream: the file read in blocks, never whole.

def write_idx_plain(images, labels, x, y):
    pixels = np.clip(np.round((x - x.min()) / (x.max() - x.min()) * 255), 0, 255).astype(np.uint8)
    images.write_bytes(struct.pack(">HBBII", 0, 8, 2, *pixels.shape) + pixels.tobytes())
    labels.write_bytes(struct.pack(">HBBI", 0, 8, 1, len(y)) + y.astype(np.uint8).tobytes())
    return pixels / 255.0


@pytest.mark.parametrize("fmt", ["csv", "libsvm", "idx", "npy"])
def test_stream_equals_in_memory(softreg, workdir, fmt):
    x, y = problem(n=1500, seed=11)
    extra = []
    if fmt == "csv":
        data = "t.csv"
        write_csv(workdir / data, x, y)
    elif fmt == "libsvm":
        data = "t.svm"
        write_libsvm(workdir / data, x, y)
        x = np.where(np.abs(x) > 0.3, x, 0.0)
    elif fmt == "idx":
        data = "train-images-idx3-ubyte"
        x = write_idx_plain(workdir / data, workdir / "train-labels-idx1-ubyte", x, y)
    else:
        data, extra = "x.npy", ["--labels", "y.npy"]
        np.save(workdir / "x.npy", x)
        np.save(workdir / "y.npy", y.astype(np.int64))
    args = ["train", "--data", data, "--l2", L2, "--tol", "1e-7", "--max-iter", "300", *extra]
    softreg(*args, "--model", "mem.model", "--quiet")
    size = (workdir / data).stat().st_size
    proc = softreg(*args, "--model", "stream.model", "--stream", "--block-mb",
                   size / 7 / 2**20)  # about 7 blocks, their edges mid-line
    assert b"streaming" in proc.stderr and b"converged" in proc.stderr
    f_mem = objective(*exported(softreg, workdir, "mem.model"), x, y)
    f_stream = objective(*exported(softreg, workdir, "stream.model"), x, y)
    assert abs(f_stream - f_mem) <= 1e-6 * f_mem, (f_mem, f_stream)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
def test_stream_in_one_block_is_the_in_memory_fit(softreg, workdir, solver):
    """One block holds every row: the same sums in the same order, so the same bits."""
    x, y = problem(n=700, seed=13)
    write_csv(workdir / "t.csv", x, y)
    args = ["train", "--data", "t.csv", "--solver", solver, "--epochs", "3", "--quiet"]
    softreg(*args, "--model", "mem.model")
    softreg(*args, "--model", "stream.model", "--stream", "--block-mb", 64)
    mem, stream = exported(softreg, workdir, "mem.model"), exported(softreg, workdir,
                                                                   "stream.model")
    assert np.array_equal(mem[0], stream[0]) and np.array_equal(mem[1], stream[1])


def test_stream_sgd_in_blocks_learns(softreg, workdir):
    """Shuffled within blocks, Adam still reaches what the fully shuffled run reaches."""
    x, y = problem(n=2000, seed=17)
    write_csv(workdir / "t.csv", x, y)
    args = ["train", "--data", "t.csv", "--solver", "adam", "--lr", 0.05, "--epochs", 10,
            "--quiet"]
    softreg(*args, "--model", "mem")
    softreg(*args, "--model", "m", "--stream", "--block-mb", 0.05)
    f_mem = objective(*exported(softreg, workdir, "mem"), x, y)
    f_stream = objective(*exported(softreg, workdir, "m"), x, y)
    # log K = 1.386 at zero weights: both far below it, within 0.02 of each other.
    assert f_stream < 0.7 and abs(f_stream - f_mem) < 0.02, (f_mem, f_stream)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_stream_stops_at_the_target_loss_as_the_in_memory_fit_does(softreg, workdir, solver):
    """--target-loss ends a streamed fit like an in-memory one: exit 0, the model written, the
    record saying why (it once read the stop as an interruption: exit 143, no model)."""
    x, y = problem(n=1500, seed=23)
    write_csv(workdir / "t.csv", x, y)
    args = ["train", "--data", "t.csv", "--solver", solver, "--l2", L2, "--target-loss", 0.9,
            "--max-iter", 300, "--epochs", 300, "--quiet"]
    softreg(*args, "--model", "mem.model")
    proc = softreg(*args, "--model", "stream.model", "--stream", "--block-mb", 0.05)
    assert proc.returncode == 0 and (workdir / "stream.model").exists()
    for name in ("mem.model", "stream.model"):
        info = softreg("info", "--model", name).stdout.decode()
        assert "reached the target loss" in info, (name, info)
    f_stream = objective(*exported(softreg, workdir, "stream.model"), x, y)
    f_start = objective(np.zeros((4, x.shape[1])), np.zeros(4), np.arange(4), x, y)
    assert f_stream <= 0.9 + 1e-6 < f_start, (f_stream, f_start)


def test_stream_distributed_equals_in_memory(mpi_ready, softreg, softreg_bin, workdir):
    x, y = problem(n=1500, seed=19)
    write_csv(workdir / "t.csv", x, y)
    args = ["train", "--data", "t.csv", "--l2", L2, "--tol", "1e-7", "--max-iter", "300"]
    softreg(*args, "--model", "mem.model", "--quiet")
    proc = mpirun(softreg_bin, workdir, 3, *args, "--model", "sd.model", "--stream",
                  "--block-mb", 0.03, "--distributed")
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"over 3 ranks" in proc.stderr
    f_mem = objective(*exported(softreg, workdir, "mem.model"), x, y)
    f_sd = objective(*exported(softreg, workdir, "sd.model"), x, y)
    assert abs(f_sd - f_mem) <= 1e-6 * f_mem


def test_stream_refuses_what_it_cannot_read(softreg, workdir):
    x, y = problem(n=50, seed=1)
    write_libsvm(workdir / "t.svm.gz", x, y, gzip.open)
    proc = softreg("train", "--data", "t.svm.gz", "--model", "m", "--stream", ok=False)
    assert proc.returncode == 1
    assert b"t.svm.gz: is gzip-compressed" in proc.stderr and b"decompress it first" in proc.stderr
    write_csv(workdir / "t.csv", x, y)
    for extra, words in ((["--solver", "newton-cg"], b"cannot stream"),
                         (["--valid-fraction", "0.1"], b"validation split")):
        proc = softreg("train", "--data", "t.csv", "--model", "m", "--stream", *extra, ok=False)
        assert proc.returncode == 1 and words in proc.stderr, proc.stderr
    assert not (workdir / "m").exists()


def test_a_signal_to_mpirun_checkpoints_and_resumes_bitwise(mpi_ready, softreg, softreg_bin,
                                                            workdir):
    """mpirun passes the signal on as SIGTERM: every rank stops at the same iteration, rank 0
    writes the checkpoint, and --resume under the same ranks ends on the uninterrupted model."""
    images = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    if not images.exists():
        pytest.skip("Debian's dataset-fashion-mnist is not installed (make test installs it)")
    # float64 passes and 150 iterations: seconds of training, far longer than the signal
    # takes to arrive after the first progress line (mpirun forwards output with a delay).
    args = ["train", "--data", images, "--distributed", "--tol", "0", "--max-iter", "150",
            "--lbfgs-warmup", "0", "--threads", "1", "--dtype", "float64"]
    flags = ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    proc = subprocess.Popen([MPIRUN, *flags, "-np", "2", softreg_bin, *map(str, args), "--model", "m"],
                            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while True:
        line = proc.stderr.readline()
        assert line, "training ended before printing progress"
        if line.startswith(b"iter "):
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode != 0
    assert "interrupted by SIGTERM after iteration" in err, err
    assert not (workdir / "m").exists() and (workdir / "m.checkpoint").exists()
    resumed = mpirun(softreg_bin, workdir, 2, *args, "--model", "m", "--resume", "m.checkpoint",
                     "--quiet")
    assert resumed.returncode == 0, resumed.stderr.decode()
    whole = mpirun(softreg_bin, workdir, 2, *args, "--model", "whole", "--quiet")
    assert whole.returncode == 0, whole.stderr.decode()
    a, b = exported(softreg, workdir, "m"), exported(softreg, workdir, "whole")
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_stream_distributed_adam_learns(mpi_ready, softreg, softreg_bin, workdir):
    """Streamed Adam over 2 ranks: mini-batches spread over both ranks' blocks reach what the
    in-memory run reaches."""
    x, y = problem(n=2000, seed=29)
    write_csv(workdir / "t.csv", x, y)
    args = ["train", "--data", "t.csv", "--solver", "adam", "--lr", 0.05, "--epochs", 10,
            "--quiet"]
    softreg(*args, "--model", "mem")
    proc = mpirun(softreg_bin, workdir, 2, *args, "--model", "sd", "--stream", "--block-mb", 0.03,
                  "--distributed")
    assert proc.returncode == 0, proc.stderr.decode()
    f_mem = objective(*exported(softreg, workdir, "mem"), x, y)
    f_sd = objective(*exported(softreg, workdir, "sd"), x, y)
    assert f_sd < 0.7 and abs(f_sd - f_mem) < 0.02, (f_mem, f_sd)
