"""Transformer pieces shared by SparseSync and AVST, and the SyncModel base class (input checks,
ImageNet normalisation, spectrogram, encoders)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from avsync.errors import UsageError
from avsync.features import log_spectrogram
from avsync.models.config import ModelConfig
from avsync.models.encoders import build_audio_encoder, build_visual_encoder
from avsync.offsets import OffsetGrid

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class SyncOutput:
    """What every model returns: offset-class logits ``(B, n_classes)`` and, when asked for, attention maps."""

    logits: torch.Tensor
    attention: dict[str, Any] | None = None


class Attention(nn.Module):
    """Multi-head attention of ``x`` over ``ctx`` (itself when None); returns the head-averaged
    weights ``(B, N, M)`` only when ``need_weights`` (otherwise the fused SDPA kernel runs)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend; returns (output ``(B, N, D)``, weights or None)."""
        ctx = x if ctx is None else ctx
        (b, n, d), m, h = x.shape, ctx.shape[1], self.heads
        q = self.q(x).view(b, n, h, d // h).transpose(1, 2)
        k, v = self.kv(ctx).view(b, m, 2, h, d // h).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            attn = (q @ k.transpose(-2, -1) / math.sqrt(d // h)).softmax(-1)
            out = F.dropout(attn, p, self.training) @ v
            weights = attn.mean(1)
        else:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.proj(out.transpose(1, 2).reshape(b, n, d)), weights


class Block(nn.Module):
    """Pre-LN transformer block: self-attention, then (``cross=True``) cross-attention into a context,
    then a GELU MLP. Returns the weights of the cross-attention if any, else of the self-attention."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float, cross: bool = False) -> None:
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads, dropout)
        self.cross = Attention(dim, heads, dropout) if cross else None
        self.norm_q = nn.LayerNorm(dim) if cross else None
        self.norm_ctx = nn.LayerNorm(dim) if cross else None
        hidden = int(dim * mlp_ratio)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One block; ``ctx`` is required for a cross block."""
        y, weights = self.attn(self.norm1(x), need_weights=need_weights and self.cross is None)
        x = x + self.drop(y)
        if self.cross is not None:
            y, weights = self.cross(self.norm_q(x), self.norm_ctx(ctx), need_weights=need_weights)
            x = x + self.drop(y)
        return x + self.drop(self.mlp(self.norm2(x))), weights


def run_blocks(blocks: nn.ModuleList, x: torch.Tensor, ctx: torch.Tensor | None = None,
               need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Apply blocks in turn; weights stacked over layers ``(B, L, N, M)`` when asked for."""
    maps = []
    for block in blocks:
        x, w = block(x, ctx, need_weights)
        maps.append(w)
    return x, torch.stack(maps, 1) if need_weights else None


class FactorisedPos(nn.Module):
    """Learned factorised positional embedding: one table per axis (e.g. t, h, w), summed.

    Tables are sized for the configured input; another size is served by linear interpolation of
    each table, so any input length or frame size works. A time axis given its span in seconds
    (``spans``) starts as a sinusoid of the time at each step's centre (:func:`time_encoding`), so
    audio and visual tokens of the same instant start with the same code whatever their rates.
    """

    def __init__(self, dim: int, sizes: Sequence[int], spans: Sequence[float | None] | None = None) -> None:
        super().__init__()
        spans = spans or [None] * len(sizes)
        self.tables = nn.ParameterList(
            nn.Parameter(torch.randn(n, dim) * 0.02 if span is None else time_encoding(n, span, dim))
            for n, span in zip(sizes, spans))

    def forward(self, sizes: Sequence[int]) -> torch.Tensor:
        """Embedding of shape ``(*sizes, D)``."""
        out = 0
        for axis, (table, size) in enumerate(zip(self.tables, sizes)):
            shape = [1] * len(sizes) + [table.shape[1]]
            shape[axis] = size
            out = out + resize_table(table, size).view(shape)
        return out


