"""Tiny in-sync clips for the training tests: a talking-head stand-in whose picture follows the audio.

Audio: random on/off bursts (noise plus a tone). Picture: a bright square whose brightness and size
follow the burst envelope, on a noisy background; every frame carries the cue, like the dense set.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from avsync.media import write_video

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/helpers.py

FPS, SR = 25.0, 16000


def burst_envelope(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """0/1 envelope at SR: bursts and gaps of 80-400 ms, aperiodic."""
    env = np.zeros(int(seconds * SR), np.float32)
    t, on = 0.0, bool(rng.integers(2))
    while t < seconds:
        d = rng.uniform(0.08, 0.4)
        if on:
            env[int(t * SR):int((t + d) * SR)] = 1.0
        t, on = t + d, not on
    return env


def make_dense_clip(path: Path, seconds: float, seed: int, size: int = 40) -> Path:
    """Write an in-sync clip whose square lights up exactly while the audio sounds."""
    rng = np.random.default_rng(seed)
    env = burst_envelope(seconds, rng)
    t = np.arange(len(env)) / SR
    tone = np.sin(2 * np.pi * rng.uniform(200, 800) * t)
    audio = (env * (0.3 * tone + 0.2 * rng.standard_normal(len(env)))).astype(np.float32)
    n = int(seconds * FPS)
    frame_env = env[(np.arange(n) / FPS * SR).astype(int)]
    bg = rng.integers(0, 80, size=3)
    frames = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        f = np.clip(bg + rng.normal(0, 8, (size, size, 3)), 0, 255)
        half = int(size * (0.15 + 0.2 * frame_env[i]))
        c = size // 2
        f[c - half:c + half, c - half:c + half] = 60 + 190 * frame_env[i]
        frames[i] = f.astype(np.uint8)
    return write_video(path, frames, audio, fps=FPS, sample_rate=SR)


def write_manifest(folder: Path, rows: list[tuple[str, str, str]]) -> Path:
    """``manifest.csv`` with path (relative), split, kind."""
    path = folder / "manifest.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "split", "kind"])
        w.writerows(rows)
    return path


@pytest.fixture(scope="session")
def dense_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight 7 s dense clips (6 train, 2 val/test) and their manifest; returns the manifest path."""
    folder = tmp_path_factory.mktemp("dense")
    rows = []
    for i in range(8):
        name = f"clip{i}.mp4"
        make_dense_clip(folder / name, 7.0, seed=i)
        rows.append((name, "train" if i < 6 else ("val" if i == 6 else "test"), "dense"))
    return write_manifest(folder, rows)


def tiny_overrides(manifest: Path, run_dir: Path, steps: int, **extra: object) -> list[str]:
    """``key=value`` overrides for a fast CPU run of sparsesync-tiny shrunk to 32 px, 2 s windows and
    width 32 (a few seconds a step on a loaded 2-core machine)."""
    base = {
        "model.name": "sparsesync-tiny", "model.overrides.frame_size": 32, "model.overrides.duration_sec": 2.0,
        "model.overrides.visual_widths": "[8,16,16,32]", "model.overrides.audio_widths": "[8,16,16,32]",
        "model.overrides.d_model": 32, "model.overrides.n_heads": 2, "model.overrides.n_selectors": 4,
        "data.cache": "true",
        "data.train": f"[{manifest}]", "data.workers": 0, "data.resize": 36,
        "trainer.max_steps": steps, "trainer.batch_size": 8, "trainer.progress": "false",
        "trainer.val_every": steps, "trainer.ckpt_every": 10, "trainer.log_every": 5, "run_dir": str(run_dir),
        "optim.lr": 2e-3, "optim.warmup_steps": 5, "trainer.plateau_window": 10,
    }
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]
