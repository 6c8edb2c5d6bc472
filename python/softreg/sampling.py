"""softreg.sample: tokens drawn from logits (the compiled sampler, include/softreg/sampling.hpp)."""
import math
import secrets
from typing import NamedTuple, Optional

import numpy as np

from softreg import _core

__all__ = ["sample", "sampling_uniform", "Sample"]


class Sample(NamedTuple):
    """What :func:`sample` returns when log-probabilities are asked for."""

    tokens: np.ndarray
    logprobs: Optional[np.ndarray]
    top_tokens: Optional[np.ndarray]
    top_logprobs: Optional[np.ndarray]


def _history_csr(history, rows):
    """Per-row previous tokens as (values, offsets): a 2-D integer array (negative entries are
    padding) or a sequence of rows sequences."""
    if history is None:
        return None, None
    if isinstance(history, np.ndarray) and history.ndim == 2:
        if history.shape[0] != rows:
            raise ValueError(
                f"softreg.sample: history has {history.shape[0]} rows, the logits {rows}"
            )
        if history.dtype.kind not in "iu":
            raise TypeError("softreg.sample: history must hold integer token ids")
        keep = history >= 0
        values = history[keep].astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.uint64)
        return values, offsets
    seqs = list(history)
    if len(seqs) != rows:
        raise ValueError(f"softreg.sample: history has {len(seqs)} rows, the logits {rows}")
    arrays = [np.asarray(s, dtype=np.int64).reshape(-1) for s in seqs]
    offsets = np.zeros(rows + 1, dtype=np.uint64)
    offsets[1:] = np.cumsum([a.size for a in arrays])
    values = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    return values, offsets


def sample(
    logits,
    temperature=1.0,
    top_k=0,
    top_p=1.0,
    min_p=0.0,
    seed=None,
    *,
    repetition_penalty=1.0,
    presence_penalty=0.0,
    frequency_penalty=0.0,
    history=None,
    logit_bias=None,
    greedy=False,
    order="temperature_first",
    step=0,
    streams=None,
    steps=None,
    uniforms=None,
    return_logprobs=False,
    top_logprobs=0,
    out=None,
):
    """Draws one token id per row of ``logits`` (shape ``(..., V)``, the vocabulary last).

    Each row's logits z get the ``logit_bias`` (V values, ``-inf`` bans a token) and, for the
    tokens in the row's ``history``, the repetition penalty (``z / r`` if ``z >= 0`` else
    ``z * r``, as Hugging Face and llama.cpp define it) and then ``count * frequency_penalty +
    presence_penalty`` subtracted (OpenAI's and llama.cpp's formula). Tokens rank by logit, ties
    to the lowest id. ``top_k`` keeps the first k (0: off), ``top_p`` the nucleus (a token
    stays while the probability ranked before it is below top_p; 1: off; 0: the first token),
    ``min_p`` the tokens with ``p >= min_p * p_max`` (0: off). ``order="temperature_first"``
    (Hugging Face: the temperature applies before the filters) or ``"temperature_last"``
    (llama.cpp: filters at temperature 1, then the temperature). ``temperature == 0`` or
    ``greedy=True`` returns the first largest logit. No sort of the vocabulary is made;
    docs/NUMERICS.md ("Sampling") gives the exact definition and the edge cases.

    Parameters
    ----------
    logits : array_like, float32 or float64 (other dtypes are converted to float64)
        Read in place when C-contiguous float32 / float64.
    seed : int or None
        Philox-4x32-10 key. None draws a fresh one (not reproducible). The uniform of a row is
        keyed by (seed, stream, step): stream is the row's index or ``streams[row]`` (give each
        sequence its own id and splitting a batch changes nothing), step is ``step`` or
        ``steps[row]``. :func:`sampling_uniform` gives that uniform.
    history : 2-D integer array (negative entries are padding) or a sequence of sequences
        Each row's previous tokens, for the penalties.
    uniforms : array of shape ``logits.shape[:-1]``, values in [0, 1), optional
        Used instead of the generator.
    return_logprobs : bool
        Also return each drawn token's log-probability under the final distribution (the kept
        tokens at the temperature; 0 for greedy).
    top_logprobs : int
        Also return the first ``top_logprobs`` kept tokens by rank and their log-probabilities
        (padded with -1 and -inf).
    out : int64 ndarray of shape ``logits.shape[:-1]``, optional
        Receives the tokens.

    Returns
    -------
    tokens : int64 ndarray of shape ``logits.shape[:-1]`` (0-d for a 1-D row); or a
    :class:`Sample` (tokens, logprobs, top_tokens, top_logprobs) when ``return_logprobs`` or
    ``top_logprobs`` asks for more.

    Raises ValueError for options out of range, a NaN logit (naming its row and token), a row
    whose logits are all -inf after bias and penalties, and mismatched shapes. The GIL is
    released while sampling; rows run on :func:`get_num_threads` threads and the result does
    not depend on their number.
    """
    shape = logits.shape if isinstance(logits, np.ndarray) else np.shape(logits)
    if len(shape) == 0:
        raise ValueError("softreg.sample: logits must have at least 1 dimension (the vocabulary)")
    if seed is None:
        seed = secrets.randbits(64)
    if not (isinstance(top_logprobs, (int, np.integer)) and top_logprobs >= 0):
        raise ValueError(f"softreg.sample: top_logprobs must be an int >= 0; got {top_logprobs!r}")
    values = offsets = None
    if history is not None:
        values, offsets = _history_csr(history, math.prod(shape[:-1]))
    if logit_bias is not None:
        logit_bias = np.asarray(logit_bias).reshape(-1)
    if streams is not None:
        streams = np.ascontiguousarray(streams, dtype=np.uint64).reshape(-1)
    if steps is not None:
        steps = np.ascontiguousarray(steps, dtype=np.uint64).reshape(-1)
    if uniforms is not None:
        uniforms = np.ascontiguousarray(uniforms, dtype=np.float64).reshape(-1)
    tokens, logprobs, top_tokens, top_lps = _core.sample(
        logits,
        float(temperature),
        int(top_k),
        float(top_p),
        float(min_p),
        float(repetition_penalty),
        float(presence_penalty),
        float(frequency_penalty),
        bool(greedy),
        str(order),
        int(seed) % (1 << 64),
        _step(step),
        values,
        offsets,
        logit_bias,
        streams,
        steps,
        uniforms,
        out,
        bool(return_logprobs),
        int(top_logprobs),
    )
    if not return_logprobs and top_logprobs == 0:
        return tokens
    return Sample(tokens, logprobs, top_tokens, top_lps)


def _step(step):
    step = int(step)
    if step < 0:
        raise ValueError(f"softreg.sample: step must be >= 0; got {step}")
    return step


def sampling_uniform(seed, stream, step):
    """The uniform in [0, 1) that :func:`sample` draws for (seed, stream, step)."""
    return _core.sampling_uniform(int(seed) % (1 << 64), int(stream), int(step))
