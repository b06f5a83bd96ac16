"""Where a check's windows lie: the part of a file with both picture and sound, and the window starts
over it. No torch here, so a decoding process can be started from a plan before the model loads
(:mod:`avsync.media.window_process`)."""

from __future__ import annotations

import math
import os

from avsync.checker.results import Span
from avsync.errors import NoAudioStreamError, NoVideoStreamError, TooShortError, UsageError


def file_span(path: str | os.PathLike) -> Span:
    """Where the part of ``path`` with both picture and sound lies, and its frame size."""
    from avsync.media import probe

    info = probe(path)
    if info.video is None:
        raise NoVideoStreamError(path, "no video stream (audio-only file?)")
    if info.audio is None:
        raise NoAudioStreamError(path, "no audio stream: nothing to synchronise")
    v, a = info.video, info.audio
    start = max(0.0, v.start_sec)
    end = min(v.start_sec + v.duration_sec, a.start_sec + a.duration_sec, info.duration_sec)
    return Span(start, end - start, v.width * v.height, v.fps)


def window_starts(duration_sec: float, window_sec: float, stride_sec: float, fps: float = 25.0,
                  t0: float = 0.0) -> list[float]:
    """Starts of windows of ``window_sec`` every ``stride_sec`` over ``[t0, t0 + duration_sec]``,
    snapped to frames; the last window ends at the end (added, or the last one moved when the gap
    is under half a stride)."""
    if stride_sec <= 0 or window_sec <= 0:
        raise UsageError("window and stride must be > 0")
    last = math.floor((duration_sec - window_sec) * fps + 1e-6) / fps
    if last < 0:
        return []
    n = int(math.floor(last / stride_sec + 1e-9)) + 1
    starts = [math.floor(i * stride_sec * fps + 1e-6) / fps for i in range(n)]
    gap = last - starts[-1]
    if gap > stride_sec / 2:
        starts.append(last)
    elif gap > 0.5 / fps and len(starts) > 1:
        starts[-1] = last  # a small remainder: move the last window to end at the end
    return [round(t0 + s, 6) for s in starts]


def plan_windows(path: str | os.PathLike, window: float, stride: float, fps: float) -> tuple[Span, list[float]]:
    """The span of ``path`` and the starts of windows of ``window`` s every ``stride`` s over it, snapped to
    ``fps``; TooShortError when not one window fits."""
    span = file_span(path)
    starts = window_starts(span.length, window, stride, fps, span.start)
    if not starts:
        raise TooShortError(path, f"{span.length:.2f} s of picture with sound is shorter than the "
                                  f"{window:g} s window: too short to check")
    return span, starts
