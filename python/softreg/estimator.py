"""SoftmaxRegression: the library's classifier behind scikit-learn's estimator API.

The estimator validates its input the way scikit-learn does, maps the labels to class indices,
and hands the arrays to the compiled model (softreg._core.Model), which trains with the GIL
released. Everything numerical happens in the library.
"""
import ast
import numbers
import os
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from softreg import _core

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # scikit-learn 1.2 to 1.5: the estimator's own method

    def _validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)


_SOLVERS = ("auto", "lbfgs", "newton-cg", "saga", "sgd", "adam")
# Solvers whose max_iter is the library's max_iter (iterations, or SAGA's epochs) and that
# take no learning rate or batch size.
_FULL_BATCH = ("auto", "lbfgs", "newton-cg", "saga")
_SCALES = (None, "none", "standard", "minmax")
_DTYPES = {"auto": [np.float64, np.float32], "float64": np.float64, "float32": np.float32}


def _clip_int32(value):
    """An int parameter as the library's 32-bit field: out-of-range values stay out of range."""
    return int(min(max(int(value), -(2**31)), 2**31 - 1))


def _library_matrix(X):
    """X (validated: a float32/float64 C-contiguous ndarray or a CSR matrix) as the compiled
    module takes it: the ndarray itself, or (data, indices, indptr, n_cols) in canonical form
    (sorted column indices without duplicates), without densifying."""
    if not sp.issparse(X):
        return X
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()  # also sorts the column indices
    return (
        X.data,
        X.indices.astype(np.int32, copy=False),
        X.indptr.astype(np.int64, copy=False),
        X.shape[1],
    )


def _model_with_labels(model, labels, parameters=None, feature_names=None):
    """The same library model with other class labels (same order) and, when given, other
    training parameters and feature names: the library names classes by strings, the
    estimator trains on "0" .. "K-1" and keeps the user's labels in classes_."""
    state = list(model.__getstate__())
    state[0] = list(labels)
    if parameters is not None:
        state[7] = dict(state[7], parameters=parameters)
    if feature_names is not None:
        state[8] = list(feature_names)
    return _core.Model(*state)


def _model_of(estimator):
    """The library model of a fitted SoftmaxRegression (NotFittedError otherwise)."""
    check_is_fitted(estimator)
    return estimator._model


def _plain(value):
    """value with NumPy scalars (also as dict keys and values) turned into Python ones, so that
    repr() gives a literal that ast.literal_eval reads back."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def _literal(text):
    """A parameter's Python literal, or a LookupError when it is not one."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
        raise LookupError(text) from e


def _labels_to_array(labels, dtype=None):
    """Library labels (strings) as a NumPy array of the dtype the estimator was trained with
    (`dtype`, a NumPy dtype string such as "<i8", "<f8", "|b1" or "<U3"), or, without one
    (models written by the command line), int64 if every label is an integer, else strings
    (as the readers and model files spell them)."""
    if dtype is not None:
        kind = np.dtype(dtype).kind
        try:
            if kind == "b":
                if all(s in ("True", "False") for s in labels):
                    return np.array([s == "True" for s in labels], dtype=dtype)
            elif kind in "iu":
                return np.array([int(s) for s in labels], dtype=dtype)
            elif kind == "f":
                return np.array([float(s) for s in labels], dtype=dtype)
            elif kind == "O":
                return np.array(labels, dtype=object)
        except (ValueError, OverflowError):
            pass
        return np.array(labels)
    try:
        return np.array([int(s) for s in labels], dtype=np.int64)
    except ValueError:
        return np.array(labels)


