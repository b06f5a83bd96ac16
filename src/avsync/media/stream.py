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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from avsync.errors import CorruptMediaError, TooShortError
from avsync.media.probe import audio_stream, frame_rotation, open_media, stream_span, video_stream
from avsync.media.reader import FrameClock, decoded_frames, mono_chunks

_EPS = 1e-3
_PENDING = 8     # frames at source size waiting for their grey conversion, at most


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


def _picture(path: str, fps: float, height: int, max_width: int,
             on_frame: FrameHook | None = None) -> tuple[np.ndarray, float, float, tuple[int, int]]:
    """(grey frames at ``fps``, file time of the first, the stream's frame rate, its stored size);
    ``on_frame(k, file time of tick k, decoded frame on screen then, quarter turns)`` is called at every tick.
    Each new frame is converted on a worker thread while the next ones decode (swscale releases the GIL),
    at most ``_PENDING`` frames at source size waiting at any time."""
    with open_media(path) as container, ThreadPoolExecutor(1) as converter:
        stream = video_stream(container)
        stream.thread_type = "AUTO"
        w, h = stream.codec_context.width, stream.codec_context.height
        declared_end = stream_span(container, stream)[1]
        source_fps = float(stream.average_rate or stream.guessed_rate or fps)
        out_w, out_h = scaled_size(w, h, height, max_width)
        clock = FrameClock(decoded_frames(container, stream))
        start = clock.next_time
        if start is None:
            raise CorruptMediaError(path, "no picture could be decoded")
        reformatter = VideoReformatter()           # used by the converting thread only
        greys: list[Any] = []                      # one per source frame shown: an array, or its pending conversion
        pending: collections.deque[int] = collections.deque()
        ticks: list[int] = []                      # per tick: which of ``greys`` is on screen
        last_time: float | None = None
        turns = 0
        for k in itertools.count():
            t = start + k / fps
            if k and (t >= declared_end - _EPS or (clock.exhausted and t >= clock.current[0] + 1 / source_fps - _EPS)):
                break
            held = clock.at(t)
            if last_time is None:
                turns = frame_rotation(held[1]) // 90
            if last_time is None or last_time != held[0]:
                last_time = held[0]
                greys.append(converter.submit(_grey, reformatter, held[1], out_w, out_h))
                pending.append(len(greys) - 1)
                if len(pending) > _PENDING:
                    i = pending.popleft()
                    greys[i] = greys[i].result()
            ticks.append(len(greys) - 1)
            if on_frame is not None:
                on_frame(k, t, held[1], turns)
        for i in pending:
            greys[i] = greys[i].result()
    stacked = np.stack(greys)[ticks]
    if turns:
        stacked = np.ascontiguousarray(np.rot90(stacked, k=turns, axes=(1, 2)))
    return stacked, float(start), source_fps, (w, h)


def _sound(path: str, start: float, count: int, sample_rate: int) -> np.ndarray:
    """``count`` mono samples from file time ``start`` on (silence where the stream has none)."""
    out = np.zeros(count, np.float32)
    with open_media(path) as container:
        stream = audio_stream(container)
        for t, samples in mono_chunks(container, stream, sample_rate):
            i = int(round((t - start) * sample_rate))
            lo, hi = max(i, 0), min(i + len(samples), count)
            if hi > lo:
                out[lo:hi] = samples[lo - i:hi - i]
            if i >= count:
                break
    return out


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
    path = str(path)
    frames, start, source_fps, size = _picture(path, fps, height, max_width, on_frame)
    audio = _sound(path, start, int(round(len(frames) / fps * sample_rate)), sample_rate)
    streams = Streams(path, frames, audio, float(fps), int(sample_rate), start, source_fps, size)
    if streams.duration_sec < min_sec:
        raise TooShortError(path, f"{streams.duration_sec:.2f} s of picture is shorter than {min_sec:g} s")
    return streams
