"""argmax, the backward passes and the Jacobian from Python: against NumPy float64
formulas, finite differences of the forward functions, and their edge cases and errors."""
import numpy as np
import pytest

import softreg


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


def np_softmax(x, axis, t=1.0):
    z = (x - x.max(axis=axis, keepdims=True)) / t
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-6)])
@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("t", [1.0, 0.6])
def test_backward_passes_match_their_formulas(rng, dtype, tol, axis, t):
    x = rng.normal(0, 3, (4, 7, 5)).astype(dtype)
    dy = rng.normal(0, 1, x.shape).astype(dtype)
    p = softreg.softmax(x, axis, t)
    y = softreg.log_softmax(x, axis, t)
    p64, y64, dy64 = p.astype(np.float64), y.astype(np.float64), dy.astype(np.float64)
    want = p64 * (dy64 - (dy64 * p64).sum(axis=axis, keepdims=True)) / t
    got = softreg.softmax_backward(p, dy, axis, t)
    assert got.dtype == dtype and got.shape == x.shape
    np.testing.assert_allclose(got, want, atol=tol * 10, rtol=tol * 10)
    want = (dy64 - np.exp(y64) * dy64.sum(axis=axis, keepdims=True)) / t
    np.testing.assert_allclose(softreg.log_softmax_backward(y, dy, axis, t), want,
                               atol=tol * 10, rtol=tol * 10)
    if t == 1.0:
        r = softreg.logsumexp(x, axis)
        dr = rng.normal(0, 1, r.shape).astype(dtype)
        want = np.expand_dims(dr, axis).astype(np.float64) * np.exp(
            x.astype(np.float64) - np.expand_dims(r, axis).astype(np.float64))
        got = softreg.logsumexp_backward(x, r, dr, axis)
        np.testing.assert_allclose(got, want, atol=tol * 10, rtol=tol * 10)
        keep = softreg.logsumexp_backward(x, np.expand_dims(r, axis), np.expand_dims(dr, axis),
                                          axis)
        np.testing.assert_array_equal(keep, got)


def test_backward_passes_are_the_derivatives_of_the_forward_functions(rng):
    # Central differences in float64 of <dy, f(x)> for each forward function.
    x = rng.normal(0, 2, (3, 6))
    dy = rng.normal(0, 1, x.shape)
    h = 1e-6
    forward = {
        "softmax": lambda v: (dy * softreg.softmax(v, 1, 0.7)).sum(),
        "log_softmax": lambda v: (dy * softreg.log_softmax(v, 1, 0.7)).sum(),
        "logsumexp": lambda v: (dy[:, 0] * softreg.logsumexp(v, 1)).sum(),
    }
    analytic = {
        "softmax": softreg.softmax_backward(softreg.softmax(x, 1, 0.7), dy, 1, 0.7),
        "log_softmax": softreg.log_softmax_backward(softreg.log_softmax(x, 1, 0.7), dy, 1, 0.7),
        "logsumexp": softreg.logsumexp_backward(x, softreg.logsumexp(x, 1), dy[:, 0], 1),
    }
    for name, f in forward.items():
        numeric = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[i] = h
            numeric[i] = (f(x + e) - f(x - e)) / (2 * h)
        np.testing.assert_allclose(analytic[name], numeric, atol=1e-7, err_msg=name)


def test_jacobian_and_its_product(rng):
    p = softreg.softmax(rng.normal(0, 1, 6))
    jac = softreg.softmax_jacobian(p)
    np.testing.assert_allclose(jac, np.diag(p) - np.outer(p, p), atol=1e-16)
    dy = rng.normal(0, 1, 6)
    np.testing.assert_allclose(jac.T @ dy, softreg.softmax_backward(p, dy), atol=1e-15)
    assert softreg.softmax_jacobian(p.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match=r"expected \(K,\)"):
        softreg.softmax_jacobian(np.ones((2, 3)) / 3)


def test_argmax_ties_nan_and_axes():
    x = np.array([[1.0, 3.0, 3.0], [np.nan, 5.0, 1.0], [-np.inf, -np.inf, -np.inf]])
    np.testing.assert_array_equal(softreg.argmax(x), [1, -1, 0])
    assert softreg.argmax(x).dtype == np.int64
    np.testing.assert_array_equal(softreg.argmax(x, 0), [-1, 1, 0])  # NaN only in column 0
    y = np.array([[2.0, 1.0], [0.0, 4.0]], dtype=np.float32)
    np.testing.assert_array_equal(softreg.argmax(y, 0, keepdims=True), [[0, 1]])
    np.testing.assert_array_equal(softreg.argmax(np.zeros((3, 0))), [-1, -1, -1])
    z = np.random.default_rng(1).normal(size=(5, 4, 3))
    for axis in range(3):
        np.testing.assert_array_equal(softreg.argmax(z, axis), np.argmax(z, axis))


