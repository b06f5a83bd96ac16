"""The maths shared by check, timeline and desync: how the windows' class log-probabilities combine
into a file's posterior, and the sub-class refinement of its peak (where the windows go:
:mod:`avsync.checker.plan`)."""

from __future__ import annotations

import math
from typing import Sequence

import torch

from avsync.offsets import OffsetGrid

TOP_K = 5


def refine_offset(log_probs: torch.Tensor, grid: OffsetGrid, method: str = "parabolic") -> float:
    """Offset in seconds from a log-distribution over the grid: the peak class, moved by at most half
    a step by a parabola through the peak and its neighbours (or the centroid of the three)."""
    k = int(log_probs.argmax())
    base = grid.to_seconds(k)
    if method == "none" or k == 0 or k == grid.num_classes - 1:
        return base
    y0, y1, y2 = (float(v) for v in log_probs[k - 1:k + 2])
    if method == "parabolic":
        denom = y0 - 2 * y1 + y2
        delta = 0.0 if denom >= -1e-12 else 0.5 * (y0 - y2) / denom
    else:
        p = torch.softmax(log_probs[k - 1:k + 2].double(), 0)
        delta = float(p[2] - p[0])
    return base + max(-0.5, min(0.5, delta)) * grid.step_sec


def combine(log_probs: torch.Tensor, starts: Sequence[float], window_sec: float) -> torch.Tensor:
    """Product of experts over windows: summed log-probabilities ``(C,)`` scaled by ``n_eff / n``,
    where ``n_eff`` is the covered time over the window length (at least 1)."""
    n = log_probs.shape[0]
    covered, end = 0.0, -math.inf
    for s in sorted(starts):
        covered += max(0.0, s + window_sec - max(s, end))
        end = max(end, s + window_sec)
    n_eff = max(1.0, covered / window_sec)
    return log_probs.sum(0) * (n_eff / n)


def posterior(log_probs: torch.Tensor, starts: Sequence[float], window_sec: float, temperature: float) -> torch.Tensor:
    """Calibrated log-posterior ``(C,)`` of a file from its windows' raw log-probabilities ``(W, C)``."""
    return torch.log_softmax(combine(log_probs, starts, window_sec) / temperature, -1)


def top_classes(probs: torch.Tensor, grid: OffsetGrid, k: int = TOP_K) -> list[dict[str, float]]:
    """The ``k`` most probable classes as ``{offset_sec, prob}``."""
    values, idx = probs.topk(min(k, probs.numel()))
    return [{"offset_sec": grid.to_seconds(int(i)), "prob": round(float(v), 4)} for v, i in zip(values, idx)]


def window_evidence(video: torch.Tensor, audio: torch.Tensor) -> tuple[float, float]:
    """(mean absolute frame difference, peak |audio|) of one window: video ``(T, 3, H, W)`` in [0, 1]."""
    motion = float((video[1:] - video[:-1]).abs().mean()) if video.shape[0] > 1 else 0.0
    return motion, float(audio.abs().max()) if audio.numel() else 0.0
