"""Reading data files with the library's readers: IDX (MNIST style), CSV/TSV, LibSVM, .npy."""
import os
import warnings

import numpy as np
import scipy.sparse as sp

from softreg import _core
from softreg.estimator import _labels_to_array


def read_dataset(path, *, format="auto", labels=None, label_column=None, n_features=0,
                 dtype=np.float32, zero_based="auto", as_frame=False):
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
    zero_based : "auto", True or False
        LibSVM feature numbering, as scikit-learn's ``load_svmlight_file``: "auto" reads a
        file with an index 0 anywhere as 0-based and any other as 1-based.
    as_frame : bool
        Return X as a pandas DataFrame whose columns are the CSV header's names (dense data
        only), so that SoftmaxRegression keeps them as ``feature_names_in_``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), or scipy.sparse.csr_matrix for LibSVM
        IDX unsigned-byte images are scaled to [0, 1] (pixel / 255). The array owns the
        reader's buffer: no copy is made. A DataFrame with ``as_frame``.
    y : ndarray of shape (n_samples,) or None
        int64 when every label is an integer, else strings; None when the file has no labels.

    What the reader did that a user should know (a pandas index column skipped) comes as a
    UserWarning. Raises ValueError naming the file and the position (line and column, or byte
    offset) for malformed content, OSError for a file that cannot be opened.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"softreg.read_dataset: dtype must be float32 or float64; got {dtype}")
    bases = {"auto": "auto", True: "zero", False: "one"}
    if not any(zero_based is k or (isinstance(zero_based, str) and zero_based == k)
               for k in bases):
        raise ValueError(
            f"softreg.read_dataset: zero_based must be 'auto', True or False; got {zero_based!r}"
        )
    x, names, feature_names, notices = _core.read_dataset(
        os.fspath(path),
        format,
        os.fspath(labels) if labels is not None else "",
        "" if label_column is None else str(label_column),
        int(n_features),
        dtype.name,
        bases["auto" if isinstance(zero_based, str) else bool(zero_based)],
    )
    for notice in notices:
        warnings.warn(f"{os.fspath(path)}: {notice}", UserWarning, stacklevel=2)
    if isinstance(x, tuple):
        data, indices, indptr, shape = x
        x = sp.csr_matrix((data, indices, indptr), shape=shape)
    if as_frame:
        if sp.issparse(x):
            raise ValueError("softreg.read_dataset: as_frame needs dense data; LibSVM is sparse")
        import pandas as pd

        x = pd.DataFrame(x, columns=feature_names if feature_names else None, copy=False)
    return x, (_labels_to_array(names) if names else None)
