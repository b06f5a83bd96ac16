"""``read_clip``: a time window of a file as constant-fps frames and mono audio, decoding only the
packets the window needs (seek to the keyframe before it, decode to its end)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import av
import numpy as np

from avsync.errors import CorruptMediaError, TooShortError, UsageError, WindowError
from avsync.media.probe import (
    audio_stream,
    file_duration,
    frame_rotation,
    open_media,
    origin_sec,
    rewind,
    stream_span,
    video_stream,
)

if TYPE_CHECKING:  # torch is imported where it is used: prepare's worker processes never need it
    import torch

TIME_EPS = 1e-3        # timestamps this close count as equal (seconds)
_END_SLACK = 0.02      # a window may end this far past the file's end (container rounding)
SILENCE_PEAK = 1e-4    # peak amplitude below which a clip's audio counts as silent
_SEEK_BACKOFF = (0.0, 1.0, 5.0, 30.0, math.inf)  # how far before the window to seek, in turn
_AUDIO_PREROLL = 0.25  # decode this much audio before the window (codec priming and overlap)
SCALER_THREADS = 1     # swscale threads per picture: the pictures are small, the decoder has the cores
SKIP_LOOP_FILTER = "noref"  # no deblocking of frames no other frame is predicted from (model inputs only)
AUDIO_CHUNK = 4096     # samples per resampled chunk: the same samples as frame by frame, a fraction of the calls


@dataclass
class Clip:
    """A decoded window: ``frames`` uint8 (T, H, W, 3) at ``fps``, ``audio`` float32 (S,) mono at
    ``sample_rate``. ``silent`` is a warning flag (the audio has no energy), not an error."""

    frames: torch.Tensor
    audio: torch.Tensor
    fps: float
    sample_rate: int
    start_sec: float
    audio_offset_sec: float
    path: str
    silent: bool

    @property
    def duration_sec(self) -> float:
        """Length of the window in seconds."""
        return self.frames.shape[0] / self.fps


def check_window(path: str, start: float, duration: float, total: float, what: str) -> None:
    """Raise TooShortError / WindowError (naming the file) when a window of ``duration`` s at ``start`` does not
    fit a file of ``total`` seconds."""
    if duration > total + _END_SLACK:
        raise TooShortError(path, f"file is {total:.2f} s long, shorter than the {duration:.2f} s window")
    if start < -TIME_EPS or start + duration > total + _END_SLACK:
        raise WindowError(path, f"{what} window {start:.2f}-{start + duration:.2f} s lies outside the "
                                f"file (0-{total:.2f} s)")


def _seek(container: av.container.InputContainer, stream: av.stream.Stream, t: float) -> bool:
    """Seek ``stream`` to the keyframe at or before file time ``t``; True when that is the file's
    start (t <= 0), where decoding cannot start too late."""
    if t <= 0:
        rewind(container)
        return True
    pts = int(math.floor((t + origin_sec(container)) / stream.time_base))
    container.seek(pts, stream=stream, backward=True)
    return False


def _corrupt(container: av.container.InputContainer, what: str, e: Exception) -> CorruptMediaError:
    reason = getattr(e, "strerror", None) or str(e)
    return CorruptMediaError(container.name, f"cannot decode the {what} ({reason})")


def decode_for_model(stream: av.video.stream.VideoStream) -> None:
    """Set a video stream up for reading a model's input, before its first packet: FFmpeg's frame threads,
    and no deblocking of the frames that no other frame is predicted from (``skip_loop_filter=noref``:
    H.264 decodes with 5-7 % less CPU; the pictures move by a mean 0.004-0.02 grey levels once scaled to
    a model's size, and never drift, as the frames that others are predicted from are decoded in full).
    What avsync writes (``prepare``, ``fix``, edits) is decoded in full."""
    stream.thread_type = "AUTO"
    stream.codec_context.options = {**stream.codec_context.options, "skip_loop_filter": SKIP_LOOP_FILTER}


def decoded_frames(container: av.container.InputContainer,
                   stream: av.video.stream.VideoStream) -> Iterator[tuple[float, av.VideoFrame]]:
    """(file time, frame) of every frame decoded from the current position on."""
    origin = origin_sec(container)
    num, den = stream.time_base.numerator, stream.time_base.denominator
    try:
        for frame in container.decode(stream):
            if frame.pts is not None:   # int / int is correctly rounded: float(pts * time_base) without Fractions
                yield frame.pts * num / den - origin, frame
    except av.error.FFmpegError as e:
        raise _corrupt(container, "video", e) from None


class FrameClock:
    """Resamples decoded frames to any increasing target times by presentation time: the frame on
    screen at time t is the last one whose timestamp is at or before t (sample and hold)."""

    def __init__(self, timed: Iterable[tuple[float, av.VideoFrame]]) -> None:
        self._it = iter(timed)
        self._next = next(self._it, None)
        self.current: tuple[float, av.VideoFrame] | None = None

    @property
    def next_time(self) -> float | None:
        """Time of the next decoded frame (the first one before any ``at``); None when none is left."""
        return None if self._next is None else self._next[0]

    @property
    def exhausted(self) -> bool:
        """True once the stream has no frame after the current one."""
        return self._next is None

    def at(self, t: float) -> tuple[float, av.VideoFrame] | None:
        """(time, frame) on screen at ``t``; None before the first frame."""
        while self._next is not None and self._next[0] <= t + TIME_EPS:
            self.current, self._next = self._next, next(self._it, None)
        return self.current


def check_truncated(container: av.container.InputContainer, what: str, data_end: float,
                    declared_end: float, needed_end: float) -> None:
    """Raise CorruptMediaError when a stream's data stops well before the end its header declares,
    inside the part that was needed."""
    if data_end < min(declared_end, needed_end) - 0.5:
        raise CorruptMediaError(container.name, f"{what} data ends at {max(data_end, 0):.2f} s but the file "
                                                f"says {declared_end:.2f} s: truncated?")


def _select_frames(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                   targets: np.ndarray, span: tuple[float, float], margin: float,
                   size: int | None) -> tuple[list[np.ndarray | None], int] | None:
    """For every target time, the RGB picture on screen then (short side scaled to ``size`` as each
    frame is decoded, so no frame is held at source size), or None where the stream has no picture
    (before its first frame, after its end); and the display rotation in quarter turns. None when the
    seek landed after the first target."""
    at_start = _seek(container, stream, targets[0] - margin)
    timed = decoded_frames(container, stream)
    clock = FrameClock(timed)
    scaler = FrameScaler()
    chosen: list[np.ndarray | None] = []
    last: tuple[float, np.ndarray] | None = None     # frames come in order: keep only the latest picture
    turns, first_missing = 0, False
    for i, t in enumerate(targets):
        held = clock.at(t)
        if i == 0:
            first_missing = held is None
        if held is None or t >= span[1] - TIME_EPS:
            chosen.append(None)
            continue
        if last is None or last[0] != held[0]:
            if last is None:
                turns = frame_rotation(held[1]) // 90
            last = (held[0], scaler.rgb(held[1], size))
        chosen.append(last[1])
    timed.close()
    if first_missing and not at_start:
        return None  # the seek landed after the window's start: seek further back
    if clock.exhausted:
        period = 1.0 / float(stream.average_rate) if stream.average_rate else 0.0
        data_end = clock.current[0] + period if clock.current else -math.inf
        check_truncated(container, "video", data_end, span[1], targets[-1])
    return chosen, turns


def short_side_size(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) of a ``width`` x ``height`` picture whose short side is scaled to ``size``."""
    scale = size / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class FrameScaler:
    """Decoded pictures as uint8 RGB (H, W, 3), the short side scaled to ``size`` in FFmpeg's swscale as
    they come out of the decoder: a YUV picture is scaled in YUV 4:4:4 (bilinear, antialiased when it
    shrinks) and only the small picture is converted to RGB, so nothing is converted at source size.
    Keeps its swscale contexts between pictures: one scaler per thread."""

    def __init__(self) -> None:
        from av.video.reformatter import VideoReformatter

        self._scale, self._convert = VideoReformatter(), VideoReformatter()

    def rgb(self, frame: av.VideoFrame, size: int | None = None) -> np.ndarray:
        """``frame`` as uint8 RGB (H, W, 3), short side ``size`` (None: as it is)."""
        w, h = (frame.width, frame.height) if size is None else short_side_size(frame.width, frame.height, size)
        if (w, h) != (frame.width, frame.height):
            between = "rgb24" if frame.format.is_rgb else "yuv444p"
            frame = self._scale.reformat(frame, format=between, width=w, height=h, interpolation="BILINEAR",
                                         threads=SCALER_THREADS)
        return self._convert.reformat(frame, format="rgb24", threads=SCALER_THREADS).to_ndarray()


def _frames_array(chosen: list[np.ndarray | None], stream: av.video.stream.VideoStream,
                  size: int | None) -> np.ndarray:
    """The chosen pictures stacked; missing pictures become black."""
    shape = next((x.shape for x in chosen if x is not None), None)
    if shape is None:
        w, h = stream.codec_context.width, stream.codec_context.height
        w, h = (w, h) if size is None else short_side_size(w, h, size)
        shape = (max(1, h), max(1, w), 3)
    black = np.zeros(shape, np.uint8)
    return np.stack([black if x is None else x for x in chosen])


def centre_box(height: int, width: int, crop: int | tuple[int, int]) -> tuple[slice, slice]:
    """(rows, columns) of the centre ``crop`` (int for a square, or (h, w)) of a ``height`` x ``width`` picture."""
    ch, cw = (crop, crop) if isinstance(crop, int) else crop
    if ch > height or cw > width:
        raise UsageError(f"crop {ch}x{cw} is larger than the {height}x{width} frames")
    top, left = (height - ch) // 2, (width - cw) // 2
    return slice(top, top + ch), slice(left, left + cw)


def _read_video(container: av.container.InputContainer, start: float, count: int, fps: float,
                size: int | None = None) -> np.ndarray:
    stream = video_stream(container)
    decode_for_model(stream)
    targets = start + np.arange(count) / fps
    span = stream_span(container, stream)
    for margin in _SEEK_BACKOFF:
        selected = _select_frames(container, stream, targets, span, margin, size)
        if selected is not None:
            chosen, turns = selected
            return np.rot90(_frames_array(chosen, stream, size), k=turns, axes=(1, 2))
    raise CorruptMediaError(container.name, "cannot find the frames of the window")


def mono_chunks(container: av.container.InputContainer, stream: av.audio.stream.AudioStream,
                sample_rate: int) -> Iterator[tuple[float, np.ndarray]]:
    """Decode from the current position on: (file time of the first sample, mono float32 samples
    at ``sample_rate``) per chunk of ``AUDIO_CHUNK`` samples (the last one shorter); consecutive chunks are
    contiguous. Mono is the channels' mean. The resampler regroups its output into those chunks (the same
    samples bit for bit as one chunk per decoded frame, whose ~1000-sample frames cost a Python round trip
    each: 1.6-1.75 s for a 4 min AAC track against 0.25-0.3 s to decode it, 0.8-0.95 s now;
    ``benchmarks/check_parts.py``)."""
    origin = origin_sec(container)
    # Packed samples: one plane whatever the channel count (PyAV lists 9 planes for a planar
    # 8-channel frame, and reading them crashed the process on 7.1 files).
    resampler = av.AudioResampler(format="flt", rate=sample_rate, frame_size=AUDIO_CHUNK)
    t = None
    try:
        for frame in itertools.chain(container.decode(stream), [None]):  # None flushes the resampler
            for out in resampler.resample(frame):
                if t is None:
                    t = float(out.pts * out.time_base) - origin if out.pts is not None else 0.0
                channels = len(out.layout.channels)
                samples = out.to_ndarray().reshape(-1, channels).mean(1, dtype=np.float32)
                yield t, samples
                t += len(samples) / sample_rate
    except av.error.FFmpegError as e:
        raise _corrupt(container, "audio", e) from None


def _decode_audio(container: av.container.InputContainer, stream: av.audio.stream.AudioStream,
                  start: float, end: float, sample_rate: int, margin: float) -> tuple[float, np.ndarray] | None:
    """Mono samples from before ``start`` to at least ``end`` (or the stream's end), and the file
    time of the first one. None when the seek landed after ``start``."""
    at_start = _seek(container, stream, start - _AUDIO_PREROLL - margin)
    chunks = mono_chunks(container, stream, sample_rate)
    first, parts = None, []
    for t, samples in chunks:
        if first is None:
            if t > start + TIME_EPS and not at_start:
                chunks.close()
                return None  # the seek landed after the window's start: seek further back
            first = t
        parts.append(samples)
        if t + len(samples) / sample_rate >= end:
            break
    chunks.close()
    samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return (stream_span(container, stream)[0] if first is None else first), samples


def _read_audio(container: av.container.InputContainer, start: float, count: int, sample_rate: int) -> np.ndarray:
    stream = audio_stream(container)
    end = start + count / sample_rate
    aend = stream_span(container, stream)[1]
    for margin in _SEEK_BACKOFF:
        decoded = _decode_audio(container, stream, start, end, sample_rate, margin)
        if decoded is not None:
            break
    else:
        raise CorruptMediaError(container.name, "cannot find the audio of the window")
    first, samples = decoded
    check_truncated(container, "audio", first + len(samples) / sample_rate, aend, end)
    out = np.zeros(count, np.float32)
    offset = int(round((start - first) * sample_rate))  # < 0: the stream starts inside the window
    src = samples[max(0, offset):max(0, offset) + count - max(0, -offset)]
    out[max(0, -offset):max(0, -offset) + len(src)] = src
    return out


def read_clip(path: str | Path, start_sec: float, duration_sec: float, fps: float = 25.0,
              sample_rate: int = 16000, size: int | None = None, crop: int | tuple[int, int] | None = None,
              audio_offset_sec: float = 0.0) -> Clip:
    """Read the video window [start, start + duration) resampled to a constant ``fps`` by
    presentation time (short side resized to ``size``, then centre ``crop``), and the audio window
    [start + audio_offset, ... + duration) as mono float32 at ``sample_rate``. Times are on the
    file's timeline, so a stream that starts late reads as black/silence before its start."""
    import torch

    if duration_sec <= 0 or fps <= 0 or sample_rate <= 0:
        raise UsageError("read_clip needs duration_sec, fps and sample_rate > 0")
    path = str(path)
    count, samples = int(round(duration_sec * fps)), int(round(duration_sec * sample_rate))
    if count < 1:
        raise UsageError(f"a {duration_sec} s window holds no frame at {fps} fps")
    astart = start_sec + audio_offset_sec
    with open_media(path) as container:
        video_stream(container), audio_stream(container)
        total = file_duration(container)
        check_window(path, start_sec, duration_sec, total, "video")
        check_window(path, astart, duration_sec, total, "audio")
        video = _read_video(container, start_sec, count, fps, size)     # scaled frame by frame as decoded
        audio = torch.from_numpy(_read_audio(container, astart, samples, sample_rate))
    if crop is not None:
        video = video[(slice(None), *centre_box(*video.shape[1:3], crop))]
    frames = torch.from_numpy(np.ascontiguousarray(video))
    silent = bool(audio.abs().max() < SILENCE_PEAK) if len(audio) else True
    return Clip(frames, audio, float(fps), int(sample_rate), float(start_sec), float(audio_offset_sec), path, silent)


def read_audio(path: str | Path, start_sec: float, duration_sec: float, sample_rate: int = 16000) -> np.ndarray:
    """The audio of [start, start + duration) on the file's timeline as mono float32 at
    ``sample_rate`` (silence where the stream has no samples), without decoding any picture."""
    if duration_sec <= 0 or sample_rate <= 0:
        raise UsageError("read_audio needs duration_sec and sample_rate > 0")
    path = str(path)
    with open_media(path) as container:
        audio_stream(container)
        check_window(path, start_sec, duration_sec, file_duration(container), "audio")
        return _read_audio(container, start_sec, int(round(duration_sec * sample_rate)), sample_rate)
