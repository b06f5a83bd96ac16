"""``read_clips``: many windows of one file in a single decode pass.

Every window is exactly what :func:`avsync.media.reader.read_clip` gives for it (the same frame on
screen at each tick, scaled and cropped the same way; the same audio samples up to the resampler's
start-up, a fraction of a sample's timing), but the file is decoded once in presentation order: no
seek per window, no frame decoded twice where windows overlap. Pictures are scaled to the model's
size on a worker thread as they come out of the decoder (never held at source size beyond a few
pending frames), and only the ticks and samples that a window still needs are kept, so memory
does not grow with the file's length.

The window starts must lie on one frame grid (``t0 + k / fps``, as the checker's windows do) and
increase. :class:`WindowRequest` names such windows, :func:`decode_windows` reads them as numpy
arrays (it is what :mod:`avsync.media.window_process` runs in a child process started before torch
loads) and :func:`read_clips` as :class:`~avsync.media.reader.Clip`. ``read_ahead`` runs a reader
on a thread, a bounded number of windows ahead of the model that eats them.
"""

from __future__ import annotations

import collections
import math
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Protocol, Sequence, TypeVar

import av
import numpy as np

from avsync.errors import UsageError
from avsync.media.probe import (
    audio_stream,
    file_duration,
    frame_rotation,
    open_media,
    stream_span,
    video_stream,
)
from avsync.media.reader import (
    SILENCE_PEAK,
    TIME_EPS,
    Clip,
    FrameClock,
    FrameScaler,
    centre_box,
    check_truncated,
    check_window,
    decode_for_model,
    decoded_frames,
    mono_chunks,
    short_side_size,
)

PENDING_FRAMES = 8    # decoded frames at source size waiting for their conversion, at most
T = TypeVar("T")


def _black(stream: av.video.stream.VideoStream, size: int | None) -> np.ndarray:
    """The black picture of a tick where the stream shows nothing (before its first frame, after its end)."""
    w, h = stream.codec_context.width, stream.codec_context.height
    if size is not None:
        w, h = short_side_size(w, h, size)
    return np.zeros((max(1, h), max(1, w), 3), np.uint8)


def _ticks(container: av.container.InputContainer, t0: float, count: int, fps: float,
           size: int | None) -> Iterator[tuple[np.ndarray | Future, int]]:
    """(picture on screen at tick ``t0 + k / fps``, quarter turns) for ``k < count``, decoding the video
    stream of a freshly opened container once from its first packet; a picture is an array or the pending Future of its conversion."""
    stream = video_stream(container)
    decode_for_model(stream)
    span = stream_span(container, stream)
    black = _black(stream, size)
    clock = FrameClock(decoded_frames(container, stream))
    scaler = FrameScaler()
    last: tuple[float, Future] | None = None
    turns = 0
    with ThreadPoolExecutor(1) as converter:
        for k in range(count):
            t = t0 + k / fps
            held = clock.at(t)
            if held is None or t >= span[1] - TIME_EPS:
                yield black, turns
                continue
            if last is None or last[0] != held[0]:
                if last is None:
                    turns = frame_rotation(held[1]) // 90
                last = (held[0], converter.submit(scaler.rgb, held[1], size))
            yield last[1], turns
        if clock.exhausted and count:
            period = 1.0 / float(stream.average_rate) if stream.average_rate else 0.0
            data_end = clock.current[0] + period if clock.current else -math.inf
            check_truncated(container, "video", data_end, span[1], t0 + (count - 1) / fps)


def _picture(item: np.ndarray | Future, turns: int, crop: int | tuple[int, int] | None) -> np.ndarray:
    """A tick's picture turned upright and centre-cropped (as ``read_clip`` does to its frames)."""
    image = item.result() if isinstance(item, Future) else item
    if turns:
        image = np.rot90(image, k=turns)
    return image if crop is None else image[centre_box(*image.shape[:2], crop)]    # a view: windows stack copies


