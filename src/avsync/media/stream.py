"""``read_streams``: a whole file in one pass, as the second-generation engine takes it.

The picture comes out of FFmpeg already converted to grey and scaled so that its height is
``height`` pixels (aspect ratio kept, width at most ``max_width``), resampled to a constant ``fps`` by
presentation time (the frame on screen at each tick); no frame is ever held at source size and
no window is seeked to. The sound is resampled to ``sample_rate`` mono as it is decoded (packed
samples, so 5.1 and 7.1 tracks are fine). Both start at the picture's first frame: sample ``j`` of
``audio`` and frame ``k`` of ``frames`` are at file times ``start_sec + j / sample_rate`` and
``start_sec + k / fps``; audio before its stream starts is silence.

Training reads its real and rendered synthetic clips through this same function, so a model sees
the numbers at training time that it sees when it checks a file.
"""

from __future__ import annotations

import collections
import itertools
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from avsync.errors import CorruptMediaError, TooShortError
from avsync.media.probe import audio_stream, frame_rotation, open_media, stream_span, video_stream
from avsync.media.reader import TIME_EPS, FrameClock, decode_for_model, decoded_frames, mono_chunks
from avsync.media.windows import PENDING_FRAMES, SoundReader



@dataclass
class Streams:
    """A file's picture (uint8 grey ``(T, H, W)`` at ``fps``) and sound (float32 mono at
    ``sample_rate``), both from ``start_sec`` of the file's timeline; ``source_fps`` and
    ``source_size`` (width, height) describe the picture as stored."""

    path: str
    frames: np.ndarray
    audio: np.ndarray
    fps: float
    sample_rate: int
    start_sec: float
    source_fps: float
    source_size: tuple[int, int]
    extras: dict[str, Any] = field(default_factory=dict)   # what a reader found on the way (the speech expert's faces)

    @property
    def duration_sec(self) -> float:
        """Length of the picture in seconds."""
        return len(self.frames) / self.fps


def scaled_size(width: int, height: int, target_height: int, max_width: int) -> tuple[int, int]:
    """(width, height) of a ``width`` x ``height`` picture scaled to ``target_height`` rows with its
    aspect ratio kept (even sizes, width capped at ``max_width``, then the height follows)."""
    scale = min(target_height / max(height, 1), max_width / max(width, 1))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


FrameHook = Callable[[int, float, av.VideoFrame, int], None]


