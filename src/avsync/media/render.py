"""Rendering test material with a known sync error: a stretch of a file whose audio is re-timed
against its picture (a constant offset, an edit slip, a clock drift), or a sound under a still picture.

The re-timing is a function ``audio_time(t)``: for each instant ``t`` of the output (seconds from its
start) the instant of the source's audio that plays then (seconds on the source's timeline). The
picture of the output at ``t`` is the source's picture at ``start + t``, so the output's offset at
``t`` (``> 0``: audio ahead, the project's convention) is ``audio_time(t) - (start + t)``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable, Iterable

import av
import numpy as np

from avsync.errors import MediaError, UsageError
from avsync.media.probe import probe
from avsync.media.reader import read_audio, read_clip
from avsync.media.writer import (
    add_audio_stream,
    add_video_stream,
    encode_audio_array,
    output_container,
)

AudioTime = Callable[[np.ndarray], np.ndarray]
_CHUNK_FRAMES = 250          # frames decoded and held at a time
AUDIO_RATE = 48000          # the sample rate of the audio written


def constant_offset(start_sec: float, offset_sec: float) -> AudioTime:
    """Audio ``offset_sec`` ahead of the picture everywhere."""
    return lambda t: start_sec + t + offset_sec


def edit_slip(start_sec: float, offset_sec: float, at_sec: float) -> AudioTime:
    """In sync until ``at_sec`` (output time), then ``offset_sec`` ahead (as after a bad edit)."""
    return lambda t: start_sec + t + np.where(t >= at_sec, offset_sec, 0.0)


def clock_drift(start_sec: float, rate: float) -> AudioTime:
    """An audio clock ``rate`` fast (0.004: 0.4 %): in sync at the start, then ever more ahead;
    the offset at ``t`` is ``rate * t``."""
    return lambda t: start_sec + t * (1.0 + rate)


def _even(frames: np.ndarray) -> np.ndarray:
    h, w = frames.shape[1:3]
    return frames[:, : h - h % 2, : w - w % 2]


def _retimed_audio(src: Path, audio_time: AudioTime, duration_sec: float, total_sec: float) -> np.ndarray:
    """Mono samples at 48 kHz of the output: the source's audio at ``audio_time`` (linear
    interpolation; exact for offsets on the sample grid), silence outside the source."""
    t = np.arange(int(round(duration_sec * AUDIO_RATE))) / AUDIO_RATE
    want = audio_time(t)
    lo = max(0.0, float(want.min()) - 0.01)
    hi = min(total_sec, float(want.max()) + 0.01)
    if hi - lo < 1.0 / AUDIO_RATE:
        return np.zeros(len(t), np.float32)
    samples = read_audio(src, lo, hi - lo, AUDIO_RATE)
    grid = lo + np.arange(len(samples)) / AUDIO_RATE
    return np.interp(want, grid, samples, left=0.0, right=0.0).astype(np.float32)


def _encode(dst: Path, frame_chunks: Iterable[np.ndarray], fps: float, audio: np.ndarray, crf: float) -> Path:
    """Write frames (an iterable of uint8 (T, H, W, 3) chunks) and mono 48 kHz audio to ``dst``
    (temp file + rename)."""
    chunks = iter(frame_chunks)
    first = _even(next(chunks))
    try:
        with output_container(dst) as out:
            vstream = add_video_stream(out, first.shape[2], first.shape[1], fps, crf=crf)
            astream = add_audio_stream(out, AUDIO_RATE, 1)
            index = 0
            for chunk in itertools.chain([first], (_even(c) for c in chunks)):
                for image in chunk:
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                    frame.pts, index = index, index + 1
                    out.mux(vstream.encode(frame))
            out.mux(vstream.encode(None))
            encode_audio_array(out, astream, audio[None], AUDIO_RATE)
    except av.error.FFmpegError as e:
        raise MediaError(dst, f"cannot encode: {e}") from None
    return dst


def render_retimed(src: str | Path, dst: str | Path, start_sec: float, duration_sec: float,
                   audio_time: AudioTime, size: int | None = 360, crf: float = 20.0) -> Path:
    """Write ``dst``: the picture of ``src`` from ``start_sec`` for ``duration_sec`` at the source's
    frame rate (short side scaled to ``size``), with mono 48 kHz audio taken at ``audio_time``.
    Frames are decoded and encoded a chunk at a time, so memory does not grow with the length."""
    src, dst = Path(src), Path(dst)
    info = probe(src)
    if info.video is None or info.audio is None:
        raise MediaError(src, "needs a video and an audio stream")
    if start_sec < 0 or start_sec + duration_sec > info.duration_sec + 0.05 or duration_sec <= 0:
        raise UsageError(f"{src}: stretch {start_sec:.2f}+{duration_sec:.2f} s lies outside the file "
                         f"(0-{info.duration_sec:.2f} s)")
    fps = info.video.fps
    count = int(round(duration_sec * fps))

    def chunks():
        for first in range(0, count, _CHUNK_FRAMES):
            n = min(_CHUNK_FRAMES, count - first)
            clip = read_clip(src, start_sec + first / fps, n / fps, fps=fps, sample_rate=8000, size=size)
            yield clip.frames.numpy()

    audio = _retimed_audio(src, audio_time, count / fps, info.duration_sec)
    return _encode(dst, chunks(), fps, audio, crf)


def render_still(dst: str | Path, image: np.ndarray, audio: np.ndarray, fps: float = 25.0,
                 crf: float = 20.0) -> Path:
    """Write ``dst``: the uint8 (H, W, 3) ``image`` held still for as long as the mono 48 kHz
    ``audio`` lasts (a slideshow under music or narration: a file without sync evidence)."""
    count = max(1, int(round(len(audio) / AUDIO_RATE * fps)))
    frames = (np.repeat(image[None], min(_CHUNK_FRAMES, count - first), 0) for first in range(0, count, _CHUNK_FRAMES))
    return _encode(Path(dst), frames, fps, audio.astype(np.float32), crf)


