"""The kernels against PyTorch (torch.nn.functional; 2.13 in requirements/torch.txt) as an
independent peer, including extreme logits; skipped, with the reason, when torch is not
installed (scripts/venv.sh installs it only from a local CPU wheel). Where softreg deliberately differs
(docs/NUMERICS.md), the test says so."""
import numpy as np
import pytest

import softreg

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed in this environment: the comparisons with it are "
    "skipped (pip install -r requirements/torch.txt adds the CPU build)")
F = torch.nn.functional


def t64(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


@pytest.fixture
def logits(rng):
    x = rng.standard_normal((6, 7)) * 5
    x[1] = [1e30, -1e30, 0, 3, -3, 1e30, 2]  # extreme but finite
    x[2, :3] = -1e30
    x[3] *= 1e4
    return x


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_family_agrees_with_torch(logits, axis):
    np.testing.assert_allclose(softreg.softmax(logits, axis=axis),
                               F.softmax(t64(logits), dim=axis).numpy(), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(softreg.log_softmax(logits, axis=axis),
                               F.log_softmax(t64(logits), dim=axis).numpy(), rtol=1e-13)
    np.testing.assert_allclose(softreg.logsumexp(logits, axis=axis),
                               torch.logsumexp(t64(logits), dim=axis).numpy(), rtol=1e-13)


def test_temperature_is_division_of_the_logits(logits):
    np.testing.assert_allclose(softreg.softmax(logits, temperature=2.5),
                               F.softmax(t64(logits) / 2.5, dim=-1).numpy(), rtol=1e-12,
                               atol=1e-300)


def test_float32_agrees_with_torch_float32_to_the_float32_bound(logits):
    x = (logits / 1e25).astype(np.float32)  # keep the logits in float32 range
    ours = softreg.log_softmax(x)
    theirs = F.log_softmax(torch.from_numpy(x), dim=-1).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def test_nan_rows_agree_and_masked_rows_differ_as_documented():
    x = np.array([[np.nan, 1.0, 2.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 1.0]])
    ours, theirs = softreg.softmax(x), F.softmax(t64(x), dim=-1).numpy()
    assert np.all(np.isnan(ours[0])) and np.all(np.isnan(theirs[0]))
    # torch: 0/0 = NaN for a fully masked row and inf - inf = NaN for a +inf entry; softreg
    # returns the limits (zeros, and the mass on the +inf entry).
    assert np.all(np.isnan(theirs[1])) and np.array_equal(ours[1], [0, 0, 0])
    assert np.array_equal(ours[2], [1, 0, 0])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
def test_cross_entropy_index_targets_agree_with_torch(rng, logits, reduction, smoothing):
    labels = rng.integers(0, 7, 6)
    labels[4] = -100
    weight = rng.uniform(0.1, 2, 7)
    ours, grad = softreg.cross_entropy_with_grad(logits, labels, weight, -100, smoothing, reduction)
    z = t64(logits).requires_grad_()
    theirs = F.cross_entropy(z, torch.from_numpy(labels), weight=t64(weight), ignore_index=-100,
                             label_smoothing=smoothing, reduction=reduction)
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-12)
    theirs.sum().backward()
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_cross_entropy_pytorch_layout_and_probability_targets(rng):
    x = rng.standard_normal((2, 4, 3, 5)) * 3  # (N, C, d1, d2)
    labels = rng.integers(0, 4, (2, 3, 5))
    theirs = F.cross_entropy(t64(x), torch.from_numpy(labels), reduction="none").numpy()
    np.testing.assert_allclose(softreg.cross_entropy(x, labels, reduction="none", axis=1), theirs,
                               rtol=1e-13)
    probs = rng.dirichlet(np.ones(4), (2, 3, 5)).transpose(0, 3, 1, 2)
    theirs = F.cross_entropy(t64(x), t64(probs), label_smoothing=0.1).item()
    assert softreg.cross_entropy(x, probs, label_smoothing=0.1, axis=1) == pytest.approx(
        theirs, rel=1e-13)


def test_all_ignored_mean_is_zero_where_torch_is_nan():
    x = np.zeros((2, 3))
    labels = np.array([-100, -100])
    assert np.isnan(F.cross_entropy(t64(x), torch.from_numpy(labels)).item())
    assert softreg.cross_entropy(x, labels) == 0.0