class SoundReader:
    """The audio stream of a freshly opened container decoded once, from its first packet, as mono samples
    at ``sample_rate``; holds only what a later window may still ask for (``take`` then ``drop``)."""

    def __init__(self, container: av.container.InputContainer, sample_rate: int) -> None:
        self.container, self.sample_rate = container, sample_rate
        stream = audio_stream(container)
        self.declared_end = stream_span(container, stream)[1]
        self._chunks = mono_chunks(container, stream, sample_rate)
        self.first: float | None = None          # file time of the stream's first sample
        self._parts: collections.deque[np.ndarray] = collections.deque()
        self._base = 0                           # index (from the first sample) of the first one held
        self._held = 0
        self._done = False

    def _more(self) -> bool:
        chunk = next(self._chunks, None)
        if chunk is None:
            self._done = True
            return False
        t, samples = chunk
        if self.first is None:
            self.first = t
        self._parts.append(samples)
        self._held += len(samples)
        return True

    def take(self, start: float, count: int) -> np.ndarray:
        """``count`` samples from file time ``start`` (silence where the stream has none)."""
        while self.first is None and self._more():
            pass
        out = np.zeros(count, np.float32)
        if self.first is None:
            return out
        lo = int(round((start - self.first) * self.sample_rate))
        while self._base + self._held < lo + count and not self._done:
            self._more()
        if self._done:
            data_end = self.first + (self._base + self._held) / self.sample_rate
            check_truncated(self.container, "audio", data_end, self.declared_end, start + count / self.sample_rate)
        held = np.concatenate(self._parts) if len(self._parts) > 1 else (self._parts[0] if self._parts else out[:0])
        self._parts = collections.deque([held])
        a, b = max(lo, self._base), min(lo + count, self._base + self._held)
        if b > a:
            out[a - lo:b - lo] = held[a - self._base:b - self._base]
        return out

    def drop(self, before: float) -> None:
        """Forget the samples before file time ``before``: no later window starts earlier."""
        if self.first is None or not self._parts:
            return
        cut = int(round((before - self.first) * self.sample_rate)) - self._base
        if cut <= 0:
            return
        held = np.concatenate(self._parts)[cut:]
        self._parts = collections.deque([held])
        self._base += min(cut, self._held)
        self._held = len(held)


@dataclass(frozen=True)
class WindowRequest:
    """The windows ``[s, s + duration)`` of ``path`` for each of ``starts`` (increasing, on one grid of
    ``1 / fps``), read as :func:`~avsync.media.reader.read_clip` reads each (same arguments). Two equal
    requests read the same numbers: a reader started early serves a request only when it equals its own."""

    path: str
    starts: tuple[float, ...]
    duration_sec: float
    fps: float = 25.0
    sample_rate: int = 16000
    size: int | None = None
    crop: int | tuple[int, int] | None = None
    audio_offset_sec: float = 0.0

    @classmethod
    def of(cls, path: str | Path, starts: Sequence[float], duration_sec: float, fps: float = 25.0,
           sample_rate: int = 16000, size: int | None = None, crop: int | tuple[int, int] | None = None,
           audio_offset_sec: float = 0.0) -> "WindowRequest":
        """A request with its numbers normalised (str path, float starts), so equal requests compare equal."""
        return cls(str(path), tuple(float(s) for s in starts), float(duration_sec), float(fps), int(sample_rate),
                   size, tuple(crop) if isinstance(crop, list) else crop, float(audio_offset_sec))


