"""The real development benchmark: a fixed, versioned set of cases with known sync errors made from
the in-sync real corpus (``scripts/get_real_media.py``), and how a checker's answers are scored.

Cases (``build_cases``; the same corpus gives the same cases, whoever builds them):
- ``crop5`` / ``crop8``: 5 s and 8 s stretches tiling each source's usable stretch, each at its own
  offset in -2..+2 s off the 0.2 s grid (e.g. +0.37 s);
- ``whole``: the usable stretch at one offset in -2..+2 s; ``beyond``: the same at +-3.3 s;
- ``original``: the usable stretch as published (truth 0);
- ``slip``: in sync, then 0.7 s ahead from the middle; ``drift``: an audio clock 0.4 % fast;
- ``still``: music or speech under a still frame of another source (the answer is "no evidence").

Scoring (``score_check`` / ``score_timeline`` / ``summarise``): an answer is an offset when the
checker calls the file synchronisable; within 0.1 s / 0.25 s count every case with a truth (a refusal
is not within anything), the median absolute error is over the answers; "confidently wrong" is an
answer off by more than 0.25 s, or any answer on a ``still`` case; a refusal is an answer of "no
evidence" (or a file the checker could not take). The best guess (the offset a checker reports even
when it refuses) is scored apart ("guess" columns): it compares engines whatever their calibration.
"""

from __future__ import annotations

import statistics
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from avsync.data.real import RealClip
from avsync.media import render
from avsync.media.reader import read_audio, read_clip

VERSION = 1
CROP_SECONDS = (5.0, 8.0)
MAX_CROP_OFFSET = 2.0
BEYOND_OFFSET = 3.3
SLIP_OFFSET = 0.7
DRIFT_RATE = 0.004
LONG_SEC = 20.0          # sources at least this long get whole-file cases
TIMELINE_SEC = 40.0      # ... and slip / drift cases
STILL_SEC = 12.0
WRONG_SEC = 0.25


@dataclass(frozen=True)
class Case:
    """One file of the benchmark: how to render it from its source and what the truth is.
    ``offset_sec`` is the constant truth (for ``slip``: the offset after ``change_sec``; for
    ``drift``: None, the truth is ``drift_ms_per_min``); ``audio_source`` is set for ``still``."""

    id: str
    kind: str
    source: str
    group: str
    content: str
    path: str
    start_sec: float
    duration_sec: float
    offset_sec: float | None = None
    change_sec: float | None = None
    drift_ms_per_min: float | None = None
    audio_source: str | None = None
    audio_path: str | None = None
    audio_start_sec: float | None = None

    @property
    def timeline(self) -> bool:
        """Whether this case is judged on the timeline (slip, drift) instead of one offset."""
        return self.kind in ("slip", "drift")


def _rng(*key: object) -> np.random.Generator:
    return np.random.default_rng([VERSION, zlib.crc32("/".join(map(str, key)).encode())])


def off_grid_offset(rng: np.random.Generator, lo: float, hi: float) -> float:
    """An offset in [lo, hi] at 10 ms resolution, at least 30 ms from the 0.2 s class grid where
    the interval leaves room for that."""
    off = 0.0
    for _ in range(100):
        off = round(float(rng.uniform(lo, hi)), 2)
        if abs(off / 0.2 - round(off / 0.2)) * 0.2 >= 0.03:
            break
    return float(np.clip(off, lo, hi))


