"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ (checked in; rerun
only to change them). Tiny valid files of every format, written by NumPy and gzip, and model
files written by `softreg train` on tiny data.

Usage: python fuzz/make_seeds.py BUILD_DIR   (BUILD_DIR holds the softreg command line)
"""

import gzip
import io
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

# fuzz_common.hpp: a data file, then this mark, then a separate labels file.
MARK = b"\n==labels==\n"
HERE = pathlib.Path(__file__).resolve().parent


def gz(data: bytes) -> bytes:
    # mtime=0: the same bytes on every run.
    return gzip.compress(data, mtime=0)


def npy(array, version=None) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, array, version=version, allow_pickle=False)
    return out.getvalue()


def idx(array, type_code: int, fmt: str) -> bytes:
    head = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return head + array.astype(fmt).tobytes()


CSV = {
    "header_label.csv": b"x,y,label\n1.5,2,cat\n-3,4e-2,dog\n.5,+7,cat\n",
    "pandas_index.csv": b",a,b,label\n0,1,2,x\n1,3,4,y\n",
    "columns.csv": b'id,w,a,b,label\nr1,1.0,"1.5",2,a\n" r,2 ",0.5,3,4,b\n',
    "quoted_bom_crlf.csv": b'\xef\xbb\xbf"a","b ""q""",label\r\n1,2,x\r\n3, 4 ,y\r\n\r\n',
    "no_header_semicolon.csv": b"1;2;3\n4;5;6\n",
    "labels_file.csv": b"1,2\n3,4" + MARK + b"cat\n\"dog\"\n\n",
}

SVM = {
    "one_based.svm": b"1 1:0.5 3:2\n-1 2:1.5 # a comment\n+1 qid:3 1:1 4:-2e-3\n",
    "zero_based.svm": b"0 0:1 2:3\n1 1:2\n\n# only a comment\n2 3:.5\n",
    "names_crlf.svm": b"cat 1:1e-3\t2:4\r\ndog 2:4 10:1\r\n",
}


WEIGHTS = {
    "weights.txt": b"1\n0.5\n2e-3\n0\n",
    "spaces_crlf_blank.txt": b" 1.5\t\r\n2 \r\n\r\n\n",
    "bom_one.txt": b"\xef\xbb\xbf3\n",
}

# fuzz_stdin.cpp: the first byte picks the format, in this order.
STDIN_FORMATS = {"csv": 0, "libsvm": 1, "npy": 2, "idx": 3}


def stdin_seeds(npys, idxs):
    """A few files of each format as standard input, one of them gzip."""
    files = {
        "header_label.csv": ("csv", CSV["header_label.csv"]),
        "header_label.csv.gz": ("csv", gz(CSV["header_label.csv"])),
        "one_based.svm": ("libsvm", SVM["one_based.svm"]),
        "f4.npy": ("npy", npys["f4.npy"]),
        "ubyte-images-idx3-ubyte": ("idx", idxs["ubyte-images-idx3-ubyte"]),
    }
    return {name: bytes([STDIN_FORMATS[fmt]]) + data for name, (fmt, data) in files.items()}


def npy_seeds():
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    y = np.array([1, 0], dtype=np.int64)
    return {
        "f4.npy": npy(x),
        "f8_fortran.npy": npy(np.asfortranarray(x.astype(np.float64))),
        "i2_big_endian_v2.npy": npy(np.array([[1, -2, 3]], dtype=">i2"), version=(2, 0)),
        "u1_labels.npy": npy(np.array([[0, 255, 7], [1, 2, 3]], dtype=np.uint8)) + MARK + npy(y),
        "f4_labels_u8.npy": npy(x) + MARK + npy(y.astype(np.uint8)),
    }


def idx_seeds():
    images = np.array([[[0, 255], [7, 128]], [[1, 2], [3, 4]], [[9, 9], [9, 9]]], dtype=np.uint8)
    labels = np.array([3, 0, 9], dtype=np.uint8)
    values = np.array([[0.5, -1.0, 2.0], [1e-3, 0.0, 3.0]])
    return {
        "ubyte-images-idx3-ubyte": idx(images, 0x08, "u1"),
        "ubyte_labels": idx(images, 0x08, "u1") + MARK + idx(labels, 0x08, "u1"),
        "float-idx2-ubyte": idx(values, 0x0D, ">f4"),
        "double_int_labels": idx(values, 0x0E, ">f8") + MARK + idx(np.array([1, -2]), 0x0C, ">i4"),
        "short-idx2-ubyte": idx(np.array([[1, -300], [2, 4]]), 0x0B, ">i2"),
        "sbyte-idx2-ubyte": idx(np.array([[-1, 2, 3]]), 0x09, "i1"),
    }


def gz_variants(seeds):
    """Gzip targets: each seed compressed (both parts of a seed with labels), plus the plain
    ones, which the target compresses itself."""
    out = {}
    for name, data in seeds.items():
        if MARK in data:
            a, b = data.split(MARK, 1)
            out[name + ".gz"] = gz(a) + MARK + gz(b)
        else:
            out[name + ".gz"] = gz(data)
    return out


def model_seeds(build: pathlib.Path):
    cli = build / "softreg"
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "d.csv").write_bytes(b"a,b,label\n0,1,x\n1,0,y\n1,1,x\n0,0,z\n")
        (tmp / "d.svm").write_bytes(b"1 1:1\n2 2:1 3:0.5\n1 1:0.5\n")
        runs = {
            "csv_names.srm": ["--data", str(tmp / "d.csv")],
            "standard.srm": ["--data", str(tmp / "d.csv"), "--scale", "standard",
                             "--max-iter", "3"],
            "libsvm_minmax.srm": ["--data", str(tmp / "d.svm"), "--scale", "minmax",
                                  "--solver", "sgd", "--epochs", "2"],
        }
        for name, args in runs.items():
            subprocess.run([str(cli), "train", "--quiet", "--model", str(tmp / name), *args],
                           check=True)
            out[name] = (tmp / name).read_bytes()
    return out


def write(target, seeds):
    d = HERE / "corpus" / target
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for name, data in seeds.items():
        (d / name).write_bytes(data)


def main():
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build")
    npys, idxs = npy_seeds(), idx_seeds()
    write("fuzz_csv", CSV)
    write("fuzz_csv_gz", {**gz_variants(CSV), "header_label.csv": CSV["header_label.csv"]})
    write("fuzz_libsvm", SVM)
    write("fuzz_libsvm_gz", {**gz_variants(SVM), "one_based.svm": SVM["one_based.svm"]})
    write("fuzz_npy", npys)
    write("fuzz_npy_gz", {**gz_variants(npys), "f4.npy": npys["f4.npy"]})
    write("fuzz_idx", idxs)
    write("fuzz_idx_gz", {**gz_variants(idxs), "ubyte_labels": idxs["ubyte_labels"]})
    write("fuzz_model", model_seeds(build))
    write("fuzz_weights", WEIGHTS)
    write("fuzz_stdin", stdin_seeds(npys, idxs))


if __name__ == "__main__":
    main()
