"""Independent references for the kernels: the textbook formulas in higher precision (float64
for float32 kernels, NumPy's long double for float64 kernels), and the error bounds of
docs/NUMERICS.md."""
import numpy as np

EPS = {np.dtype(np.float32): 2.0**-24, np.dtype(np.float64): 2.0**-53}
TINY = {np.dtype(np.float32): float(np.finfo(np.float32).tiny),
        np.dtype(np.float64): float(np.finfo(np.float64).tiny)}


def wide(dtype):
    """The precision the reference runs in for a kernel of `dtype`."""
    return np.float64 if np.dtype(dtype) == np.float32 else np.longdouble


def shifted(x, axis, temperature):
    """d = (x - max x) / T in the reference precision, for finite x."""
    z = x.astype(wide(x.dtype))
    return (z - z.max(axis=axis, keepdims=True)) / temperature


def softmax(x, axis=-1, temperature=1.0):
    d = shifted(x, axis, temperature)
    e = np.exp(d)
    return e / e.sum(axis=axis, keepdims=True), d


def log_softmax(x, axis=-1, temperature=1.0):
    d = shifted(x, axis, temperature)
    return d - np.log(np.exp(d).sum(axis=axis, keepdims=True))


def logsumexp(x, axis=-1):
    z = x.astype(wide(x.dtype))
    m = z.max(axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.exp(z - m).sum(axis=axis))


def cross_entropy_rows(logits, target, weight=None, ignore_index=-100, smoothing=0.0):
    """Row losses and the mean's denominator for (n, K) logits, following the definition in
    include/softreg/loss.hpp: q = (1 - eps) w_c e_c + (eps / K) w for an index target c,
    q_k = w_k ((1 - eps) t_k + eps / K) for probabilities; loss = -sum_k q_k y_k."""
    n, k = logits.shape
    y = log_softmax(logits)
    w = np.ones(k, dtype=y.dtype) if weight is None else np.asarray(weight, dtype=y.dtype)
    if np.issubdtype(np.asarray(target).dtype, np.integer):
        q = np.zeros((n, k), dtype=y.dtype)
        counted = np.asarray(target) != ignore_index
        for i in np.nonzero(counted)[0]:
            q[i, target[i]] += (1 - smoothing) * w[target[i]]
            q[i] += smoothing / k * w
        denominator = sum(w[target[i]] for i in np.nonzero(counted)[0])
    else:
        q = w * ((1 - smoothing) * np.asarray(target, dtype=y.dtype) + smoothing / k)
        denominator = n
    # 0 * (-inf) is 0: a class without target mass costs nothing.
    losses = -(q * np.where(q == 0, 0, y)).sum(axis=1)
    s = q.sum(axis=1, keepdims=True)
    p = np.exp(y)
    return losses, denominator, s * p - q
