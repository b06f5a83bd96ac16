"""A hand-made expert for the engine: nothing trained, the simplest evidence there is.

:class:`MotionOnset` is a LagNet whose embeddings are made by hand: a frame's motion (the largest mean
absolute difference from the previous frame over an 8 x 8 grid of cells) and a 10 ms step's onset
strength (the rectified rise of the 300-3000 Hz log energy), each standardised over the file,
rectified, and made a 2-d unit vector with a small constant part, so that their cosine is high where
both have an event at once. The engine turns its scores into evidence like any other model's, and
can add it to a learnt model's (``OffsetChecker(..., experts=[...])``).

:class:`HandLips` is the speech expert's hand-made lip scorer (:mod:`avsync.models.lips`): the
rectified change of a face track's inner-lip opening against the same onset strength.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from avsync.models.lagnet import LagNet
from avsync.models.lips import MOUTH_CHANNELS, lip_activity, mouth_inputs
from avsync.models.registry import get_config

EXPERTS = ("motion-onset",)


def _events(x: torch.Tensor) -> torch.Tensor:
    """A series ``(B, T)`` standardised over ``T`` and rectified, as 2-d unit vectors ``(B, T, 2)``."""
    z = F.relu((x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-6))
    return F.normalize(torch.stack([z, torch.full_like(z, 0.3)], -1), dim=-1)


class MotionOnset(LagNet):
    """Motion of the busiest cell against onset strength (see the module docstring)."""

    def embed_video(self, frames: torch.Tensor) -> torch.Tensor:
        """Grey frames ``(B, T, H, W)`` -> ``(B, T, 2)``."""
        x = frames.float()
        diff = torch.cat([torch.zeros_like(x[:, :1]), (x[:, 1:] - x[:, :-1]).abs()], 1)
        cells = F.adaptive_avg_pool2d(diff.flatten(0, 1)[:, None], (8, 8)).view(*x.shape[:2], 64)
        return _events(cells.amax(-1))

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """Waveform ``(B, S)`` -> ``(B, S // hop + 1, 2)``."""
        c = self.config
        spec = torch.stft(audio.float(), c.n_fft, c.hop, window=self.window, center=True, return_complex=True)
        freqs = torch.linspace(0, c.sample_rate / 2, spec.shape[1], device=audio.device)
        band = (freqs >= 300) & (freqs <= 3000)
        energy = torch.log(spec.abs().square()[:, band].mean(1) + 1e-8)
        return _events(torch.cat([torch.zeros_like(energy[:, :1]), energy[:, 1:] - energy[:, :-1]], 1))


class HandLips(MotionOnset):
    """Lip-opening change against onset strength; nothing learnt (see the module docstring)."""

    def embed_mouth(self, series: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
        """Mouth signal ``(B, T, 3)`` and where seen ``(B, T)`` -> ``(B, T, 2)``."""
        change = mouth_inputs(series, seen)[..., MOUTH_CHANNELS].abs()
        return _events(change)

    def talking(self, series: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T)``: :func:`~avsync.models.lips.lip_activity`."""
        return lip_activity(series, seen)


def expert(name: str) -> LagNet:
    """The hand-made expert called ``name`` (one of :data:`EXPERTS`)."""
    if name != "motion-onset":
        from avsync.errors import UsageError

        raise UsageError(f"unknown expert {name!r}; available: {', '.join(EXPERTS)}")
    return MotionOnset(get_config("lagnet-default", widths=[4], feature_dim=4, frame_dim=4, hidden=4, dim=2,
                                  description="hand-made: busiest-cell motion against onset strength")).eval()
