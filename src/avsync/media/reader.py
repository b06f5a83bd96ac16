"""``read_clip``: a time window of a file as constant-fps frames and mono audio, decoding only the
packets the window needs (seek to the keyframe before it, decode to its end)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from avsync.errors import CorruptMediaError, TooShortError, UsageError, WindowError
from avsync.media.probe import (audio_stream, file_duration, open_media, origin_sec, stream_span,
                                video_stream)

_EPS = 1e-3            # timestamps this close count as equal (seconds)
_END_SLACK = 0.02      # a window may end this far past the file's end (container rounding)
_SILENCE = 1e-4        # peak amplitude below which a clip's audio counts as silent
_SEEK_BACKOFF = (0.0, 1.0, 5.0, 30.0, math.inf)  # how far before the window to seek, in turn
_AUDIO_PREROLL = 0.25  # decode this much audio before the window (codec priming and overlap)


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


def _check_window(path: str, start: float, duration: float, total: float, what: str) -> None:
    if duration > total + _END_SLACK:
        raise TooShortError(path, f"file is {total:.2f} s long, shorter than the {duration:.2f} s window")
    if start < -_EPS or start + duration > total + _END_SLACK:
        raise WindowError(path, f"{what} window {start:.2f}-{start + duration:.2f} s lies outside the "
                                f"file (0-{total:.2f} s)")


def _seek(container: av.container.InputContainer, stream: av.stream.Stream, t: float) -> bool:
    """Seek ``stream`` to the keyframe at or before file time ``t``; True when that is the file's
    start (t <= 0), where decoding cannot start too late."""
    if t <= 0:
        container.seek(0, stream=stream, backward=True)
        return True
    pts = int(math.floor((t + origin_sec(container)) / stream.time_base))
    container.seek(pts, stream=stream, backward=True)
    return False


def _corrupt(container: av.container.InputContainer, what: str, e: Exception) -> CorruptMediaError:
    reason = getattr(e, "strerror", None) or str(e)
    return CorruptMediaError(container.name, f"cannot decode the {what} ({reason})")


def _select_frames(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                   targets: np.ndarray, span: tuple[float, float], margin: float) -> list[av.VideoFrame | None] | None:
    """For every target time, the frame on screen then (the last one at or before it), or None
    where the stream has no picture. Returns None when the seek landed after the first target."""
    origin, vend = origin_sec(container), span[1]
    at_start = _seek(container, stream, targets[0] - margin)
    chosen: list[av.VideoFrame | None] = []
    prev, prev_t = None, -math.inf
    try:
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * stream.time_base) - origin
            if prev is None and t > targets[0] + _EPS and not at_start:
                return None  # the seek landed after the window's start: seek further back
            while len(chosen) < len(targets) and targets[len(chosen)] < t - _EPS:
                chosen.append(prev if prev_t > -math.inf else None)
            if len(chosen) == len(targets):
                return chosen
            prev, prev_t = frame, t
    except av.error.FFmpegError as e:
        raise _corrupt(container, "video", e) from None
    data_end = prev_t + (1.0 / float(stream.average_rate) if stream.average_rate else 0.0)
    if prev is None or data_end < min(vend, targets[-1]) - 0.5:
        raise CorruptMediaError(container.name, f"video data ends at {max(prev_t, 0):.2f} s but the file "
                                                f"says {vend:.2f} s: truncated?")
    while len(chosen) < len(targets):
        chosen.append(prev if targets[len(chosen)] < vend + _EPS else None)
    return chosen


def _frames_array(chosen: list[av.VideoFrame | None], stream: av.video.stream.VideoStream) -> np.ndarray:
    """Convert the chosen frames to RGB once each; missing pictures become black."""
    height, width = stream.codec_context.height, stream.codec_context.width
    images: dict[int, np.ndarray] = {}
    out = []
    for frame in chosen:
        if frame is None:
            out.append(None)
            continue
        if id(frame) not in images:
            images[id(frame)] = frame.to_ndarray(format="rgb24")
            height, width = images[id(frame)].shape[:2]
        out.append(images[id(frame)])
    black = np.zeros((height, width, 3), np.uint8)
    return np.stack([black if x is None else x for x in out])


def _rotation(chosen: list[av.VideoFrame | None]) -> int:
    frame = next((f for f in chosen if f is not None), None)
    return 0 if frame is None else int(round(frame.rotation / 90.0)) % 4


def resize_crop(frames: torch.Tensor, size: int | None = None, crop: int | tuple[int, int] | None = None) -> torch.Tensor:
    """Resize uint8 (T, H, W, 3) frames so the short side is ``size`` (bilinear, antialiased), then
    take the centre ``crop`` (int for a square, or (h, w))."""
    if size is not None:
        h, w = frames.shape[1:3]
        scale = size / min(h, w)
        new = (max(1, round(h * scale)), max(1, round(w * scale)))
        if new != (h, w):
            x = frames.permute(0, 3, 1, 2).float()
            x = F.interpolate(x, size=new, mode="bilinear", antialias=True, align_corners=False)
            frames = x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    if crop is not None:
        ch, cw = (crop, crop) if isinstance(crop, int) else crop
        h, w = frames.shape[1:3]
        if ch > h or cw > w:
            raise UsageError(f"crop {ch}x{cw} is larger than the {h}x{w} frames")
        top, left = (h - ch) // 2, (w - cw) // 2
        frames = frames[:, top:top + ch, left:left + cw].contiguous()
    return frames


def _read_video(container: av.container.InputContainer, start: float, count: int, fps: float) -> np.ndarray:
    stream = video_stream(container)
    stream.thread_type = "AUTO"
    targets = start + np.arange(count) / fps
    span = stream_span(container, stream)
    for margin in _SEEK_BACKOFF:
        chosen = _select_frames(container, stream, targets, span, margin)
        if chosen is not None:
            frames = _frames_array(chosen, stream)
            return np.rot90(frames, k=_rotation(chosen), axes=(1, 2))
    raise CorruptMediaError(container.name, "cannot find the frames of the window")


def _decode_audio(container: av.container.InputContainer, stream: av.audio.stream.AudioStream,
                  start: float, end: float, sample_rate: int, margin: float) -> tuple[float, np.ndarray] | None:
    """Mono float32 samples at ``sample_rate`` from before ``start`` to at least ``end`` (or the
    stream's end), and the file time of the first one. None when the seek landed too late."""
    origin, astart = origin_sec(container), stream_span(container, stream)[0]
    at_start = _seek(container, stream, start - _AUDIO_PREROLL - margin)
    resampler = av.AudioResampler(format="fltp", rate=sample_rate)  # mono = mean of the channels
    first, chunks, got = None, [], 0
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                if first is None:
                    first = float(out.pts * out.time_base) - origin if out.pts is not None else astart
                    if first > start + _EPS and not at_start:
                        return None  # the seek landed after the window's start: seek further back
                chunks.append(out.to_ndarray().mean(0))
                got += out.samples
            if first is not None and first + got / sample_rate >= end:
                break
        else:
            chunks += [out.to_ndarray().mean(0) for out in resampler.resample(None)]
    except av.error.FFmpegError as e:
        raise _corrupt(container, "audio", e) from None
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return (astart if first is None else first), samples


def _read_audio(container: av.container.InputContainer, start: float, count: int, sample_rate: int) -> np.ndarray:
    stream = audio_stream(container)
    end = start + count / sample_rate
    astart, aend = stream_span(container, stream)
    for margin in _SEEK_BACKOFF:
        decoded = _decode_audio(container, stream, start, end, sample_rate, margin)
        if decoded is not None:
            break
    else:
        raise CorruptMediaError(container.name, "cannot find the audio of the window")
    first, samples = decoded
    data_end = first + len(samples) / sample_rate
    if data_end < min(aend, end) - 0.5:
        raise CorruptMediaError(container.name, f"audio data ends at {data_end:.2f} s but the file says "
                                                f"{aend:.2f} s: truncated?")
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
    if duration_sec <= 0 or fps <= 0 or sample_rate <= 0:
        raise UsageError("read_clip needs duration_sec, fps and sample_rate > 0")
    path = str(path)
    count, samples = int(round(duration_sec * fps)), int(round(duration_sec * sample_rate))
    astart = start_sec + audio_offset_sec
    with open_media(path) as container:
        video_stream(container), audio_stream(container)
        total = file_duration(container)
        _check_window(path, start_sec, duration_sec, total, "video")
        _check_window(path, astart, duration_sec, total, "audio")
        frames = torch.from_numpy(np.ascontiguousarray(_read_video(container, start_sec, count, fps)))
        audio = torch.from_numpy(_read_audio(container, astart, samples, sample_rate))
    frames = resize_crop(frames, size, crop)
    silent = bool(audio.abs().max() < _SILENCE) if len(audio) else True
    return Clip(frames, audio, float(fps), int(sample_rate), float(start_sec), float(audio_offset_sec), path, silent)
