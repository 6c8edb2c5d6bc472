"""SoftmaxRegression against scikit-learn's LogisticRegression (multinomial, L-BFGS) on the
same data, and the estimator's own contract: labels, sparse input, weights, pickling, model
files, interruption."""
import os
import pickle
import signal
import threading
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import softreg
from softreg import SoftmaxRegression

TIGHT = dict(tol=1e-9, max_iter=2000)


def objective(coef, intercept, X, y_index, lam, sample_weight=None, class_weight=None):
    """The documented objective in float64: weighted mean cross-entropy + (lam / 2) ||W||^2."""
    z = np.asarray(X @ coef.T, dtype=np.float64) + intercept
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    s = np.ones(len(y_index)) if sample_weight is None else np.asarray(sample_weight, float)
    c = np.ones(coef.shape[0]) if class_weight is None else np.asarray(class_weight, float)
    ce = -logp[np.arange(len(y_index)), y_index]
    return (s * c[y_index] * ce).sum() / s.sum() + 0.5 * lam * np.sum(coef * coef)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=400, n_features=12, n_informative=8, n_classes=4,
                               n_clusters_per_class=1, random_state=3)
    return StandardScaler().fit_transform(X), y


def sklearn_fit(X, y, C=1.0, **kwargs):
    return LogisticRegression(C=C, solver="lbfgs", tol=1e-10,
                              max_iter=5000, **kwargs).fit(X, y)


@pytest.mark.parametrize("C", [0.05, 1.0, 20.0])
def test_same_optimum_as_logistic_regression(data, C):
    X, y = data
    ours = SoftmaxRegression(C=C, **TIGHT).fit(X, y)
    theirs = sklearn_fit(X, y, C)
    lam = 1.0 / (C * len(y))
    f_ours = objective(ours.coef_, ours.intercept_, X, y, lam)
    f_theirs = objective(theirs.coef_, theirs.intercept_, X, y, lam)
    assert f_ours <= f_theirs + 1e-9 * abs(f_theirs)  # at least as low as scikit-learn's
    assert ours.training_info_["final_loss"] == pytest.approx(f_ours, rel=1e-9)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=2e-3 * max(1, np.abs(theirs.coef_).max()))
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=2e-3 * max(1, C))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-4)
    assert np.mean(ours.predict(X) == theirs.predict(X)) >= 0.99


@pytest.mark.parametrize("solver", ["newton-cg", "saga"])
@pytest.mark.parametrize("C", [0.05, 20.0])
def test_newton_cg_and_saga_reach_the_lbfgs_optimum_dense_and_sparse(data, C, solver, rng):
    X, y = data
    X = np.where(rng.random(X.shape) < 0.5, 0.0, X)
    lam = 1.0 / (C * len(y))
    reference = sklearn_fit(X, y, C)
    f_ref = objective(reference.coef_, reference.intercept_, X, y, lam)
    settings = dict(tol=1e-7, max_iter=5000) if solver == "saga" else TIGHT
    for features in (X, sp.csr_matrix(X)):
        ours = SoftmaxRegression(C=C, solver=solver, **settings).fit(features, y)
        assert ours.training_info_["converged"]
        assert ours.training_info_["solver"] == solver
        f = objective(ours.coef_, ours.intercept_, X, y, lam)
        # SAGA stops at a gradient of 1e-7: within |g|^2 / lambda of the optimum.
        assert f <= f_ref + 1e-9 * max(1.0, abs(f_ref))
        np.testing.assert_allclose(ours.predict_proba(features), reference.predict_proba(X),
                                   atol=1e-4)


