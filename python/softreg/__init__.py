"""softreg: softmax-family numerics and a softmax-regression classifier.

Kernels (NumPy arrays of any shape, float32 or float64, reduced along any axis):
:func:`softmax`, :func:`log_softmax`, :func:`logsumexp`, :func:`cross_entropy`,
:func:`cross_entropy_with_grad`, :func:`argmax`; their backward passes
:func:`softmax_backward`, :func:`log_softmax_backward`, :func:`logsumexp_backward` and
:func:`softmax_jacobian`; the online (max, sum) normalizer with merge :class:`OnlineSoftmax`.
Token sampling: :func:`sample` (temperature, top-k, top-p,
min-p, penalties, logit bias; sort-free, reproducible). Attention: :func:`attention`,
:func:`attention_backward` (tiled, grouped heads, causal, masks, decoding). The output layer
and its loss without the logits: :func:`linear_cross_entropy`. The worker-thread count: :func:`set_num_threads`,
:func:`get_num_threads`. The classifier: :class:`SoftmaxRegression` (scikit-learn API).
Model files: :meth:`SoftmaxRegression.save_model`, :func:`load_model`. Data files:
:func:`read_dataset`. Calibration: :meth:`SoftmaxRegression.calibrate`,
:class:`TemperatureScaling`, :func:`fit_temperature`, :func:`calibration_metrics`; the HTML
evaluation report: :func:`report`. docs/PYTHON.md describes them all.
"""
from softreg._core import (
    OnlineSoftmax,
    argmax,
    cross_entropy,
    cross_entropy_with_grad,
    get_num_threads,
    linear_cross_entropy,
    log_softmax,
    log_softmax_backward,
    logsumexp,
    logsumexp_backward,
    set_num_threads,
    softmax,
    softmax_backward,
    softmax_jacobian,
)
from softreg.attention import attention, attention_backward
from softreg.calibration import TemperatureScaling, calibration_metrics, fit_temperature
from softreg.datasets import read_dataset
from softreg.estimator import SoftmaxRegression, load_model
from softreg.report import report
from softreg.sampling import Sample, sample, sampling_uniform

__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "cross_entropy",
    "cross_entropy_with_grad",
    "argmax",
    "softmax_backward",
    "log_softmax_backward",
    "logsumexp_backward",
    "softmax_jacobian",
    "OnlineSoftmax",
    "sample",
    "attention",
    "attention_backward",
    "linear_cross_entropy",
    "sampling_uniform",
    "Sample",
    "set_num_threads",
    "get_num_threads",
    "SoftmaxRegression",
    "load_model",
    "read_dataset",
    "TemperatureScaling",
    "fit_temperature",
    "calibration_metrics",
    "report",
]

__version__ = "0.1.0"
