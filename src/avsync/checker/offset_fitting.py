"""Calibrating the engine (:class:`~avsync.checker.offset_checker.OffsetChecker`) on held-out files.

Each in-sync file is decoded once and checked at ``per_clip`` known offsets (its sound moved in
memory, exactly what a file whose audio is that far ahead gives), and once with the sound of another
file (a mismatched pair: there is no right offset, the right answer is a refusal). The sharpness of
the self-normalised evidence (:func:`avsync.checker.evidence.self_normalised`) is the one that best
predicts both: the mean negative log-probability of the 0.1 s around the truth over the shifted
files plus the mean negative log-probability of *not* answering over the mismatched pairs, minimised
over a grid. Measured on another split: how often the answer is within 0.1 s, the reliability of the
stated confidence (ECE), how many files are answered at the calibration's thresholds, and how many
mismatched pairs are refused.

Fit and measure on held-out synthetic or real sources that were never trained on, and never on the
DEV group of the real benchmark (that is where the engine is judged).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np

from avsync.checker.calibration import Calibration, reliability
from avsync.checker.evidence import Evidence, posterior
from avsync.checker.offset_checker import TOLERANCE_SEC, OffsetChecker
from avsync.errors import AvsyncError

SHARPNESS = tuple(float(t) for t in np.geomspace(0.1, 20.0, 48))


def with_audio_ahead(streams: Any, offset_sec: float) -> Any:
    """A copy of decoded streams whose audio is ``offset_sec`` ahead of the picture (what the picture
    shows at ``t`` is heard at ``t - offset``; silence where the moved sound has none)."""
    n = int(round(offset_sec * streams.sample_rate))
    audio = np.zeros_like(streams.audio)
    if n >= 0:
        audio[:len(audio) - n] = streams.audio[n:]
    else:
        audio[-n:] = streams.audio[:len(audio) + n]
    return replace(streams, audio=audio)


@dataclass
class Trial:
    """One simulated file: where it came from, its true offset (None: a mismatched pair, whose sound
    belongs to another file) and its evidence."""

    path: str
    true_sec: float | None
    evidence: Evidence


def with_audio_of(streams: Any, other: Any) -> Any:
    """``streams`` with ``other``'s sound in place of its own (cut or padded with silence to its length)."""
    audio = np.zeros_like(streams.audio)
    n = min(len(audio), len(other.audio))
    audio[:n] = other.audio[:n]
    return replace(streams, audio=audio)


def simulate(checker: OffsetChecker, paths: Sequence[str], per_clip: int = 4, seed: int = 0,
             max_offset_sec: float = 3.0, progress: Callable[[], None] | None = None,
             mismatched: bool = True) -> tuple[list[Trial], list[str]]:
    """Evidence of every file at ``per_clip`` offsets drawn uniformly in +-``max_offset_sec`` (but
    inside what the file's length lets the checker search) and, with ``mismatched``, of its picture
    with the previous readable file's sound. Returns the trials and one line per unreadable file."""
    rng = random.Random(seed)
    trials, failed, previous = [], [], None
    for path in paths:
        try:
            s = checker.read(path)
            for _ in range(per_clip):
                reach = min(max_offset_sec, 0.9 * max(0.1, s.duration_sec - max(0.5 * s.duration_sec, 2.0)))
                o = round(rng.uniform(-reach, reach), 3)
                trials.append(Trial(str(path), o, checker.evidence_of(with_audio_ahead(s, o))))
            if mismatched and previous is not None:
                trials.append(Trial(str(path), None, checker.evidence_of(with_audio_of(s, previous))))
            previous = s
        except AvsyncError as e:
            failed.append(str(e))
        if progress:
            progress()
    return trials, failed


def _answers(trials: Sequence[Trial], cal: Calibration) -> list[tuple[float | None, float, float | None]]:
    """(offset, confidence, probability of the truth's 0.1 s or None for a mismatched pair) of each trial."""
    out = []
    for tr in trials:
        p = posterior(tr.evidence, 0, tr.evidence.blocks, cal.temperature, TOLERANCE_SEC, sharpness=cal.sharpness)
        if tr.true_sec is None:
            out.append((p.offset_sec, p.confidence, None))
            continue
        near = np.abs(tr.evidence.offsets_sec - tr.true_sec) <= TOLERANCE_SEC + 1e-9
        out.append((p.offset_sec, p.confidence, float(p.probs[near].sum())))
    return out


