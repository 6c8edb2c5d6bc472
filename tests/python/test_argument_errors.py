"""Arguments out of range are ValueErrors that say what is wrong, never pybind11's
"incompatible function arguments" TypeError or a silently wrapped value."""
import numpy as np
import pytest

import softreg

X = np.ones((3, 4), np.float32)
P = softreg.softmax(X)
AXIS_CALLS = {
    "softmax": lambda a: softreg.softmax(X, axis=a),
    "log_softmax": lambda a: softreg.log_softmax(X, axis=a),
    "logsumexp": lambda a: softreg.logsumexp(X, axis=a),
    "argmax": lambda a: softreg.argmax(X, axis=a),
    "softmax_backward": lambda a: softreg.softmax_backward(P, P, axis=a),
    "log_softmax_backward": lambda a: softreg.log_softmax_backward(P, P, axis=a),
    "cross_entropy": lambda a: softreg.cross_entropy(X, np.array([0, 1, 2]), axis=a),
}


@pytest.mark.parametrize("name", sorted(AXIS_CALLS))
@pytest.mark.parametrize("axis", [2**63, 2**31, -(2**31) - 1, 2**100, 2])
def test_an_axis_out_of_range_is_a_value_error(name, axis):
    with pytest.raises(ValueError, match=rf"axis {axis} is out of range for an array of 2"):
        AXIS_CALLS[name](axis)


@pytest.mark.parametrize("name", sorted(AXIS_CALLS))
def test_numpy_integers_are_axes_and_floats_are_not(name):
    AXIS_CALLS[name](np.int64(-1))
    with pytest.raises(TypeError):
        AXIS_CALLS[name](1.0)


def test_a_uint64_target_beyond_int64_is_named_not_wrapped():
    big = np.array([0, 2**64 - 1, 1], dtype=np.uint64)
    with pytest.raises(ValueError, match=r"target\[1\] = 18446744073709551615 is not a class"):
        softreg.cross_entropy(X, big)
    h, w = np.ones((3, 2), np.float32), np.ones((2, 4), np.float32)
    with pytest.raises(ValueError, match=r"target\[1\] = 18446744073709551615 is not a class"):
        softreg.linear_cross_entropy(h, w, big)
    # Float class indices are refused rather than truncated.
    with pytest.raises(TypeError, match="integer class indices; got dtype float64"):
        softreg.linear_cross_entropy(h, w, np.array([0.5, 1.0, 2.0]))
    # In range, uint64 works as any integer type.
    np.testing.assert_allclose(softreg.cross_entropy(X, np.array([0, 1, 2], np.uint64)),
                               softreg.cross_entropy(X, np.array([0, 1, 2])))