def test_auto_picks_saga_for_large_sparse_input_else_lbfgs(rng):
    # 4 classes x 25,000 features = 100,000 weights: the smallest problem auto hands to SAGA.
    n, d = 400, 25000
    y = np.arange(n) % 4
    rows = np.repeat(np.arange(n), 2)
    cols = np.stack([y, 4 + rng.integers(0, d - 4, n)], axis=1).ravel()
    X = sp.csr_matrix((np.ones(2 * n), (rows, cols)), shape=(n, d))
    assert SoftmaxRegression().get_params()["solver"] == "auto"
    assert SoftmaxRegression(max_iter=5).fit(X, y).training_info_["solver"] == "saga"
    narrow = X[:, :d - 1]
    assert SoftmaxRegression(max_iter=5).fit(narrow, y).training_info_["solver"] == "lbfgs"
    assert SoftmaxRegression(max_iter=5, scale="standard").fit(X, y) \
        .training_info_["solver"] == "lbfgs"
    dense = X[:, :50].toarray()
    assert SoftmaxRegression(max_iter=5).fit(dense, y).training_info_["solver"] == "lbfgs"


def test_saga_refuses_scaling(data):
    X, y = data
    with pytest.raises(ValueError, match="saga"):
        SoftmaxRegression(solver="saga", scale="standard").fit(X, y)


def test_alpha_is_lambda_and_wins_over_C(data):
    X, y = data
    by_c = SoftmaxRegression(C=0.5, **TIGHT).fit(X, y)
    by_alpha = SoftmaxRegression(C=123.0, alpha=1.0 / (0.5 * len(y)), **TIGHT).fit(X, y)
    np.testing.assert_array_equal(by_c.coef_, by_alpha.coef_)
    assert by_alpha.training_info_["l2"] == pytest.approx(1.0 / (0.5 * len(y)), rel=1e-15)


def test_sample_weight_maps_C_through_the_weight_sum(data, rng):
    X, y = data
    w = rng.uniform(0.0, 3.0, len(y))
    ours = SoftmaxRegression(C=2.0, **TIGHT).fit(X, y, sample_weight=w)
    theirs = sklearn_fit(X, y, 2.0).fit(X, y, sample_weight=w)
    lam = 1.0 / (2.0 * w.sum())
    f = objective(ours.coef_, ours.intercept_, X, y, lam, w)
    assert f <= objective(theirs.coef_, theirs.intercept_, X, y, lam, w) + 1e-9
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 3.0, 2: 0.5}])
def test_class_weight_as_logistic_regression(data, class_weight):
    X, y = data
    y = np.where(y == 3, 0, y) if class_weight == "balanced" else y  # unbalance the classes
    ours = SoftmaxRegression(class_weight=class_weight, **TIGHT).fit(X, y)
    theirs = sklearn_fit(X, y, class_weight=class_weight)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-4)


def test_zero_sample_weight_is_the_same_optimum_as_removing_the_rows(data):
    X, y = data
    w = np.ones(len(y))
    w[::3] = 0
    zero = SoftmaxRegression(**TIGHT).fit(X, y, sample_weight=w)
    removed = SoftmaxRegression(**TIGHT).fit(X[w > 0], y[w > 0])
    lam = 1.0 / w.sum()
    f_zero = objective(zero.coef_, zero.intercept_, X, y, lam, w)
    f_removed = objective(removed.coef_, removed.intercept_, X[w > 0], y[w > 0], lam)
    assert f_zero == pytest.approx(f_removed, rel=1e-9)
    # L-BFGS also stops on a relative decrease of 1e-10, so the weights agree less tightly.
    np.testing.assert_allclose(zero.predict_proba(X), removed.predict_proba(X), atol=1e-4)


