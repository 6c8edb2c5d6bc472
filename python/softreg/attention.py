"""Scaled dot-product attention on NumPy arrays: :func:`attention` and
:func:`attention_backward` (include/softreg/attention.hpp holds the definition and the error
bounds; docs/NUMERICS.md, "Attention", the edge cases).
"""
from __future__ import annotations

import numpy as np

from softreg import _core

__all__ = ["attention", "attention_backward"]

_WHERE = "softreg.attention"


def _dtype(*arrays):
    """float32 when every given array is float32, else float64 (ints and bools too)."""
    kinds = [a.dtype for a in arrays if a is not None]
    for dt in kinds:
        if dt.kind == "c" or dt.kind not in "biuf":
            raise TypeError(f"{_WHERE}: arrays must hold real numbers, got {dt}")
    return np.float32 if all(dt == np.float32 for dt in kinds) else np.float64


def _as(x, dtype, name, where):
    a = np.asarray(x)
    if a.dtype.kind == "c" or a.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {name} must hold real numbers, got {a.dtype}")
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4:
        raise ValueError(
            f"{where}: {name} must be 4-d (batch, heads, seq, dim) or 3-d (heads, seq, dim), "
            f"got shape {a.shape}"
        )
    a = a.astype(dtype, copy=False)
    if a.shape[3] > 1 and a.strides[3] != a.itemsize:
        a = np.ascontiguousarray(a)
    return a


def _check(q, k, v, where):
    b, h, sq, d = q.shape
    if k.shape[0] != b or v.shape[0] != b:
        raise ValueError(
            f"{where}: q, k and v must have the same batch size, got {q.shape}, {k.shape}, {v.shape}"
        )
    hkv, sk = k.shape[1], k.shape[2]
    if v.shape[1] != hkv or v.shape[2] != sk:
        raise ValueError(
            f"{where}: v must be (batch, kv_heads, seq_k, value_dim) with k's kv_heads and seq_k "
            f"{k.shape[:3]}, got {v.shape}"
        )
    if k.shape[3] != d:
        raise ValueError(f"{where}: k's last axis ({k.shape[3]}) must equal q's ({d})")
    if hkv == 0 or h % hkv != 0:
        raise ValueError(
            f"{where}: q's heads ({h}) must be a multiple of k's kv_heads ({hkv})"
        )
    if d == 0:
        raise ValueError(f"{where}: the head dimension must be >= 1")


def _term(x, dtype, shape, name, where, boolean_ok):
    """A mask or bias broadcast to (batch, heads, seq_q, seq_k), last axis contiguous."""
    if x is None:
        return None
    a = np.asarray(x)
    if a.dtype == np.bool_:
        if not boolean_ok:
            raise TypeError(f"{where}: {name} must be a float array (additive), got bool")
    elif a.dtype.kind not in "iuf":
        raise TypeError(f"{where}: {name} must be bool or real, got {a.dtype}")
    else:
        a = a.astype(dtype, copy=False)
    try:
        a = np.broadcast_to(a, shape)
    except ValueError:
        raise ValueError(
            f"{where}: {name} of shape {np.shape(x)} does not broadcast to (batch, heads, seq_q, "
            f"seq_k) = {shape}"
        ) from None
    if shape[3] > 1 and a.strides[3] != a.itemsize:
        a = np.ascontiguousarray(a)
    return a


def _causal(causal, where):
    if causal is False or causal is None:
        return "none"
    if causal is True:
        return "top_left"
    if isinstance(causal, str):
        return causal
    raise TypeError(f"{where}: causal must be a bool, 'top_left' or 'bottom_right', got {causal!r}")


def _prepare(q, k, v, mask, bias, key_lengths, causal, where):
    dtype = _dtype(*(np.asarray(x) for x in (q, k, v)))
    q, k, v = (_as(x, dtype, n, where) for x, n in ((q, "q"), (k, "k"), (v, "v")))
    _check(q, k, v, where)
    shape = (q.shape[0], q.shape[1], q.shape[2], k.shape[2])
    keep = add = None
    if mask is not None:
        m = _term(mask, dtype, shape, "mask", where, True)
        keep, add = (m, None) if m.dtype == np.bool_ else (None, m)
    bias = _term(bias, dtype, shape, "bias", where, False)
    if key_lengths is not None:
        kl = np.asarray(key_lengths)
        if kl.dtype.kind not in "iu" or kl.shape != (q.shape[0],):
            raise ValueError(
                f"{where}: key_lengths must be {q.shape[0]} integers (one per batch entry), got "
                f"{kl.dtype} of shape {kl.shape}"
            )
        key_lengths = kl.astype(np.int64)
    return q, k, v, keep, add, bias, key_lengths, _causal(causal, where)


