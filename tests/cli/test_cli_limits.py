"""Size and seed options out of range are errors, never saturated or wrapped; a batch larger
than the data is a notice."""
import numpy as np
import pytest

from test_cli import blobs


@pytest.fixture
def data(workdir):
    x, y = blobs(20, 3, 3, 1.0, 91)
    np.save(workdir / "x.npy", x)
    (workdir / "y.txt").write_text("".join(f"{v}\n" for v in y))
    return ["--data", "x.npy", "--labels", "y.txt", "--model", "m.srm"]


@pytest.mark.parametrize("flag,value,bounds", [
    ("--batch-size", "18446744073709551615", "[1, 9223372036854775807]"),
    ("--batch-size", "0", "[1, 9223372036854775807]"),
    ("--batch-size", "-5", "[1, 9223372036854775807]"),
    ("--seed", "-1", "[0, 18446744073709551615]"),
    ("--seed", "18446744073709551616", "[0, 18446744073709551615]"),
    ("--seed", "1e3", "[0, 18446744073709551615]"),
])
def test_out_of_range_integers_are_refused(softreg, workdir, data, flag, value, bounds):
    proc = softreg("train", *data, "--solver", "sgd", flag, value, ok=False)
    assert proc.returncode == 2
    assert f"{flag}: expected a whole number in {bounds}, got \"{value}\"" in proc.stderr.decode()
    assert not (workdir / "m.srm").exists()


def test_the_largest_values_are_taken_as_given(softreg, workdir, data):
    proc = softreg("train", *data, "--solver", "sgd", "--epochs", "3", "--batch-size",
                   "9223372036854775807", "--seed", "18446744073709551615")
    assert ("notice: --batch-size 9223372036854775807 exceeds the 60 training rows; each epoch "
            "is one full batch") in proc.stderr.decode()
    info = softreg("info", "--model", "m.srm").stdout.decode()
    assert "3 epochs" in info or "epochs         3" in info, info