def test_binary_problems_follow_scikit_learns_conventions(data):
    X, y = data
    y = (y % 2 == 0)
    ours = SoftmaxRegression(**TIGHT).fit(X, y)
    # scikit-learn's binary fit estimates u = w1 - w0 of the symmetric pair w0 = -w1; the
    # estimator doubles lambda on two classes so that C means the same in both.
    theirs = sklearn_fit(X, y, C=1.0)
    assert ours.classes_.dtype == bool and ours.coef_.shape == (2, X.shape[1])
    decision = ours.decision_function(X)
    assert decision.shape == (len(y),)
    np.testing.assert_array_equal(ours.predict(X), ours.classes_[(decision > 0).astype(int)])
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    # The symmetric optimum: the two rows are opposite, their difference is scikit-learn's u.
    np.testing.assert_allclose(ours.coef_[1], -ours.coef_[0], atol=1e-9)
    np.testing.assert_allclose(ours.coef_[1] - ours.coef_[0], theirs.coef_[0], atol=1e-4)


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_two_class_C_is_scikit_learns_binary_C(C):
    # Breast cancer, standardized: probabilities within 1e-6 of LogisticRegression(C=C) at
    # convergence, with and without sample weights; alpha stays lambda itself. Both sides run
    # Newton's method to the optimum (1.2e-7 apart measured): L-BFGS on either side stops a
    # few 1e-6 short at C = 100, where the problem is nearly separable.
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    w = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    for sample_weight in (None, w):
        ours = SoftmaxRegression(C=C, solver="newton-cg", tol=1e-10, max_iter=500)
        ours.fit(X, y, sample_weight=sample_weight)
        theirs = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=500)
        theirs.fit(X, y, sample_weight=sample_weight)
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    by_c = SoftmaxRegression(C=C, **TIGHT).fit(X, y)
    by_alpha = SoftmaxRegression(alpha=2.0 / (C * len(y)), **TIGHT).fit(X, y)
    np.testing.assert_allclose(by_alpha.predict_proba(X), by_c.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("labels", [
    np.array(["cat", "dog", "emu"]), np.array([-5, 10, 7]), np.array([1.0, 2.0, -3.0]),
], ids=["str", "int", "float"])
def test_labels_keep_their_dtype_and_order(labels):
    X, y_index = load_iris(return_X_y=True)
    y = labels[y_index]
    est = SoftmaxRegression().fit(X, y)
    np.testing.assert_array_equal(est.classes_, np.unique(y))
    assert est.classes_.dtype == y.dtype
    assert est.predict(X).dtype == y.dtype
    assert est.score(X, y) > 0.95
    proba = est.predict_proba(X)
    np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], est.predict(X))


def test_log_proba_and_decision_function_are_consistent(data):
    X, y = data
    est = SoftmaxRegression().fit(X, y)
    z = est.decision_function(X)
    np.testing.assert_allclose(z, X @ est.coef_.T + est.intercept_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(est.predict_log_proba(X), softreg.log_softmax(z), rtol=1e-12)
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), est.predict_proba(X), rtol=1e-12)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil"])
def test_sparse_input_gives_the_dense_result(data, fmt, rng):
    X, y = data
    X = np.where(rng.random(X.shape) < 0.6, 0.0, X)
    dense = SoftmaxRegression(**TIGHT).fit(X, y)
    Xs = sp.csr_matrix(X).asformat(fmt)
    sparse = SoftmaxRegression(**TIGHT).fit(Xs, y)
    # The same preconditioner and the same path: the fits differ by the passes' rounding.
    assert abs(sparse.n_iter_ - dense.n_iter_) <= 2
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-7)
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X), atol=1e-9)
    np.testing.assert_allclose(sparse.predict_proba(X), sparse.predict_proba(Xs), atol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sparse_and_dense_digits_converge_together():
    # Ill-conditioned (C = 1, pixel counts 0..16): sparse input once took all 1000 iterations
    # where dense input converged in about 420, and at the defaults their probabilities
    # differed by up to 0.03.
    X, y = load_digits(return_X_y=True)
    Xs = sp.csr_matrix(X)
    dense = SoftmaxRegression(max_iter=1000, tol=1e-6).fit(X, y)
    sparse = SoftmaxRegression(max_iter=1000, tol=1e-6).fit(Xs, y)
    assert dense.training_info_["converged"] and sparse.training_info_["converged"]
    assert abs(sparse.n_iter_ - dense.n_iter_) <= 0.05 * dense.n_iter_
    # Both within tol of the optimum: ||w - w*|| <= sqrt(p) tol / lambda bounds more than the
    # probabilities need; measured 3.2e-5.
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X), atol=1e-3)
    dense = SoftmaxRegression().fit(X, y)
    sparse = SoftmaxRegression().fit(Xs, y)
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X), atol=1e-6)


