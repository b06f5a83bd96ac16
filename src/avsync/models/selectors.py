"""Trainable selectors (SparseSync): a fixed number of learned queries that pick sync cues out of one
modality's tokens. Each block: self-attention over the queries, cross-attention into the tokens,
MLP (pre-LN). Without positional embeddings on the tokens the result does not depend on their order."""

from __future__ import annotations

import torch
from torch import nn

from avsync.models.layers import Block, run_blocks


class Selectors(nn.Module):
    """``n`` learned queries refined by ``layers`` blocks of (self-attn, cross-attn to tokens, MLP)."""

    def __init__(self, n: int, dim: int, heads: int, layers: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(1, n, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout, cross=True) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Tokens ``(B, N, D)`` -> selected ``(B, n, D)`` and cross-attention ``(B, layers, n, N)`` if asked."""
        q = self.queries.expand(tokens.shape[0], -1, -1)
        q, weights = run_blocks(self.blocks, q, tokens, need_weights)
        return self.norm(q), weights
