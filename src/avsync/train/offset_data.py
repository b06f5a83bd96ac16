"""Training data for the engine's model (LagNet): crops of in-sync clips from a feature cache.

Each example is ``video_sec`` of grey frames from one cached clip (synthetic ``real``-kind clips or
pieces of TRAIN-group real footage, :mod:`avsync.data.feature_cache`) with the clip's whole sound
around it, so every candidate offset up to the clip's edges can be scored. Training is
self-supervised: the clips are in sync, the loss wants offset 0. The example stream, its resume
position and the loaders are :class:`~avsync.train.datamodule.SyncDataModule`'s.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from avsync.data.feature_cache import CachedClips, load_cache
from avsync.errors import UsageError
from avsync.train.config import DataSection
from avsync.train.datamodule import SyncDataModule

log = logging.getLogger("avsync.train")


def augment_frames(rng: np.random.Generator, frames: np.ndarray) -> np.ndarray:
    """Grey frames ``(T, H, W)`` uint8 seen through another camera: mirrored, zoomed into, brighter or
    darker, with more or less contrast and sensor noise (the same for every frame of the crop)."""
    x = torch.from_numpy(frames.astype(np.float32))
    if rng.random() < 0.5:
        x = x.flip(-1)
    if rng.random() < 0.5:
        t, h, w = x.shape
        s = rng.uniform(0.7, 1.0)
        ch, cw = max(8, int(h * s)), max(8, int(w * s))
        y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        x = F.interpolate(x[None, :, y0:y0 + ch, x0:x0 + cw], size=(h, w), mode="bilinear", align_corners=False)[0]
    mean = x.mean()
    x = (x - mean) * rng.uniform(0.6, 1.4) + mean + rng.uniform(-30, 30)
    if rng.random() < 0.3:
        x = x + torch.from_numpy(rng.normal(0, rng.uniform(1, 8), x.shape).astype(np.float32))
    return x.clamp(0, 255).round().to(torch.uint8).numpy()


def augment_audio(rng: np.random.Generator, audio: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Mono audio with, sometimes, noise (5-30 dB SNR) and another clip's sound mixed in 6-20 dB
    lower (sounds without a visible cause)."""
    out = audio.astype(np.float32).copy()
    rms = float(np.sqrt(np.mean(out ** 2))) + 1e-6
    if rng.random() < 0.3:
        o_rms = float(np.sqrt(np.mean(other ** 2))) + 1e-6
        out += other * (rms / o_rms) * 10 ** (-rng.uniform(6, 20) / 20)
    if rng.random() < 0.3:
        out += rng.normal(0, rms * 10 ** (-rng.uniform(5, 30) / 20), out.shape).astype(np.float32)
    return out


class OffsetClips(Dataset):
    """Example ``i`` of a run: a crop of ``video_frames`` frames from one clip of ``clips[indices]``
    and that clip's whole sound (``first_frame``: where the crop starts in it). Real footage is
    drawn with probability ``real_share``. ``fixed``: one deterministic crop per clip (validation)."""

    def __init__(self, clips: CachedClips, indices: np.ndarray, video_frames: int, real_share: float,
                 seed: int, augment: bool = True, fixed: bool = False) -> None:
        self.clips, self.indices, self.video_frames = clips, np.asarray(indices), int(video_frames)
        self.real_share, self.seed, self.augment, self.fixed = real_share, seed, augment, fixed
        is_real = clips.real[self.indices]
        self.real, self.synth = self.indices[is_real], self.indices[~is_real]
        if clips.frames.shape[1] < self.video_frames:
            raise UsageError(f"cached clips hold {clips.frames.shape[1]} frames, fewer than the {video_frames} of a crop")

    def __len__(self) -> int:
        return len(self.indices) if self.fixed else 10 ** 9

    def __getitem__(self, i: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, int(i)])
        span = self.clips.frames.shape[1] - self.video_frames
        if self.fixed:
            k, start = int(self.indices[i]), span // 2
        else:
            pool = self.real if len(self.real) and (rng.random() < self.real_share or not len(self.synth)) else self.synth
            k, start = int(rng.choice(pool)), int(rng.integers(0, span + 1))
        frames = self.clips.frames[k, start:start + self.video_frames]
        audio = self.clips.audio[k]
        if self.augment and not self.fixed:
            frames = augment_frames(rng, frames)
            audio = augment_audio(rng, audio, self.clips.audio[int(rng.integers(len(self.clips.audio)))])
        return {"frames": torch.from_numpy(np.ascontiguousarray(frames)), "audio": torch.from_numpy(audio),
                "first_frame": start}


class OffsetDataModule(SyncDataModule):
    """Training and validation examples for LagNet from ``data.feature_cache``; the last
    ``data.val_clips`` synthetic clips are held out for validation."""

    def __init__(self, data: DataSection, fps: float, batch_size: int, max_steps: int, seed: int = 0) -> None:
        super().__init__(data, None, batch_size, max_steps, seed)   # type: ignore[arg-type]
        self.fps = fps

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if not self.data.feature_cache:
            raise UsageError("data.feature_cache: the engine trains from a feature cache (make one with `avsync cache`)")
        clips = load_cache(self.data.feature_cache)
        synth = np.flatnonzero(~clips.real)
        n_val = min(self.data.val_clips, max(0, len(synth) - 1))
        val = synth[len(synth) - n_val:]
        train = np.setdiff1d(np.arange(len(clips.real)), val)
        frames = int(round(self.data.video_sec * self.fps))
        self.train_set = OffsetClips(clips, train, frames, self.data.real_share, self.seed, self.data.augment.enabled)
        self.val_set = OffsetClips(clips, val, frames, 0.0, self.seed, fixed=True) if n_val else None
        log.info("data: %d cached clips (%d real pieces, %d synthetic), %d held out for validation; crops of %d frames",
                 len(clips.real), int(clips.real.sum()), len(synth), n_val, frames)