def test_float32_fit_to_its_precision_limit_counts_as_converged():
    # tol 0: the float32 passes end when no decrease can be seen; that is the optimum to their
    # precision (digits: the float64 fit's objective to 1e-6), so it is "converged".
    X, y = load_digits(return_X_y=True)
    f32 = SoftmaxRegression(tol=0, max_iter=3000, dtype="float32").fit(X.astype(np.float32), y)
    f64 = SoftmaxRegression(tol=0, max_iter=3000, dtype="float64").fit(X, y)
    assert f32.training_info_["converged"], f32.training_info_["message"]
    assert "precision limit" in f32.training_info_["message"]
    assert f32.training_info_["final_loss"] == pytest.approx(f64.training_info_["final_loss"],
                                                           rel=1e-5)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "saga", "adam"])
def test_loss_curve_has_one_value_per_iteration(data, solver):
    X, y = data
    est = SoftmaxRegression(solver=solver, max_iter=30).fit(X, y)
    curve = est.loss_curve_
    assert curve.dtype == np.float64 and curve.shape == (est.n_iter_,)
    np.testing.assert_array_equal(curve, est.training_info_["loss_history"])
    assert curve[-1] < curve[0]
    if solver in ("lbfgs", "newton-cg"):  # full-batch descent: never up
        assert np.all(np.diff(curve) <= 1e-12 * abs(curve[0]))
        assert curve[-1] == pytest.approx(est.training_info_["final_loss"], rel=1e-12)


def test_non_canonical_csr_is_summed_and_sorted(data):
    X, y = data
    csr = sp.csr_matrix(X)
    rows = np.repeat(np.arange(X.shape[0]), X.shape[1])
    cols = np.tile(np.arange(X.shape[1]), X.shape[0])[::-1].copy()  # unsorted within a row
    vals = X[rows, cols]
    messy = sp.csr_matrix((np.r_[vals / 2, vals / 2], (np.r_[rows, rows], np.r_[cols, cols])),
                          shape=X.shape)
    messy.has_canonical_format = False
    est = SoftmaxRegression().fit(csr, y)
    np.testing.assert_allclose(est.predict_proba(messy), est.predict_proba(csr), atol=1e-12)


def test_float32_input_trains_and_predicts_in_float32(data):
    X, y = data
    est = SoftmaxRegression(**TIGHT).fit(X.astype(np.float32), y)
    assert est.training_info_["dtype"] == "float32"
    assert est.predict_proba(X).dtype == np.float32
    wide = SoftmaxRegression(**TIGHT).fit(X, y)
    np.testing.assert_allclose(est.predict_proba(X), wide.predict_proba(X), atol=1e-3)
    assert SoftmaxRegression(dtype="float64").fit(X.astype(np.float32), y) \
        .training_info_["dtype"] == "float64"


def test_thread_count_changes_the_result_at_most_in_the_last_bits(data):
    """The objective sums its blocks in an order fixed for a given thread count
    (include/softreg/objective.hpp): the same count repeats bitwise, another one agrees to
    rounding."""
    X, y = data
    a = SoftmaxRegression(n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(SoftmaxRegression(n_jobs=1).fit(X, y).coef_, a.coef_)
    b = SoftmaxRegression(n_jobs=2).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-9, atol=1e-12)


def test_pickle_round_trip_keeps_predictions_and_labels(data):
    X, y = data
    est = SoftmaxRegression(scale="standard").fit(X * 7 + 3, np.array(list("abcd"))[y])
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(back.classes_, est.classes_)
    assert back.get_params() == est.get_params()
    assert back.training_info_ == est.training_info_


