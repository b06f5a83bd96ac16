"""AVST (Chen et al., BMVC 2021): a transformer scores how well an (audio, video) pair is in sync.

Variants (``config.arch``):
* ``avst-enc``: [CLS, audio tokens, all visual tokens (t*h*w)] in one encoder (cost quadratic in length);
* ``avst-enc-mp``: the same with each frame's visual map max-pooled to one token (t tokens);
* ``avst-dec``: [CLS, audio tokens] are the queries of a decoder whose every layer cross-attends to
  the dense visual tokens (no visual self-attention).
Tokens get a modality encoding, a learned temporal encoding and (dense visual tokens) a factorised
spatial encoding. Audio tokens are the audio feature map max-pooled over frequency (the paper's audio
CNN gives one vector per time step). An MLP on the final CLS gives the sync score (``pair_score``).

Offset classes: ``forward`` scores every candidate shift o of the grid. The audio window starts o after
the video window, so video time u matches audio time u - o. Each candidate is scored on an
equal-length crop of the overlap, L = window - offset_max_sec (3 s for a 5 s window and +-2 s): video
from (max + o) / 2 and audio from (max - o) / 2 (snapped to frames). Equal lengths keep the scores
comparable (a longer overlap would favour small shifts) and let all candidates run as one batch.
Cross-entropy over these logits with the true class is InfoNCE with shifted negatives.

Attention (``return_attention=True``; from scoring the full pair as given, head-averaged, per layer):
``cls_to_visual`` (B, L, t, h, w) (enc; enc-mp has h = w = 1), ``cls_to_audio`` (B, L, t_a) (enc,
enc-mp), ``decoder_cross`` (B, L, 1 + t_a, t, h, w) (dec: row 0 is CLS, then one row per audio
step), plus ``visual_grid`` (t, h, w) and ``audio_grid`` (f, t_a).
"""

from __future__ import annotations

import torch
from torch import nn

from avsync.errors import UsageError
from avsync.models.config import ModelConfig
from avsync.models.layers import (
    Block,
    CorrelationHead,
    FactorisedPos,
    SyncModel,
    SyncOutput,
    run_blocks,
)


