"""What a check returns: one file's answer (:class:`CheckResult`, with its windows), a timeline's
segments, a DeSync score. Plain dataclasses with ``to_dict`` for JSON; no computation beyond that."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, NamedTuple, Sequence


class Span(NamedTuple):
    """The part of a file with both picture and sound: start and length in seconds, frame size in pixels."""

    start: float
    length: float
    pixels: int
    fps: float = 25.0


@dataclass
class WindowResult:
    """One window: where it starts, its own (calibrated, refined) answer, and whether it is usable."""

    start_sec: float
    end_sec: float
    offset_sec: float
    confidence: float
    usable: bool
    reason: str | None = None           # why not usable: "silent audio" / "still picture"
    motion: float = 0.0                 # mean absolute frame difference (0..1)
    audio_peak: float = 0.0             # peak absolute audio sample
    probs: list[float] = field(default_factory=list, repr=False)  # calibrated, over the grid

    def to_dict(self, probs: bool = False) -> dict[str, Any]:
        """Plain dict for JSON (the class distribution only when ``probs``)."""
        d = {"start_sec": round(self.start_sec, 3), "end_sec": round(self.end_sec, 3),
             "offset_sec": round(self.offset_sec, 3), "confidence": round(self.confidence, 4),
             "usable": self.usable, "reason": self.reason}
        if probs:
            d["probs"] = [round(p, 5) for p in self.probs]
        return d


@dataclass
class CheckResult:
    """The answer for one file. ``offset_sec`` > 0: audio ahead of the picture (delay the audio by it
    to fix). ``confidence`` is the calibrated probability that the offset class is right. When the
    file could not be read, ``error`` holds the one-line reason and there is no offset."""

    path: str
    offset_sec: float | None = None
    offset_frames: int | None = None    # in the file's own frames (``frame_rate``)
    confidence: float | None = None
    top: list[dict[str, float]] = field(default_factory=list)
    windows: int = 0
    synchronisable: bool = False
    error: str | None = None
    reason: str | None = None           # why not synchronisable
    duration_sec: float | None = None
    window_sec: float | None = None
    method: str = ""
    frame_rate: float | None = None     # of the file's picture
    precision_sec: float | None = None  # half a frame of the file, or the engine's own step if coarser
    warning: str | None = None          # e.g. a frame rate too low for the stated precision
    search_sec: float | None = None     # offsets searched both ways (engine v2; None: the model's class grid)
    experts: list[str] = field(default_factory=list)   # engine v2: the models whose evidence was joined
    speech: dict[str, Any] | None = None  # the speech expert, when it ran: face tracks, seconds of speech / with a face
    grid: list[float] = field(default_factory=list, repr=False)
    per_window: list[WindowResult] = field(default_factory=list, repr=False)

    @classmethod
    def failed(cls, path: str | os.PathLike, error: str, method: str = "") -> "CheckResult":
        """The record of a file that could not be checked."""
        return cls(path=str(path), error=error, method=method)

    def to_dict(self, windows: bool = True) -> dict[str, Any]:
        """Plain dict for JSON/JSONL (``per_window`` compact: no class distributions)."""
        d = {"path": self.path,
             "offset_sec": None if self.offset_sec is None else round(self.offset_sec, 3),
             "offset_frames": self.offset_frames,
             "confidence": None if self.confidence is None else round(self.confidence, 4),
             "top": self.top, "windows": self.windows, "synchronisable": self.synchronisable,
             "error": self.error, "reason": self.reason,
             "duration_sec": None if self.duration_sec is None else round(self.duration_sec, 3),
             "window_sec": self.window_sec, "method": self.method, "frame_rate": self.frame_rate,
             "precision_sec": self.precision_sec, "warning": self.warning, "search_sec": self.search_sec,
             "experts": self.experts, "speech": self.speech}
        if windows:
            d["per_window"] = [w.to_dict() for w in self.per_window]
        return d


@dataclass
class Segment:
    """A stretch of the timeline with one offset."""

    start_sec: float
    end_sec: float
    offset_sec: float
    confidence: float
    windows: int


@dataclass
class Timeline:
    """Offset over time: the per-window answers (``result.per_window``), the segments of constant
    offset (more than one: drift), stretches without evidence and a fitted drift rate."""

    result: CheckResult
    segments: list[Segment]
    no_evidence: list[dict[str, Any]]
    drift_ms_per_min: float | None

    @property
    def drift(self) -> bool:
        """Whether the offset changes along the file."""
        return len(self.segments) > 1

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (per-window class distributions included)."""
        r = self.result
        return {**{k: v for k, v in r.to_dict(windows=False).items()},
                "drift": self.drift,
                "drift_ms_per_min": None if self.drift_ms_per_min is None else round(self.drift_ms_per_min, 1),
                "segments": [{k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(s).items()}
                             for s in self.segments],
                "no_evidence": self.no_evidence, "grid": r.grid,
                "per_window": [w.to_dict(probs=True) for w in r.per_window]}


@dataclass
class DesyncResult:
    """DeSync of one clip: |offset| of its first and of its last window, and their mean."""

    path: str
    first_sec: float | None = None
    last_sec: float | None = None
    desync_sec: float | None = None
    error: str | None = None
    reason: str | None = None           # why the clip cannot be scored (silent, still, no evidence): left out of the mean

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def mean_desync(results: Sequence[DesyncResult]) -> float | None:
    """Mean DeSync over the clips that could be scored (failed and unusable clips left out)."""
    vals = [r.desync_sec for r in results if r.desync_sec is not None]
    return sum(vals) / len(vals) if vals else None


def call_safely(fn: Callable[..., Any], path: str | os.PathLike, method: str, desync: bool = False, **kw: Any) -> Any:
    """``fn(path, **kw)``, or the failure record of ``path`` (a :class:`DesyncResult` when ``desync``,
    else a :class:`CheckResult`) with a one-line reason naming the file when it raises on a bad file."""
    from avsync.errors import AvsyncError

    try:
        return fn(path, **kw)
    except AvsyncError as e:
        msg = str(e) if str(path) in str(e) else f"{path}: {e}"
    except (OSError, RuntimeError, ValueError) as e:  # decoder or tensor trouble in one file
        msg = f"{path}: cannot check ({type(e).__name__}: {e})"
    return DesyncResult(str(path), error=msg) if desync else CheckResult.failed(path, msg, method)