def _estimator_parameters(parameters, classes):
    """get_params values for a model file's training parameters: the estimator's own
    ("python.<name>") when a SoftmaxRegression wrote the file, else the command line's
    library options mapped to the estimator's names. Values that do not read back are left at
    their defaults."""
    own = {k[len("python."):]: v for k, v in parameters.items() if k.startswith("python.")}
    params = {}
    if own:
        for name, text in own.items():
            try:
                params[name] = _literal(text)
            except LookupError:
                pass
        return params

    def number(key, kind):
        try:
            return kind(parameters[key])
        except (KeyError, ValueError, OverflowError):
            raise LookupError(key)

    mapping = (
        ("alpha", lambda: number("l2", float)),
        ("solver", lambda: parameters["solver"]),
        ("tol", lambda: number("tol", float)),
        ("scale", lambda: None if parameters["scale"] == "none" else parameters["scale"]),
        ("dtype", lambda: parameters["dtype"]),
        ("lr", lambda: number("lr", float) or None),
        ("batch_size", lambda: number("batch_size", int)),
        ("validation_fraction", lambda: number("valid_fraction", float)),
        ("n_iter_no_change", lambda: number("patience", int)),
        ("random_state", lambda: number("seed", int)),
        ("fit_intercept", lambda: {"true": True, "false": False}[parameters["fit_intercept"]]),
    )
    for name, get in mapping:
        try:
            params[name] = get()
        except LookupError:
            pass
    try:
        l1 = number("l1", float)
        if l1 > 0:
            total = l1 + params.get("alpha", 0.0)
            params["alpha"], params["l1_ratio"] = total, l1 / total
    except LookupError:
        pass
    solver = params.get("solver")
    try:
        params["max_iter"] = number("max_iter" if solver in _FULL_BATCH else "epochs", int)
    except LookupError:
        pass
    if parameters.get("class_weight") == "balanced":
        params["class_weight"] = "balanced"
    weights = {k[len("class_weight["):-1]: v for k, v in parameters.items()
               if k.startswith("class_weight[") and k.endswith("]")}
    if weights:
        by_text = {str(c): c for c in classes.tolist()}
        params["class_weight"] = {by_text.get(k, k): float(v) for k, v in weights.items()}
    return params


