"""Evidence per offset, accumulated over a file: the maths of the second-generation checker.

A file's frames each give a log-probability over the candidate offsets (LagNet's scores, softmaxed
per frame). :class:`Evidence` keeps their sums per block of ``block`` frames (one second), so any
stretch's evidence is a sum of blocks: the whole file for ``check``, sliding stretches for
``timeline``, the first and last seconds for DeSync. Memory is ``blocks x offsets``, whatever the
file's length.

The evidence of a stretch for offset ``k`` is the mean log-probability of its frames that can be
compared at ``k`` (the sound exists there), times the stretch's frames divided by ``temperature``
(neighbouring frames are not independent: the calibrated temperature says how many frames make one
independent look). Offsets that fewer than half of the stretch's frames can be compared at are out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

COVERAGE = 0.5       # an offset needs this share of a stretch's usable frames to be compared


@dataclass
class Evidence:
    """Per-block sums of per-frame log-probabilities over the candidate ``offsets_sec``:
    ``logp[n, k]`` (sum over the block's frames that can be compared at offset k), ``count[n, k]``
    (how many), ``usable[n]`` (frames of the block with both sound and motion)."""

    offsets_sec: np.ndarray
    logp: np.ndarray
    count: np.ndarray
    usable: np.ndarray
    block_sec: float
    start_sec: float = 0.0
    search_sec: float = math.inf    # the range asked for; offsets beyond it are scored only to see past its edge
    silent: bool = False            # the sound is digital silence: no evidence anywhere

    @property
    def blocks(self) -> int:
        """Number of blocks."""
        return len(self.usable)

    def block_time(self, n: int) -> float:
        """File time at which block ``n`` starts."""
        return self.start_sec + n * self.block_sec


@dataclass
class Posterior:
    """A stretch's distribution over the candidate offsets and what it says."""

    probs: np.ndarray             # over the candidates (zeros where an offset is out)
    offset_sec: float | None      # the peak, refined below the 10 ms step
    confidence: float             # probability mass within ``tolerance`` of the peak
    frames: int                   # usable frames that made it
    at_edge: bool                 # the peak sits at the edge of the searched range


def stretch_logits(ev: Evidence, lo: int, hi: int, temperature: float) -> tuple[np.ndarray, int]:
    """Calibrated log-evidence per offset of blocks ``lo:hi`` (``-inf`` where an offset is out) and
    the usable frames it rests on."""
    s, c = ev.logp[lo:hi].sum(0, dtype=np.float64), ev.count[lo:hi].sum(0, dtype=np.int64)
    frames = int(ev.usable[lo:hi].sum())
    ok = c >= max(1.0, COVERAGE * c.max(initial=0.0))
    out = np.full(len(s), -np.inf)
    if frames == 0 or not ok.any():
        return out, 0
    out[ok] = s[ok] / c[ok] * frames / temperature
    return out, frames


def refine_peak(values: np.ndarray, k: int) -> float:
    """Sub-step position of the maximum at ``k`` from a parabola through it and its neighbours."""
    if 0 < k < len(values) - 1 and np.isfinite(values[k - 1:k + 2]).all():
        a, b, c = values[k - 1], values[k], values[k + 1]
        den = a - 2 * b + c
        if den < 0:
            return float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    return 0.0


def self_normalised(logits: np.ndarray, sharpness: float) -> np.ndarray:
    """The evidence curve in units of its own spread, times ``sharpness``: ``(l - median) / (1.4826 MAD)``
    over the offsets that could be compared. A file whose evidence is only noise (a real clip the model
    cannot read) then has a peak a few spreads high among many others, and a flat distribution; a file
    with real evidence has a peak tens of spreads above the rest. This is what makes a confidence
    honest across footage whose noise level differs by orders of magnitude (a constant false-alarm
    rate, whatever the file)."""
    ok = np.isfinite(logits)
    if ok.sum() < 3:
        return logits
    med = float(np.median(logits[ok]))
    spread = 1.4826 * float(np.median(np.abs(logits[ok] - med))) + 1e-6
    return np.where(ok, (logits - med) / spread * sharpness, -np.inf)


def posterior(ev: Evidence, lo: int, hi: int, temperature: float, tolerance: float = 0.1,
              edge_sec: float = 0.1, sharpness: float | None = None) -> Posterior:
    """The distribution over offsets of blocks ``lo:hi`` and its peak (``sharpness``: from the
    :func:`self_normalised` curve); ``confidence`` is the mass within ``tolerance`` s of the peak; ``at_edge`` when the peak lies beyond the range asked for
    (``ev.search_sec``) or within ``edge_sec`` of the last offset that could be compared (the
    evidence may still rise outside the searched range)."""
    logits, frames = stretch_logits(ev, lo, hi, temperature)
    if sharpness:
        logits = self_normalised(logits, sharpness)
    ok = np.isfinite(logits)
    if not ok.any():
        return Posterior(np.zeros(len(logits)), None, 0.0, 0, False)
    p = np.exp(logits - logits[ok].max())
    p[~ok] = 0.0
    p /= p.sum()
    k = int(np.argmax(np.where(ok, logits, -np.inf)))
    step = float(ev.offsets_sec[1] - ev.offsets_sec[0]) if len(ev.offsets_sec) > 1 else 0.01
    offset = float(ev.offsets_sec[k] + refine_peak(logits, k) * step)
    near = np.abs(ev.offsets_sec - offset) <= tolerance + 1e-9
    covered = ev.offsets_sec[ok]
    at_edge = bool(offset - covered.min() < edge_sec or covered.max() - offset < edge_sec
                   or abs(offset) > ev.search_sec + 1e-9)
    return Posterior(p, offset, float(p[near].sum()), frames, at_edge)


@dataclass
class Path:
    """The offset over blocks that best explains a file's evidence, allowing slow drift (one step
    per block at ``move_cost``) and sudden changes (edits, at ``jump_cost``): ``state[n]`` indexes
    the candidates."""

    state: np.ndarray


def best_path(ev: Evidence, temperature: float, stride: int = 2, move_cost: float = 0.5,
              jump_cost: float = 12.0) -> Path:
    """Viterbi over blocks: each block's calibrated evidence, the offset held, moved by one coarse
    step (``stride`` candidates), or jumped anywhere. Costs are in calibrated nats."""
    logits = np.stack([stretch_logits(ev, n, n + 1, temperature)[0] for n in range(ev.blocks)])
    coarse = logits[:, ::stride]
    finite = np.isfinite(coarse)
    emit = np.where(finite, coarse, np.nan)
    # per-block log-likelihood normalised (a block with no evidence is flat: zeros)
    with np.errstate(invalid="ignore"):
        emit = emit - np.nanmax(np.where(finite, emit, -np.inf), axis=1, keepdims=True)
    emit = np.where(finite, emit, -50.0)
    emit[~finite.any(1)] = 0.0
    n, s = emit.shape
    score = emit[0].copy()
    back = np.zeros((n, s), np.int64)
    idx = np.arange(s)
    for t in range(1, n):
        stay = score
        left = np.concatenate([[-np.inf], score[:-1]]) - move_cost
        right = np.concatenate([score[1:], [-np.inf]]) - move_cost
        j = int(np.argmax(score))
        jump = np.full(s, score[j] - jump_cost)
        options = np.stack([stay, left, right, jump])
        choice = np.argmax(options, 0)
        prev = np.choose(choice, [idx, idx - 1, idx + 1, np.full(s, j)])
        back[t] = prev
        score = options[choice, idx] + emit[t]
    state = np.zeros(n, np.int64)
    state[-1] = int(np.argmax(score))
    for t in range(n - 1, 0, -1):
        state[t - 1] = back[t, state[t]]
    return Path(state * stride)


def drift_fit(times: np.ndarray, offsets: np.ndarray) -> tuple[float, float, float]:
    """Least-squares line through (time, offset): (slope in s/s, intercept, rms residual in s)."""
    if len(times) < 3:
        return 0.0, float(np.mean(offsets)) if len(offsets) else 0.0, math.inf
    a = np.vstack([times, np.ones_like(times)]).T
    (slope, icpt), *_ = np.linalg.lstsq(a, offsets, rcond=None)
    resid = float(np.sqrt(np.mean((a @ np.array([slope, icpt]) - offsets) ** 2)))
    return float(slope), float(icpt), resid