def test_model_file_round_trip(data, tmp_path):
    X, y = data
    est = SoftmaxRegression(scale="minmax").fit(X, np.array([10, 20, 30, 40])[y])
    est.save_model(tmp_path / "m.srm")
    back = softreg.load_model(tmp_path / "m.srm")
    np.testing.assert_array_equal(back.classes_, est.classes_)
    np.testing.assert_allclose(back.predict_proba(X), est.predict_proba(X), rtol=1e-12)
    # A loaded model warm-starts a new fit on the same labels.
    back.set_params(warm_start=True, max_iter=3)
    back.fit(X, np.array([10, 20, 30, 40])[y])
    with pytest.raises(OSError):
        softreg.load_model(tmp_path / "missing.srm")
    (tmp_path / "bad.srm").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.srm"):
        softreg.load_model(tmp_path / "bad.srm")


def test_warm_start_continues_from_the_previous_weights(data):
    X, y = data
    est = SoftmaxRegression(warm_start=True, **TIGHT).fit(X, y)
    first = est.n_iter_
    est.fit(X, y)
    assert est.n_iter_ < max(3, first // 4)
    cold = SoftmaxRegression(**TIGHT).fit(X, y)
    assert cold.n_iter_ == first


@pytest.mark.parametrize("solver,lr", [("sgd", 0.05), ("adam", 0.01)])
def test_stochastic_solvers_approach_the_optimum_and_repeat(data, solver, lr):
    X, y = data
    lam = 1.0 / len(y)
    best = SoftmaxRegression(**TIGHT).fit(X, y)
    f_best = objective(best.coef_, best.intercept_, X, y, lam)
    est = SoftmaxRegression(solver=solver, lr=lr, max_iter=60, batch_size=32, random_state=1)
    est.fit(X, y)
    f = objective(est.coef_, est.intercept_, X, y, lam)
    assert f_best <= f <= f_best + 0.02
    again = SoftmaxRegression(**est.get_params()).fit(X, y)
    np.testing.assert_array_equal(again.coef_, est.coef_)
    assert est.n_iter_ == 60


def test_early_stopping_on_a_validation_split(data):
    X, y = data
    est = SoftmaxRegression(solver="adam", lr=0.05, max_iter=500, validation_fraction=0.2,
                            n_iter_no_change=3, random_state=0).fit(X, y)
    assert est.n_iter_ < 500 and est.training_info_["n_valid"] == 80


def test_convergence_warning_when_max_iter_is_reached(data):
    X, y = data
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        SoftmaxRegression(max_iter=2, tol=0).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_verbose_prints_progress(data, capsys):
    X, y = data
    SoftmaxRegression(verbose=1, max_iter=3).fit(X, y)
    assert "iteration 1/3  loss" in capsys.readouterr().out


def test_input_errors_are_scikit_learn_style(data):
    X, y = data
    est = SoftmaxRegression()
    with pytest.raises(NotFittedError):
        est.predict(X)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(bad, y)
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        est.fit(bad, y)
    with pytest.raises(ValueError, match="only one class"):
        est.fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="Unknown label type"):
        est.fit(X, np.linspace(0, 1, len(y)))
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        est.fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match=r"The classes, \[7\], are not in class"):
        SoftmaxRegression(class_weight={7: 2.0}).fit(X, y)
    est.fit(X, y)
    with pytest.raises(ValueError, match="expecting 12 features"):
        est.predict(X[:, :5])


