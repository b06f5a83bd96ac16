"""Tiny synthetic media for tests, written with PyAV. Reusable by every test package:

    make_video(tmp_path / "a.mp4", seconds=2, flash_at=[1.0], click_at=[1.0])

Frame ``i`` is a flat grey of level ``frame_level(i)`` (so a test can tell which source frame it got
back), except flashes, which are white. The audio is silence (or a quiet tone) with short loud clicks.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np

from avsync.media.writer import add_audio_stream, add_video_stream, as_fraction

FLASH_LEVEL = 255
CLICK_SEC = 0.01
IMPULSE_SEC = 1.52  # a frame boundary at 25 fps: a flash there starts exactly at this time


LEVEL_PERIOD = 25  # grey levels repeat every this many frames (8 levels apart: robust to coding)


def frame_level(i: int) -> int:
    """Grey level of source frame ``i`` (distinct for 25 consecutive frames, never white)."""
    return 20 + 8 * (i % LEVEL_PERIOD)


def level_to_index(level: float, near: int = 0) -> int:
    """The source frame index closest to ``near`` whose grey level is ``level``."""
    base = min(range(LEVEL_PERIOD), key=lambda i: abs(frame_level(i) - level))
    return base + LEVEL_PERIOD * round((near - base) / LEVEL_PERIOD)


def frame_times(seconds: float, fps: float, vfr: bool = False) -> np.ndarray:
    """Presentation times of the frames: regular, or (vfr) alternating short and long gaps
    (1/3 and 5/3 of the nominal period, a 3:1 jitter seen in phone recordings)."""
    if not vfr:
        return np.arange(int(round(seconds * fps))) / fps
    steps = np.tile([1 / (3 * fps), 5 / (3 * fps)], int(seconds * fps))
    t = np.concatenate([[0.0], np.cumsum(steps)])
    return t[t < seconds - 1e-9]


def make_frames(times: np.ndarray, size: tuple[int, int], flash_at: Sequence[float],
                marker: bool = False) -> np.ndarray:
    """Flat grey frames (level by index), white where a flash time falls in a frame's interval;
    ``marker`` blacks out the top-left quarter-size corner (to check orientation)."""
    h, w = size
    frames = np.empty((len(times), h, w, 3), np.uint8)
    ends = np.append(times[1:], np.inf)
    for i, (t0, t1) in enumerate(zip(times, ends)):
        flash = any(t0 - 1e-9 <= f < t1 - 1e-9 for f in flash_at)
        frames[i] = FLASH_LEVEL if flash else frame_level(i)
    if marker:
        frames[:, :h // 4, :w // 4] = 0
    return frames


def make_audio(seconds: float, sample_rate: int, channels: int, click_at: Sequence[float],
               tone_hz: float | None = None, seed: int = 0) -> np.ndarray:
    """(C, S) float32: silence or a quiet tone, plus 10 ms noise-burst clicks at ``click_at``."""
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    x = 0.05 * np.sin(2 * np.pi * tone_hz * t) if tone_hz else np.zeros(n)
    rng = np.random.default_rng(seed)
    for c in click_at:
        i = int(round(c * sample_rate))
        k = min(n, i + int(CLICK_SEC * sample_rate)) - i
        if k > 0:
            x[i:i + k] = 0.8 * np.sign(rng.standard_normal(k))
    return np.repeat(x[None].astype(np.float32), channels, axis=0)


def make_video(path: str | Path, seconds: float = 2.0, fps: float = 25.0, size: tuple[int, int] = (48, 64),
               sample_rate: int = 16000, channels: int = 1, flash_at: Sequence[float] = (),
               click_at: Sequence[float] = (), video: bool = True, audio: bool = True,
               audio_start_sec: float = 0.0, video_start_sec: float = 0.0, vfr: bool = False, rotation: int = 0,
               tone_hz: float | None = None, vcodec: str = "h264", acodec: str = "aac",
               pix_fmt: str = "yuv420p", gop: int | None = None, marker: bool = False) -> Path:
    """Write a small test file. ``size`` is (height, width); ``click_at``/``flash_at`` are times in
    seconds on the file's timeline; ``audio_start_sec`` > 0 makes the audio stream start late (it then
    lasts ``seconds - audio_start_sec``), ``video_start_sec`` likewise the video; ``rotation`` is the counter-clockwise display rotation;
    ``marker`` blacks out the top-left corner of every frame."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        vstream = astream = None
        if video:
            vstream = add_video_stream(container, size[1], size[0], fps, vcodec, pix_fmt, gop=gop)
            tb = Fraction(1, 3000) if vfr else 1 / as_fraction(fps)
            vstream.codec_context.time_base = tb
            if rotation:
                vstream.set_display_rotation(rotation)
        if audio:
            astream = add_audio_stream(container, sample_rate, channels, acodec)
        if vstream is not None:
            times = frame_times(seconds - video_start_sec, fps, vfr) + video_start_sec
            for i, image in enumerate(make_frames(times, size, flash_at, marker)):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = int(round(times[i] / tb)), tb
                container.mux(vstream.encode(frame))
            container.mux(vstream.encode(None))
        if astream is not None:
            clicks = [c - audio_start_sec for c in click_at]
            samples = make_audio(seconds - audio_start_sec, sample_rate, channels, clicks, tone_hz)
            layout = astream.codec_context.layout.name
            first = int(round(audio_start_sec * sample_rate))
            for s in range(0, samples.shape[1], 4096):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, s:s + 4096]),
                                                   format="fltp", layout=layout)
                frame.sample_rate, frame.pts = sample_rate, first + s
                frame.time_base = Fraction(1, sample_rate)
                container.mux(astream.encode(frame))
            container.mux(astream.encode(None))
    return path


def clip_indices(frames, near: int = 0) -> list[int]:
    """Source frame index of every decoded frame, from its centre pixel's grey level: the first is
    the one closest to ``near``, each next one lies at most LEVEL_PERIOD - 3 frames after the last."""
    f = np.asarray(frames)
    centre = f[:, f.shape[1] // 2, f.shape[2] // 2].astype(float).mean(-1)
    out: list[int] = []
    for v in centre:
        out.append(level_to_index(v, out[-1] + LEVEL_PERIOD // 2 - 2 if out else near))
    return out


def flash_time(frames, fps: float, start: float = 0.0) -> float:
    """Time of the first white frame of a decoded clip (uint8 (T, H, W, 3) torch or numpy)."""
    levels = np.asarray(frames).reshape(len(frames), -1).mean(1)
    hits = np.nonzero(levels > 240)[0]
    assert len(hits), "no flash in the clip"
    return start + hits[0] / fps


def click_time(audio, sample_rate: int, start: float = 0.0) -> float:
    """Time of the first click onset of decoded audio (float (S,))."""
    x = np.abs(np.asarray(audio))
    hits = np.nonzero(x > 0.3)[0]
    assert len(hits), "no click in the audio"
    return start + hits[0] / sample_rate


__all__ = ["make_video", "make_frames", "make_audio", "frame_times", "frame_level", "level_to_index", "clip_indices",
           "flash_time", "click_time", "as_fraction", "FLASH_LEVEL", "IMPULSE_SEC"]
