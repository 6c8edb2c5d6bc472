"""Temperature scaling and calibration metrics: the library's fit_temperature and
calibration_metrics (include/softreg/calibration.hpp, include/softreg/metrics.hpp)."""
import numpy as np

from softreg import _core


def _logits_2d(logits, where):
    """logits as a C-contiguous float32 / float64 (n, K) array; a 1-D array of binary decision
    values z (scikit-learn's decision_function for two classes) becomes the columns [0, z]."""
    z = np.asarray(logits)
    if z.dtype not in (np.float32, np.float64):
        z = z.astype(np.float64)
    if z.ndim == 1:
        z = np.column_stack([np.zeros_like(z), z])
    if z.ndim != 2:
        raise ValueError(f"{where}: logits must be (n, K) or 1-D binary decision values; "
                         f"got shape {z.shape}")
    return np.ascontiguousarray(z)


def _class_indices(y, k, where):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{where}: y must be 1-D class indices; got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"{where}: y must hold integer class indices in [0, {k})")
    return y.astype(np.int64)


class TemperatureScaling:
    """Temperature scaling (Guo et al., 2017) of any classifier's logits: probabilities
    ``softmax(z / T)`` with the one T > 0 that minimises the log loss on held-out data.
    Argmax predictions do not change.

    Parameters
    ----------
    min_temperature, max_temperature : float
        The search range (0 < min <= 1 <= max). Logits that separate the data perfectly have
        no finite optimum (the loss falls as T -> 0): T then stops at ``min_temperature`` and
        ``at_bound_`` is True.

    Attributes
    ----------
    temperature_ : float
    loss_before_, loss_after_ : float
        Mean log loss at T = 1 and at ``temperature_``, on the data given to fit.
    n_iter_ : int
    at_bound_ : bool
    """

    def __init__(self, min_temperature=1e-2, max_temperature=1e2):
        self.min_temperature = min_temperature
        self.max_temperature = max_temperature

    def fit(self, logits, y):
        """Fits T on logits (n, K), float32 or float64 (others as float64; 1-D: binary
        decision values, taken as the logits [0, z]) and y (n,) integer class indices in
        [0, K). Raises ValueError for n = 0, a label out of range, or a NaN or infinite logit
        (naming the row). K = 1 gives T = 1. Returns self."""
        z = _logits_2d(logits, "TemperatureScaling.fit")
        y = _class_indices(y, z.shape[1], "TemperatureScaling.fit")
        fit = _core.fit_temperature(z, y, float(self.min_temperature),
                                    float(self.max_temperature))
        self.temperature_ = fit["temperature"]
        self.loss_before_ = fit["loss_before"]
        self.loss_after_ = fit["loss_after"]
        self.n_iter_ = fit["iterations"]
        self.at_bound_ = fit["at_bound"]
        return self

    def transform(self, logits):
        """Calibrated probabilities ``softmax(logits / temperature_)``, shape (n, K) (two
        columns for 1-D binary decision values), in the logits' dtype."""
        if not hasattr(self, "temperature_"):
            raise AttributeError("TemperatureScaling is not fitted yet; call fit(logits, y)")
        z = _logits_2d(logits, "TemperatureScaling.transform")
        return _core.softmax(z, -1, self.temperature_)

    predict_proba = transform

    def fit_transform(self, logits, y):
        return self.fit(logits, y).transform(logits)


def fit_temperature(logits, y, min_temperature=1e-2, max_temperature=1e2):
    """The temperature minimising the log loss of ``softmax(logits / T)`` against the class
    indices y: a dict of temperature, loss_before (T = 1), loss_after, iterations, at_bound."""
    z = _logits_2d(logits, "fit_temperature")
    return _core.fit_temperature(z, _class_indices(y, z.shape[1], "fit_temperature"),
                                 float(min_temperature), float(max_temperature))


def calibration_metrics(proba, y, bins=15):
    """Calibration of the top-label predictions of probabilities proba (n, K) against class
    indices y (n,), with ``bins`` equal-width bins of the top probability:

    - ``ece`` = sum_b |B_b| / n |acc_b - conf_b|, ``mce`` = max over non-empty bins;
    - ``brier`` = mean over rows of sum_k (p_k - [k = y])^2 (all K classes; for two classes
      twice scikit-learn's brier_score_loss);
    - the reliability diagram: ``bin_lower``, ``bin_upper``, ``bin_count``,
      ``bin_confidence`` (mean top probability) and ``bin_accuracy`` (NaN for empty bins).

    n = 0 gives NaN metrics."""
    p = np.asarray(proba)
    if p.dtype not in (np.float32, np.float64):
        p = p.astype(np.float64)
    p = np.ascontiguousarray(p)
    return _core.calibration_metrics(p, _class_indices(y, p.shape[-1], "calibration_metrics"),
                                     int(bins))