@pytest.mark.parametrize("params,error,match", [
    (dict(C=0), ValueError, "'C' parameter"),
    (dict(C="1"), TypeError, "'C' parameter"),
    (dict(alpha=-1.0), ValueError, "'alpha' parameter"),
    (dict(solver="newton"), ValueError, "'solver' parameter"),
    (dict(max_iter=1.5), TypeError, "'max_iter' parameter"),
    (dict(class_weight="auto"), ValueError, "'class_weight' parameter"),
    (dict(scale="robust"), ValueError, "'scale' parameter"),
    (dict(dtype="float16"), ValueError, "'dtype' parameter"),
    (dict(validation_fraction=1.0), ValueError, r"'validation_fraction' parameter .* in \[0, 1\)"),
    (dict(max_iter=-1), ValueError, "'max_iter' parameter of SoftmaxRegression must be >= 0; got -1"),
    (dict(solver="adam", max_iter=-1), ValueError, "'max_iter' parameter .* >= 0"),
    (dict(tol=float("nan")), ValueError, "'tol' parameter"),
    (dict(lr=-0.1), ValueError, "'lr' parameter"),
    (dict(batch_size=0), ValueError, "'batch_size' parameter .* >= 1; got 0"),
    (dict(batch_size=-(2**70)), ValueError, "'batch_size' parameter"),
    (dict(n_iter_no_change=0), ValueError, "'n_iter_no_change' parameter .* >= 1"),
    (dict(alpha=float("inf")), ValueError, "'alpha' parameter .* finite"),
    (dict(C=float("nan")), ValueError, "'C' parameter"),
    (dict(n_jobs=0), ValueError, "'n_jobs' parameter"),
])
def test_bad_parameters_name_the_parameter(data, params, error, match):
    X, y = data
    with pytest.raises(error, match=match):
        SoftmaxRegression(**params).fit(X, y)


def test_parameters_lbfgs_does_not_use_are_warned_about(data):
    X, y = data
    with pytest.warns(UserWarning, match="lr and batch_size do not apply to solver='auto'"):
        SoftmaxRegression(lr=0.1, batch_size=32).fit(X, y)
    with pytest.warns(UserWarning, match="lr does not apply to solver='lbfgs'"):
        SoftmaxRegression(solver="lbfgs", lr=0.1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        SoftmaxRegression(solver="sgd", lr=0.1, batch_size=32, max_iter=3).fit(X, y)
        SoftmaxRegression().fit(X, y)


def test_pipeline_and_grid_search():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), SoftmaxRegression())
    search = GridSearchCV(pipe, {"softmaxregression__C": [0.01, 1.0, 100.0]}, cv=3)
    search.fit(X, y)
    assert search.best_params_["softmaxregression__C"] in (1.0, 100.0)
    assert search.best_score_ > 0.9
    assert search.predict(X).shape == y.shape


def test_ctrl_c_interrupts_training():
    """SIGINT during fit stops training within an iteration and raises KeyboardInterrupt;
    the estimator stays unfitted."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5000, 50))
    y = rng.integers(0, 5, 5000)
    # About 20 batch steps per epoch and 10**6 epochs: far longer than the test waits.
    est = SoftmaxRegression(solver="sgd", lr=1e-4, batch_size=256, max_iter=10**6)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            est.fit(X, y)
    finally:
        timer.cancel()
    assert time.monotonic() - start < 10
    assert not hasattr(est, "coef_")


def test_a_raising_progress_callback_stops_training(data):
    """The library's progress hook is also where Python exceptions surface."""
    X, y = data

    class Stop(Exception):
        pass

    def callback(progress):
        if progress["iteration"] == 2:
            raise Stop()

    options = softreg._core.TrainOptions()
    with pytest.raises(Stop):
        softreg._core.Model.fit(X, y.astype(np.int64), options, None, callback)
    stopped = softreg._core.Model.fit(X, y.astype(np.int64), options, None, lambda p: False)
    assert stopped.info["iterations"] == 1


