"""The checker: slides an estimator's window over a file, reads the windows (one decode pass, on a
thread ahead of the model), and combines them into one calibrated answer, a timeline or a DeSync score.

1. windows of ``window`` seconds every ``stride`` seconds cover the file (the last one ends at its end);
   all of them are read in one decode pass (:func:`avsync.clip.read_windows`), each exactly as
   evaluation reads a crop, on a thread ahead of the model;
2. a window is *usable* unless its audio is silent or its picture is still (no evidence either way);
3. the file's answer is a product of experts over the usable windows (:mod:`avsync.checker.combine`);
4. the offset is refined below the class step, and ``synchronisable`` is false without usable windows
   or when the calibrated confidence stays under ``min_confidence``.

Sign convention: ``offset_sec > 0`` means the audio is ahead of the picture.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import torch

from avsync.checker.calibration import Calibration
from avsync.checker.combine import (
    posterior,
    refine_offset,
    top_classes,
    window_evidence,
)
from avsync.checker.estimators import Estimator
from avsync.checker.plan import file_span, plan_windows
from avsync.checker.results import (
    CheckResult,
    call_safely,
    DesyncResult,
    Span,
    Timeline,
    WindowResult,
)
from avsync.checker.timeline import analyse_timeline
from avsync.clip import ClipSpec, read_windows, window_request
from avsync.errors import TooShortError
from avsync.media.windows import read_ahead
from avsync.offsets import OffsetGrid

if TYPE_CHECKING:
    from avsync.media.window_process import WindowProcess

LOW_FPS = 10.0             # below this frame rate a check warns and states a coarser precision
AHEAD = 4                  # decoded windows waiting for the model, at most
PREFETCH_SEC = 60.0        # check_many reads files up to this long whole while the previous one is scored


def is_usable(cal: Calibration, motion: float, peak: float) -> str | None:
    """Why a window with this motion and audio peak holds no evidence ("silent audio", "still
    picture"), or None when it is usable."""
    if peak < cal.min_audio_peak:
        return "silent audio"
    if motion < cal.min_motion:
        return "still picture"
    return None


class SyncChecker:
    """Checks whole files with one estimator. ``avsync.load_model()`` builds one for the shipped model.

    >>> checker = avsync.load_model()
    >>> r = checker.check("video.mp4")          # CheckResult
    >>> r.offset_sec, r.confidence, r.synchronisable
    """

    def __init__(self, estimator: Estimator, calibration: Calibration | None = None, batch_size: int = 8,
                 workers: int = 2) -> None:
        self.estimator = estimator
        self.calibration = calibration or Calibration()
        self.batch_size, self.workers = max(1, int(batch_size)), max(0, int(workers))
        # called as windows are scored: (windows done, windows of the file); a progress bar over a long file
        self.on_progress: Callable[[int, int], None] | None = None
        # a process decoding the next file's windows since before torch loaded (CheckerSpec.early_windows):
        # taken by the next read, which uses it when it decodes exactly the windows asked for
        self.early: WindowProcess | None = None

    @property
    def grid(self) -> OffsetGrid:
        """The offset classes of the estimator."""
        return self.estimator.grid

    @property
    def window_sec(self) -> float:
        """The estimator's window in seconds."""
        return self.estimator.window_sec

    @property
    def desync_window_sec(self) -> float:
        """Length of DeSync's first and last windows: the estimator's window."""
        return self.estimator.window_sec

    @property
    def name(self) -> str:
        """Name of the estimator (model name or ``xcorr``)."""
        return self.estimator.name

    # ---- reading and scoring windows

    def span(self, path: str | os.PathLike) -> Span:
        """Where the part of ``path`` with both picture and sound lies, and its frame size."""
        return file_span(path)

    def clip_spec(self, window: float) -> ClipSpec:
        """What the estimator takes, for windows of ``window`` seconds."""
        e = self.estimator
        return ClipSpec(window, e.fps, e.sample_rate, e.frame_size, e.grid, e.resize)

    def _read(self, path: str, starts: Sequence[float], window: float, audio_offset: float
              ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Decoded windows in order, from one decode pass over the file (:func:`avsync.clip.read_windows`);
        with ``workers`` the pass runs on a thread, at most ``AHEAD`` windows ahead of the model, or in the
        ``early`` process when one decodes exactly these windows."""
        early, self.early = self.early, None
        spec = self.clip_spec(window)
        if early is not None and early.request != window_request(path, starts, audio_offset, spec):
            early.close()
            early = None
        windows = read_windows(path, starts, audio_offset, spec, early)
        # a process already decodes ahead: a reading thread beside it only costs (3 % of the 4 min check)
        return windows if self.workers == 0 or early is not None else read_ahead(windows, AHEAD)

    def score_windows(self, path: str | os.PathLike, starts: Sequence[float], window: float,
                      audio_offset: float = 0.0) -> tuple[torch.Tensor, list[tuple[float, float]]]:
        """Raw logits ``(W, C)`` of the windows at ``starts`` and each one's (motion, audio peak);
        ``audio_offset`` reads the audio that much later (simulates a file whose audio is that far
        ahead)."""
        return self._score(self._read(str(path), list(starts), window, audio_offset), len(starts))

    def _score(self, items: Iterable[tuple[torch.Tensor, torch.Tensor]],
               total: int | None = None) -> tuple[torch.Tensor, list[tuple[float, float]]]:
        """Logits and evidence of decoded windows, in batches of ``batch_size`` (``on_progress`` told
        after each batch)."""
        logits, evidence, batch = [], [], []

        def flush() -> None:
            logits.append(self.estimator.scores(torch.stack([b[0] for b in batch]), torch.stack([b[1] for b in batch])))
            batch.clear()
            if self.on_progress is not None:
                self.on_progress(len(evidence), total or len(evidence))

        with self._beside_decoding():
            for video, audio in items:
                evidence.append(window_evidence(video, audio))
                batch.append((video, audio))
                if len(batch) == self.batch_size:
                    flush()
            if batch:
                flush()
        return torch.cat(logits) if logits else torch.zeros(0, self.grid.num_classes), evidence

    @contextlib.contextmanager
    def _beside_decoding(self) -> Iterator[None]:
        """While threads decode ahead of the model, torch leaves them a core (on 2 cores, torch's 2 threads
        beside FFmpeg's made a 4 min 480p check 9 % slower: 7.47-7.52 s against 6.78-6.91 s)."""
        before = torch.get_num_threads()
        if self.workers:
            torch.set_num_threads(max(1, before - 1))
        try:
            yield
        finally:
            torch.set_num_threads(before)

    # ---- answers

    def _windows(self, logits: torch.Tensor, evidence: Sequence[tuple[float, float]], starts: Sequence[float],
                 window: float) -> list[WindowResult]:
        cal, grid = self.calibration, self.grid
        logp = torch.log_softmax(logits.double() / cal.temperature, -1)
        out = []
        for lp, (motion, peak), s in zip(logp, evidence, starts):
            reason = is_usable(cal, motion, peak)
            probs = lp.exp()
            out.append(WindowResult(s, s + window, refine_offset(lp, grid, cal.refine), float(probs.max()),
                                    reason is None, reason, round(motion, 5), round(peak, 5),
                                    [float(p) for p in probs]))
        return out

    def answer(self, path: str, logits: torch.Tensor, evidence: Sequence[tuple[float, float]],
               starts: Sequence[float], window: float, duration: float | None = None,
               frame_rate: float | None = None) -> CheckResult:
        """Combine scored windows into the file's :class:`CheckResult` (``frame_rate``: the file's,
        for ``offset_frames`` and the stated precision; default the model's)."""
        cal, grid = self.calibration, self.grid
        per_window = self._windows(logits, evidence, starts, window)
        fps = float(frame_rate or self.estimator.fps)
        result = CheckResult(path=path, windows=len(per_window), duration_sec=duration, window_sec=window,
                             method=self.name, grid=grid.seconds, per_window=per_window, frame_rate=round(fps, 3),
                             precision_sec=round(max(0.5 / fps, 0.5 / self.estimator.fps), 3))
        if fps < LOW_FPS:
            result.warning = (f"low frame rate ({fps:.3g} fps): the picture changes only every {1 / fps:.2f} s, "
                              f"so the offset is known to +-{0.5 / fps:.2f} s at best")
        usable = [i for i, w in enumerate(per_window) if w.usable]
        if not usable:
            reasons = sorted({w.reason for w in per_window if w.reason})
            result.reason = "no usable window: " + (" / ".join(reasons) or "no windows")
            return result
        raw = torch.log_softmax(logits[usable].double(), -1)
        post = posterior(raw, [starts[i] for i in usable], window, cal.temperature)
        probs = post.exp()
        result.offset_sec = round(refine_offset(post, grid, cal.refine), 4)
        result.offset_frames = int(round(result.offset_sec * fps))
        result.confidence = float(probs.max())
        result.top = top_classes(probs, grid)
        result.synchronisable = result.confidence >= cal.min_confidence
        if not result.synchronisable:
            result.reason = f"low confidence ({result.confidence:.2f} < {cal.min_confidence:.2f}): flat distribution"
        return result

    def _plan(self, path: str | os.PathLike, window: float | None, stride: float | None
              ) -> tuple[float, Span, list[float]]:
        window = float(window or self.estimator.window_sec)
        span, starts = plan_windows(path, window, float(stride or window / 2), self.estimator.fps)
        return window, span, starts

    def check(self, path: str | os.PathLike, window: float | None = None, stride: float | None = None) -> CheckResult:
        """Check one file: windows of ``window`` s (default: the model's) every ``stride`` s (default
        half a window), combined. Raises an AvsyncError when the file cannot be checked."""
        window, span, starts = self._plan(path, window, stride)
        logits, evidence = self.score_windows(path, starts, window)
        return self.answer(str(path), logits, evidence, starts, window, span.length, span.fps)

    def check_many(self, paths: Iterable[str | os.PathLike], window: float | None = None,
                   stride: float | None = None) -> Iterator[CheckResult]:
        """Check files in order, one record each (``error`` set for a file that fails). While one file
        is scored, ``workers`` threads probe and decode the next ones (files of one chunk at most;
        longer files stream their chunks when their turn comes)."""
        paths = [str(p) for p in paths]

        def prepare(path: str) -> Any:
            try:
                w, span, starts = self._plan(path, window, stride)
                short = span.length <= PREFETCH_SEC
                items = list(read_windows(path, starts, 0.0, self.clip_spec(w))) if short else None
                return w, span, starts, items
            except Exception as e:  # re-raised in the consumer, where safe() turns it into a record
                return e

        def finish(path: str, prepared: Any) -> CheckResult:
            if isinstance(prepared, BaseException):
                raise prepared
            w, span, starts, items = prepared
            logits, evidence = self._score(items) if items is not None else self.score_windows(path, starts, w)
            return self.answer(path, logits, evidence, starts, w, span.length, span.fps)

        if self.workers == 0:
            for p in paths:
                yield self.safe(finish, p, prepared=prepare(p))
            return
        with ThreadPoolExecutor(self.workers) as pool:
            pending = deque(pool.submit(prepare, p) for p in paths[:self.workers])
            upcoming = iter(paths[self.workers:])
            for p in paths:
                prepared = pending.popleft().result()
                nxt = next(upcoming, None)
                if nxt is not None:
                    pending.append(pool.submit(prepare, nxt))
                yield self.safe(finish, p, prepared=prepared)

    def safe(self, fn: Callable[..., Any], path: str | os.PathLike, **kw: Any) -> Any:
        """``fn(path, **kw)``, or the failure record of ``path`` when it raises on a bad file."""
        return call_safely(fn, path, self.name, desync=fn == self.desync, **kw)

    def timeline(self, path: str | os.PathLike, window: float | None = None, stride: float | None = None,
                 min_windows: int = 2) -> Timeline:
        """Offset over time (default stride: a fifth of the window), with drift segments and the
        stretches without evidence."""
        window = float(window or self.estimator.window_sec)
        result = self.check(path, window, stride or window / 5)
        return analyse_timeline(result, self.grid, self.calibration, min_windows)

    def desync(self, path: str | os.PathLike, window: float | None = None) -> DesyncResult:
        """DeSync of one clip: mean |offset| of the first and the last window."""
        window = float(window or self.estimator.window_sec)
        span = self.span(path)
        if span.length < window - 1e-6:
            raise TooShortError(path, f"{span.length:.2f} s is shorter than the {window:g} s window")
        last = math.floor((span.length - window) * self.estimator.fps + 1e-6) / self.estimator.fps
        starts = [span.start, span.start + last]
        logits, evidence = self.score_windows(path, starts, window)
        windows = self._windows(logits, evidence, starts, window)
        bad = [w for w in windows if not w.usable]      # silent audio or a still picture: no evidence
        if bad:
            w = bad[0]
            where = "first" if w is windows[0] else "last"
            return DesyncResult(str(path), reason=f"{where} window {w.start_sec:.2f}-{w.end_sec:.2f} s: {w.reason}")
        first, end = (abs(w.offset_sec) for w in windows)
        return DesyncResult(str(path), first, end, (first + end) / 2)