def _grey(reformatter: VideoReformatter, frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """One frame converted to grey and scaled in FFmpeg (swscale, area averaging). The converting thread
    has its own ``reformatter``: the frame's own one may be in use by ``on_frame`` at the same time."""
    return reformatter.reformat(frame, width=width, height=height, format="gray", interpolation="AREA").to_ndarray()


class _Picture:
    """The picture of a file in one pass: grey frames at ``fps`` (see the module docstring), one per tick,
    from :meth:`frames`; ``start`` (file time of the first), ``source_fps`` and ``source_size`` are known
    once the first frame is decoded. Each new frame is converted on a worker thread while the next ones
    decode (swscale releases the GIL), at most ``PENDING_FRAMES`` frames at source size waiting at any time.
    ``on_frame(k, file time of tick k, decoded frame on screen then, quarter turns)`` is called at every tick."""

    def __init__(self, path: str, fps: float, height: int, max_width: int, on_frame: FrameHook | None = None) -> None:
        self.path, self.fps, self.height, self.max_width, self.on_frame = path, fps, height, max_width, on_frame
        self.start = 0.0
        self.source_fps = fps
        self.source_size = (0, 0)

    def frames(self) -> Iterator[np.ndarray]:
        """Grey frames ``(H, W)`` uint8, upright, one per tick from the first decoded frame to the picture's end."""
        fps = self.fps
        with open_media(self.path) as container, ThreadPoolExecutor(1) as converter:
            stream = video_stream(container)
            decode_for_model(stream)
            w, h = stream.codec_context.width, stream.codec_context.height
            declared_end = stream_span(container, stream)[1]
            self.source_fps = source_fps = float(stream.average_rate or stream.guessed_rate or fps)
            self.source_size = (w, h)
            out_w, out_h = scaled_size(w, h, self.height, self.max_width)
            clock = FrameClock(decoded_frames(container, stream))
            start = clock.next_time
            if start is None:
                raise CorruptMediaError(self.path, "no picture could be decoded")
            self.start = float(start)
            reformatter = VideoReformatter()           # used by the converting thread only
            waiting: collections.deque[Future] = collections.deque()   # one per tick, in order
            last: tuple[float, Future] | None = None
            turns = 0
            for k in itertools.count():
                t = start + k / fps
                if k and (t >= declared_end - TIME_EPS or (clock.exhausted and t >= clock.current[0] + 1 / source_fps - TIME_EPS)):
                    break
                held = clock.at(t)
                if last is None:
                    turns = frame_rotation(held[1]) // 90
                if last is None or last[0] != held[0]:
                    last = (held[0], converter.submit(_grey, reformatter, held[1], out_w, out_h))
                waiting.append(last[1])
                if self.on_frame is not None:
                    self.on_frame(k, t, held[1], turns)
                while len(waiting) > PENDING_FRAMES:
                    yield _upright(waiting.popleft().result(), turns)
            while waiting:
                yield _upright(waiting.popleft().result(), turns)


def _upright(grey: np.ndarray, turns: int) -> np.ndarray:
    """A grey frame turned by its display rotation (quarter turns counter-clockwise)."""
    return np.ascontiguousarray(np.rot90(grey, k=turns)) if turns else grey


def read_sound(path: str | Path, sample_rate: int = 16000) -> tuple[float, np.ndarray]:
    """The whole sound of ``path``, mono at ``sample_rate``: (file time of its first sample, samples)."""
    with open_media(str(path)) as container:
        chunks = list(mono_chunks(container, audio_stream(container), sample_rate))
    if not chunks:
        return 0.0, np.zeros(0, np.float32)
    return chunks[0][0], np.concatenate([c for _, c in chunks])


def read_streams(path: str | Path, fps: float = 25.0, height: int = 64, max_width: int = 160,
                 sample_rate: int = 16000, min_sec: float = 0.0, on_frame: FrameHook | None = None) -> Streams:
    """The whole picture of ``path`` as grey frames (see the module docstring) and its sound over the
    same span. TooShortError when the picture lasts less than ``min_sec``. ``on_frame(k, t, frame,
    quarter turns)`` sees the decoded frame of every tick ``k`` (file time ``t``) on the way (the
    speech expert's face finder: faces at a resolution the grey frames do not have, in the same pass)."""
    (whole,) = read_stretches(path, fps, height, max_width, sample_rate, None, on_frame=on_frame)
    streams = whole.streams()
    if streams.duration_sec < min_sec:
        raise TooShortError(path, f"{streams.duration_sec:.2f} s of picture is shorter than {min_sec:g} s")
    return streams


@dataclass
class StreamsInfo:
    """What :func:`read_stretches` knows of a file once its picture has ended (nothing of it is kept):
    the fields of :class:`Streams` without the frames and the sound, and how many frames there were."""

    path: str
    frame_count: int
    fps: float
    sample_rate: int
    start_sec: float
    source_fps: float
    source_size: tuple[int, int]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_sec(self) -> float:
        """Length of the picture in seconds."""
        return self.frame_count / self.fps


@dataclass
class Stretch:
    """A stretch of a file as :func:`read_stretches` gives it: grey ``frames`` of the file's frames
    ``first ..``, the frames ``own`` = [lo, hi) it answers for (the others are context), and ``audio``
    from the time of frame ``audio_first`` on; the last stretch carries the file's ``info``."""

    frames: np.ndarray
    first: int
    own: tuple[int, int]
    audio: np.ndarray
    audio_first: int
    info: StreamsInfo | None = None

    @property
    def last(self) -> bool:
        """Whether the picture ends in this stretch."""
        return self.info is not None

    def streams(self) -> Streams:
        """The file's :class:`Streams`, when this stretch is all of it (its first and last)."""
        i = self.info
        if i is None or self.first or self.own != (0, i.frame_count):
            raise ValueError("only a stretch that holds the whole file has the file's Streams")
        return Streams(i.path, self.frames, self.audio, i.fps, i.sample_rate, i.start_sec, i.source_fps, i.source_size)


def read_stretches(path: str | Path, fps: float = 25.0, height: int = 64, max_width: int = 160,
                  sample_rate: int = 16000, stretch_frames: int | None = 3750, margin_frames: int = 0,
                  audio_margin_frames: int = 0, on_frame: FrameHook | None = None) -> Iterator[Stretch]:
    """The picture and sound of ``path`` (see the module docstring) in stretches that answer for
    ``stretch_frames`` frames each (the last one for one to two times that), with ``margin_frames`` of
    picture and ``audio_margin_frames`` of sound either side as context (never past the picture's span),
    so that memory does not grow with the file's length. A file shorter than two stretches and a margin,
    or any file when ``stretch_frames`` is None, comes as one stretch: the whole file (:meth:`Stretch.streams`).
    ``on_frame``: as for :func:`read_streams`."""
    path = str(path)
    picture = _Picture(path, fps, height, max_width, on_frame)
    held: collections.deque[np.ndarray] = collections.deque()     # frames base, base + 1, ...
    base, lo = 0, 0
    reach = max(margin_frames, audio_margin_frames)
    with open_media(path) as container:
        sound = SoundReader(container, sample_rate)

        def stretch(lo: int, hi: int, end: int) -> Stretch:
            first, stop = max(0, lo - margin_frames), min(end, hi + margin_frames)
            a0, a1 = max(0, lo - audio_margin_frames), min(end, hi + audio_margin_frames)
            audio = sound.take(picture.start + a0 / fps, int(round((a1 - a0) / fps * sample_rate)))
            return Stretch(np.stack([held[j - base] for j in range(first, stop)]), first, (lo, hi), audio, a0)

        for k, grey in enumerate(picture.frames()):
            held.append(grey)
            if stretch_frames and k + 1 >= lo + 2 * stretch_frames + reach:   # enough is left after [lo, lo + S) for another
                yield stretch(lo, lo + stretch_frames, k + 1)
                lo += stretch_frames
                while base < lo - reach:
                    held.popleft()
                    base += 1
                sound.drop(picture.start + (lo - reach) / fps)
        n = base + len(held)
        last = stretch(lo, n, n)
        last.info = StreamsInfo(path, n, float(fps), int(sample_rate), picture.start, picture.source_fps,
                                picture.source_size)
        yield last