def test_read_dataset_csv_libsvm_and_errors(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,cat\n3,4.5,dog\n")
    X, y = softreg.read_dataset(tmp_path / "d.csv")
    np.testing.assert_array_equal(X, np.array([[1, 2], [3, 4.5]], np.float32))
    np.testing.assert_array_equal(y, ["cat", "dog"])
    (tmp_path / "d.svm").write_text("1 1:0.5 3:2\n-1 2:1\n")
    X, y = softreg.read_dataset(tmp_path / "d.svm", dtype=np.float64)
    assert sp.isspmatrix_csr(X) and X.dtype == np.float64
    np.testing.assert_array_equal(X.toarray(), [[0.5, 0, 2], [0, 1, 0]])
    np.testing.assert_array_equal(y, [1, -1])
    (tmp_path / "bad.csv").write_text("a,label\n1,x\nzz,y\n")
    with pytest.raises(ValueError, match=r"bad.csv:3"):
        softreg.read_dataset(tmp_path / "bad.csv")
    with pytest.raises(OSError):
        softreg.read_dataset(tmp_path / "none.csv")


FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


@pytest.mark.skipif(not os.path.exists(FASHION), reason="dataset-fashion-mnist not installed")
def test_read_dataset_idx_matches_a_direct_decoding():
    import gzip

    X, y = softreg.read_dataset(FASHION)
    with gzip.open(FASHION) as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(FASHION.replace("images-idx3", "labels-idx1")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    assert X.shape == (10000, 784) and X.dtype == np.float32 and X.flags.c_contiguous
    np.testing.assert_array_equal(X, (raw.reshape(10000, 784) / np.float32(255)).astype(np.float32))
    np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "saga"])
@pytest.mark.parametrize("classes", [2, 3])
def test_fit_intercept_false_matches_logistic_regression(solver, classes):
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True) if classes == 2 else load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X) + 0.5  # not centred: the intercept would matter
    ref = LogisticRegression(C=0.5, fit_intercept=False, tol=1e-10, max_iter=10000).fit(X, y)
    est = SoftmaxRegression(C=0.5, fit_intercept=False, solver=solver, dtype="float64",
                            tol=1e-8, max_iter=5000).fit(X, y)
    np.testing.assert_array_equal(est.intercept_, np.zeros(classes))
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    with_b = SoftmaxRegression(C=0.5, solver=solver, dtype="float64", **TIGHT).fit(X, y)
    assert np.abs(with_b.predict_proba(X) - ref.predict_proba(X)).max() > 1e-3


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_fit_intercept_false_keeps_the_stochastic_solvers_bias_at_zero(solver):
    X, y = load_iris(return_X_y=True)
    est = SoftmaxRegression(fit_intercept=False, solver=solver, max_iter=5).fit(X, y)
    np.testing.assert_array_equal(est.intercept_, np.zeros(3))
    # A warm start from a model with an intercept drops it.
    est = SoftmaxRegression(solver=solver, max_iter=5, warm_start=True).fit(X, y)
    assert np.abs(est.intercept_).max() > 0
    est.set_params(fit_intercept=False).fit(X, y)
    np.testing.assert_array_equal(est.intercept_, np.zeros(3))


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_learns_from_batches_and_checks_classes(solver):
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    labels = np.array([f"digit {d}" for d in y])
    est = SoftmaxRegression(solver=solver, lr=0.05 if solver == "sgd" else 0.01,
                            batch_size=32, alpha=1e-4, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(X[:100], labels[:100])
    # The first batch holds five of the ten classes: the others are known from `classes`.
    first = y < 5
    est.partial_fit(X[first], labels[first], classes=np.unique(labels))
    assert list(est.classes_) == sorted(set(labels))
    assert est.score(X[~first], labels[~first]) == 0.0
    rng = np.random.default_rng(0)
    for epoch in range(5):
        for part in np.array_split(rng.permutation(len(y)), 9):
            est.partial_fit(X[part], labels[part])
    assert est.n_iter_ == 46
    assert est.score(X, labels) > 0.9
    # One call over everything is one epoch of fit from zero weights (fit starts b at the
    # class priors, which are uniform here up to a few rows).
    one = SoftmaxRegression(solver=solver, max_iter=1, random_state=0).fit(X, labels)
    again = SoftmaxRegression(solver=solver, random_state=0).partial_fit(
        X, labels, classes=np.unique(labels))
    assert abs(again.score(X, labels) - one.score(X, labels)) < 0.05
    with pytest.raises(ValueError, match="not the same as on the first call"):
        est.partial_fit(X[:10], labels[:10], classes=["a", "b"])
    with pytest.raises(ValueError, match=r"not among the classes: \['digit 99'\]"):
        est.partial_fit(X[:2], np.array(["digit 1", "digit 99"]))
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
        SoftmaxRegression(solver="lbfgs").partial_fit(X, labels, classes=np.unique(labels))
    assert not hasattr(SoftmaxRegression(), "partial_fit")
    with pytest.raises(ValueError, match="cannot fit scale"):
        SoftmaxRegression(solver=solver, scale="standard").partial_fit(
            X, labels, classes=np.unique(labels))


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("classes", [2, 3])
def test_l1_and_elastic_net_match_logistic_regression_saga(l1_ratio, classes):
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True) if classes == 2 else load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LogisticRegression(C=0.2, l1_ratio=l1_ratio, solver="saga", tol=1e-12,
                                 max_iter=200000).fit(X, y)
    est = SoftmaxRegression(C=0.2, l1_ratio=l1_ratio, dtype="float64", tol=1e-9,
                            max_iter=5000).fit(X, y)
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    ours = est.coef_ if classes > 2 else (est.coef_[1] - est.coef_[0])[None]
    # Exact zeros, the same ones as scikit-learn's proximal steps give.
    np.testing.assert_array_equal(ours == 0, ref.coef_ == 0)
    assert 0 < (ours == 0).sum() < ours.size
    if l1_ratio == 1.0:
        same = SoftmaxRegression(C=0.2, penalty="l1", dtype="float64", tol=1e-9,
                                 max_iter=5000).fit(X, y)
        np.testing.assert_array_equal(same.coef_, est.coef_)


