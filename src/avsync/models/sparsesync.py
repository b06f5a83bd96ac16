"""SparseSync (Iashin et al., BMVC 2022): CNN features -> trainable selectors per modality -> sync
transformer over [OFF, visual selectors, MOD, audio selectors] -> linear head on OFF (offset classes).

Attention maps (``return_attention=True``), head-averaged, per selector layer:
``visual_selectors`` (B, L, n_selectors, t, h, w) and ``audio_selectors`` (B, L, n_selectors, f, t_a),
plus ``visual_grid`` (t, h, w) and ``audio_grid`` (f, t_a) of the feature maps they index.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from avsync.models.config import ModelConfig
from avsync.models.layers import Block, FactorisedPos, SyncModel, SyncOutput, run_blocks
from avsync.models.selectors import Selectors


class CorrelationHead(nn.Module):
    """Offset logits from cross-correlation: per-time visual (spatial mean) and audio (frequency mean)
    embeddings, the audio resampled to the visual time steps, and for each candidate offset ``o`` the
    mean cosine similarity of video time ``u`` with audio time ``u - o`` (the crop convention: the audio
    window starts ``o`` after the video window), times a learned scale."""

    def __init__(self, v_channels: int, a_channels: int, dim: int, grid_seconds: list[float]) -> None:
        super().__init__()
        self.v_proj = nn.Sequential(nn.Linear(v_channels, dim), nn.GELU(), nn.Linear(dim, dim))
        self.a_proj = nn.Sequential(nn.Linear(a_channels, dim), nn.GELU(), nn.Linear(dim, dim))
        self.log_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.seconds = list(grid_seconds)

    def forward(self, v: torch.Tensor, a: torch.Tensor, step_sec: float) -> torch.Tensor:
        """Visual map ``(B, t, h, w, Cv)`` with ``step_sec`` seconds per step, audio map ``(B, f, t_a, Ca)``
        over the same span -> logits ``(B, n_classes)``."""
        zv = F.normalize(self.v_proj(v.mean((2, 3))), dim=-1)                      # (B, t, D)
        za = F.normalize(self.a_proj(a.mean(1)), dim=-1)                           # (B, t_a, D)
        t = zv.shape[1]
        za = F.interpolate(za.transpose(1, 2), size=t, mode="linear", align_corners=False).transpose(1, 2)
        scores = []
        for o in self.seconds:
            lag = max(min(round(o / step_sec), t - 1), 1 - t)
            pv, pa = (zv[:, lag:], za[:, :t - lag]) if lag >= 0 else (zv[:, :t + lag], za[:, -lag:])
            scores.append((pv * pa).sum(-1).mean(-1))
        return torch.stack(scores, -1) * self.log_scale.exp()


class SparseSync(SyncModel):
    """SparseSync offset classifier; cost is linear in the input length (the selectors are fixed in number)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        c, d = config, config.d_model
        grids = self.feature_grid(c.num_frames, c.frame_size, c.frame_size, c.num_samples)
        self.v_bridge = nn.Linear(self.visual.out_channels, d)
        self.a_bridge = nn.Linear(self.audio.out_channels, d)
        span = c.duration_sec
        self.v_pos = FactorisedPos(d, grids["visual"], [span, None, None])
        self.a_pos = FactorisedPos(d, grids["audio"], [None, span])
        self.v_sel = Selectors(c.n_selectors, d, c.n_heads, c.selector_layers, c.mlp_ratio, c.dropout)
        self.a_sel = Selectors(c.n_selectors, d, c.n_heads, c.selector_layers, c.mlp_ratio, c.dropout)
        self.off_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.mod_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        # position of each of the 2n + 2 sync tokens, so the transformer knows which selector is which
        self.sync_pos = nn.Parameter(torch.randn(1, 2 * c.n_selectors + 2, d) * 0.02)
        self.sync = nn.ModuleList(Block(d, c.n_heads, c.mlp_ratio, c.dropout) for _ in range(c.sync_layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, c.grid.num_classes)
        self.corr = (CorrelationHead(self.visual.out_channels, self.audio.out_channels, c.corr_dim, c.grid.seconds)
                     if c.corr_dim else None)

    def tokens(self, v: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple, tuple]:
        """Feature maps -> bridged tokens with positional embeddings: visual (B, t*h*w, D), audio (B, f*t_a, D)."""
        vgrid, agrid = tuple(v.shape[1:4]), tuple(a.shape[1:3])
        v = (self.v_bridge(v) + self.v_pos(vgrid)).flatten(1, 3)
        a = (self.a_bridge(a) + self.a_pos(agrid)).flatten(1, 2)
        return v, a, vgrid, agrid

    def forward(self, video: torch.Tensor, audio: torch.Tensor, return_attention: bool = False) -> SyncOutput:
        """Offset-class logits ``(B, n_classes)`` for video ``(B, T, 3, H, W)`` and audio ``(B, S)``."""
        return self.from_features(*self.encode(video, audio), return_attention=return_attention)

    def from_features(self, v: torch.Tensor, a: torch.Tensor, return_attention: bool = False) -> SyncOutput:
        """Everything after the CNNs: visual map ``(B, t, h, w, Cv)`` and audio map ``(B, f, t_a, Ca)`` -> logits."""
        v_map, a_map = v, a
        v, a, vgrid, agrid = self.tokens(v, a)
        vs, vw = self.v_sel(v, return_attention)
        as_, aw = self.a_sel(a, return_attention)
        b = v.shape[0]
        x = torch.cat([self.off_token.expand(b, -1, -1), vs, self.mod_token.expand(b, -1, -1), as_], 1)
        x, _ = run_blocks(self.sync, x + self.sync_pos)
        logits = self.head(self.norm(x[:, 0]))
        if self.corr is not None:
            logits = logits + self.corr(v_map, a_map, math.prod(s[0] for s in self.visual.strides) / self.config.fps)
        if not return_attention:
            return SyncOutput(logits)
        attention = {"visual_selectors": vw.unflatten(-1, vgrid), "audio_selectors": aw.unflatten(-1, agrid),
                     "visual_grid": vgrid, "audio_grid": agrid}
        return SyncOutput(logits, attention)
