"""Models written by the command line, read by the module: labels, feature names and the
training parameters as get_params gives them. Needs the CLI binary (SOFTREG_BIN, which ctest
sets; by hand: SOFTREG_BIN=build/softreg)."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris

import softreg

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cli():
    given = Path(os.environ.get("SOFTREG_BIN", "build/softreg"))
    path = given if given.is_absolute() else REPO_ROOT / given
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.skip(f"the softreg command line is not built at {path} (set SOFTREG_BIN)")

    def run(*args):
        proc = subprocess.run([str(path), *map(str, args)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc

    return run


def test_cli_options_come_back_as_estimator_parameters(cli, tmp_path):
    X, y = load_iris(return_X_y=True)
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "y.txt").write_text("".join(f"{v}\n" for v in y))
    cli("train", "--data", tmp_path / "x.npy", "--labels", tmp_path / "y.txt", "--model",
        tmp_path / "m.srm", "--scale", "standard", "--l2", "0.01", "--seed", "5", "--tol",
        "1e-7", "--max-iter", "300", "--class-weight", "0:2,2:0.5", "--dtype", "float64",
        "--quiet")
    est = softreg.load_model(tmp_path / "m.srm")
    params = est.get_params()
    assert (params["scale"], params["alpha"], params["random_state"], params["tol"],
            params["max_iter"], params["dtype"]) == ("standard", 0.01, 5, 1e-7, 300, "float64")
    assert params["class_weight"] == {0: 2.0, 2: 0.5}
    assert params["solver"] == "auto"
    assert est.classes_.dtype == np.int64
    assert not hasattr(est, "feature_names_in_")
    # Refitting the clone in Python reaches the command line's model (deterministic L-BFGS).
    again = clone(est).fit(X, y)
    np.testing.assert_allclose(again.predict_proba(X), est.predict_proba(X), atol=1e-6)


def test_cli_elastic_net_comes_back_as_alpha_and_l1_ratio(cli, tmp_path):
    X, y = load_iris(return_X_y=True)
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "y.txt").write_text("".join(f"{v}\n" for v in y))
    cli("train", "--data", tmp_path / "x.npy", "--labels", tmp_path / "y.txt", "--model",
        tmp_path / "m.srm", "--l1", "0.003", "--l2", "0.001", "--no-intercept", "--quiet")
    est = softreg.load_model(tmp_path / "m.srm")
    params = est.get_params()
    assert params["alpha"] == pytest.approx(0.004, rel=1e-15)
    assert params["l1_ratio"] == pytest.approx(0.75, rel=1e-15)
    assert params["fit_intercept"] is False
    np.testing.assert_array_equal(est.intercept_, np.zeros(3))
    assert (est.coef_ == 0).any()
    again = clone(est).fit(X, y)
    np.testing.assert_allclose(again.predict_proba(X), est.predict_proba(X), atol=1e-5)