# The training record of a model that no fit made (partial_fit's starting point).
_EMPTY_INFO = {
    "solver": "sgd", "dtype": "float64", "l2": 0.0, "iterations": 0, "evaluations": 0,
    "converged": False, "message": "", "final_loss": float("nan"), "grad_norm": float("nan"),
    "valid_loss": -1.0, "n_train": 0, "n_valid": 0, "seconds": 0.0, "loss_history": [],
}


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    """Multinomial logistic (softmax) regression trained by softreg's L-BFGS, SGD or Adam.

    Minimizes the weighted mean cross-entropy plus ``(lambda / 2) ||W||^2``; the intercept is
    not penalized (as in scikit-learn)::

        (1 / sum_i s_i) sum_i s_i c_{y_i} CE(x_i W + b, y_i) + (lambda / 2) ||W||^2

    with sample weights ``s_i`` (1 by default) and class weights ``c_k``. With ``alpha=None``,
    ``C`` means what it means in ``LogisticRegression(C=C)``, whose optimum this fit has:
    ``lambda = 1 / (C * sum_i s_i)`` on three or more classes (its multinomial objective is this
    one multiplied by ``C * sum_i s_i``), and ``lambda = 2 / (C * sum_i s_i)`` on two classes,
    where scikit-learn fits one coefficient row, the difference of our symmetric pair
    (docs/PYTHON.md).

    Parameters
    ----------
    C : float > 0, default=1.0
        Inverse regularization strength, as in scikit-learn. Ignored when ``alpha`` is set.
        (The command line takes lambda itself, --l2, default 1e-4.)
    alpha : float >= 0 or None, default=None
        The penalty ``lambda`` itself (the library's ``l2``, the CLI's ``--l2``; with an L1
        part, ``l1_ratio * alpha`` is the library's ``l1``). When not None it wins over ``C``.
    penalty : {"l2", "l1", "elasticnet", None}, default="l2"
        As LogisticRegression's: "l1" is ``l1_ratio=1``, "elasticnet" takes ``l1_ratio``,
        None fits without a penalty (C and alpha unused). With "l2" (the default) a given
        ``l1_ratio`` decides, as in scikit-learn 1.8 and later. An L1 part needs solver
        "lbfgs" or "auto" (L-BFGS runs as OWL-QN; coefficients come out exactly 0).
    l1_ratio : float in [0, 1] or None, default=None
        The elastic-net mix: the penalty is ``lambda (l1_ratio ||W||_1 + (1 - l1_ratio) / 2
        ||W||^2)`` with ``lambda = 1 / (C sum_i s_i)`` (two classes: the L2 part doubled, as
        for C alone, the L1 part not, since ``|w0| + |w1| = |w1 - w0|`` for the symmetric
        pair), scikit-learn's objective divided by ``C sum_i s_i``.
    solver : {"auto", "lbfgs", "newton-cg", "saga", "sgd", "adam"}, default="auto"
        "auto" picks "saga" for sparse input without ``scale`` with at least 100,000 weights
        (features x classes) whose n x K remembered gradients fit in 1 GiB, else "lbfgs"
        (``training_info_["solver"]`` names the one that ran). Otherwise: full-batch L-BFGS with a strong-Wolfe line search; full-batch trust-region Newton
        with conjugate gradients on exact Hessian-vector products (liblinear's method; it
        keeps the n x K probabilities of the latest pass); SAGA, one row at a time with lazy
        updates (for large sparse data; no ``scale``; keeps n x K remembered gradients);
        mini-batch SGD with momentum; or Adam.
    fit_intercept : bool, default=True
        False fixes the intercept at 0 in the space the model works in (the scaled features
        with ``scale``, whose standardisation centres them, so ``intercept_`` on raw features
        is then not 0), as LogisticRegression(fit_intercept=False). Every solver.
    max_iter : int >= 0, default=100
        L-BFGS or Newton iterations, or epochs for "saga", "sgd" and "adam" (as
        scikit-learn's).
    tol : float >= 0, default=1e-4
        "lbfgs", "newton-cg" and "saga" stop when the largest absolute entry of the gradient
        of the (mean) objective above is at most ``tol`` ("saga" checks after each epoch).
        Unused by "sgd" and "adam". (The command line's --tol defaults to 1e-5.)
    class_weight : None, "balanced" or dict, default=None
        Weights ``c_k``: "balanced" gives ``n / (K n_k)``; a dict maps labels to weights
        (labels not in it weigh 1).
    warm_start : bool, default=False
        Start from the previous fit's weights when the classes and features are the same
        (otherwise start from zero).
    random_state : int, RandomState or None, default=None
        Seeds the mini-batch order ("sgd", "adam") and the validation split.
    n_jobs : int or None, default=None
        Worker threads for fit and prediction: None uses :func:`softreg.get_num_threads`, -1
        every core, -2 all but one, and so on. Results do not depend on it.
    scale : None, "standard" or "minmax", default=None
        Feature scaling fitted on the training data and folded into the weights (the data are
        never rewritten, sparse stays sparse). The penalty then applies to the weights of the
        scaled features. coef_ and intercept_ always act on raw features.
    dtype : {"auto", "float32", "float64"}, default="auto"
        Precision of the passes over the data: "auto" keeps float32 input in float32 and
        computes everything else in float64. Parameters and their gradient are always float64.
        (The command line reads files in float32 unless --dtype float64.)
    lr : float >= 0 or None, default=None
        Learning rate of "sgd" and "adam"; None (or 0) picks 0.1 and 0.001.
    batch_size : int >= 1, default=256
        Mini-batch size of "sgd" and "adam".
    validation_fraction : float in [0, 1), default=0.0
        Rows held out for early stopping (0: none).
    n_iter_no_change : int >= 1, default=5
        With a validation split: iterations or epochs without a better validation loss
        before stopping (the best weights are kept).
    verbose : int, default=0
        When > 0, prints the loss after every iteration or epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
        The labels, sorted as ``np.unique(y)`` sorts them, in the dtype of ``y``.
    coef_ : ndarray of shape (K, n_features)
        Weights acting on raw features, one row per class (two rows for binary problems,
        unlike LogisticRegression, which keeps only the second). A copy: prediction uses
        the fitted model.
    intercept_ : ndarray of shape (K,)
    n_iter_ : int
        Iterations (L-BFGS, Newton-CG) or epochs (SAGA, SGD, Adam) run.
    loss_curve_ : ndarray of shape (n_iter_,)
        The objective after each iteration or epoch (for SGD and Adam, the mean mini-batch
        loss of the epoch); the curve to plot, as MLPClassifier's ``loss_curve_``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string column names (a pandas DataFrame).
    training_info_ : dict
        The library's training record: solver, dtype, l2, iterations, evaluations,
        converged, message, final_loss (the objective above), grad_norm, loss_history, ...
    """

    def __init__(
        self,
        C=1.0,
        *,
        alpha=None,
        solver="auto",
        penalty="l2",
        l1_ratio=None,
        fit_intercept=True,
        max_iter=100,
        tol=1e-4,
        class_weight=None,
        warm_start=False,
        random_state=None,
        n_jobs=None,
        scale=None,
        dtype="auto",
        lr=None,
        batch_size=256,
        validation_fraction=0.0,
        n_iter_no_change=5,
        verbose=0,
    ):
        self.C = C
        self.alpha = alpha
        self.solver = solver
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.scale = scale
        self.dtype = dtype
        self.lr = lr
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.verbose = verbose

    # ---- parameters

    # The library's TrainOptions field each parameter sets: its range rule
    # (TrainOptions.problem) is the only one, worded here with the parameter's name.
    _OPTION_PARAMETERS = {
        "l2": "alpha",
        "l1": "alpha",
        "max_iter": "max_iter",
        "epochs": "max_iter",
        "tol": "tol",
        "batch_size": "batch_size",
        "lr": "lr",
        "valid_fraction": "validation_fraction",
        "patience": "n_iter_no_change",
    }

    def _check_params(self):
        """The parameters' types, the choices and the parameters of this estimator alone (C,
        class_weight, n_jobs) checked here; the ranges of the rest by the library's option rules.
        Returns the TrainOptions the parameters give (without sample or class weights).
        Raises ValueError (TypeError for a wrong type) naming the parameter that is wrong."""

        def number(name, value, integral=False, allow_none=False):
            if value is None and allow_none:
                return
            kind = numbers.Integral if integral else numbers.Real
            if isinstance(value, bool) or not isinstance(value, kind):
                raise TypeError(
                    f"The '{name}' parameter of SoftmaxRegression must be "
                    f"{'an int' if integral else 'a real number'}"
                    f"{' or None' if allow_none else ''}; got {value!r}."
                )

        def choice(name, value, options):
            if not any(value is o or (isinstance(value, str) and value == o) for o in options):
                raise ValueError(
                    f"The '{name}' parameter of SoftmaxRegression must be one of "
                    f"{', '.join(map(repr, options))}; got {value!r}."
                )

        number("C", self.C)
        if not (self.C > 0 and np.isfinite(self.C)):
            raise ValueError(
                f"The 'C' parameter of SoftmaxRegression must be > 0 and finite; got {self.C!r}."
            )
        number("alpha", self.alpha, allow_none=True)
        choice("solver", self.solver, _SOLVERS)
        choice("penalty", self.penalty, ("l2", "l1", "elasticnet", None))
        number("l1_ratio", self.l1_ratio, allow_none=True)
        if self.l1_ratio is not None and not 0.0 <= self.l1_ratio <= 1.0:
            raise ValueError(
                "The 'l1_ratio' parameter of SoftmaxRegression must be in [0, 1] or None; got "
                f"{self.l1_ratio!r}."
            )
        if self.penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError("penalty='elasticnet' needs l1_ratio in [0, 1].")
        if self._l1_ratio() > 0 and self.solver not in ("auto", "lbfgs"):
            raise ValueError(
                f"An L1 penalty needs solver='lbfgs' or 'auto' (OWL-QN); got {self.solver!r}."
            )
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise TypeError(
                "The 'fit_intercept' parameter of SoftmaxRegression must be a bool; got "
                f"{self.fit_intercept!r}."
            )
        for name in ("max_iter", "batch_size", "n_iter_no_change"):
            number(name, getattr(self, name), integral=True)
        for name in ("tol", "validation_fraction"):
            number(name, getattr(self, name))
        number("lr", self.lr, allow_none=True)
        if not (
            self.class_weight is None
            or isinstance(self.class_weight, dict)
            or (isinstance(self.class_weight, str) and self.class_weight == "balanced")
        ):
            raise ValueError(
                "The 'class_weight' parameter of SoftmaxRegression must be None, 'balanced' "
                f"or a dict; got {self.class_weight!r}."
            )
        choice("scale", self.scale, _SCALES)
        choice("dtype", self.dtype, tuple(_DTYPES))
        number("n_jobs", self.n_jobs, integral=True, allow_none=True)
        if self.n_jobs == 0:
            raise ValueError("The 'n_jobs' parameter of SoftmaxRegression must not be 0.")

        options = _core.TrainOptions()
        options.solver = self.solver
        options.l2 = float(self.alpha) if self.alpha is not None else 0.0
        options.fit_intercept = bool(self.fit_intercept)
        if self.solver in _FULL_BATCH:
            options.max_iter = _clip_int32(self.max_iter)
        else:
            options.epochs = _clip_int32(self.max_iter)
        options.tol = float(self.tol)
        options.batch_size = int(min(max(int(self.batch_size), -(2**62)), 2**62))
        options.lr = float(self.lr) if self.lr is not None else 0.0
        options.valid_fraction = float(self.validation_fraction)
        options.patience = _clip_int32(self.n_iter_no_change)
        options.scale = "none" if self.scale is None else self.scale
        options.threads = self._threads()
        problem = options.problem()
        if problem is not None:
            field, need, _ = problem
            name = self._OPTION_PARAMETERS[field]
            raise ValueError(
                f"The '{name}' parameter of SoftmaxRegression must be {need}; "
                f"got {getattr(self, name)!r}."
            )
        return options

    def _l1_ratio(self):
        """The L1 share of the penalty the parameters ask for."""
        if self.penalty == "l1":
            return 1.0
        if self.penalty is None:
            return 0.0
        return float(self.l1_ratio) if self.l1_ratio is not None else 0.0

    def _threads(self):
        """n_jobs as the library's thread count (0: the library's default)."""
        if self.n_jobs is None:
            return 0
        if self.n_jobs > 0:
            return int(self.n_jobs)
        return max(1, (os.cpu_count() or 1) + 1 + int(self.n_jobs))

    def _align_columns(self, X):
        """A DataFrame whose columns are the fitted feature names in another order, put in the
        fitted order (as the command line matches CSV columns by name). A column that is not a
        fitted feature, or a fitted feature that is missing, is a ValueError naming them. Other
        input is returned as it is (scikit-learn's checks then apply)."""
        names = getattr(self, "feature_names_in_", None)
        columns = getattr(X, "columns", None)
        if names is None or columns is None or not hasattr(X, "loc"):
            return X
        columns = list(columns)
        if columns == list(names) or not all(isinstance(c, str) for c in columns):
            return X
        known = set(names)
        unknown = [c for c in columns if c not in known]
        have = set(columns)
        missing = [n for n in names if n not in have]
        if unknown or missing:
            parts = []
            if unknown:
                parts.append(f"columns not seen at fit: {unknown}")
            if missing:
                parts.append(f"features seen at fit missing: {missing}")
            raise ValueError(
                "The feature names should match those that were passed during fit; "
                + "; ".join(parts) + "."
            )
        if len(columns) != len(have):
            return X  # repeated names: scikit-learn's check reports them
        return X[list(names)]

    def _check_X(self, X, reset):
        """X validated as scikit-learn does (finite, 2-D, at least one row) in the training
        dtype, C-contiguous, sparse matrices as CSR. After fit, a DataFrame's columns are
        matched to feature_names_in_ by name (_align_columns)."""
        if not reset:
            X = self._align_columns(X)
        dtype = _DTYPES[self.dtype] if reset else self._fit_dtype
        return _validate_data(self, X, reset=reset, accept_sparse="csr", dtype=dtype, order="C")

    # ---- training

    def fit(self, X, y, sample_weight=None):
        """Fits the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Finite values. Dense input is copied once into the library's matrix (C-contiguous
            float32 stays float32 with dtype="auto"); SciPy sparse matrices of any format are
            converted to CSR and stay sparse.
        y : array-like of shape (n_samples,)
            Class labels of any dtype; at least two distinct ones.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights, not all zero.

        Returns
        -------
        self

        Raises KeyboardInterrupt when training is interrupted (Ctrl-C); the estimator then
        keeps its previous state.
        """
        options = self._check_params()
        if self.solver in _FULL_BATCH:
            unused = [name for name, default in (("lr", None), ("batch_size", 256))
                      if getattr(self, name) != default]
            if unused:
                warnings.warn(
                    f"{' and '.join(unused)} {'does' if len(unused) == 1 else 'do'} not apply to "
                    f"solver={self.solver!r} (full batch, no learning rate); ignored.",
                    UserWarning,
                )
        X, y = _validate_data(
            self, X, y, accept_sparse="csr", dtype=_DTYPES[self.dtype], order="C"
        )
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {classes[0]!r}"
            )
        self._set_weights_and_penalty(options, X, classes, sample_weight)
        options.seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

        warm = None
        if (
            self.warm_start
            and hasattr(self, "_model")
            and self._model.n_features == X.shape[1]
            and np.array_equal(self.classes_, classes)
        ):
            warm = self._model
        callback = self._print_progress if self.verbose else None
        model = _core.Model.fit(_library_matrix(X), y_index, options, warm, callback)

        self._set_fitted(model, X.dtype.type, classes)
        info = model.info
        if (self.solver in _FULL_BATCH and not info["converged"]
                and self.n_iter_ >= self.max_iter):
            warnings.warn(
                f"softreg {info['solver']} stopped after max_iter={self.max_iter} iterations with the "
                f"largest gradient entry {info['grad_norm']:.3g} > tol={self.tol}; increase "
                "max_iter or scale the data.",
                ConvergenceWarning,
            )
        return self

    def _set_fitted(self, model, dtype, classes):
        """The fitted attributes from the library model."""
        self._model = model
        self._fit_dtype = dtype
        self.classes_ = classes
        w, b = model.folded_weights()
        self.coef_ = np.ascontiguousarray(w.T)
        self.intercept_ = b
        info = model.info
        self.n_iter_ = int(info["iterations"])
        self.loss_curve_ = np.asarray(info["loss_history"], dtype=np.float64)
        self.training_info_ = info
        self.temperature_ = float(model.temperature)

    def _stochastic(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(
                f"partial_fit is only available for solver='sgd' or 'adam'; got {self.solver!r}."
            )
        return True

    @available_if(_stochastic)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of the stochastic solver ("sgd" or "adam") over X, y, continuing from the
        current weights (those of an earlier fit or partial_fit, else zero).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels, all among the classes.
        classes : array-like of shape (n_classes,), optional
            Every label the model will know (at least two). Required on the first call;
            later calls may pass the same classes or None.
        sample_weight : array-like of shape (n_samples,), optional

        Each call is a separate run of the solver over the batch: mini-batches of batch_size
        rows in an order drawn from random_state and the call count, lr as in fit (the
        schedule restarts; SGD's momentum and Adam's moments start at zero in every call).
        The penalty is alpha, or from C as in fit with the batch's weight (so the same total
        penalty per call whatever the batch size; set alpha for a fixed lambda). No
        validation split, no scaling (both need the whole data). n_iter_ counts the calls'
        epochs.

        Returns
        -------
        self
        """
        options = self._check_params()
        if self.scale not in (None, "none"):
            raise ValueError("partial_fit cannot fit scale (it needs all the data); scale "
                             "beforehand or use fit.")
        fitted = hasattr(self, "_model")
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            if classes.size < 2:
                raise ValueError("classes must hold at least 2 labels.")
            if fitted and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()!r} is not the same as on the first call to "
                    f"partial_fit or fit: {self.classes_.tolist()!r}."
                )
        elif not fitted:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        else:
            classes = self.classes_
        X, y = _validate_data(self, X, y, reset=not fitted, accept_sparse="csr",
                              dtype=_DTYPES[self.dtype] if not fitted else self._fit_dtype,
                              order="C")
        check_classification_targets(y)
        y_index = np.searchsorted(classes, y)
        bad = (y_index >= classes.size) | (classes[np.minimum(y_index, classes.size - 1)] != y)
        if np.any(bad):
            raise ValueError(
                f"y holds labels that are not among the classes: {np.unique(y[bad]).tolist()!r}."
            )
        self._set_weights_and_penalty(options, X, classes, sample_weight)
        options.epochs = 1
        options.valid_fraction = 0.0
        calls = getattr(self, "_partial_calls", 0) if fitted else 0
        base = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        options.seed = int(base) + calls
        if fitted:
            warm = self._model
        else:
            d, k = X.shape[1], classes.size
            empty = np.zeros(0)
            warm = _core.Model([str(i) for i in range(k)], d, np.zeros(d * k), np.zeros(k),
                               "none", empty, empty, _EMPTY_INFO)
        n_iter = self.n_iter_ if fitted else 0
        callback = self._print_progress if self.verbose else None
        model = _core.Model.fit(_library_matrix(X), y_index, options, warm, callback)
        self._set_fitted(model, X.dtype.type, classes)
        self.n_iter_ = n_iter + int(model.info["iterations"])
        self._partial_calls = calls + 1
        return self

    def _set_weights_and_penalty(self, options, X, classes, sample_weight):
        """Sets options' sample weights, class weights and l2 (from alpha, or from C and the
        weight of X's rows) for training on X with these classes."""
        n = X.shape[0]
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
            if np.any(sample_weight < 0):
                raise ValueError("sample_weight must be non-negative.")
            if not sample_weight.sum() > 0:
                raise ValueError("sample_weight must not be all zero.")
            if not np.isfinite(sample_weight.sum()):
                raise ValueError("sample_weight sums to infinity; scale the weights down.")
            options.sample_weight = sample_weight
            weight_sum = float(sample_weight.sum())
        else:
            weight_sum = float(n)
        # Two classes: the symmetric pair w0 = -w1 pays (lambda / 4) ||w1 - w0||^2, and
        # scikit-learn's binary fit pays ||u||^2 / (2 C sum s) on its one row u = w1 - w0.
        per_c = 2.0 if classes.size == 2 else 1.0
        ratio = self._l1_ratio()
        if self.penalty is None:
            options.l2, options.l1 = 0.0, 0.0
        elif self.alpha is not None:
            options.l2, options.l1 = (1.0 - ratio) * float(self.alpha), ratio * float(self.alpha)
        else:
            lam = 1.0 / (self.C * weight_sum)
            options.l2, options.l1 = (1.0 - ratio) * per_c * lam, ratio * lam
        if isinstance(self.class_weight, str):
            options.balanced = True
        elif isinstance(self.class_weight, dict):
            index = {c: i for i, c in enumerate(classes.tolist())}
            unknown = [label for label in self.class_weight if label not in index]
            if unknown:
                raise ValueError(f"The classes, {unknown}, are not in class.")
            options.class_weight = {
                str(index[label]): float(w) for label, w in self.class_weight.items()
            }

    @staticmethod
    def _print_progress(p):
        grad = "" if np.isnan(p["grad_norm"]) else f"  max|grad| {p['grad_norm']:.3e}"
        unit = "warm-up epoch" if p["warmup"] else "iteration"
        print(f"{unit} {p['iteration']}/{p['max_iterations']}  loss {p['loss']:.6f}{grad}")

    # ---- calibration

    def calibrate(self, X_val, y_val):
        """Fits the temperature T of the probabilities on held-out data (temperature scaling):
        predict_proba and predict_log_proba then give ``softmax(z / T)`` of the logits z, with
        the T > 0 that minimises the log loss on (X_val, y_val); decision_function and predict
        are unchanged. T is searched in [0.01, 100]: logits that separate the validation data
        perfectly have no finite optimum and stop at 0.01 (``calibration_["at_bound"]``).

        Sets ``temperature_`` and ``calibration_`` (a dict of temperature, loss_before at
        T = 1, loss_after, iterations, at_bound); save_model keeps T in the model file. A later
        fit or partial_fit resets T to 1 (it belongs to the weights it was fitted for).
        y_val's labels must be among classes_ (ValueError otherwise). Returns self."""
        check_is_fitted(self)
        X = self._check_X(X_val, False)
        y = np.asarray(y_val)
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"calibrate: y_val must be 1-D with {X.shape[0]} labels; got "
                             f"shape {y.shape}")
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        unknown = [v for v in dict.fromkeys(y.tolist()) if v not in index]
        if unknown:
            raise ValueError(f"calibrate: labels {unknown[:5]} are not among classes_ "
                             f"{self.classes_.tolist()}")
        y_index = np.array([index[v] for v in y.tolist()], dtype=np.int64)
        logits = self._model.decision_function(_library_matrix(X), self._threads())
        fit = _core.fit_temperature(np.ascontiguousarray(logits), y_index)
        self._model = self._model.with_temperature(fit["temperature"])
        self.temperature_ = float(fit["temperature"])
        self.calibration_ = fit
        return self

    # ---- prediction

    def decision_function(self, X):
        """Logits ``X coef_.T + intercept_``: shape (n_samples, K), or (n_samples,) with the
        difference of the two logits for binary problems (scikit-learn's convention), in the
        training dtype."""
        check_is_fitted(self)
        z = self._model.decision_function(_library_matrix(self._check_X(X, False)), self._threads())
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X):
        """Class probabilities ``softmax(z / temperature_)`` of the logits z, shape
        (n_samples, K), rows summing to 1, columns in the order of classes_ (temperature_ is 1
        unless :meth:`calibrate` fitted it)."""
        check_is_fitted(self)
        return self._model.predict_proba(_library_matrix(self._check_X(X, False)), self._threads())

    def predict_log_proba(self, X):
        """Log-probabilities, computed from the logits (not as log(predict_proba)), so tiny
        probabilities keep their precision."""
        check_is_fitted(self)
        return self._model.predict_log_proba(
            _library_matrix(self._check_X(X, False)), self._threads()
        )

    def predict(self, X):
        """The label of the largest logit (ties to the first class in classes_)."""
        check_is_fitted(self)
        index = self._model.predict(_library_matrix(self._check_X(X, False)), self._threads())
        return self.classes_[index]

    # ---- model files

    def save_model(self, path):
        """Writes the fitted model as a softreg model file (docs/FORMATS.md), readable by the
        command line (``softreg predict --model path``) and by :func:`load_model`. Labels are
        written as ``str(label)``; the file also keeps the labels' dtype, ``feature_names_in_``
        and the estimator's parameters (``get_params``; a RandomState instance is recorded as
        None), so that :func:`load_model` gives them back."""
        check_is_fitted(self)
        parameters = dict(self._model.info["parameters"])
        for name, value in self.get_params(deep=False).items():
            value = _plain(value)
            if name == "random_state" and not (value is None or isinstance(value, int)):
                value = None
            text = repr(value)
            try:
                _literal(text)
            except LookupError:
                continue
            parameters["python." + name] = text
        parameters["python.classes_dtype"] = repr(self.classes_.dtype.str)
        names = getattr(self, "feature_names_in_", None)
        _model_with_labels(
            self._model,
            [str(c) for c in self.classes_.tolist()],
            parameters,
            [] if names is None else [str(n) for n in names],
        ).save(os.fspath(path))

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.sparse = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"requires_y": True}

