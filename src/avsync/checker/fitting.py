"""Fitting and measuring a calibration on a labelled split: files with a known offset, simulated by
reading each window's audio ``offset`` later (exactly what a file whose audio is that far ahead gives)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import torch

from avsync.checker.calibration import (
    REFINE_METHODS,
    Calibration,
    fit_temperature,
    reliability,
)
from avsync.checker.checker import SyncChecker, is_usable
from avsync.checker.combine import combine, posterior, refine_offset
from avsync.checker.plan import window_starts
from avsync.errors import AvsyncError, TooShortError, UsageError
from avsync.offsets import OffsetGrid


@dataclass
class SimRecord:
    """One simulated file: its true offset, the raw log-probabilities of its usable windows."""

    path: str
    kind: str
    true_sec: float
    target: int
    raw: torch.Tensor            # (usable windows, C) log_softmax of the logits
    starts: list[float]
    window: float


def simulate(checker: SyncChecker, sources: Sequence[Any], per_clip: int = 4, seed: int = 0,
             window: float | None = None, stride: float | None = None,
             progress: Callable[[], None] | None = None) -> tuple[list[SimRecord], list[str]]:
    """Check every source ``per_clip`` times at offsets drawn uniformly over the grid's range
    (continuous, not snapped to classes). Returns the records and one line per failed source."""
    import random

    rng = random.Random(seed)
    grid, fps = checker.grid, checker.estimator.fps
    window = float(window or checker.estimator.window_sec)
    stride = float(stride or window / 2)
    records, failed = [], []
    for src in sources:
        try:
            t0, length, _, _ = checker.span(src.path)
            for _ in range(per_clip):
                o = round(rng.uniform(-grid.max_sec, grid.max_sec), 4)
                lo, hi = max(0.0, -o) + 1e-3, length - max(0.0, o) - 1e-3
                starts = window_starts(hi - lo, window, stride, fps, t0 + lo)
                if not starts:
                    raise TooShortError(src.path, f"{length:.2f} s is too short for a {window:g} s window at {o:+.2f} s")
                logits, evidence = checker.score_windows(src.path, starts, window, audio_offset=o)
                keep = [i for i, (m, p) in enumerate(evidence) if is_usable(checker.calibration, m, p) is None]
                records.append(SimRecord(src.path, getattr(src, "kind", ""), o, grid.to_class(o),
                                         torch.log_softmax(logits[keep].double(), -1), [starts[i] for i in keep],
                                         window))
        except AvsyncError as e:
            failed.append(str(e))
        if progress:
            progress()
    return records, failed


def _posteriors(records: Sequence[SimRecord], temperature: float) -> list[torch.Tensor]:
    return [posterior(r.raw, r.starts, r.window, temperature) for r in records]


def fit_calibration(records: Sequence[SimRecord], grid: OffsetGrid, base: Calibration | None = None) -> Calibration:
    """Fit the temperature (NLL of the true class over the files' combined scores) and pick the
    refinement with the lowest median absolute error; records without usable windows are left out."""
    base = base or Calibration()
    usable = [r for r in records if r.raw.shape[0]]
    if not usable:
        raise UsageError("no usable records to calibrate on (silent or still clips only?)")
    scores = torch.stack([combine(r.raw, r.starts, r.window) for r in usable])
    targets = torch.tensor([r.target for r in usable])
    temperature = fit_temperature(scores, targets)
    posts = _posteriors(usable, temperature)
    errors = {m: _median([abs(refine_offset(p, grid, m) - r.true_sec) for p, r in zip(posts, usable)])
              for m in REFINE_METHODS}
    best = min(errors, key=errors.get)
    fitted = {"records": len(usable), "median_abs_error_ms": {m: round(e * 1000, 1) for m, e in errors.items()}}
    return replace(base, temperature=round(temperature, 4), refine=best, fitted=fitted)


def _median(values: Sequence[float]) -> float:
    return float(torch.tensor(list(values), dtype=torch.float64).median()) if values else float("nan")


def measure(records: Sequence[SimRecord], grid: OffsetGrid, cal: Calibration) -> dict[str, Any]:
    """Accuracy, sub-class error, calibration and synchronisability of simulated files, overall and
    per kind: ``acc1`` (class right), ``acc1_pm1`` (within one class), ``median_abs_error_ms``
    (refined offset; ``_class`` for the class centre alone), ``ece`` and the reliability table;
    ``within_100ms`` / ``within_300ms`` (refined offset that close to the truth: comparable across
    grids); ``synchronisable`` is the fraction of files the checker would answer for."""
    def stats(rs: Sequence[SimRecord]) -> dict[str, Any]:
        usable = [r for r in rs if r.raw.shape[0]]
        posts = _posteriors(usable, cal.temperature)
        conf = [float(p.exp().max()) for p in posts]
        pred = [int(p.argmax()) for p in posts]
        ok = [k == r.target for k, r in zip(pred, usable)]
        sync = [c >= cal.min_confidence for c in conf]
        err = [abs(refine_offset(p, grid, cal.refine) - r.true_sec) for p, r in zip(posts, usable)]
        err_cls = [abs(grid.to_seconds(k) - r.true_sec) for k, r in zip(pred, usable)]
        n = max(1, len(usable))
        table = reliability(conf, ok)
        ms = lambda x: None if math.isnan(x) else round(x * 1000, 1)  # noqa: E731
        return {"files": len(rs), "usable": len(usable),
                "acc1": sum(ok) / n, "acc1_pm1": sum(abs(k - r.target) <= 1 for k, r in zip(pred, usable)) / n,
                "within_100ms": sum(e <= 0.1 for e in err) / n, "within_300ms": sum(e <= 0.3 for e in err) / n,
                "median_abs_error_ms": ms(_median(err)), "median_abs_error_ms_class": ms(_median(err_cls)),
                "ece": round(table["ece"], 4),
                "synchronisable": (sum(sync) / len(rs)) if rs else 0.0,
                "acc1_synchronisable": (sum(o for o, s in zip(ok, sync) if s) / max(1, sum(sync))),
                "reliability": table}

    kinds = sorted({r.kind for r in records})
    return {"all": stats(records), **{f"kind:{k}": stats([r for r in records if r.kind == k])
                                       for k in kinds if k and len(kinds) > 1}}


def per_kind(sources: Sequence[Any], limit: int | None) -> list[Any]:
    """At most ``limit`` sources of each kind, in manifest order (all when ``limit`` is None)."""
    if limit is None:
        return list(sources)
    seen: dict[str, int] = {}
    out = []
    for s in sources:
        seen[s.kind] = seen.get(s.kind, 0) + 1
        if seen[s.kind] <= limit:
            out.append(s)
    return out


@dataclass
class CalibrationRun:
    """What :func:`calibrate` found: the fitted calibration (with its provenance in ``fitted``), the
    test split measured before and after it, and one line per source that could not be used."""

    calibration: Calibration
    before: dict[str, Any]
    after: dict[str, Any]
    skipped: list[str]

    @property
    def worse(self) -> bool:
        """Whether the fit is worse calibrated on the test split than no calibration."""
        return self.after["all"]["ece"] > self.before["all"]["ece"]


def calibrate(checker: SyncChecker, fit_sources: Sequence[Any], test_sources: Sequence[Any], per_clip: int = 4,
              seed: int = 0, window: float | None = None, stride: float | None = None,
              base: Calibration | None = None, provenance: dict[str, Any] | None = None,
              progress: Callable[[str], Callable[[], None]] | None = None) -> CalibrationRun:
    """Fit ``checker``'s temperature and refinement on simulated offsets of ``fit_sources`` and
    measure before/after on ``test_sources``. ``progress(what)`` returns the callback ticked per
    source. ``provenance`` (data, splits, weights) is recorded in the calibration's ``fitted``."""
    base = base or Calibration()
    checker.calibration = base
    skipped: list[str] = []

    def run(sources: Sequence[Any], s: int, what: str) -> list[SimRecord]:
        recs, failed = simulate(checker, sources, per_clip, s, window, stride,
                                progress=progress(what) if progress else None)
        skipped.extend(failed)
        return recs

    cal = fit_calibration(run(fit_sources, seed, "fitting"), checker.grid, base)
    test_recs = run(test_sources, seed + 1, "measuring")
    before, after = measure(test_recs, checker.grid, base), measure(test_recs, checker.grid, cal)
    a = after["all"]
    cal = replace(cal, fitted={**cal.fitted, **(provenance or {}), "per_clip": per_clip,
                               "test_ece_before": before["all"]["ece"], "test_ece": a["ece"],
                               "test_acc1": round(a["acc1"], 4), "test_median_abs_error_ms": a["median_abs_error_ms"]})
    return CalibrationRun(cal, before, after, skipped)
