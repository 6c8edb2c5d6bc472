"""cross_entropy and cross_entropy_with_grad against the definition in loss.hpp evaluated in
higher precision, finite differences, and the argument rules."""
import numpy as np
import pytest

import reference as ref
import softreg

DTYPES = [np.float32, np.float64]


def case(rng, dtype, n=9, k=5):
    logits = (rng.standard_normal((n, k)) * 4).astype(dtype)
    labels = rng.integers(0, k, n)
    return logits, labels


def loss_bound(dtype, logits, q_sum_abs):
    return 8 * ref.EPS[np.dtype(dtype)] * q_sum_abs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_index_targets_match_the_definition(rng, dtype, smoothing, weighted):
    logits, labels = case(rng, dtype)
    labels[[2, 5]] = -100  # ignored rows
    weight = rng.uniform(0.2, 3.0, 5) if weighted else None
    w_typed = None if weight is None else weight.astype(dtype)
    rows, denominator, grad_rows = ref.cross_entropy_rows(logits, labels, w_typed, -100, smoothing)
    tol = 64 * ref.EPS[np.dtype(dtype)] * (1 + np.abs(rows).max())
    none = softreg.cross_entropy(logits, labels, weight, -100, smoothing, "none")
    assert none.dtype == dtype and none.shape == (9,)
    np.testing.assert_allclose(none, rows, rtol=0, atol=tol)
    total = softreg.cross_entropy(logits, labels, weight, label_smoothing=smoothing,
                                  reduction="sum")
    np.testing.assert_allclose(total, rows.sum(), rtol=0, atol=9 * tol)
    mean, grad = softreg.cross_entropy_with_grad(logits, labels, weight,
                                                 label_smoothing=smoothing)
    np.testing.assert_allclose(mean, rows.sum() / denominator, rtol=0, atol=9 * tol)
    assert grad.dtype == dtype and grad.shape == logits.shape
    np.testing.assert_allclose(grad, grad_rows / denominator, rtol=0,
                               atol=32 * ref.EPS[np.dtype(dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_probability_targets_match_the_definition(rng, dtype):
    logits, _ = case(rng, dtype)
    t = rng.dirichlet(np.ones(5), 9).astype(dtype)
    rows, denominator, grad_rows = ref.cross_entropy_rows(logits, t, smoothing=0.05)
    loss, grad = softreg.cross_entropy_with_grad(logits, t, label_smoothing=0.05)
    eps = ref.EPS[np.dtype(dtype)]
    np.testing.assert_allclose(loss, rows.mean(), rtol=64 * eps)
    np.testing.assert_allclose(grad, grad_rows / denominator, rtol=0, atol=32 * eps)


def test_gradient_matches_finite_differences(rng):
    logits, labels = case(rng, np.float64, n=4, k=3)
    weight = np.array([0.5, 2.0, 1.0])
    _, grad = softreg.cross_entropy_with_grad(logits, labels, weight, label_smoothing=0.2)
    h = 1e-6
    for i in range(4):
        for j in range(3):
            up, down = logits.copy(), logits.copy()
            up[i, j] += h
            down[i, j] -= h
            fd = (softreg.cross_entropy(up, labels, weight, label_smoothing=0.2)
                  - softreg.cross_entropy(down, labels, weight, label_smoothing=0.2)) / (2 * h)
            assert abs(fd - grad[i, j]) <= 1e-8


def test_class_axis_one_is_pytorchs_layout(rng):
    logits = rng.standard_normal((3, 4, 5))  # (N, C, d1)
    labels = rng.integers(0, 4, (3, 5))
    moved = np.moveaxis(logits, 1, -1).reshape(15, 4)
    expected = softreg.cross_entropy(moved, labels.reshape(15), reduction="none").reshape(3, 5)
    got = softreg.cross_entropy(logits, labels, reduction="none", axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    _, grad = softreg.cross_entropy_with_grad(logits, labels, axis=1)
    _, grad_moved = softreg.cross_entropy_with_grad(moved, labels.reshape(15))
    np.testing.assert_allclose(np.moveaxis(grad, 1, -1).reshape(15, 4), grad_moved, rtol=1e-15)


def test_edge_cases_follow_the_table():
    inf = np.inf
    logits = np.array([[np.nan, 0.0, 1.0], [-inf, -inf, -inf], [-inf, 0.0, 1.0], [1e30, -1e30, 0]])
    rows = softreg.cross_entropy(logits, np.array([0, 1, 2, 0]), reduction="none")
    assert np.isnan(rows[0])
    assert rows[1] == inf  # fully masked with target mass
    np.testing.assert_allclose(rows[2], np.log1p(np.exp(-1.0)), rtol=1e-15)
    assert rows[3] == 0
    # All ignored: the mean is 0 with a zero gradient (PyTorch gives NaN).
    loss, grad = softreg.cross_entropy_with_grad(logits[2:], np.array([-100, -100]))
    assert loss == 0 and not grad.any()
    # K = 1 and no rows.
    assert softreg.cross_entropy(np.array([[3.0], [-2.0]]), np.array([0, 0])) == 0
    assert softreg.cross_entropy(np.zeros((0, 3)), np.zeros(0, np.int64)) == 0


def test_out_receives_row_losses_or_the_gradient(rng):
    logits, labels = case(rng, np.float64)
    rows = np.empty(9)
    assert softreg.cross_entropy(logits, labels, reduction="none", out=rows) is rows
    np.testing.assert_array_equal(rows, softreg.cross_entropy(logits, labels, reduction="none"))
    grad = np.empty_like(logits)
    loss, got = softreg.cross_entropy_with_grad(logits, labels, out=grad)
    assert got is grad and loss == softreg.cross_entropy(logits, labels)
    expected = grad.copy()
    _, inplace = softreg.cross_entropy_with_grad(logits, labels, out=logits)  # in place
    assert inplace is logits
    np.testing.assert_array_equal(logits, expected)
    with pytest.raises(ValueError, match="reduction='none'"):
        softreg.cross_entropy(logits, labels, out=rows)


def test_argument_errors_name_the_argument():
    logits = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"target has shape \(3,\), expected \(4,\)"):
        softreg.cross_entropy(logits, np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"target has shape \(4,\), expected \(4, 3\)"):
        softreg.cross_entropy(logits, np.zeros(4))
    with pytest.raises(TypeError, match="target must have an integer dtype"):
        softreg.cross_entropy(logits, np.zeros(4, bool))
    with pytest.raises(ValueError, match=r"weight has shape \(2,\), expected \(3,\)"):
        softreg.cross_entropy(logits, np.zeros(4, np.int64), weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="reduction must be"):
        softreg.cross_entropy(logits, np.zeros(4, np.int64), reduction="avg")
    with pytest.raises(ValueError, match="outside"):
        softreg.cross_entropy(logits, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="weight"):
        softreg.cross_entropy(logits, np.zeros(4, np.int64), weight=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError):
        softreg.cross_entropy(logits, np.zeros(4, np.int64), label_smoothing=1.5)
    with pytest.raises(TypeError, match="logits must have a real"):
        softreg.cross_entropy(np.zeros((4, 3), complex), np.zeros(4, np.int64))
    with pytest.raises(TypeError, match="out has dtype float32"):
        softreg.cross_entropy_with_grad(logits, np.zeros(4, np.int64),
                                        out=np.zeros((4, 3), np.float32))


def test_float32_logits_take_float64_probabilities_and_weights(rng):
    logits, _ = case(rng, np.float32)
    t = rng.dirichlet(np.ones(5), 9)
    w = rng.uniform(0.5, 2, 5)
    got = softreg.cross_entropy(logits, t, weight=w)
    expected = softreg.cross_entropy(logits, t.astype(np.float32), weight=w.astype(np.float32))
    assert got == expected
