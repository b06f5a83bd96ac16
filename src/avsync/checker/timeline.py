"""The timeline: segments of constant offset (binary segmentation of the windows'
log-probabilities), stretches without evidence, and a fitted drift rate."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch

from avsync.checker.calibration import Calibration
from avsync.checker.combine import posterior, refine_offset
from avsync.checker.results import CheckResult, Segment, Timeline, WindowResult
from avsync.offsets import OffsetGrid


def segment_offsets(log_probs: torch.Tensor, min_windows: int = 2, penalty: float | None = None) -> list[tuple[int, int, int]]:
    """Binary segmentation of a window sequence into runs of constant offset class: a run is split
    where two classes explain it better than one by more than ``penalty`` nats (default
    ``2 ln C + ln n``, BIC-like) and the two classes differ. Returns ``(first, end, class)`` runs in order."""
    n, c = log_probs.shape
    penalty = 2 * math.log(c) + math.log(max(n, 1)) if penalty is None else penalty
    prefix = torch.cat([torch.zeros(1, c, dtype=log_probs.dtype), log_probs.cumsum(0)])  # O(1) run sums

    def fit(lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Best log-likelihood and class of the runs [lo, hi) (vectorised over runs)."""
        return (prefix[hi] - prefix[lo]).max(-1)

    def split(lo: int, hi: int) -> list[tuple[int, int, int]]:
        whole, k = fit(torch.tensor(lo), torch.tensor(hi))
        cuts = torch.arange(lo + min_windows, hi - min_windows + 1)
        if len(cuts):
            left, kl = fit(torch.full_like(cuts, lo), cuts)
            right, kr = fit(cuts, torch.full_like(cuts, hi))
            gain = torch.where(kl != kr, left + right - whole, torch.full_like(left, -math.inf))
            best = int(gain.argmax())
            if float(gain[best]) > penalty:
                m = int(cuts[best])
                return split(lo, m) + split(m, hi)
        return [(lo, hi, int(k))]

    return split(0, n) if n else []


def _stretches(windows: Sequence[WindowResult], owned: Sequence[tuple[float, float]],
               flag: Callable[[WindowResult], str | None]) -> list[dict[str, Any]]:
    """Merge consecutive flagged windows into ``{start_sec, end_sec, reason}`` stretches."""
    out: list[dict[str, Any]] = []
    for w, (a, b) in zip(windows, owned):
        reason = flag(w)
        if reason is None:
            continue
        if out and abs(out[-1]["end_sec"] - a) < 1e-6 and out[-1]["reason"] == reason:
            out[-1]["end_sec"] = round(b, 3)
        else:
            out.append({"start_sec": round(a, 3), "end_sec": round(b, 3), "reason": reason})
    return out


def owned_spans(windows: Sequence[WindowResult]) -> list[tuple[float, float]]:
    """The part of the timeline each window speaks for: halfway to its neighbours' centres."""
    if not windows:
        return []
    centres = [(w.start_sec + w.end_sec) / 2 for w in windows]
    bounds = [windows[0].start_sec] + [(a + b) / 2 for a, b in zip(centres, centres[1:])] + [windows[-1].end_sec]
    return list(zip(bounds[:-1], bounds[1:]))


def analyse_timeline(result: CheckResult, grid: OffsetGrid, cal: Calibration, min_windows: int = 2) -> Timeline:
    """Segments of constant offset (binary segmentation of the usable windows' log-probabilities),
    stretches without evidence (unusable or under ``min_confidence``), and a weighted linear drift rate."""
    windows = result.per_window
    owned = owned_spans(windows)
    usable = [i for i, w in enumerate(windows) if w.usable]
    segments: list[Segment] = []
    if usable:
        logp = torch.log(torch.tensor([windows[i].probs for i in usable], dtype=torch.float64).clamp_min(1e-12))
        for lo, hi, k in segment_offsets(logp, min_windows):
            idx = usable[lo:hi]
            raw = torch.log_softmax(logp[lo:hi] * cal.temperature, -1)  # undo the per-window temperature
            post = posterior(raw, [windows[i].start_sec for i in idx], result.window_sec or 1.0, cal.temperature)
            segments.append(Segment(round(owned[idx[0]][0], 3), round(owned[idx[-1]][1], 3),
                                    round(refine_offset(post, grid, cal.refine), 4), float(post.exp().max()),
                                    len(idx)))
    no_evidence = _stretches(windows, owned, lambda w: w.reason or (
        "low confidence" if w.confidence < cal.min_confidence else None))
    return Timeline(result, segments, no_evidence, _drift_rate(windows, cal))


def _drift_rate(windows: Sequence[WindowResult], cal: Calibration) -> float | None:
    """Confidence-weighted least-squares slope of the per-window offsets, in ms per minute."""
    pts = [((w.start_sec + w.end_sec) / 2, w.offset_sec, w.confidence) for w in windows
           if w.usable and w.confidence >= cal.min_confidence]
    if len(pts) < 3:
        return None
    t, y, wt = (torch.tensor(c, dtype=torch.float64) for c in zip(*pts))
    tm, ym = (wt * t).sum() / wt.sum(), (wt * y).sum() / wt.sum()
    var = (wt * (t - tm) ** 2).sum()
    if var <= 1e-9:
        return None
    return float((wt * (t - tm) * (y - ym)).sum() / var) * 60_000.0
