"""Memory bounds of the readers: a header's size is believed only as far as the file can hold
it, and a line is at most 64 MiB, so small hostile files fail with their real error inside a
small address space (1 GiB here) instead of allocating what they claim."""
import gzip
import os
import resource
import struct
import subprocess

import pytest

LIMIT = 1 << 30


def cap():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


@pytest.fixture(scope="module")
def address_limit(softreg_bin):
    """cap, or None for a build that cannot start in 1 GiB of address space (AddressSanitizer
    reserves terabytes of shadow memory): the messages are checked there without the cap."""
    probe = subprocess.run([softreg_bin, "--help"], capture_output=True, preexec_fn=cap)
    return cap if probe.returncode == 0 else None


def limited(softreg_bin, workdir, limit, *args, **kwargs):
    return subprocess.run([softreg_bin, *map(str, args)], cwd=workdir, capture_output=True,
                          preexec_fn=limit, timeout=120, **kwargs)


def one_error(proc, text):
    err = proc.stderr.decode(errors="replace").strip()
    assert proc.returncode == 1, err
    assert len(err.splitlines()) == 1 and text in err, err


def random_bytes(n, seed):
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def test_idx_header_claiming_a_billion_pixels(softreg_bin, workdir, address_limit):
    header = struct.pack(">IIII", 0x00000803, 1_000_000, 1000, 1)
    with gzip.open(workdir / "claim-images-idx3-ubyte.gz", "wb") as f:
        f.write(header + random_bytes(1 << 20, 1))
    (workdir / "labels.txt").write_text("0\n")
    proc = limited(softreg_bin, workdir, address_limit, "train", "--data",
                   "claim-images-idx3-ubyte.gz", "--labels", "labels.txt", "--model", "m.srm")
    one_error(proc, "claim-images-idx3-ubyte.gz: byte 16: file ends after 1048576 of "
                    "1000000000 pixel bytes")
    assert not (workdir / "m.srm").exists()
    # From a pipe, where no file size bounds the header, the same.
    with open(workdir / "claim-images-idx3-ubyte.gz", "rb") as f:
        proc = limited(softreg_bin, workdir, address_limit, "train", "--data", "-", "--format",
                       "idx", "--labels", "labels.txt", "--model", "m.srm", stdin=f)
    one_error(proc, "standard input: byte 16: file ends after 1048576 of 1000000000 pixel bytes")


def test_npy_from_a_pipe_claiming_four_gigabytes(softreg_bin, workdir, address_limit):
    head = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000), }"
    head += " " * (64 - (10 + len(head) + 1) % 64) + "\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode()
    (workdir / "y.txt").write_text("0\n")
    src = workdir / "claim.npy"
    src.write_bytes(data + random_bytes(1 << 20, 2))
    with open(src, "rb") as f:
        proc = limited(softreg_bin, workdir, address_limit, "train", "--data", "-", "--format",
                       "npy", "--labels", "y.txt", "--model", "m.srm", stdin=f)
    one_error(proc, "standard input: byte 128: file ends after 1048576 of 4000000000 data bytes")


def test_a_gzip_of_zeros_read_as_csv(softreg_bin, workdir, address_limit):
    with gzip.open(workdir / "zeros.csv.gz", "wb", compresslevel=9) as f:
        chunk = b"\0" * (1 << 20)
        for _ in range(512):
            f.write(chunk)
    proc = limited(softreg_bin, workdir, address_limit, "train", "--data", "zeros.csv.gz",
                   "--model", "m.srm")
    one_error(proc, "zeros.csv.gz:1:1: line is longer than 64 MiB without a line break")


def model_bytes(weights, bias, labels=("a", "b")):
    """A version 2 model file written by hand (docs/FORMATS.md): float64 lbfgs, no scaling."""
    import zlib

    d = len(weights) // len(labels)
    out = b"\x89SRMODEL" + struct.pack("<IIII", 2, 1, 0, 0) + struct.pack("<QQ", d, len(labels))
    for label in labels:
        out += struct.pack("<I", len(label)) + label.encode()
    out += struct.pack(f"<{len(weights)}d", *weights) + struct.pack(f"<{len(bias)}d", *bias)
    out += struct.pack("<dii I", 0.0, 0, 0, 0)[:20]  # l2, iterations, evaluations, converged
    out += struct.pack("<dddQQd", 0.0, 0.0, -1.0, 0, 0, 0.0) + struct.pack("<I", 0)  # message ""
    out += struct.pack("<Q", 0) + struct.pack("<QQ", 0, 0)  # history, names, parameters
    return out + struct.pack("<I", zlib.crc32(out))


def test_weights_that_overflow_into_nan_name_the_model(softreg, workdir):
    import numpy as np

    (workdir / "nan.srm").write_bytes(model_bytes([1e308, -1e308, -1e308, 1e308], [0.0, 0.0]))
    assert softreg("info", "--model", "nan.srm").returncode == 0
    np.save(workdir / "x.npy", np.array([[2.0, 2.0], [0.0, 0.0]], dtype=np.float32))
    (workdir / "y.txt").write_text("a\nb\n")
    for command in (["predict"], ["eval", "--labels", "y.txt"]):
        proc = softreg(*command, "--model", "nan.srm", "--data", "x.npy", ok=False)
        err = proc.stderr.decode().strip()
        assert proc.returncode == 1 and proc.stdout == b"", err
        assert err == ("softreg: error: nan.srm: the model's weights make the logits of row 1 "
                       "of x.npy NaN (they overflow on its features); no class can be predicted")