def load_model(path):
    """A fitted SoftmaxRegression from a softreg model file (written by ``softreg train`` or
    :meth:`SoftmaxRegression.save_model`).

    classes_ has the dtype the labels were trained with when a SoftmaxRegression wrote the file
    (int, float, bool or str); for files of the command line it is int64 if every label is an
    integer, else strings. feature_names_in_ is set when the training data named its columns
    (a DataFrame, or a CSV header on the command line), and then DataFrames are checked against
    it as scikit-learn does. get_params() gives the parameters the model was trained with: the
    estimator's own, or the command line's options under the estimator's names (--l2 as alpha,
    --seed as random_state, ...), so that ``clone(load_model(path)).fit(X, y)`` trains the
    same way (the same model for lbfgs and newton-cg; the stochastic solvers draw their order
    from random_state as the estimator does, which differs from the command line's --seed)."""
    model = _core.Model.load(os.fspath(path))
    info = model.info
    parameters = info["parameters"]
    dtype = parameters.get("python.classes_dtype")
    try:
        dtype = None if dtype is None else np.dtype(_literal(dtype))
    except (LookupError, TypeError):
        dtype = None
    classes = _labels_to_array(model.classes, dtype)
    est = SoftmaxRegression(alpha=info["l2"], solver=info["solver"])
    valid = est.get_params()
    est.set_params(**{k: v for k, v in _estimator_parameters(parameters, classes).items()
                      if k in valid})
    est.classes_ = classes
    est._model = _model_with_labels(model, [str(i) for i in range(model.n_classes)])
    est._fit_dtype = np.float32 if info["dtype"] == "float32" else np.float64
    est.n_features_in_ = model.n_features
    if model.feature_names:
        est.feature_names_in_ = np.array(model.feature_names, dtype=object)
    w, b = model.folded_weights()
    est.coef_ = np.ascontiguousarray(w.T)
    est.intercept_ = b
    est.n_iter_ = int(info["iterations"])
    est.loss_curve_ = np.asarray(info["loss_history"], dtype=np.float64)
    est.training_info_ = info
    est.temperature_ = float(model.temperature)
    return est
