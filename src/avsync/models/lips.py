"""The speech expert's scorers: a face track's mouth signal against the sound, at every offset.

A lip scorer is a :class:`~avsync.models.lagnet.LagNet` whose picture is a mouth: its input is one
face track's mouth signal ``(B, T, 3)`` on the 25 fps clock (:mod:`avsync.perception.faces`: inner and
outer lip opening and mouth width over the eye distance) with where it was seen ``(B, T)``; the sound,
the offset grid and :meth:`offset_scores` are LagNet's. Besides the embeddings it says how much each
moment of a track looks like talking (:meth:`talking`, today :func:`lip_activity` for both scorers:
how far the lips move, which is comparable between faces): the engine weighs the tracks of a moment
by it (attention over tracks), so a listener's face does not vote against the speaker's.

- :class:`~avsync.models.handmade.HandLips`: nothing learnt: the rectified change of the lip opening
  against the onset strength of the 300-3000 Hz band; a track talks as much as its lips move.
- :class:`LipNet`: learnt: per-frame mouth features and their changes -> dilated temporal convolutions
  -> unit embeddings; the sound through LagNet's log-mel branch.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from avsync.models.lagnet import LagNet, LagNetConfig, TemporalStack

MOUTH_CHANNELS = 3


def mouth_inputs(series: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """Per-frame inputs ``(B, T, 6)``: the mouth signal standardised over the seen frames of each
    track, and its change from the frame before; zero where the track is not seen."""
    w = seen.float()[..., None]
    n = w.sum(1, keepdim=True).clamp(min=1)
    mean = (series * w).sum(1, keepdim=True) / n
    std = (((series - mean) ** 2 * w).sum(1, keepdim=True) / n).sqrt()
    z = (series - mean) / (std + 1e-3) * w
    dz = torch.cat([torch.zeros_like(z[:, :1]), z[:, 1:] - z[:, :-1]], 1) * w * torch.cat([w[:, :1], w[:, :-1]], 1)
    return torch.cat([z, dz], -1)


def lip_activity(series: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """Logits ``(B, T)`` of how much each moment of each track looks like talking: the log of how far
    the inner lips move (eye-distance units, not standardised, so tracks compare) over the second around."""
    step = (series[:, 1:, 0] - series[:, :-1, 0]).abs() * (seen[:, 1:] & seen[:, :-1])
    change = torch.cat([torch.zeros_like(step[:, :1]), step], 1)
    local = F.avg_pool1d(change[:, None], 25, 1, 12, count_include_pad=False)[:, 0]
    return torch.log(local + 1e-3)


class LipNet(LagNet):
    """A learnt lip scorer (see the module docstring); ``config.arch == "lipnet"``."""

    def __init__(self, config: LagNetConfig) -> None:
        nn.Module.__init__(self)
        self.config = c = config
        self.video_time = TemporalStack(2 * MOUTH_CHANNELS, c.hidden, c.dim, c.video_dilations)
        self._add_sound_branch(c)

    def embed_mouth(self, series: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
        """Mouth signal ``(B, T, 3)`` and where seen ``(B, T)`` -> unit embeddings ``(B, T, dim)``."""
        return F.normalize(self.video_time(mouth_inputs(series, seen).transpose(1, 2)).transpose(1, 2), dim=-1)

    def talking(self, series: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T)`` of how much each moment of each track looks like talking (:func:`lip_activity`)."""
        return lip_activity(series, seen)

    def embed_video(self, frames: torch.Tensor) -> torch.Tensor:
        """A lip scorer has no whole-frame picture: use :meth:`embed_mouth`."""
        raise TypeError("LipNet scores mouth tracks: call embed_mouth(series, seen)")
