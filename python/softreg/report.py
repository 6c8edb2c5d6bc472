"""softreg.report: the HTML evaluation report of a fitted SoftmaxRegression, produced by the
library (softreg::report_html), so it is the page ``softreg eval --report`` writes."""
import math
import os

import numpy as np

from softreg import _core
from softreg.estimator import _library_matrix, _model_of


def _labels_to_indices(estimator, y):
    classes = estimator.classes_
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"softreg.report: y must be 1-D; got shape {y.shape}")
    index = {c: i for i, c in enumerate(classes.tolist())}
    try:
        return np.array([index[v] for v in y.tolist()], dtype=np.int64)
    except KeyError as e:
        raise ValueError(f"softreg.report: label {e.args[0]!r} is not among the model's classes "
                         f"{classes.tolist()}") from None


def _image_pixels(images, n, d):
    """(pixels float64 (n, h, w) or None, h, w) from the images argument."""
    if images is None or images is False:
        return None, 0, 0
    if images is True:
        side = math.isqrt(d)
        if side * side != d:
            raise ValueError(f"softreg.report: images=True needs square images; X has {d} "
                             "features (give images=(height, width))")
        return None, side, side
    if isinstance(images, tuple) and len(images) == 2:
        h, w = int(images[0]), int(images[1])
        if h * w != d:
            raise ValueError(f"softreg.report: images={images} is {h * w} pixels; X has {d} "
                             "features")
        return None, h, w
    a = np.asarray(images)
    if a.ndim != 3 or a.shape[0] != n:
        raise ValueError(f"softreg.report: images must be (n, height, width) with n = {n} rows; "
                         f"got shape {a.shape}")
    pixels = a.astype(np.float64) / 255.0 if a.dtype == np.uint8 else a.astype(np.float64)
    return np.ascontiguousarray(pixels), a.shape[1], a.shape[2]


def report(estimator, X, y, path, images=None, *, bins=15, title="softreg evaluation report",
           class_names=None, max_images=24, data_name=""):
    """Writes the HTML report of a fitted :class:`SoftmaxRegression` on (X, y) to ``path``
    (through a temporary file renamed over it) and returns ``path``.

    The page is self-contained (inline CSS and SVG, images as PNG data: URIs, no scripts):
    training curves from the model's training record (loss and accuracy per iteration or
    epoch, training against validation when fit held rows out with validation_fraction), the
    confusion matrix as a heat map, per-class precision / recall / F1, reliability diagrams
    before (T = 1) and after calibration (the model's ``temperature_``, see
    :meth:`SoftmaxRegression.calibrate`) with ECE, MCE and Brier score, and for images the
    most confidently wrong rows.

    Parameters
    ----------
    X : array-like or sparse matrix (n_samples, n_features)
    y : array-like (n_samples,)
        True labels, among ``estimator.classes_``.
    images : None, True, (height, width) or array (n_samples, height, width)
        None: no image grid. True: X's rows are square images; (h, w): X's rows are h x w
        images; both need pixel values in [0, 1]. An array: the images to show, uint8 (0-255)
        or floats in [0, 1].
    bins : int
        Equal-width bins of the reliability diagrams, ECE and MCE.
    class_names : sequence of str, optional
        Display names in ``classes_`` order (default: str of each class).
    """
    model = _model_of(estimator)
    X = estimator._check_X(X, False)
    y_index = _labels_to_indices(estimator, y)
    if y_index.shape[0] != X.shape[0]:
        raise ValueError(f"softreg.report: y has {y_index.shape[0]} labels for {X.shape[0]} rows")
    pixels, h, w = _image_pixels(images, X.shape[0], X.shape[1])
    options = _core.ReportOptions()
    options.title = str(title)
    options.data_name = str(data_name)
    options.bins = int(bins)
    options.max_images = int(max_images)
    options.image_height, options.image_width = h, w
    options.class_names = [str(c) for c in (estimator.classes_.tolist() if class_names is None
                                            else class_names)]
    html = model.report_html(_library_matrix(X), y_index, options, pixels, estimator._threads())
    _core.Model.write_text_atomic(os.fspath(path), html)
    return path
