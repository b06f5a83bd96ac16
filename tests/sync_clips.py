"""Tiny clips with a known audio-visual offset for the checker's tests: a small square flashes at
irregular times (then fades) and a noise burst sounds at the same times shifted by the offset (> 0: the sound
comes earlier, audio ahead). Written with ``avsync.media.write_video``."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

FPS, SR = 25, 16000


def event_times(seconds: float, seed: int = 0, gap: tuple[float, float] = (0.45, 1.3)) -> list[float]:
    """Irregular event times (no period a cross-correlation could lock onto)."""
    rng = np.random.default_rng(seed)
    t, out = 0.3, []
    while t < seconds - 0.3:
        out.append(round(float(t), 3))
        t += rng.uniform(*gap)
    return out


def make_clip(path: str | Path, seconds: float = 10.0, offset: float = 0.0, seed: int = 0,
              size: tuple[int, int] = (72, 96), change_at: float | None = None, offset2: float = 0.0,
              still: bool = False, silent: bool = False, fps: float = FPS) -> Path:
    """Write a clip whose audio is ``offset`` s ahead of the picture (``offset2`` for events after
    ``change_at``). ``still``: no flashes (one still picture); ``silent``: digital silence; ``fps``: the
    picture's frame rate."""
    rng = np.random.default_rng(seed + 1000)
    n, h, w = int(round(seconds * fps)), *size
    frames = np.full((n, h, w, 3), 70, np.uint8)
    frames[:, :, : w // 2] = 110  # a still background with an edge
    audio = (rng.standard_normal(int(seconds * SR)) * 0.003).astype(np.float32)
    burst = (rng.standard_normal(int(0.03 * SR)) * np.exp(-np.arange(int(0.03 * SR)) / 120)).astype(np.float32)
    cy, cx, r = h // 2, w // 2, max(4, h // 8)
    for t in event_times(seconds, seed):
        o = offset2 if change_at is not None and t >= change_at else offset
        if not still:
            i = int(round(t * fps))
            for k, level in enumerate((250, 190, 150, 120, 95, 80)):  # a flash that fades out
                if i + k < n:
                    frames[i + k, cy - r:cy + r, cx - r:cx + r] = level
        s = int(round((t - o) * SR))
        if 0 <= s < len(audio) - len(burst):
            audio[s:s + len(burst)] += 0.6 * burst
    if silent:
        audio[:] = 0.0
    from avsync.media import write_video

    return write_video(path, frames, audio, fps=fps, sample_rate=SR)


def make_folder(folder: Path, offsets: Sequence[float], seconds: float = 8.0) -> list[Path]:
    """One clip per offset, named by it."""
    folder.mkdir(parents=True, exist_ok=True)
    return [make_clip(folder / f"clip_{o:+.1f}.mp4", seconds, o, seed=i) for i, o in enumerate(offsets)]


def flash_times(frames, fps: float = FPS) -> list[float]:
    """Times (s) of the frames where the centre square of a ``make_clip`` clip lights up."""
    frames = np.asarray(frames, np.float32)
    h, w = frames.shape[1:3]
    centre = frames[:, h // 2 - 2:h // 2 + 2, w // 2 - 2:w // 2 + 2].mean((1, 2, 3))
    rises = np.flatnonzero(np.diff(centre) > 80) + 1
    return [float(i / fps) for i in rises]


def burst_times(audio, sample_rate: int = SR, level: float = 0.1, gap: float = 0.3) -> list[float]:
    """Onset times (s) of the noise bursts of a ``make_clip`` clip: where the 2 ms envelope first
    passes ``level``, at least ``gap`` s after the previous onset."""
    audio = np.abs(np.asarray(audio, np.float32))
    n = max(1, int(0.002 * sample_rate))
    env = np.convolve(audio, np.ones(n) / n, "same")
    out: list[float] = []
    for i in np.flatnonzero(env > level):
        t = float(i / sample_rate)
        if not out or t - out[-1] >= gap:
            out.append(t)
    return out


def matched_lags(video_times: Sequence[float], audio_times: Sequence[float], lag: float, tol: float = 0.03) -> list[float]:
    """For each sound onset, picture time minus sound time of the flash nearest to ``lag`` after it
    (the offset at that sound, > 0: audio ahead); sounds without a flash within ``tol`` are left out."""
    out = []
    for ta in audio_times:
        d = [tv - ta for tv in video_times]
        best = min(d, key=lambda x: abs(x - lag), default=None)
        if best is not None and abs(best - lag) <= tol:
            out.append(best)
    return out


def synthetic_clip(path: Path, kind: str, index: int, seconds: float = 10.0) -> Path:
    """A clip of the synthetic generators from a seed no training set uses."""
    from avsync.data.synthetic import SynthConfig
    from avsync.data.synthetic import make_clip as synth_clip
    from avsync.media import write_video

    c = synth_clip(kind, 4242, index, SynthConfig(duration_sec=seconds, size=72))
    return write_video(path, c.frames, c.audio, fps=25.0, sample_rate=16000)