def test_penalty_choices_and_their_errors():
    X, y = load_iris(return_X_y=True)
    free = SoftmaxRegression(penalty=None, dtype="float64", max_iter=50).fit(X, y)
    zero = SoftmaxRegression(alpha=0.0, dtype="float64", max_iter=50).fit(X, y)
    np.testing.assert_array_equal(free.coef_, zero.coef_)
    with pytest.raises(ValueError, match="penalty='elasticnet' needs l1_ratio"):
        SoftmaxRegression(penalty="elasticnet").fit(X, y)
    with pytest.raises(ValueError, match="needs solver='lbfgs' or 'auto'"):
        SoftmaxRegression(penalty="l1", solver="saga").fit(X, y)
    with pytest.raises(ValueError, match=r"'l1_ratio' parameter .* must be in \[0, 1\]"):
        SoftmaxRegression(l1_ratio=1.5).fit(X, y)
    # alpha with an L1 share splits into the library's l1 and l2.
    est = SoftmaxRegression(alpha=0.02, l1_ratio=0.25).fit(X, y)
    assert est.training_info_["parameters"]["l1"] == repr(0.005)
    assert float(est.training_info_["parameters"]["l2"]) == pytest.approx(0.015, rel=1e-15)


def test_read_dataset_numbering_names_and_notices(tmp_path):
    from sklearn.datasets import dump_svmlight_file

    pd = pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True)
    X = X.copy()
    X[:, 0] = 0.0  # no index 0 in the 0-based file: "auto" cannot tell, the model must
    dump_svmlight_file(X, y, str(tmp_path / "z.svm"), zero_based=True)
    auto, _ = softreg.read_dataset(tmp_path / "z.svm", dtype=np.float64)
    forced, _ = softreg.read_dataset(tmp_path / "z.svm", dtype=np.float64, zero_based=True)
    np.testing.assert_array_equal(forced.toarray(), X)
    np.testing.assert_array_equal(auto.toarray(), X[:, 1:])  # 1-based: one column less
    with pytest.raises(ValueError, match="zero_based must be"):
        softreg.read_dataset(tmp_path / "z.svm", zero_based="yes")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["label"] = y
    frame.to_csv(tmp_path / "p.csv")  # with pandas' index column
    with pytest.warns(UserWarning, match="pandas index"):
        got, labels = softreg.read_dataset(tmp_path / "p.csv", dtype=np.float64, as_frame=True)
    assert list(got.columns) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(got.to_numpy(), X)
    est = SoftmaxRegression().fit(got, labels)
    assert list(est.feature_names_in_) == ["a", "b", "c", "d"]