def fit_sharpness(trials: Sequence[Trial], base: Calibration) -> float:
    """The sharpness of :data:`SHARPNESS` that best predicts the truths and the refusals."""
    def loss(k: float) -> float:
        answers = _answers(trials, replace(base, sharpness=k))
        true = [-math.log(max(q, 1e-12)) for _, _, q in answers if q is not None]
        refuse = [-math.log(max(1.0 - c, 1e-12)) for _, c, q in answers if q is None]
        return (float(np.mean(true)) if true else 0.0) + (float(np.mean(refuse)) if refuse else 0.0)

    return min(SHARPNESS, key=loss)


def measure(trials: Sequence[Trial], cal: Calibration) -> dict[str, Any]:
    """Accuracy, reliability and answers of the shifted trials under ``cal``, and the share of
    mismatched pairs it refuses."""
    answers = _answers(trials, cal)
    shifted = [(a, tr) for a, tr in zip(answers, trials) if tr.true_sec is not None]
    mismatched = [a for a, tr in zip(answers, trials) if tr.true_sec is None]
    errors = [abs(o - tr.true_sec) if o is not None else math.inf for (o, _, _), tr in shifted]
    conf = [c for (_, c, _), _ in shifted]
    right = [e <= TOLERANCE_SEC for e in errors]
    answered = [c >= cal.min_confidence for c in conf]
    fixed = [c >= cal.fix_min_confidence for c in conf]
    table = reliability(conf + [c for _, c, _ in mismatched], right + [False] * len(mismatched))

    def share(flags: Sequence[bool], among: Sequence[bool] | None = None) -> float | None:
        pick = [f for f, a in zip(flags, among or [True] * len(flags)) if a]
        return round(sum(pick) / len(pick), 4) if pick else None

    return {"files": len(shifted), "within_0.1": share(right), "within_0.2": share([e <= 0.2 for e in errors]),
            "median_abs_error_ms": round(1000 * float(np.median(errors)), 1) if errors else None,
            "ece": round(table["ece"], 4), "reliability": table,
            "answered": share(answered), "right_when_answered": share(right, answered),
            "fixable": share(fixed), "right_when_fixable": share(right, fixed),
            "mismatched": len(mismatched),
            "mismatched_refused": share([c < cal.min_confidence for _, c, _ in mismatched]),
            "mismatched_fixable": share([c >= cal.fix_min_confidence for _, c, _ in mismatched])}


@dataclass
class OffsetCalibrationRun:
    """A fitted engine calibration with its measurements before (``base``) and after."""

    calibration: Calibration
    before: dict[str, Any]
    after: dict[str, Any]
    skipped: list[str]


def calibrate_offsets(checker: OffsetChecker, fit: Sequence[str], test: Sequence[str], per_clip: int = 4,
                      seed: int = 0, base: Calibration | None = None, provenance: dict[str, Any] | None = None,
                      progress: Callable[[str], Callable[[], None]] | None = None) -> OffsetCalibrationRun:
    """Fit the sharpness on ``fit`` files (shifted and mismatched) and measure on ``test`` files."""
    base = base or checker.calibration
    fit_trials, bad_fit = simulate(checker, fit, per_clip, seed, progress=progress("fitting") if progress else None)
    test_trials, bad_test = simulate(checker, test, per_clip, seed + 1,
                                     progress=progress("measuring") if progress else None)
    if not fit_trials or not test_trials:
        raise AvsyncError("calibrate: no readable files to fit or to measure on")
    cal = replace(base, sharpness=fit_sharpness(fit_trials, base),
                  fitted={**(provenance or {}), "fit_files": len(fit), "test_files": len(test),
                          "per_clip": per_clip, "engine": "offsets", "mismatched_pairs": True})
    return OffsetCalibrationRun(cal, measure(test_trials, base), measure(test_trials, cal), bad_fit + bad_test)