def time_encoding(n: int, span_sec: float, dim: int, scale: float = 0.5) -> torch.Tensor:
    """``(n, dim)`` sinusoids of the centre times of ``n`` equal steps over ``span_sec`` seconds;
    periods spread geometrically from 80 ms (two video frames) to 20 s."""
    t = (torch.arange(n) + 0.5) * (span_sec / n)
    periods = torch.logspace(math.log10(0.08), math.log10(20.0), dim // 2)
    angles = 2 * math.pi * t[:, None] / periods[None]
    enc = torch.zeros(n, dim)
    enc[:, 0:2 * (dim // 2):2], enc[:, 1:2 * (dim // 2):2] = angles.sin(), angles.cos()
    return enc * scale


def resize_table(table: torch.Tensor, size: int) -> torch.Tensor:
    """Rows of ``table`` (n, D) linearly interpolated to ``size`` rows."""
    if table.shape[0] == size:
        return table
    if table.shape[0] == 1:
        return table.expand(size, -1)
    return F.interpolate(table.T[None], size=size, mode="linear", align_corners=True)[0].T


class CorrelationHead(nn.Module):
    """Offset logits from cross-correlation: per-time visual (spatial mean) and audio (frequency mean)
    embeddings, the audio resampled to the visual time steps, and for each candidate offset ``o`` the
    mean cosine similarity of video time ``u`` with audio time ``u - o`` (the crop convention: the audio
    window starts ``o`` after the video window), times a learned scale. With ``bin_sec`` > 0 a class
    scores the best lag within ``o +- bin_sec / 2`` (every feature step of its bin), so an offset
    between two class centres still finds its peak; with 0 only the lag nearest ``o`` counts."""

    def __init__(self, v_channels: int, a_channels: int, dim: int, grid_seconds: list[float],
                 bin_sec: float = 0.0) -> None:
        super().__init__()
        self.v_proj = nn.Sequential(nn.Linear(v_channels, dim), nn.GELU(), nn.Linear(dim, dim))
        self.a_proj = nn.Sequential(nn.Linear(a_channels, dim), nn.GELU(), nn.Linear(dim, dim))
        self.log_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.seconds, self.bin_sec = list(grid_seconds), bin_sec

    def lags(self, step_sec: float, t: int) -> list[list[int]]:
        """Feature-step lags scored for each class (clipped to the map's length ``t``)."""
        out, half = [], self.bin_sec / 2 / step_sec
        for o in self.seconds:
            lo, hi = math.ceil(o / step_sec - half - 1e-6), math.floor(o / step_sec + half + 1e-6)
            lags = range(lo, hi + 1) if self.bin_sec > 0 and lo <= hi else [round(o / step_sec)]
            out.append(sorted({max(min(lag, t - 1), 1 - t) for lag in lags}))
        return out

    def forward(self, v: torch.Tensor, a: torch.Tensor, step_sec: float) -> torch.Tensor:
        """Visual map ``(B, t, h, w, Cv)`` with ``step_sec`` seconds per step, audio map ``(B, f, t_a, Ca)``
        over the same span -> logits ``(B, n_classes)``."""
        zv = F.normalize(self.v_proj(v.mean((2, 3))), dim=-1)                      # (B, t, D)
        za = F.normalize(self.a_proj(a.mean(1)), dim=-1)                           # (B, t_a, D)
        t = zv.shape[1]
        za = F.interpolate(za.transpose(1, 2), size=t, mode="linear", align_corners=False).transpose(1, 2)
        per_lag: dict[int, torch.Tensor] = {}
        scores = []
        for lags in self.lags(step_sec, t):
            for lag in lags:
                if lag not in per_lag:
                    pv, pa = (zv[:, lag:], za[:, :t - lag]) if lag >= 0 else (zv[:, :t + lag], za[:, -lag:])
                    per_lag[lag] = (pv * pa).sum(-1).mean(-1)
            scores.append(torch.stack([per_lag[lag] for lag in lags], -1).amax(-1))
        return torch.stack(scores, -1) * self.log_scale.exp()


class SyncModel(nn.Module):
    """Base of every model: checks inputs, normalises frames, computes the spectrogram and runs the
    two CNN encoders. Subclasses implement ``forward(video, audio, return_attention) -> SyncOutput``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.visual = build_visual_encoder(config)
        self.audio = build_audio_encoder(config)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1, 1), persistent=False)

    @property
    def grid(self) -> OffsetGrid:
        """The offset classes of the logits."""
        return self.config.grid

    @property
    def visual_step_sec(self) -> float:
        """Seconds between two time steps of the visual feature map."""
        return math.prod(s[0] for s in self.visual.strides) / self.config.fps

    def feature_grid(self, num_frames: int, height: int, width: int, num_samples: int) -> dict[str, tuple[int, ...]]:
        """Sizes of the feature maps for an input: ``visual`` (t, h, w) and ``audio`` (f, t)."""
        spec = (self.config.n_fft // 2 + 1, num_samples // self.config.hop + 1)
        return {"visual": self.visual.grid((num_frames, height, width)), "audio": self.audio.grid(spec)}

    def check_inputs(self, video: torch.Tensor, audio: torch.Tensor) -> None:
        """Raise UsageError unless video is (B, T, 3, H, W) and audio (B, S) with the same B."""
        if video.ndim != 5 or video.shape[2] != 3:
            raise UsageError(f"video must be (B, T, 3, H, W), got {tuple(video.shape)}")
        if audio.ndim != 2 or audio.shape[0] != video.shape[0]:
            raise UsageError(f"audio must be (B, S) with B = {video.shape[0]}, got {tuple(audio.shape)}")
        if audio.shape[1] < self.config.n_fft // 2 + 1:
            raise UsageError(f"audio of {audio.shape[1]} samples is too short for the spectrogram")

    def encode(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature maps: visual ``(B, t, h, w, Cv)`` and audio ``(B, f, t, Ca)``."""
        self.check_inputs(video, audio)
        b, t, _, h, w = video.shape
        v = video.new_empty(b, 6 if self.config.visual_diff else 3, t, h, w)   # (B, C, T, H, W), filled in place
        torch.sub(video.transpose(1, 2), self.mean, out=v[:, :3]).div_(self.std)
        if self.config.visual_diff:  # motion channels: frame t minus frame t - 1 (zero for the first frame)
            v[:, 3:, :1] = 0.0
            torch.sub(v[:, :3, 1:], v[:, :3, :-1], out=v[:, 3:, 1:])
        spec = log_spectrogram(audio, self.config.n_fft, self.config.hop)
        return self.visual(v), self.audio(spec)
