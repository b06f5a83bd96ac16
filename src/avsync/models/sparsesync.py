"""SparseSync (Iashin et al., BMVC 2022): CNN features -> trainable selectors per modality -> sync
transformer over [OFF, visual selectors, MOD, audio selectors] -> linear head on OFF (offset classes),
plus, when ``corr_dim`` > 0, the correlation head's per-class scores (ours; docs/models.md).

Attention maps (``return_attention=True``), head-averaged, per selector layer:
``visual_selectors`` (B, L, n_selectors, t, h, w) and ``audio_selectors`` (B, L, n_selectors, f, t_a),
plus ``visual_grid`` (t, h, w) and ``audio_grid`` (f, t_a) of the feature maps they index.
"""

from __future__ import annotations

import torch
from torch import nn

from avsync.models.config import ModelConfig
from avsync.models.layers import (
    Block,
    CorrelationHead,
    FactorisedPos,
    SyncModel,
    SyncOutput,
    run_blocks,
)
from avsync.models.selectors import Selectors


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
        self.corr = (CorrelationHead(self.visual.out_channels, self.audio.out_channels, c.corr_dim, c.grid.seconds,
                                     c.offset_step_sec if c.corr_bin_max else 0.0) if c.corr_dim else None)

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
        corr = self.corr(v, a, self.visual_step_sec) if self.corr is not None else 0.0
        v, a, vgrid, agrid = self.tokens(v, a)
        vs, vw = self.v_sel(v, return_attention)
        as_, aw = self.a_sel(a, return_attention)
        b = v.shape[0]
        x = torch.cat([self.off_token.expand(b, -1, -1), vs, self.mod_token.expand(b, -1, -1), as_], 1)
        x, _ = run_blocks(self.sync, x + self.sync_pos)
        logits = self.head(self.norm(x[:, 0])) + corr
        if not return_attention:
            return SyncOutput(logits)
        attention = {"visual_selectors": vw.unflatten(-1, vgrid), "audio_selectors": aw.unflatten(-1, agrid),
                     "visual_grid": vgrid, "audio_grid": agrid}
        return SyncOutput(logits, attention)