def _crops(clip: RealClip, seconds: float) -> list[Case]:
    """Picture stretches of ``seconds`` tiling the usable stretch, each at its own offset in
    -2..+2 s that keeps its audio inside the file."""
    rng, usable = _rng(clip.source, Path(clip.path).name, seconds), clip.usable_sec
    n = int(usable // seconds)
    spare = usable - n * seconds
    cases = []
    for i in range(n):
        start = clip.start_sec + spare / 2 + i * seconds
        lo = max(-MAX_CROP_OFFSET, -start)
        hi = min(MAX_CROP_OFFSET, clip.duration_sec - start - seconds)
        cases.append(_case(f"crop{seconds:.0f}", clip, i, start, seconds, offset_sec=off_grid_offset(rng, lo, hi)))
    return cases


def _case(kind: str, clip: RealClip, i: int, start: float, seconds: float, **kw: Any) -> Case:
    return Case(id=f"{clip.source}-{Path(clip.path).stem}-{kind}-{i:02d}", kind=kind, source=clip.source,
                group=clip.group, content=clip.content, path=clip.path, start_sec=round(start, 3),
                duration_sec=round(seconds, 3), **kw)


def _shifted_whole(clip: RealClip, kind: str, off: float) -> Case:
    """The usable stretch at ``off``: the picture loses |off| at the side the audio moves away from."""
    start = clip.start_sec + max(0.0, -off)
    seconds = clip.usable_sec - abs(off)
    return _case(kind, clip, 0, start, seconds, offset_sec=off)


def _long_cases(clip: RealClip, k: int) -> list[Case]:
    rng = _rng(clip.source, Path(clip.path).name, "whole")
    cases = [_case("original", clip, 0, clip.start_sec, clip.usable_sec, offset_sec=0.0)]
    if clip.usable_sec < LONG_SEC:
        return cases
    cases.append(_shifted_whole(clip, "whole", off_grid_offset(rng, -MAX_CROP_OFFSET, MAX_CROP_OFFSET)))
    cases.append(_shifted_whole(clip, "beyond", BEYOND_OFFSET if k % 2 == 0 else -BEYOND_OFFSET))
    if clip.usable_sec >= TIMELINE_SEC:
        seconds = clip.usable_sec - SLIP_OFFSET
        cases.append(_case("slip", clip, 0, clip.start_sec, seconds, offset_sec=SLIP_OFFSET,
                           change_sec=round(seconds / 2, 3)))
        seconds = clip.usable_sec / (1 + DRIFT_RATE)
        cases.append(_case("drift", clip, 0, clip.start_sec, seconds, drift_ms_per_min=DRIFT_RATE * 60_000))
    return cases


def _stills(clips: Sequence[RealClip]) -> list[Case]:
    """Each music or speech source's audio under a still frame of a source of another content type."""
    sounds = [c for c in clips if c.content in ("music", "speech") and c.usable_sec >= STILL_SEC]
    pictures = [c for c in clips if c.usable_sec >= STILL_SEC]
    cases = []
    for i, sound in enumerate(sorted(sounds, key=lambda c: c.source)):
        others = [p for p in pictures if p.content != sound.content] or pictures
        picture = others[i % len(others)]
        group = "dev" if "dev" in (sound.group, picture.group) else "train"
        cases.append(Case(id=f"still-{sound.source}-{Path(sound.path).stem}", kind="still", source=picture.source,
                          group=group, content=sound.content, path=picture.path,
                          start_sec=round(picture.start_sec + picture.usable_sec / 2, 3), duration_sec=STILL_SEC,
                          audio_source=sound.source, audio_path=sound.path,
                          audio_start_sec=round(sound.start_sec + (sound.usable_sec - STILL_SEC) / 2, 3)))
    return cases


def build_cases(corpus: Iterable[RealClip]) -> list[Case]:
    """Every case of benchmark version ``VERSION`` for ``corpus`` (sorted by source and file, so the
    list does not depend on the manifest's order)."""
    clips = sorted(corpus, key=lambda c: (c.source, Path(c.path).name))
    cases: list[Case] = []
    for k, clip in enumerate(c for c in clips if c.usable_sec >= LONG_SEC):
        cases += _long_cases(clip, k)
    for clip in clips:
        if clip.usable_sec < LONG_SEC:
            cases += _long_cases(clip, 0)
        for seconds in CROP_SECONDS:
            cases += _crops(clip, seconds)
    return cases + _stills(clips)


def render_case(case: Case, dst: str | Path, size: int = 360) -> Path:
    """Write the file of ``case`` to ``dst`` (short side ``size``): the source's stretch re-timed by
    the case's truth, or, for ``still``, the sound source's audio under one frame of the picture source."""
    if case.kind == "still":
        image = read_clip(case.path, case.start_sec, 0.2, size=size).frames[0].numpy()
        audio = read_audio(case.audio_path, case.audio_start_sec, case.duration_sec, render.AUDIO_RATE)
        return render.render_still(dst, image, audio)
    if case.kind == "slip":
        timing = render.edit_slip(case.start_sec, case.offset_sec, case.change_sec)
    elif case.kind == "drift":
        timing = render.clock_drift(case.start_sec, case.drift_ms_per_min / 60_000)
    else:
        timing = render.constant_offset(case.start_sec, case.offset_sec)
    return render.render_retimed(case.path, dst, case.start_sec, case.duration_sec, timing, size=size)


# --------------------------------------------------------------------------------------------------
# scoring


@dataclass
class Outcome:
    """How one case was answered. ``error_sec`` is |answer - truth| for answered offset cases;
    ``found`` says whether a slip / drift was found (timeline cases)."""

    case: Case
    answered: bool
    offset_sec: float | None = None
    confidence: float | None = None
    error_sec: float | None = None
    guess_error_sec: float | None = None    # |offset - truth| of the best guess, answered or not
    confidently_wrong: bool = False
    found: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {**{k: v for k, v in asdict(self).items() if k != "case"}, "case": asdict(self.case)}


def score_check(case: Case, offset_sec: float | None, confidence: float | None, synchronisable: bool,
                failure: str | None = None) -> Outcome:
    """The outcome of a one-offset answer (``check``) on a constant-offset or ``still`` case."""
    answered = bool(synchronisable and offset_sec is not None and failure is None)
    if case.kind == "still":
        return Outcome(case, answered, offset_sec, confidence, confidently_wrong=answered, failure=failure)
    guess = abs(offset_sec - case.offset_sec) if offset_sec is not None and failure is None else None
    error = guess if answered else None
    return Outcome(case, answered, offset_sec, confidence, error, guess,
                   confidently_wrong=bool(error is not None and error > WRONG_SEC), failure=failure)


def score_timeline(case: Case, segments: Sequence[dict[str, float]], drift_ms_per_min: float | None,
                   failure: str | None = None) -> Outcome:
    """The outcome of a timeline on a ``slip`` case (found: one segment within 0.15 s of 0 before the
    change and one within 0.15 s of the slip after it, the change dated within 10 % of the file) or
    a ``drift`` case (found: a slope within 25 % of the truth)."""
    detail: dict[str, Any] = {"segments": [dict(s) for s in segments], "drift_ms_per_min": drift_ms_per_min}
    if failure is not None:
        return Outcome(case, False, failure=failure, found=False, detail=detail)
    if case.kind == "drift":
        truth = case.drift_ms_per_min
        found = drift_ms_per_min is not None and abs(drift_ms_per_min - truth) <= 0.25 * truth
        return Outcome(case, bool(segments), found=bool(found), detail=detail)
    before = [s for s in segments if abs(s["offset_sec"]) <= 0.15]
    after = [s for s in segments if abs(s["offset_sec"] - case.offset_sec) <= 0.15]
    tol = 0.1 * case.duration_sec
    found = any(abs(b["end_sec"] - case.change_sec) <= tol for b in before) and \
        any(abs(a["start_sec"] - case.change_sec) <= tol for a in after)
    detail["change_sec"] = case.change_sec
    return Outcome(case, bool(segments), found=found, detail=detail)


def _row(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    offsets = [o for o in outcomes if not o.case.timeline and o.case.kind != "still"]
    errors = [o.error_sec for o in offsets if o.error_sec is not None]
    guesses = [o.guess_error_sec for o in offsets if o.guess_error_sec is not None]
    n = len(offsets)
    return {"cases": len(outcomes), "offset_cases": n,
            "within_0.1": None if not n else sum(e <= 0.1 for e in errors) / n,
            "within_0.25": None if not n else sum(e <= 0.25 for e in errors) / n,
            "median_abs_err_sec": statistics.median(errors) if errors else None,
            "guess_within_0.25": None if not n else sum(e <= 0.25 for e in guesses) / n,
            "guess_median_abs_err_sec": statistics.median(guesses) if guesses else None,
            "confidently_wrong": sum(o.confidently_wrong for o in outcomes),
            "refused": sum(not o.answered for o in offsets),
            "failed": sum(o.failure is not None for o in outcomes)}


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Tables of the outcomes: per group x content, per group x source, per group x case kind, the
    timeline cases one by one, and the ``still`` cases."""
    def by(key) -> dict[str, dict[str, Any]]:
        keys = sorted({key(o) for o in outcomes})
        return {"/".join(k): _row([o for o in outcomes if key(o) == k]) for k in keys}

    return {"version": VERSION,
            "by_content": by(lambda o: (o.case.group, o.case.content)),
            "by_source": by(lambda o: (o.case.group, o.case.source)),
            "by_kind": by(lambda o: (o.case.group, o.case.kind)),
            "timeline": [{"id": o.case.id, "group": o.case.group, "kind": o.case.kind, "found": o.found,
                          **o.detail} for o in outcomes if o.case.timeline],
            "still": [{"id": o.case.id, "group": o.case.group, "answered": o.answered,
                       "offset_sec": o.offset_sec, "confidence": o.confidence}
                      for o in outcomes if o.case.kind == "still"]}