def decode_windows(request: WindowRequest) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each window of ``request`` as (frames uint8 ``(T, H, W, 3)``, audio float32 ``(S,)``), from one decode
    pass over the file (module docstring); numpy only, so it also runs where torch is not loaded."""
    r = request
    starts, path, fps, sample_rate = list(r.starts), r.path, r.fps, r.sample_rate
    if not starts:
        return
    if r.duration_sec <= 0 or fps <= 0 or sample_rate <= 0:
        raise UsageError("read_clips needs duration_sec, fps and sample_rate > 0")
    if any(b < a for a, b in zip(starts, starts[1:])):
        raise UsageError("read_clips needs increasing window starts")
    count, samples = int(round(r.duration_sec * fps)), int(round(r.duration_sec * sample_rate))
    if count < 1:
        raise UsageError(f"a {r.duration_sec} s window holds no frame at {fps} fps")
    t0 = starts[0]
    first_tick = [int(round((s - t0) * fps)) for s in starts]
    if any(abs(t0 + k / fps - s) > TIME_EPS for k, s in zip(first_tick, starts)):
        raise UsageError("read_clips needs window starts on one grid of 1 / fps")
    with open_media(path) as vc, open_media(path) as ac:
        video_stream(vc), audio_stream(vc)
        total = file_duration(vc)
        for s in starts:
            check_window(path, s, r.duration_sec, total, "video")
            check_window(path, s + r.audio_offset_sec, r.duration_sec, total, "audio")
        sound = SoundReader(ac, sample_rate)
        ticks = _ticks(vc, t0, first_tick[-1] + count, fps, r.size)
        held: collections.deque[np.ndarray] = collections.deque()   # pictures of ticks base, base + 1, ...
        waiting: collections.deque[tuple[np.ndarray | Future, int]] = collections.deque()
        base = 0
        for i, (s, k) in enumerate(zip(starts, first_tick)):
            while base + len(held) < k + count:
                while len(waiting) < PENDING_FRAMES:       # decoding runs this many ticks ahead of their conversion
                    item = next(ticks, None)
                    if item is None:
                        break
                    waiting.append(item)
                held.append(_picture(*waiting.popleft(), r.crop))
            frames = np.stack([held[j - base] for j in range(k, k + count)])
            audio = sound.take(s + r.audio_offset_sec, samples)
            nxt = first_tick[i + 1] if i + 1 < len(starts) else k + count
            while held and base < nxt:
                held.popleft()
                base += 1
            if i + 1 < len(starts):
                sound.drop(starts[i + 1] + r.audio_offset_sec)
            yield frames, audio
        for _ in ticks:       # nothing is left but the check for a truncated stream at its end
            pass


class EarlyWindows(Protocol):
    """Windows decoded elsewhere, already under way (:class:`~avsync.media.window_process.WindowProcess`)."""

    request: WindowRequest

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def close(self) -> None: ...


def read_clips(path: str | Path, starts: Sequence[float], duration_sec: float, fps: float = 25.0,
               sample_rate: int = 16000, size: int | None = None, crop: int | tuple[int, int] | None = None,
               audio_offset_sec: float = 0.0, early: EarlyWindows | None = None) -> Iterator[Clip]:
    """The windows ``[s, s + duration)`` for each of ``starts`` (increasing, on one grid of ``1 / fps``)
    as :func:`~avsync.media.reader.read_clip` reads each (same arguments), from one decode pass over
    the file (module docstring). ``early``: a :class:`~avsync.media.window_process.WindowProcess` started
    before, whose windows are taken when it decodes exactly these (else it is closed and the file read here)."""
    import torch

    request = WindowRequest.of(path, starts, duration_sec, fps, sample_rate, size, crop, audio_offset_sec)
    decoded: Iterable[tuple[np.ndarray, np.ndarray]]
    if early is not None and early.request == request:
        decoded = early
    else:
        if early is not None:
            early.close()
        decoded = decode_windows(request)
    for i, (frames, audio) in enumerate(decoded):   # to its end: the last step checks for a truncated stream
        s = request.starts[i]
        audio_t = torch.from_numpy(audio)
        silent = bool(audio_t.abs().max() < SILENCE_PEAK) if len(audio_t) else True
        yield Clip(torch.from_numpy(frames), audio_t, request.fps, request.sample_rate, s, request.audio_offset_sec,
                   request.path, silent)


_END = object()


def read_ahead(items: Iterator[T], size: int) -> Iterator[T]:
    """``items`` produced on a thread, at most ``size`` waiting for the consumer (decoding goes on while
    the model scores). An error in the producer is raised in the consumer; a consumer that stops early
    stops the producer."""
    ready: queue.Queue = queue.Queue(max(1, size))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put((_END, None))
        except BaseException as e:  # handed to the consumer, which raises it
            ready.put((_END, e))

    thread = threading.Thread(target=produce, name="avsync-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()
