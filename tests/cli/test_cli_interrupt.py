"""Interrupting training: SIGINT / SIGTERM stop after the iteration in progress and leave the
model so far in <model>.checkpoint, never touching --model, and --resume continues it; SIGKILL
at any moment leaves the previous model intact; a fit that diverges leaves its last finite
state in the checkpoint."""
import signal
import subprocess
import time

import numpy as np
import pytest

from test_cli import blobs


@pytest.fixture
def big(workdir):
    """Enough data that 2000 L-BFGS iterations at tol 0 take far longer than the test waits."""
    x, y = blobs(4000, 60, 5, 3.0, 81)
    np.save(workdir / "x.npy", x.astype(np.float32))
    (workdir / "y.txt").write_text("".join(f"{v}\n" for v in y))
    return ["--data", "x.npy", "--labels", "y.txt"]


LONG = ["--solver", "lbfgs", "--tol", "0", "--max-iter", "2000", "--lbfgs-warmup", "0"]


def start(softreg_bin, workdir, args):
    return subprocess.Popen([softreg_bin, "train", *args], cwd=workdir, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def wait_for_iterations(proc, unit=b"iter "):
    """Reads stderr until the first progress line: training has started."""
    lines = []
    while True:
        line = proc.stderr.readline()
        assert line, "training ended before printing progress: " + b"".join(lines).decode()
        lines.append(line)
        if line.startswith(unit):
            return lines


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_training_into_a_checkpoint(softreg, softreg_bin, workdir, big, sig):
    (workdir / "m.srm").write_bytes(b"the previous model")
    proc = start(softreg_bin, workdir, big + LONG + ["--model", "m.srm"])
    wait_for_iterations(proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
    assert proc.returncode == 128 + sig, err
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith(f"softreg train: interrupted by {name} after iteration "), last
    assert "the model so far is in m.srm.checkpoint (m.srm left as it was)" in last
    assert (workdir / "m.srm").read_bytes() == b"the previous model"
    info = softreg("info", "--model", "m.srm.checkpoint").stdout.decode()
    assert f"interrupted by {name}" in info
    stopped = int(last.split("after iteration ")[1].split(";")[0])
    assert 0 < stopped < 2000 and f"iterations     {stopped} " in info
    # The checkpoint continues as a warm start.
    softreg("train", *big, "--max-iter", "5", "--warm-start", "m.srm.checkpoint",
            "--model", "m.srm", "--quiet")
    assert (workdir / "m.srm").read_bytes()[:8] == b"\x89SRMODEL"


def test_quiet_silences_the_notices_of_a_resumed_fit(softreg_bin, workdir):
    """--resume reads the data as the checkpoint's model wants it; its notices (here pandas'
    index column, skipped) obey --quiet as a new fit's do."""
    import pandas as pd

    x, y = blobs(4000, 60, 5, 3.0, 81)
    frame = pd.DataFrame(x.astype(np.float32), columns=[f"f{j}" for j in range(60)])
    frame["label"] = y
    frame.to_csv(workdir / "with.csv")  # a nameless first column 0..n-1: a notice
    args = ["--data", "with.csv", "--solver", "sgd", "--epochs", "1000000"]  # never ends
    proc = start(softreg_bin, workdir, args + ["--model", "m.srm"])
    wait_for_iterations(proc, b"epoch ")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    for quiet in ([], ["--quiet"]):
        # Interrupted again once it trains (exit 130, not killed: the data was read by then).
        proc = start(softreg_bin, workdir,
                     args + ["--model", "r.srm", "--resume", "m.srm.checkpoint", *quiet])
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        noticed = b"softreg train: notice: with.csv: the first column has no name" in err
        assert noticed != bool(quiet), err
        if quiet:
            assert err.decode().startswith("softreg train: interrupted by SIGINT"), err


def test_sigkill_at_any_moment_leaves_the_previous_model(softreg, softreg_bin, workdir, big):
    softreg("train", *big, "--max-iter", "3", "--model", "m.srm", "--quiet")
    before = (workdir / "m.srm").read_bytes()
    endless = big + ["--solver", "sgd", "--epochs", "1000000"]  # never ends by itself
    for delay in (0.0, 0.02, 0.1, 0.3, 1.0):
        proc = start(softreg_bin, workdir, endless + ["--model", "m.srm"])
        if delay > 0:
            time.sleep(delay)
        proc.kill()
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        assert (workdir / "m.srm").read_bytes() == before, f"changed by a kill after {delay} s"
    # Killed while writing: a run short enough to reach the save, killed around it.
    for delay in (0.05, 0.15, 0.4):
        proc = start(softreg_bin, workdir, big + ["--max-iter", "2", "--model", "m.srm"])
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=60)
        after = (workdir / "m.srm").read_bytes()
        # Either untouched or a whole new model, never a mixture.
        assert after == before or softreg("info", "--model", "m.srm").returncode == 0


def interrupt_and_resume(softreg, softreg_bin, workdir, args, unit=b"iter "):
    """Trains with args to full.srm; trains again, interrupted by SIGINT at the first
    progress line, and resumes from the checkpoint to m.srm. Returns the records (info, coef,
    intercept) of the uninterrupted model, the resumed one, and the checkpoint's info."""
    import json

    softreg("train", *args, "--model", "full.srm", "--quiet")
    proc = start(softreg_bin, workdir, args + ["--model", "m.srm"])
    wait_for_iterations(proc, unit)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"continue with the same command and --resume m.srm.checkpoint" in err
    softreg("train", *args, "--model", "m.srm", "--resume", "m.srm.checkpoint", "--quiet")

    def record(model):
        info = json.loads(softreg("info", "--model", model, "--json").stdout)
        softreg("export", "--model", model, "--npz", model + ".npz")
        arrays = np.load(workdir / (model + ".npz"))
        return info, arrays["coef"], arrays["intercept"]

    full, resumed = record("full.srm"), record("m.srm")
    stopped = json.loads(softreg("info", "--model", "m.srm.checkpoint", "--json").stdout)
    count = "epochs" if "epochs" in full[0] else "iterations"  # SAGA's and SGD's unit
    assert 0 < stopped[count] < full[0][count]
    np.testing.assert_array_equal(resumed[1], full[1])
    np.testing.assert_array_equal(resumed[2], full[2])
    keys = (count, "evaluations", "loss_history", "message", "converged", "final_loss",
            "valid_loss_history")
    for key in keys:
        assert resumed[0][key] == full[0][key], key
    return full, resumed, stopped


def test_resume_gives_the_uninterrupted_model_bit_for_bit(softreg, softreg_bin, workdir, big):
    args = big + LONG + ["--threads", "2", "--scale", "standard"]
    interrupt_and_resume(softreg, softreg_bin, workdir, args)
    # Other options than the stopped fit's, or no checkpoint state, are refused.
    proc = softreg("train", *big, *LONG, "--threads", "2", "--scale", "minmax", "--model",
                   "x.srm", "--resume", "m.srm.checkpoint", ok=False)
    assert b"resume needs the options of the stopped fit: scale was standard, now minmax" \
        in proc.stderr
    proc = softreg("train", *args, "--model", "x.srm", "--resume", "full.srm", ok=False)
    assert b"this one holds no resume state" in proc.stderr
    proc = softreg("train", *args, "--model", "x.srm", "--resume", "m.srm.checkpoint",
                   "--warm-start", "full.srm", ok=False)
    assert proc.returncode == 2 and b"give one of them" in proc.stderr


@pytest.mark.parametrize("split", [[], ["--valid-fraction", "0.2", "--patience", "1000"]])
def test_saga_resumes_to_the_uninterrupted_model(softreg, softreg_bin, workdir, big, split):
    # Two threads: each epoch's evaluation overlaps the next epoch, so the interrupt is seen
    # one epoch ahead of the iterate it reports, and the checkpoint carries both.
    args = big + ["--solver", "saga", "--tol", "0", "--max-iter", "120", "--threads", "2"]
    full, _, stopped = interrupt_and_resume(softreg, softreg_bin, workdir, args + split,
                                            unit=b"epoch ")
    assert full[0]["message"] == "reached the iteration limit"
    assert len(full[0]["valid_loss_history"]) == (full[0]["epochs"] if split else 0)
    assert stopped["message"] == "interrupted by SIGINT"


def test_divergence_keeps_the_last_good_state(softreg, workdir):
    """SGD with a huge learning rate overflows after some epochs: the error names the epoch
    and the checkpoint, which holds the model of the epoch before (the same run given only
    those epochs)."""
    import re

    x, y = blobs(100, 4, 3, 2.0, 82)
    np.save(workdir / "x.npy", x.astype(np.float32))
    (workdir / "y.txt").write_text("".join(f"{v}\n" for v in y))
    args = ["--data", "x.npy", "--labels", "y.txt", "--solver", "sgd", "--lr", "1e6",
            "--momentum", "0", "--batch-size", "20", "--threads", "1"]
    proc = softreg("train", *args, "--epochs", "200", "--model", "m.srm", ok=False)
    assert proc.returncode == 1
    last = proc.stderr.decode().strip().splitlines()[-1]
    match = re.fullmatch(r"softreg: error: x\.npy: training diverged at epoch (\d+) \(loss "
                         r"(nan|inf|-inf)\); the last good state is in m\.srm\.checkpoint "
                         r"\(epoch (\d+)\); lower --lr \(it was 1e\+06\)", last)
    assert match, last
    epoch = int(match.group(1))
    assert epoch >= 2 and int(match.group(3)) == epoch - 1, last
    assert not (workdir / "m.srm").exists()
    softreg("train", *args, "--epochs", str(epoch - 1), "--model", "ref.srm", "--quiet")
    for name in ("m.srm.checkpoint", "ref.srm"):
        softreg("export", "--model", name, "--npz", name + ".npz")
    got, ref = np.load(workdir / "m.srm.checkpoint.npz"), np.load(workdir / "ref.srm.npz")
    assert np.all(np.isfinite(got["coef"]))
    np.testing.assert_array_equal(got["coef"], ref["coef"])
    np.testing.assert_array_equal(got["intercept"], ref["intercept"])
    # It continues as a warm start with a smaller step.
    softreg("train", "--data", "x.npy", "--labels", "y.txt", "--solver", "sgd", "--lr", "0.01",
            "--epochs", "2", "--warm-start", "m.srm.checkpoint", "--model", "m.srm", "--quiet")
    assert (workdir / "m.srm").exists()
