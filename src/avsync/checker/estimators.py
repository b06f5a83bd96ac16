"""Estimators: what turns one window (video, audio) into offset-class scores. A trained model here;
the training-free baseline in :mod:`avsync.checker.xcorr`."""

from __future__ import annotations

from typing import Protocol

import torch

from avsync.offsets import OffsetGrid


class Estimator(Protocol):
    """Turns windows into offset-class scores (logits) over ``grid``."""

    name: str
    grid: OffsetGrid
    window_sec: float      # default window length
    fps: float
    sample_rate: int
    frame_size: int
    resize: int | None     # short side before the centre crop (None: the model's convention)

    def scores(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, C)`` for video ``(B, T, 3, H, W)`` in [0, 1] and audio ``(B, S)``."""
        ...


class ModelEstimator:
    """A trained :class:`avsync.models.SyncModel` as an estimator."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu", name: str | None = None) -> None:
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        cfg = model.config
        self.name = name or cfg.name
        self.grid: OffsetGrid = cfg.grid
        self.window_sec, self.fps = float(cfg.duration_sec), float(cfg.fps)
        self.sample_rate, self.frame_size, self.resize = int(cfg.sample_rate), int(cfg.frame_size), None

    @torch.inference_mode()
    def scores(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """The model's offset logits (float32, on the CPU)."""
        return self.model(video.to(self.device), audio.to(self.device)).logits.float().cpu()