def test_edge_cases_and_errors(rng):
    p = softreg.softmax(rng.normal(0, 1, (2, 4)))
    dy = rng.normal(0, 1, (2, 4))
    np.testing.assert_array_equal(softreg.softmax_backward(p, dy, temperature=0.0), 0.0)
    bad = dy.copy()
    bad[1, 2] = np.nan
    got = softreg.softmax_backward(p, bad)
    assert np.isnan(got[1]).all() and np.isfinite(got[0]).all()
    # In place: out may be dy.
    buf = dy.copy()
    out = softreg.softmax_backward(p, buf, out=buf)
    assert out is buf
    np.testing.assert_allclose(buf, softreg.softmax_backward(p, dy), atol=1e-15)
    # A fully masked row of logsumexp gets zeros.
    x = np.array([[-np.inf, -np.inf], [0.0, 1.0]])
    r = softreg.logsumexp(x)
    np.testing.assert_array_equal(softreg.logsumexp_backward(x, r, np.ones(2))[0], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"dy has shape \(4, 2\), expected \(2, 4\)"):
        softreg.softmax_backward(p, dy.T.copy())
    with pytest.raises(ValueError, match="r has shape"):
        softreg.logsumexp_backward(x, np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError):
        softreg.log_softmax_backward(p, dy, axis=2)
    with pytest.raises(ValueError):
        softreg.softmax_backward(p, dy, temperature=-1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_online_normalizer_split_and_merged_equals_the_whole_row(rng, dtype):
    x = rng.normal(0, 4, 5000).astype(dtype)
    t = 0.8
    whole = softreg.OnlineSoftmax(t)
    whole.update(x)
    parts = [softreg.OnlineSoftmax(t) for _ in range(3)]
    for part, piece in zip(parts, np.array_split(x, 3)):
        part.update(piece)
    merged = softreg.OnlineSoftmax(t)
    for part in reversed(parts):  # any order
        merged.merge(part)
    x64 = x.astype(np.float64) / t
    want = np.log(np.exp(x64 - x64.max()).sum()) + x64.max()
    for o in (whole, merged):
        assert o.max == pytest.approx(float(x.max()), abs=0)
        assert o.logsumexp() == pytest.approx(want, abs=4 * np.finfo(np.float64).eps * (1 + abs(want)))
        p = o.normalize(x)
        assert p.dtype == dtype and p.shape == x.shape
        np.testing.assert_allclose(p, np.exp(x64 - want), rtol=8 * np.finfo(dtype).eps * 50,
                                   atol=np.finfo(dtype).tiny)
        assert o.probability(float(x[7])) == pytest.approx(np.exp(x64[7] - want), rel=1e-12)
    # Scalars and arrays of any shape fold in too.
    two_d = softreg.OnlineSoftmax(t)
    two_d.update(x.reshape(50, 100))
    assert two_d.logsumexp() == whole.logsumexp()


def test_online_normalizer_edge_cases():
    empty = softreg.OnlineSoftmax()
    assert empty.max == -np.inf and empty.sum == 0 and empty.logsumexp() == -np.inf
    np.testing.assert_array_equal(empty.normalize(np.array([-np.inf, -np.inf])), [0.0, 0.0])
    inf = softreg.OnlineSoftmax()
    inf.update(np.array([1.0, np.inf, 3.0, np.inf]))
    np.testing.assert_array_equal(inf.normalize(np.array([1.0, np.inf])), [0.0, 0.5])
    nan = softreg.OnlineSoftmax()
    nan.update(np.array([1.0, np.nan]))
    assert nan.has_nan and np.isnan(nan.logsumexp())
    assert "has_nan=True" in repr(nan)
    with pytest.raises(ValueError, match="temperature"):
        softreg.OnlineSoftmax(0.0)
    with pytest.raises(ValueError, match="temperature"):
        softreg.OnlineSoftmax(1.0).merge(softreg.OnlineSoftmax(2.0))
    buf = np.array([0.0, 1.0])
    o = softreg.OnlineSoftmax()
    o.update(buf)
    assert o.normalize(buf, out=buf) is buf
    assert buf.sum() == pytest.approx(1.0)