def attention(
    q,
    k,
    v,
    causal=False,
    mask=None,
    bias=None,
    key_lengths=None,
    scale=None,
    return_lse=False,
    method="tiled",
):
    """softmax(q k^T * scale + bias + mask) v, without the (seq_q, seq_k) matrix.

    Parameters
    ----------
    q : array (batch, heads, seq_q, d) or (heads, seq_q, d)
    k : array (batch, kv_heads, seq_k, d); kv_heads divides heads (grouped-query attention:
        query head h reads key/value head h // (heads // kv_heads))
    v : array (batch, kv_heads, seq_k, dv)
    causal : False, True (= "top_left", PyTorch's is_causal: row i sees keys j <= i) or
        "bottom_right" (the last query sees every key: j <= i + seq_k - seq_q, seq_k being the
        batch entry's key length when key_lengths is given)
    mask : bool array (True = attend) or float array (added to the scores), broadcastable to
        (batch, heads, seq_q, seq_k), as PyTorch's attn_mask
    bias : float array broadcastable to (batch, heads, seq_q, seq_k), added to the scores
    key_lengths : batch integers in [0, seq_k]: keys at or past them are padding, never read
    scale : float, default 1 / sqrt(d)
    return_lse : also return the logsumexp of every row, (batch, heads, seq_q); the backward
        needs it
    method : "tiled" (online softmax over key blocks, the default) or "naive" (the float64
        reference, materialising one row of scores at a time)

    Returns
    -------
    out (batch, heads, seq_q, dv), and lse when return_lse. float32 when q, k and v are all
    float32, else float64. Inputs are read in place when their last axis is contiguous; the GIL
    is released while the kernel runs. A row that sees no key gets out = 0 and lse = -inf; a NaN
    in a row's scores makes that row NaN only. 3-d inputs give 4-d results with batch 1.
    """
    q, k, v, keep, add, bias, kl, causal = _prepare(
        q, k, v, mask, bias, key_lengths, causal, _WHERE
    )
    return _core._attention(
        q, k, v, keep, add, bias, kl, scale, causal, method, bool(return_lse)
    )


def attention_backward(
    dout,
    q,
    k,
    v,
    out,
    lse,
    causal=False,
    mask=None,
    bias=None,
    key_lengths=None,
    scale=None,
    method="tiled",
):
    """The gradients (dq, dk, dv) of :func:`attention` for the upstream gradient dout.

    q, k, v and the options must be the forward's; out and lse are its results (attention(...,
    return_lse=True)). The tiled method recomputes the probabilities from lse without storing
    (seq_q, seq_k) values; "naive" recomputes the softmax in float64 and ignores out and lse. dk
    and dv sum over the query heads that share a key/value head. Rows that see no key give zero
    gradients; there is no gradient for mask or bias.
    """
    where = _WHERE + "_backward"
    q, k, v, keep, add, bias, kl, causal = _prepare(q, k, v, mask, bias, key_lengths, causal, where)
    dtype = q.dtype
    dout = _as(dout, dtype, "dout", where)
    out = _as(out, dtype, "out", where)
    want = (q.shape[0], q.shape[1], q.shape[2], v.shape[3])
    for name, a in (("dout", dout), ("out", out)):
        if a.shape != want:
            raise ValueError(f"{where}: {name} must have shape {want}, got {a.shape}")
    lse = np.ascontiguousarray(np.asarray(lse), dtype=dtype)
    if lse.ndim == 2:
        lse = lse[None]
    if lse.shape != want[:3]:
        raise ValueError(f"{where}: lse must have shape {want[:3]}, got {lse.shape}")
    return _core._attention_backward(
        dout, q, k, v, out, lse, keep, add, bias, kl, scale, causal, method
    )
