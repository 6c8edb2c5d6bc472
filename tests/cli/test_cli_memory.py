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


SMALL = 256 << 20


def small_cap():
    resource.setrlimit(resource.RLIMIT_AS, (SMALL, SMALL))


@pytest.fixture(scope="module")
def small_limit(softreg_bin):
    """small_cap where the binary starts under it; memory must really run out, so the tests
    that need it are skipped elsewhere (AddressSanitizer builds)."""
    probe = subprocess.run([softreg_bin, "--help"], capture_output=True, preexec_fn=small_cap)
    if probe.returncode != 0:
        pytest.skip("the binary does not start in 256 MiB of address space (AddressSanitizer?)")
    return small_cap


def test_out_of_memory_in_a_binary_file_names_it_and_the_byte(softreg_bin, workdir,
                                                              small_limit):
    # A .npy of 1.6 GB that is real to the reader (a sparse file: no disk is used) and that
    # the reader may therefore allocate at once: more than the address space allows.
    head = "{'descr': '<f4', 'fortran_order': False, 'shape': (400000, 1000), }"
    head += " " * (64 - (10 + len(head) + 1) % 64) + "\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode()
    with open(workdir / "big.npy", "wb") as f:
        f.write(data)
        f.truncate(len(data) + 400000 * 1000 * 4)
    (workdir / "y.txt").write_text("0\n")
    proc = limited(softreg_bin, workdir, small_limit, "train", "--data", "big.npy", "--labels",
                   "y.txt", "--model", "m.srm")
    err = proc.stderr.decode().strip()
    assert err == "softreg: error: big.npy: out of memory at byte 128 while reading it", err
    assert proc.returncode == 1 and not (workdir / "m.srm").exists()


def test_out_of_memory_in_text_from_a_pipe_names_the_line(softreg_bin, workdir, small_limit):
    # From a pipe the rows grow as they come: memory runs out at some line, which the error
    # names with its byte offset, and that byte is where the line starts in the data.
    row = b"0.5,0.25,0.125,1\n"
    n = 8_000_000
    with open(workdir / "rows.csv", "wb") as f:
        f.write(b"a,b,c,label\n")
        for _ in range(n // 100_000):
            f.write(row * 100_000)
    with open(workdir / "rows.csv", "rb") as f:
        proc = limited(softreg_bin, workdir, small_limit, "train", "--data", "-", "--format",
                       "csv", "--model", "m.srm", stdin=f)
    err = proc.stderr.decode().strip()
    import re

    match = re.fullmatch(r"softreg: error: standard input: out of memory at line (\d+) \(byte "
                         r"(\d+)\) while reading it", err)
    assert match and proc.returncode == 1, err
    line, byte = int(match.group(1)), int(match.group(2))
    assert 1 < line <= n + 1 and byte == len(b"a,b,c,label\n") + (line - 2) * len(row), err


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
