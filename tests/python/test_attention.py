"""softreg.attention and attention_backward: against PyTorch's scaled_dot_product_attention and
autograd in float64 (skipped without torch), against a NumPy evaluation of the definition, the
layouts read in place, and the argument checks."""
import numpy as np
import pytest

import softreg


def numpy_attention(q, k, v, causal=False, mask=None, bias=None, scale=None):
    """The definition, materialised in float64 (no key lengths)."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    g = q.shape[1] // k.shape[1]
    k = np.repeat(k, g, axis=1)
    v = np.repeat(v, g, axis=1)
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = np.einsum("bhid,bhjd->bhij", q, k) * scale
    if bias is not None:
        s = s + bias
    sq, sk = s.shape[-2:]
    seen = np.ones((sq, sk), dtype=bool)
    if causal is True or causal == "top_left":
        seen = np.tril(seen)
    elif causal == "bottom_right":
        seen = np.tril(seen, k=sk - sq)
    seen = np.broadcast_to(seen, s.shape)
    if mask is not None:
        if mask.dtype == np.bool_:
            seen = seen & mask
        else:
            s = s + mask
    s = np.where(seen, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(s - m)
    lsum = e.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(lsum > 0, (e / np.where(lsum > 0, lsum, 1)) @ v, 0)
        lse = np.where(lsum[..., 0] > 0, (m + np.log(lsum))[..., 0], -np.inf)
    return out, lse


@pytest.fixture
def qkv(rng):
    q = rng.standard_normal((2, 4, 70, 24))
    k = rng.standard_normal((2, 2, 300, 24))
    v = rng.standard_normal((2, 2, 300, 20))
    return q, k, v


@pytest.mark.parametrize("causal", [False, True, "bottom_right"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_numpy_definition(qkv, rng, causal, dtype):
    q, k, v = (x.astype(dtype) for x in qkv)
    bias = rng.standard_normal((4, 70, 300)).astype(dtype)
    mask = rng.random((2, 1, 70, 300)) > 0.2
    out, lse = softreg.attention(q, k, v, causal=causal, mask=mask, bias=bias, return_lse=True)
    assert out.dtype == dtype and out.shape == (2, 4, 70, 20) and lse.shape == (2, 4, 70)
    ref_out, ref_lse = numpy_attention(q, k, v, causal, mask, bias)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, ref_out, atol=tol, rtol=tol)
    np.testing.assert_allclose(lse, ref_lse, atol=tol, rtol=tol)
    naive = softreg.attention(q, k, v, causal=causal, mask=mask, bias=bias, method="naive")
    np.testing.assert_allclose(naive, ref_out, atol=tol, rtol=tol)


def test_key_lengths_equal_a_mask_and_padding_is_not_read(qkv):
    q, k, v = (x.astype(np.float32) for x in qkv)
    lengths = np.array([300, 111])
    kp, vp = k.copy(), v.copy()
    kp[1, :, 111:] = np.nan
    vp[1, :, 111:] = np.inf
    out = softreg.attention(q, kp, vp, key_lengths=lengths)
    mask = np.arange(300)[None, None, None, :] < lengths[:, None, None, None]
    ref = softreg.attention(q, k, v, mask=mask)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


def test_layouts_are_read_in_place_and_3d_inputs_work(rng):
    # (batch, seq, heads, d) storage viewed as (batch, heads, seq, d): no copy needed.
    store = rng.standard_normal((1, 50, 3, 16)).astype(np.float32)
    q = store.transpose(0, 2, 1, 3)
    out = softreg.attention(q, q, q)
    ref = softreg.attention(np.ascontiguousarray(q), np.ascontiguousarray(q), np.ascontiguousarray(q))
    np.testing.assert_array_equal(out, ref)
    out3 = softreg.attention(q[0], q[0], q[0])
    np.testing.assert_array_equal(out3, ref)


def test_backward_matches_finite_differences_of_forward(rng):
    q = rng.standard_normal((1, 2, 5, 3))
    k = rng.standard_normal((1, 1, 6, 3))
    v = rng.standard_normal((1, 1, 6, 2))
    dout = rng.standard_normal((1, 2, 5, 2))
    out, lse = softreg.attention(q, k, v, causal="bottom_right", return_lse=True)
    dq, dk, dv = softreg.attention_backward(dout, q, k, v, out, lse, causal="bottom_right")
    h = 1e-6
    for x, g in ((q, dq), (k, dk), (v, dv)):
        num = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            keep = x[idx]
            x[idx] = keep + h
            up = np.sum(dout * softreg.attention(q, k, v, causal="bottom_right"))
            x[idx] = keep - h
            down = np.sum(dout * softreg.attention(q, k, v, causal="bottom_right"))
            x[idx] = keep
            num[idx] = (up - down) / (2 * h)
        np.testing.assert_allclose(g, num, atol=1e-7)


def test_fully_masked_rows_are_zero_with_zero_gradients(rng):
    q = rng.standard_normal((1, 1, 4, 8)).astype(np.float32)
    k = rng.standard_normal((1, 1, 4, 8)).astype(np.float32)
    mask = np.ones((4, 4), dtype=bool)
    mask[2] = False
    out, lse = softreg.attention(q, k, k, mask=mask, return_lse=True)
    assert np.all(out[0, 0, 2] == 0) and lse[0, 0, 2] == -np.inf
    dq, _, _ = softreg.attention_backward(np.ones_like(out), q, k, k, out, lse, mask=mask)
    assert np.all(dq[0, 0, 2] == 0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda q, k: softreg.attention(q, k[:, :, :, :3], k), "k's last axis"),
        (lambda q, k: softreg.attention(q, k[:, :1], k), "must have the same batch size|kv_heads"),
        (lambda q, k: softreg.attention(np.concatenate([q, q[:, :1]], axis=1), k, k),
         "multiple of k.s kv_heads"),
        (lambda q, k: softreg.attention(q, k, k, mask=np.ones((3, 3), bool)), "does not broadcast"),
        (lambda q, k: softreg.attention(q, k, k, key_lengths=[9]), r"key_lengths\[0\] = 9"),
        (lambda q, k: softreg.attention(q, k, k, causal="sideways"), "causal must be"),
        (lambda q, k: softreg.attention(q, k, k, method="fast"), "method must be tiled or naive"),
        (lambda q, k: softreg.attention(q[0, 0], k, k), "must be 4-d"),
    ],
)
def test_bad_arguments_say_what_is_wrong(rng, call, message):
    q = rng.standard_normal((1, 2, 5, 4))
    k = rng.standard_normal((1, 2, 6, 4))
    with pytest.raises(ValueError, match=message):
        call(q, k)


def test_against_torch_sdpa_forward_and_autograd(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed in this environment")
    F = torch.nn.functional
    q = rng.standard_normal((2, 8, 37, 16))
    k = rng.standard_normal((2, 2, 90, 16))
    v = rng.standard_normal((2, 2, 90, 16))
    mask = rng.standard_normal((2, 1, 37, 90))
    dout = rng.standard_normal((2, 8, 37, 16))
    for causal in (False, True):
        tq, tk, tv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
        tmask = torch.tensor(mask)
        if causal:
            tmask = tmask.masked_fill(~torch.ones(37, 90, dtype=torch.bool).tril(), float("-inf"))
        ref = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tmask, enable_gqa=True)
        ref.backward(torch.tensor(dout))
        out, lse = softreg.attention(q, k, v, causal=causal, mask=mask, return_lse=True)
        np.testing.assert_allclose(out, ref.detach().numpy(), atol=1e-12)
        grads = softreg.attention_backward(dout, q, k, v, out, lse, causal=causal, mask=mask)
        for g, t in zip(grads, (tq, tk, tv)):
            np.testing.assert_allclose(g, t.grad.numpy(), atol=1e-11)
