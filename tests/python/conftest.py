"""Shared setup of the Python tests: the softreg package must be importable (ctest puts the
build tree's python/ directory on PYTHONPATH; by hand: PYTHONPATH=build/python)."""
import numpy as np
import pytest

try:
    import softreg  # noqa: F401
except ImportError as error:  # pragma: no cover - a setup problem, not a test failure
    raise pytest.UsageError(
        f"cannot import softreg ({error}); build it with `make python` and run with "
        "PYTHONPATH=build/python .venv/bin/python -m pytest tests/python"
    )


@pytest.fixture
def rng():
    """A fixed-seed generator, so every run sees the same data."""
    return np.random.default_rng(20240611)
