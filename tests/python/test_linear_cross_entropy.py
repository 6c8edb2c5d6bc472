"""softreg.linear_cross_entropy: against PyTorch's linear + cross_entropy and autograd in float64
(skipped without torch), against a NumPy evaluation for the z-loss and soft-capping, both weight
layouts, and the argument checks."""
import numpy as np
import pytest

import softreg


@pytest.fixture
def data(rng):
    n, d, k = 40, 12, 2100  # crosses vocabulary blocks (256) and slices (1024)
    h = rng.standard_normal((n, d))
    w = rng.standard_normal((d, k)) / np.sqrt(d)
    b = rng.standard_normal(k) * 0.3
    t = rng.integers(0, k, n)
    t[::7] = -100
    return h, w, b, t


def numpy_loss(h, w, b, t, z_loss=0.0, softcap=None, reduction="mean"):
    z = h @ w + b
    if softcap:
        z = softcap * np.tanh(z / softcap)
    m = z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    keep = t != -100
    rows = np.where(keep, lse - z[np.arange(len(t)), np.where(keep, t, 0)] + z_loss * lse**2, 0)
    return {"mean": rows.sum() / keep.sum(), "sum": rows.sum(), "none": rows}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_z_loss_and_softcap_match_numpy(data, reduction):
    h, w, b, t = data
    got = softreg.linear_cross_entropy(h, w, t, bias=b, z_loss=1e-3, softcap=2.5,
                                       reduction=reduction)
    np.testing.assert_allclose(got, numpy_loss(h, w, b, t, 1e-3, 2.5, reduction), rtol=1e-12)


def test_layouts_agree_and_gradients_come_in_the_weights_layout(data):
    h, w, b, t = data
    l1, dh1, dw1, db1 = softreg.linear_cross_entropy(h, w, t, bias=b, return_grad=True)
    l2, dh2, dw2, db2 = softreg.linear_cross_entropy(h, np.ascontiguousarray(w.T), t, bias=b,
                                                     weight_layout="kd", return_grad=True)
    assert dw1.shape == w.shape and dw2.shape == w.T.shape
    np.testing.assert_allclose(l1, l2, rtol=1e-13)
    np.testing.assert_allclose(dh1, dh2, atol=1e-14)
    np.testing.assert_allclose(dw1, dw2.T, atol=1e-14)
    np.testing.assert_allclose(db1, db2, atol=1e-14)


def test_float32_stays_close_to_float64(data):
    h, w, b, t = data
    l64, dh64, dw64, _ = softreg.linear_cross_entropy(h, w, t, return_grad=True)
    f = np.float32
    l32, dh32, dw32, _ = softreg.linear_cross_entropy(h.astype(f), w.astype(f), t,
                                                      return_grad=True)
    assert dh32.dtype == np.float32
    assert abs(l32 - l64) < 1e-5 * abs(l64)
    np.testing.assert_allclose(dh32, dh64, atol=1e-5 * np.abs(dh64).max())
    np.testing.assert_allclose(dw32, dw64, atol=1e-5 * np.abs(dw64).max())


def test_against_torch_linear_cross_entropy_and_autograd(data, rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed in this environment")
    F = torch.nn.functional
    h, w, b, t = data
    cw = rng.uniform(0.5, 2.0, w.shape[1])
    for smoothing in (0.0, 0.1):
        th = torch.tensor(h, requires_grad=True)
        tw = torch.tensor(w.T.copy(), requires_grad=True)  # nn.Linear's (K, d)
        tb = torch.tensor(b, requires_grad=True)
        ref = F.cross_entropy(F.linear(th, tw, tb), torch.tensor(t), weight=torch.tensor(cw),
                              label_smoothing=smoothing, ignore_index=-100)
        ref.backward()
        loss, dh, dw, db = softreg.linear_cross_entropy(
            h, w.T.copy(), t, bias=b, class_weights=cw, label_smoothing=smoothing,
            weight_layout="kd", return_grad=True)
        np.testing.assert_allclose(loss, ref.item(), rtol=1e-12)
        np.testing.assert_allclose(dh, th.grad.numpy(), atol=1e-13)
        np.testing.assert_allclose(dw, tw.grad.numpy(), atol=1e-13)
        np.testing.assert_allclose(db, tb.grad.numpy(), atol=1e-13)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(target=np.array([0, 1, 9])), r"target\[2\] = 9 is outside \[0, 4\)"),
        (dict(weight_layout="kd"), r"weight has shape \(2, 4\), expected \(K, 2\)"),
        (dict(reduction="avg"), "reduction must be"),
        (dict(softcap=0.0), "softcap must be > 0"),
        (dict(label_smoothing=2.0), r"label_smoothing must be in \[0, 1\]"),
    ],
)
def test_bad_arguments_say_what_is_wrong(kwargs, message):
    args = dict(hidden=np.ones((3, 2)), weight=np.ones((2, 4)), target=np.array([0, 1, 2]))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        softreg.linear_cross_entropy(**args)
