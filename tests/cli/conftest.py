"""Fixtures for the softreg CLI tests: the binary (SOFTREG_BIN), a runner and a scratch directory."""
import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def softreg_bin():
    """Absolute path of the softreg binary: $SOFTREG_BIN (default build/softreg), relative
    paths taken from the current directory, else from the repository root."""
    given = Path(os.environ.get("SOFTREG_BIN", "build/softreg"))
    candidates = [given] if given.is_absolute() else [Path.cwd() / given, REPO_ROOT / given]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path.resolve())
    pytest.fail(f"softreg binary not found at {given} (set SOFTREG_BIN); build it first")


@pytest.fixture
def workdir(tmp_path):
    """A fresh directory for one test's data, model and output files."""
    return tmp_path


@pytest.fixture
def softreg(softreg_bin, workdir):
    """Runs `softreg ARGS...` in the test's directory; returns the CompletedProcess (bytes).
    With ok=True (the default) a non-zero exit fails the test and shows stderr."""

    def run(*args, ok=True, timeout=120):
        proc = subprocess.run(
            [softreg_bin, *map(str, args)],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
        if ok and proc.returncode != 0:
            pytest.fail(
                f"softreg {' '.join(map(str, args))} exited {proc.returncode}:\n"
                + proc.stderr.decode(errors="replace")
            )
        return proc

    return run