class AVST(SyncModel):
    """AVST-enc / AVST-enc-mp / AVST-dec sync scorer with offset-class scores over the grid."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        c, d = config, config.d_model
        self.variant = c.arch.removeprefix("avst-")
        crop = c.replace(duration_sec=c.duration_sec - c.offset_max_sec)  # what forward() feeds in
        if crop.duration_sec <= 0:
            raise UsageError(f"model {c.name}: window {c.duration_sec} s leaves no overlap at +-{c.offset_max_sec} s")
        grids = self.feature_grid(crop.num_frames, c.frame_size, c.frame_size, crop.num_samples)
        (t, h, w), t_a = grids["visual"], grids["audio"][1]
        self.v_bridge = nn.Linear(self.visual.out_channels, d)
        self.a_bridge = nn.Linear(self.audio.out_channels, d)
        self.modality = nn.Parameter(torch.randn(2, d) * 0.02)  # 0: audio, 1: visual
        span = crop.duration_sec
        self.v_time, self.a_time = FactorisedPos(d, [t], [span]), FactorisedPos(d, [t_a], [span])
        self.v_space = FactorisedPos(d, [h, w]) if self.variant != "enc-mp" else None
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        dec = self.variant == "dec"
        self.blocks = nn.ModuleList(Block(d, c.n_heads, c.mlp_ratio, c.dropout, cross=dec) for _ in range(c.sync_layers))
        self.norm = nn.LayerNorm(d)
        # no bias on the score: a constant shifts every candidate's logit alike and gets no gradient
        self.head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, 1, bias=False))
        # optional: the pair's zero-lag audio-visual similarity added to its score (config.corr_dim)
        self.corr = (CorrelationHead(self.visual.out_channels, self.audio.out_channels, c.corr_dim, [0.0])
                     if c.corr_dim else None)

    def _tokens(self, v: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple, tuple]:
        """Feature maps -> visual tokens (B, Nv, D) and audio tokens (B, t_a, D) with encodings, and map sizes."""
        vgrid, agrid = tuple(v.shape[1:4]), tuple(a.shape[1:3])
        a = self.a_bridge(a.amax(1)) + self.a_time([agrid[1]]) + self.modality[0]
        v = self.v_bridge(v) + self.v_time([vgrid[0]])[:, None, None]
        if self.variant == "enc-mp":
            v = v.amax((2, 3))
        else:
            v = (v + self.v_space(vgrid[1:])).flatten(1, 3)
        return v + self.modality[1], a, vgrid, agrid

    def score_features(self, v: torch.Tensor, a: torch.Tensor,
                       need_weights: bool = False) -> tuple[torch.Tensor, dict | None]:
        """Everything after the CNNs: visual map ``(B, t, h, w, Cv)`` and audio map ``(B, f, t_a, Ca)`` ->
        sync score (B,) of each pair, and the attention maps when asked for."""
        corr = self.corr(v, a, self.visual_step_sec)[:, 0] if self.corr is not None else 0.0
        v, a, vgrid, agrid = self._tokens(v, a)
        cls = self.cls.expand(v.shape[0], -1, -1)
        if self.variant == "dec":
            x, w = run_blocks(self.blocks, torch.cat([cls, a], 1), v, need_weights)
        else:
            x, w = run_blocks(self.blocks, torch.cat([cls, a, v], 1), None, need_weights)
        score = self.head(self.norm(x[:, 0]))[:, 0] + corr
        if not need_weights:
            return score, None
        maps: dict = {"visual_grid": vgrid, "audio_grid": agrid}
        if self.variant == "dec":
            maps["decoder_cross"] = w.unflatten(-1, vgrid)
        else:
            t_a, pooled = a.shape[1], vgrid if self.variant == "enc" else (vgrid[0], 1, 1)
            maps["cls_to_audio"] = w[:, :, 0, 1:1 + t_a]
            maps["cls_to_visual"] = w[:, :, 0, 1 + t_a:].unflatten(-1, pooled)
        return score, maps

    def pair_score(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Sync score ``(B,)`` of video ``(B, T, 3, H, W)`` with audio ``(B, S)`` as given (for InfoNCE)."""
        return self.score_features(*self.encode(video, audio))[0]

    def candidate_pairs(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Equal-length overlap crops for every grid shift: video (B, K, T', 3, H, W), audio (B, K, S')."""
        self.check_inputs(video, audio)
        c = self.config
        fps, sr = c.fps, c.sample_rate
        window = min(video.shape[1] / fps, audio.shape[1] / sr)
        nf = round((window - c.offset_max_sec) * fps)
        if nf < 1:
            raise UsageError(f"a {window:.2f} s input is too short to score shifts of +-{c.offset_max_sec} s")
        ns = round(nf / fps * sr)
        vids, auds = [], []
        for o in self.grid.seconds:
            v0 = min(max(round((c.offset_max_sec + o) / 2 * fps), 0), video.shape[1] - nf)
            a0 = min(max(round((v0 / fps - o) * sr), 0), audio.shape[1] - ns)
            vids.append(video[:, v0:v0 + nf])
            auds.append(audio[:, a0:a0 + ns])
        return torch.stack(vids, 1), torch.stack(auds, 1)

    def forward(self, video: torch.Tensor, audio: torch.Tensor, return_attention: bool = False) -> SyncOutput:
        """Offset-class logits ``(B, n_classes)``: the sync score of each candidate shift."""
        vids, auds = self.candidate_pairs(video, audio)
        b, k = auds.shape[:2]
        scores = self.pair_score(vids.flatten(0, 1), auds.flatten(0, 1))
        maps = self.score_features(*self.encode(video, audio), need_weights=True)[1] if return_attention else None
        return SyncOutput(scores.view(b, k), maps)
