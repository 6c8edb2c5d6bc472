"""softmax, log_softmax and logsumexp against float64 / long-double references with the error
bounds of docs/NUMERICS.md, the edge-case table, and the dtype and copy rules."""
import numpy as np
import pytest

import reference as ref
import softreg

DTYPES = [np.float32, np.float64]
SHAPES = [(0,), (1,), (7,), (16,), (17,), (1000,), (3, 17), (4, 0), (2, 5, 6)]


def all_axes(shape):
    return range(-len(shape), len(shape))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("temperature", [1.0, 0.37, 4.0])
def test_softmax_and_log_softmax_meet_their_bounds(rng, dtype, shape, temperature):
    x = (rng.standard_normal(shape) * 20).astype(dtype)
    eps, tiny = ref.EPS[np.dtype(dtype)], ref.TINY[np.dtype(dtype)]
    for axis in all_axes(shape):
        p = softreg.softmax(x, axis=axis, temperature=temperature)
        assert p.dtype == dtype and p.shape == x.shape
        if x.shape[axis] == 0:
            continue  # nothing to compare: no entries along the axis
        expected, d = ref.softmax(x, axis, temperature)
        bound = 8 * eps * (1 + np.abs(d)) * expected + tiny
        assert np.all(np.abs(p - expected) <= bound), f"softmax axis {axis}"

        y = softreg.log_softmax(x, axis=axis, temperature=temperature)
        expected = ref.log_softmax(x, axis, temperature)
        assert np.all(np.abs(y - expected) <= 8 * eps * (1 + np.abs(expected))), axis


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [s for s in SHAPES if 0 not in s])
def test_logsumexp_meets_its_bound(rng, dtype, shape):
    x = (rng.standard_normal(shape) * 20).astype(dtype)
    eps = ref.EPS[np.dtype(dtype)]
    for axis in all_axes(shape):
        r = softreg.logsumexp(x, axis=axis)
        expected = ref.logsumexp(x, axis)
        assert r.shape == expected.shape and r.dtype == dtype
        assert np.all(np.abs(r - expected) <= 8 * eps * (1 + np.abs(expected)))
        kept = softreg.logsumexp(x, axis=axis, keepdims=True)
        assert kept.shape == tuple(1 if i == axis % x.ndim else n for i, n in enumerate(shape))
        np.testing.assert_array_equal(kept.reshape(r.shape), r)


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_logits_stay_finite_and_exact(dtype):
    big = np.finfo(dtype).max
    x = np.array([[1e30, -1e30, 0.0], [big, -big, 0.0], [1000.0, 999.0, -1000.0]]).astype(dtype)
    p = softreg.softmax(x)
    np.testing.assert_array_equal(p[:2], [[1, 0, 0], [1, 0, 0]])
    e1 = 1.0 / (1.0 + np.exp(-1.0))
    np.testing.assert_allclose(p[2], [e1, 1 - e1, 0.0], rtol=8 * ref.EPS[np.dtype(dtype)] * 2)
    y = softreg.log_softmax(x)
    np.testing.assert_array_equal(y[0], np.array([0.0, -2e30, -1e30], dtype=dtype))
    assert y[1, 0] == 0 and y[1, 1] == -np.inf and y[1, 2] == -big  # -2 max overflows: the limit
    r = softreg.logsumexp(x)
    np.testing.assert_array_equal(r[:2], np.array([1e30, big], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_edge_case_rows_follow_the_table(dtype):
    inf, nan = np.inf, np.nan
    x = np.array(
        [
            [nan, 1.0, 2.0, 3.0],  # NaN anywhere: the row is NaN
            [inf, 0.0, inf, -inf],  # +inf entries share the mass
            [-inf, -inf, -inf, -inf],  # fully masked
            [-inf, 0.0, -inf, 0.0],  # some -inf
        ],
        dtype=dtype,
    )
    p = softreg.softmax(x)
    assert np.all(np.isnan(p[0]))
    np.testing.assert_array_equal(p[1], [0.5, 0, 0.5, 0])
    np.testing.assert_array_equal(p[2], [0, 0, 0, 0])
    np.testing.assert_array_equal(p[3], [0, 0.5, 0, 0.5])
    y = softreg.log_softmax(x)
    assert np.all(np.isnan(y[0]))
    np.testing.assert_allclose(y[1], [-np.log(2), -inf, -np.log(2), -inf], rtol=1e-7)
    np.testing.assert_array_equal(y[2], [-inf] * 4)
    r = softreg.logsumexp(x)
    assert np.isnan(r[0]) and r[1] == inf and r[2] == -inf
    np.testing.assert_allclose(r[3], np.log(2), rtol=1e-7)
    # A NaN row does not leak into its neighbours along another axis either.
    q = softreg.softmax(x[[0, 3]], axis=0)
    assert np.all(np.isnan(q[:, 0])) and np.all(np.isfinite(q[:, 1]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_rows_and_single_class(dtype):
    empty = np.zeros((3, 0), dtype=dtype)
    assert softreg.softmax(empty).shape == (3, 0)
    assert softreg.log_softmax(empty).shape == (3, 0)
    np.testing.assert_array_equal(softreg.logsumexp(empty), [-np.inf] * 3)
    assert softreg.logsumexp(np.zeros((0, 4), dtype=dtype)).shape == (0,)
    one = np.array([[5.0], [-1e30], [-np.inf], [np.nan]], dtype=dtype)
    p = softreg.softmax(one)
    np.testing.assert_array_equal(p[:3, 0], [1, 1, 0])
    assert np.isnan(p[3, 0])
    np.testing.assert_array_equal(softreg.log_softmax(one)[:3, 0], [0, 0, -np.inf])
    np.testing.assert_array_equal(softreg.logsumexp(one)[:3], one[:3, 0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_temperature_zero_is_one_hot_argmax_ties_low(dtype):
    x = np.array([[1.0, 3.0, 3.0, 2.0], [-np.inf] * 4, [0.0, 0.0, 0.0, 0.0]], dtype=dtype)
    p = softreg.softmax(x, temperature=0)
    np.testing.assert_array_equal(p, [[0, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
    y = softreg.log_softmax(x, temperature=0)
    np.testing.assert_array_equal(y[0], [-np.inf, 0, -np.inf, -np.inf])


def test_temperature_table_of_the_docs():
    z = np.array([2.0, 1.0, 0.0])
    table = {0.5: [0.8668, 0.1173, 0.0159], 1: [0.6652, 0.2447, 0.0900],
             2: [0.5065, 0.3072, 0.1863], 1e6: [0.3333, 0.3333, 0.3333]}
    for t, row in table.items():
        np.testing.assert_allclose(softreg.softmax(z, temperature=t), row, atol=5e-5)
    # softmax(z, T) equals softmax(z / T) to the bounds.
    np.testing.assert_allclose(softreg.softmax(z, temperature=0.5), softreg.softmax(z / 0.5),
                               rtol=1e-14)


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_invalid_temperature_is_a_value_error(bad):
    with pytest.raises(ValueError, match="temperature"):
        softreg.softmax(np.zeros(3), temperature=bad)
    with pytest.raises(ValueError, match="temperature"):
        softreg.log_softmax(np.zeros(3), temperature=bad)


def test_float32_temperature_that_rounds_to_zero_is_rejected():
    with pytest.raises(ValueError):
        softreg.softmax(np.zeros(3, np.float32), temperature=1e-50)


def test_properties_rows_sum_to_one_and_shift_invariance(rng):
    x = rng.standard_normal((50, 33)) * 1e4
    p = softreg.softmax(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(softreg.softmax(x + 1e3), p, rtol=1e-9, atol=1e-300)
    assert np.all(np.isfinite(softreg.log_softmax(x)))


# ---- dtypes and copies


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, np.bool_, np.float16])
def test_integer_bool_and_half_inputs_are_computed_in_float64(dtype):
    x = np.array([[0, 1, 1], [1, 0, 0]], dtype=dtype)
    p = softreg.softmax(x)
    assert p.dtype == np.float64
    np.testing.assert_array_equal(p, softreg.softmax(x.astype(np.float64)))
    assert softreg.logsumexp(x).dtype == np.float64


def test_lists_are_accepted_as_float64():
    np.testing.assert_array_equal(softreg.softmax([1, 2, 3]),
                                  softreg.softmax(np.array([1.0, 2.0, 3.0])))


@pytest.mark.parametrize("x", [np.zeros(3, np.complex128), np.array(["a", "b"]),
                               np.zeros(3, np.longdouble), np.array([{}, 1], dtype=object)])
def test_other_dtypes_are_a_type_error(x):
    with pytest.raises(TypeError, match=r"softreg.softmax: x must have a real"):
        softreg.softmax(x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_and_byte_swapped_inputs_give_the_contiguous_result(rng, dtype):
    x = rng.standard_normal((6, 10)).astype(dtype)
    for view in (x[:, ::2], x.T, x[::-1], x.astype(np.dtype(dtype).newbyteorder(">"))):
        expected = softreg.softmax(np.ascontiguousarray(view, dtype=dtype))
        got = softreg.softmax(view)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(softreg.logsumexp(view, axis=0),
                                      softreg.logsumexp(np.ascontiguousarray(view, dtype=dtype),
                                                        axis=0))


def test_axis_out_of_range_and_scalars_are_value_errors():
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        softreg.softmax(np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match="axis -3"):
        softreg.logsumexp(np.zeros((2, 3)), axis=-3)
    with pytest.raises(ValueError, match="0-d"):
        softreg.log_softmax(np.float64(1.0))


# ---- out=


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_receives_the_result_and_is_returned(rng, dtype):
    x = rng.standard_normal((4, 5)).astype(dtype)
    out = np.empty_like(x)
    got = softreg.softmax(x, out=out)
    assert got is out
    np.testing.assert_array_equal(out, softreg.softmax(x))
    lse = np.empty(5, dtype=dtype)
    assert softreg.logsumexp(x, axis=0, out=lse) is lse
    np.testing.assert_array_equal(lse, softreg.logsumexp(x, axis=0))


def test_out_may_be_the_input_itself(rng):
    x = rng.standard_normal((4, 5))
    expected = softreg.log_softmax(x)
    assert softreg.log_softmax(x, out=x) is x
    np.testing.assert_array_equal(x, expected)


def test_out_partially_overlapping_the_input_is_a_value_error():
    buf = np.zeros(12)
    with pytest.raises(ValueError, match="overlap"):
        softreg.softmax(buf[:8].reshape(2, 4), out=buf[4:].reshape(2, 4))


def test_bad_out_arrays_are_refused_with_clear_messages():
    x = np.zeros((2, 3))
    with pytest.raises(TypeError, match=r"out has dtype float32, expected float64"):
        softreg.softmax(x, out=np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        softreg.softmax(x, out=[[0.0] * 3] * 2)
    with pytest.raises(ValueError, match=r"out has shape \(3, 2\), expected \(2, 3\)"):
        softreg.softmax(x, out=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="C-contiguous"):
        softreg.softmax(x, out=np.zeros((3, 2)).T)
    readonly = np.zeros((2, 3))
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        softreg.softmax(x, out=readonly)
    with pytest.raises(ValueError, match=r"expected \(2,\)"):
        softreg.logsumexp(x, out=np.zeros(3))


# ---- threads


def test_thread_count_get_set_and_results_do_not_depend_on_it(rng):
    before = softreg.get_num_threads()
    x = rng.standard_normal((3000, 40)).astype(np.float32)
    try:
        softreg.set_num_threads(1)
        assert softreg.get_num_threads() == 1
        one = softreg.log_softmax(x)
        softreg.set_num_threads(3)
        assert softreg.get_num_threads() == 3
        np.testing.assert_array_equal(softreg.log_softmax(x), one)
        with pytest.raises(ValueError):
            softreg.set_num_threads(-1)
        softreg.set_num_threads(0)
        assert softreg.get_num_threads() >= 1
    finally:
        softreg.set_num_threads(before)


def test_kernels_run_concurrently_from_python_threads(rng):
    """The GIL is released inside kernels; concurrent calls give the same results."""
    from concurrent.futures import ThreadPoolExecutor

    xs = [rng.standard_normal((2000, 50)) for _ in range(4)]
    expected = [softreg.softmax(x) for x in xs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(softreg.softmax, xs))
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
