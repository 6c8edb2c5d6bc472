"""Writes the hostile input files of tests/data/bad/ (run from anywhere: python make_bad_files.py).

The files are checked in as they are; this script only documents how each was made and
remakes them byte for byte (gzip members carry mtime 0, model files are assembled here rather
than trained). The expected message of each case lives in tests/data/bad/CATALOGUE.tsv, which is
edited by hand; tests/cli/test_bad_catalogue.py runs it.
"""
import gzip
import struct
import sys
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent / "bad"

# The good training file every predict / eval case's model is trained from (at test time): two
# features named a and b, three classes.
GOOD_CSV = (
    "a,b,label\n"
    "0.5,1.0,cat\n"
    "1.5,0.2,dog\n"
    "-0.3,2.1,bird\n"
    "0.7,1.2,cat\n"
    "1.9,0.1,dog\n"
    "-0.5,1.8,bird\n"
)
ROWS = "0.5,1.0,cat\n1.5,0.2,dog\n"


def gz(data):
    """A deterministic gzip member: mtime 0, level 9."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def npy(descr, shape, payload, fortran=False, header=None, version=(1, 0)):
    """A .npy file as numpy writes it, from its parts; `header` replaces the dict text."""
    if header is None:
        dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
        header = f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': ({dims}), }}"
    text = header.encode("latin-1")
    pre = 10 if version[0] == 1 else 12
    text += b" " * ((64 - (pre + len(text) + 1) % 64) % 64) + b"\n"
    size = struct.pack("<H", len(text)) if version[0] == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes(version) + size + text + payload


def f8(*values):
    return struct.pack(f"<{len(values)}d", *values)


def s(text):
    b = text.encode()
    return struct.pack("<I", len(b)) + b


def model(version=2, classes=("bird", "cat", "dog"), d=2, solver=0, w=None, crc=True, names=("a", "b"),
          params=(("l2", "0.0001"), ("solver", "auto"))):
    """A model file laid out as docs/FORMATS.md says (no scaling), checksum included."""
    k = len(classes)
    w = w if w is not None else [0.25 * (i + 1) for i in range(d * k)]
    body = b"\x89SRMODEL" + struct.pack("<IIII", version, 0, solver, 0) + struct.pack("<QQ", d, k)
    body += b"".join(s(c) for c in classes)
    body += f8(*w) + f8(*([0.0] * k))
    body += f8(1e-4) + struct.pack("<iiI", 10, 12, 1) + f8(0.5, 1e-5, -1.0)
    body += struct.pack("<QQ", 6, 0) + f8(0.01) + s("converged") + struct.pack("<Q", 0)
    if version >= 2:
        body += struct.pack("<Q", len(names)) + b"".join(s(n) for n in names)
        body += struct.pack("<Q", len(params)) + b"".join(s(a) + s(b) for a, b in params)
    return body + struct.pack("<I", zlib.crc32(body) if crc else zlib.crc32(body) ^ 1)


def files():
    good_model = model()
    csv_rows = GOOD_CSV.encode()
    ubyte4 = idx(0x08, [4, 1, 2], bytes([0, 255, 128, 7, 9, 200, 30, 60]))
    f = {
        # --- the good files the cases lean on ---
        "good.csv": GOOD_CSV,
        "good-labels-idx1-ubyte": idx(0x08, [4], bytes([0, 1, 2, 1])),
        "good4.npy": npy("'<f8'", (4, 2), f8(*range(8))),
        "labels4.txt": "cat\ndog\nbird\ncat\n",
        # --- CSV / TSV ---
        "ragged_short.csv": "a,b,label\n0.5,1.0,cat\n1.5,dog\n",
        "quote_open.csv": 'a,b,label\n0.5,1.0,cat\n1.5,"0.2,dog\n',
        "nan.csv": "a,b,label\n0.5,1.0,cat\n1.5,nan,dog\n",
        "empty_field.csv": "a,b,label\n0.5,,cat\n1.5,0.2,dog\n",
        "header_only.csv": "a,b,label\n",
        "empty.csv": "",
        "blank_line_inside.csv": "a,b,label\n0.5,1.0,cat\n\n1.5,0.2,dog\n",
        "text_in_number.csv": "a,b,label\n0.5,1.0,cat\n1.5,0x1F,dog\n",
        "not_a_record.csv": "a,b,label\n0.5,1.0,cat\n<!DOCTYPE html>\n1.5,0.2,dog\n",
        "duplicate_header.csv": "a,a,label\n0.5,1.0,cat\n1.5,0.2,dog\n",
        "no_label_column.csv": "a,b,c\n0.5,1.0,2\n1.5,0.2,3\n",
        "cr_line_ends.csv": "a,b,label\r0.5,1.0,cat\r1.5,0.2,dog\r",
        "utf16le_bom.csv": "\ufeff" + "a,b,label\n0.5,1.0,cat\n1.5,0.2,dog\n",
        "utf16le_no_bom.csv": "0.5,1.0,cat\n1.5,0.2,dog\n",
        "double_bom.csv": b"\xef\xbb\xbf\xef\xbb\xbfa,b,label\n0.5,1.0,cat\n1.5,0.2,dog\n",
        "bom_inside.csv": b"a,b,label\n0.5,1.0,cat\n\xef\xbb\xbf1.5,0.2,dog\n",
        "latin1_label.csv": b"a,b,label\n0.5,1.0,cat\n1.5,0.2,caf\xe9\n",
        "nul_in_label.csv": b"a,b,label\n0.5,1.0,cat\n1.5,0.2,d\x00g\n",
        "commas.tsv": "a\tb\tlabel\n0.5\t1.0\tcat\n1.5,0.2,dog\n",
        "gz_trailing_garbage.csv.gz": gz(csv_rows) + b"GARBAGE\n",
        "gz_truncated.csv.gz": gz(csv_rows)[:-12],
        "gz_of_garbage.csv.gz": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + bytes(range(7, 250, 3)),
        "gz_bad_crc.csv.gz": (lambda g: g[:-8] + bytes([g[-8] ^ 0xFF]) + g[-7:])(gz(csv_rows)),
        "wrong_columns.csv": "a,c,label\n0.5,1.0,cat\n",
        "unknown_label.csv": "a,b,label\n0.5,1.0,cat\n1.5,0.2,zebra\n",
        # --- LibSVM ---
        "index_zero.svm": "cat 1:0.5 2:1\ndog 0:1.5 2:0.2\n",
        "decreasing.svm": "cat 1:0.5 2:1\ndog 2:1.5 1:0.2\n",
        "repeated.svm": "cat 1:0.5 2:1\ndog 2:1.5 2:0.2\n",
        "index_2_31.svm": "cat 1:0.5 2:1\ndog 1:1.5 2147483649:0.2\n",
        "index_2_64.svm": "cat 1:0.5 2:1\ndog 1:1.5 18446744073709551616:0.2\n",
        "missing_value.svm": "cat 1:0.5 2:1\ndog 1: 2:0.2\n",
        "missing_label.svm": "cat 1:0.5 2:1\n1:1.5 2:0.2\n",
        "nan_value.svm": "cat 1:0.5 2:1\ndog 1:nan 2:0.2\n",
        "empty.svm": "",
        "csv_rows.svm": "0.5,1.0,0\n1.5,0.2,1\n",
        "words.svm": "cat\ndog\n",
        "latin1_label.svm": b"cat 1:0.5 2:1\ncaf\xe9 1:1.5 2:0.2\n",
        "utf16.svm": "\ufeff" + "cat 1:0.5 2:1\ndog 1:1.5 2:0.2\n",
        # --- IDX ---
        "magic-images-idx3-ubyte": b"\x01" + ubyte4[1:],
        "type-images-idx3-ubyte": ubyte4[:2] + b"\x07" + ubyte4[3:],
        "onedim-images-idx3-ubyte": idx(0x08, [4], bytes(4)),
        "trunc-images-idx3-ubyte.gz": gz(ubyte4[:-3]),
        "claims-images-idx3-ubyte": idx(0x08, [1000, 1, 2], bytes(8)),
        "extra-images-idx3-ubyte": ubyte4 + b"\x00",
        "nan-images-idx3-ubyte": idx(0x0D, [4, 1, 2], struct.pack(">8f", 0, 1, 2, float("nan"), 4, 5, 6, 7)),
        "nolabels-images-idx3-ubyte": ubyte4,
        "count-images-idx3-ubyte": ubyte4,
        "count-labels-idx1-ubyte": idx(0x08, [3], bytes([0, 1, 2])),
        "ftype-images-idx3-ubyte": ubyte4,
        "ftype-labels-idx1-ubyte": idx(0x0D, [4], struct.pack(">4f", 0, 1, 2, 1)),
        "lcut-images-idx3-ubyte": ubyte4,
        "lcut-labels-idx1-ubyte.gz": gz(idx(0x08, [4], bytes([0, 1]))),
        "wide-images-idx3-ubyte": idx(0x08, [4, 1, 3], bytes(12)),
        # --- NumPy ---
        "bad_magic.npy": b"\x93NUMPZ" + npy("'<f8'", (4, 2), f8(*range(8)))[6:],
        "complex.npy": npy("'<c16'", (4, 2), bytes(128)),
        "object.npy": npy("'|O'", (4, 2), bytes(64)),
        "structured.npy": npy(None, None, bytes(32), header="{'descr': [('a', '<f4'), ('b', '<f4')], "
                              "'fortran_order': False, 'shape': (4,), }"),
        "truncated.npy.gz": gz(npy("'<f8'", (4, 2), f8(*range(8)))[:-20]),
        "shape_lies.npy": npy("'<f8'", (1000, 2), f8(*range(8))),
        "extra_data.npy": npy("'<f8'", (4, 2), f8(*range(9))),
        "header_garbage.npy": npy(None, None, f8(*range(8)), header="{'descr': '<f8', 'fortran_order': False, "
                                  "'shape': (4, 2), }GARBAGE"),
        "float_labels.npy": npy("'<f8'", (4,), f8(0, 1, 2, 1)),
        "labels3.npy": npy("'<i8'", (3,), struct.pack("<3q", 0, 1, 2)),
        "wide.npy": npy("'<f8'", (4, 3), f8(*range(12))),
        # --- model files ---
        "truncated.srm": good_model[:100],
        "bad_checksum.srm": (lambda m: m[:60] + bytes([m[60] ^ 0x01]) + m[61:])(good_model),
        "wrong_magic.srm": b"\x89SRMODEX" + good_model[8:],
        "text.srm": GOOD_CSV,
        "future_version.srm": model(version=4),
        "empty.srm": b"",
        "trailing_bytes.srm": good_model + b"\x00\x00",
        "nan_weight.srm": model(w=[float("nan"), 1, 2, 3, 4, 5]),
        "duplicate_class.srm": model(classes=("cat", "dog", "cat")),
        # --- labels files ---
        "labels3.txt": "cat\ndog\nbird\n",
        "labels5.txt": "cat\ndog\nbird\ncat\ndog\n",
        "labels_empty.txt": "",
        "labels_latin1.txt": b"cat\ndog\ncaf\xe9\ncat\n",
        "labels_utf16.txt": "\ufeff" + "cat\ndog\nbird\ncat\n",
        "features4.csv": "a,b\n0.5,1.0\n1.5,0.2\n-0.3,2.1\n0.7,1.2\n",
        "with_label.csv": "a,b,label\n0.5,1.0,cat\n1.5,0.2,dog\n-0.3,2.1,bird\n0.7,1.2,cat\n",
        "weights_bad.txt": "1\n1\n-2\n1\n1\n1\n",
    }
    return f


ENCODINGS = {
    "utf16le_bom.csv": "utf-16-le",
    "utf16le_no_bom.csv": "utf-16-le",
    "utf16.svm": "utf-16-le",
    "labels_utf16.txt": "utf-16-le",
}


def main():
    OUT.mkdir(exist_ok=True)
    written = files()
    for name, content in written.items():
        if isinstance(content, str):
            content = content.encode(ENCODINGS.get(name, "utf-8"))
        (OUT / name).write_bytes(content)
        assert len(content) < 4096, name
    stale = sorted(p.name for p in OUT.iterdir() if p.name not in written and p.name != "CATALOGUE.tsv")
    if stale:
        print("not made by this script:", *stale, file=sys.stderr)


if __name__ == "__main__":
    main()
