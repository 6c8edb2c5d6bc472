"""softreg.sample against a NumPy sorting reference (float64, written from the definition in
docs/NUMERICS.md), its array rules, its options and its errors."""
import numpy as np
import pytest

import softreg


def numpy_reference(z, u, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, order="temperature_first"):
    """The token of one row for uniform u: sort by (logit desc, id asc), filter, draw by id."""
    z = np.asarray(z, dtype=np.float64)
    v = z.size
    rank = np.lexsort((np.arange(v), -z))
    m = z[rank[0]]
    t_f = temperature if order == "temperature_first" else 1.0
    w_f = np.exp((z - m) / t_f)
    kept = v
    if 0 < top_k < v:
        kept = top_k
    if top_p < 1.0:
        mass = w_f[rank[:kept]]
        before = np.concatenate([[0.0], np.cumsum(mass)[:-1]])
        stay = before < top_p * mass.sum()
        stay[0] = True
        kept = int(np.argmin(stay)) if not stay.all() else kept
    if min_p > 0.0:
        stay = w_f[rank[:kept]] >= min_p
        kept = int(np.argmin(stay)) if not stay.all() else kept
    ids = np.sort(rank[:kept])
    w = np.exp((z[ids] - m) / temperature)
    cdf = np.cumsum(w) / w.sum()
    return int(ids[np.searchsorted(cdf, u, side="right")])


CHAINS = [
    dict(),
    dict(temperature=0.8, top_k=40, top_p=0.95),
    dict(temperature=0.8, top_p=0.95),
    dict(min_p=0.05),
    dict(temperature=1.5, top_k=7),
    dict(temperature=0.6, top_p=0.5, min_p=0.1, order="temperature_last"),
    dict(temperature=2.0, top_k=100, top_p=0.8, order="temperature_last"),
]


@pytest.mark.parametrize("chain", CHAINS, ids=[str(c) for c in CHAINS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tokens_equal_a_numpy_sorting_reference(chain, dtype):
    rng = np.random.default_rng(7)
    z = (rng.standard_normal((40, 3000)) * 2.5).astype(dtype)
    u = rng.random(40)
    got = softreg.sample(z, uniforms=u, **chain)
    want = [numpy_reference(z[r], u[r], **chain) for r in range(40)]
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


def test_shapes_out_and_return_forms():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((2, 3, 50)).astype(np.float32)
    t = softreg.sample(z, seed=3)
    assert t.shape == (2, 3) and t.dtype == np.int64
    assert softreg.sample(z[0, 0], seed=3).shape == ()
    out = np.empty((2, 3), dtype=np.int64)
    assert softreg.sample(z, seed=3, out=out) is out
    np.testing.assert_array_equal(out, t)
    with pytest.raises(TypeError, match="dtype"):
        softreg.sample(z, seed=3, out=np.empty((2, 3), dtype=np.int32))
    r = softreg.sample(z, seed=3, return_logprobs=True, top_logprobs=4)
    np.testing.assert_array_equal(r.tokens, t)
    assert r.logprobs.shape == (2, 3) and r.top_tokens.shape == (2, 3, 4)
    # The top list is the rank order, and its log-probabilities sum below 0 (a distribution).
    assert (np.diff(r.top_logprobs, axis=-1) <= 0).all()
    lp = softreg.sample(z[0, 0], seed=3, return_logprobs=True).logprobs
    p = np.exp(z[0, 0].astype(np.float64) - z[0, 0].max())
    p /= p.sum()
    assert lp == pytest.approx(np.log(p[softreg.sample(z[0, 0], seed=3)]), abs=1e-6)
    # Non-contiguous and integer input are accepted (copied).
    assert softreg.sample(z[:, :, ::2], seed=3).shape == (2, 3)
    assert softreg.sample(np.arange(10), temperature=0) == 9


def test_seeds_streams_and_given_uniforms():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((16, 500))
    a = softreg.sample(z, seed=11, step=5)
    np.testing.assert_array_equal(a, softreg.sample(z, seed=11, step=5))
    assert not np.array_equal(a, softreg.sample(z, seed=11, step=6))
    # The second half alone with its own stream ids.
    np.testing.assert_array_equal(
        softreg.sample(z[8:], seed=11, step=5, streams=np.arange(8, 16)), a[8:]
    )
    u = np.array([softreg.sampling_uniform(11, r, 5) for r in range(16)])
    np.testing.assert_array_equal(softreg.sample(z, uniforms=u), a)
    softreg.sample(z)  # a fresh seed


def test_penalties_history_forms_and_bias():
    z = np.array([[2.0, 1.5, -0.5], [2.0, 1.5, -0.5]])
    padded = np.array([[0, 0, -1], [-1, -1, -1]])
    as_lists = [[0, 0], []]
    for history in (padded, as_lists):
        got = softreg.sample(z, temperature=0, history=history, frequency_penalty=0.3)
        np.testing.assert_array_equal(got, [1, 0])  # 2 - 2 * 0.3 = 1.4 < 1.5 in row 0 only
    bias = np.array([-np.inf, 0.0, 0.0])
    np.testing.assert_array_equal(softreg.sample(z, temperature=0, logit_bias=bias), [1, 1])


def test_errors_name_what_is_wrong():
    z = np.zeros((3, 5), dtype=np.float32)
    z[1, 3] = np.nan
    with pytest.raises(ValueError, match="row 1 holds NaN at token 3"):
        softreg.sample(z, seed=0)
    with pytest.raises(ValueError, match="every token's logit is -inf"):
        softreg.sample(np.full(4, -np.inf), seed=0)
    ok = np.zeros(5)
    with pytest.raises(ValueError, match="temperature must be finite and >= 0"):
        softreg.sample(ok, temperature=-1, seed=0)
    with pytest.raises(ValueError, match="top_p must be in"):
        softreg.sample(ok, top_p=2, seed=0)
    with pytest.raises(ValueError, match="order must be temperature-first or temperature-last"):
        softreg.sample(ok, order="sideways", seed=0)
    with pytest.raises(ValueError, match="logit_bias has 4 entries, expected 5"):
        softreg.sample(ok, logit_bias=np.zeros(4), seed=0)
    with pytest.raises(ValueError, match="uniforms"):
        softreg.sample(ok, uniforms=[1.5])
    with pytest.raises(ValueError, match="history has 2 rows"):
        softreg.sample(np.zeros((3, 5)), history=[[1], [2]], seed=0)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        softreg.sample(np.float32(1.0), seed=0)
