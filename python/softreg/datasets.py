"""Reading data files with the library's readers: IDX (MNIST style), CSV/TSV, LibSVM, .npy."""
import os

import numpy as np
import scipy.sparse as sp

from softreg import _core
from softreg.estimator import _labels_to_array


def read_dataset(path, *, format="auto", labels=None, label_column=None, n_features=0,
                 dtype=np.float32):
    """Reads features and labels from a data file, as ``softreg train --data`` does.

    Parameters
    ----------
    path : str or os.PathLike
        The data file, gzipped or not. Its format comes from the name unless ``format`` says
        (``.csv``/``.tsv``, ``.svm``/``.libsvm``/``.txt``, ``.npy``, ``*-idx*-ubyte``).
    format : {"auto", "csv", "libsvm", "npy", "idx"}
    labels : str or os.PathLike, optional
        A separate labels file. IDX images find their ``...-labels-idx1-ubyte[.gz]`` sibling
        without it.
    label_column : str, optional
        CSV: the label column by header name or 0-based index (default: a column named
        "label", if any).
    n_features : int
        When > 0, the number of features the data must have.
    dtype : numpy.float32 or numpy.float64

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), or scipy.sparse.csr_matrix for LibSVM
        IDX unsigned-byte images are scaled to [0, 1] (pixel / 255). The array owns the
        reader's buffer: no copy is made.
    y : ndarray of shape (n_samples,) or None
        int64 when every label is an integer, else strings; None when the file has no labels.

    Raises ValueError naming the file and the position (line and column, or byte offset) for
    malformed content, OSError for a file that cannot be opened.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"softreg.read_dataset: dtype must be float32 or float64; got {dtype}")
    x, names = _core.read_dataset(
        os.fspath(path),
        format,
        os.fspath(labels) if labels is not None else "",
        "" if label_column is None else str(label_column),
        int(n_features),
        dtype.name,
    )
    if isinstance(x, tuple):
        data, indices, indptr, shape = x
        x = sp.csr_matrix((data, indices, indptr), shape=shape)
    return x, (_labels_to_array(names) if names else None)
