"""Training losses: SparseSync's cross-entropy over offset classes and AVST's InfoNCE curriculum.

AVST scores a pair; its ``forward`` scores every grid shift of the given audio against the video, so
cross-entropy over those scores with the true shift as the positive is InfoNCE with shifted crops of
the same video as negatives (the hard stage 2). The easy stage 1 uses the aligned crop of every
example as the positive and the aligned audio of the other videos in the batch as negatives.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_entropy(scores: torch.Tensor, positive: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Cross-entropy of each row of ``scores`` ``(B, K)`` against the index of its positive ``(B,)``.

    On SparseSync's offset-class logits this is its classification loss; on AVST's shift scores or
    on :func:`cross_video_scores` (positive: the diagonal) it is InfoNCE."""
    return F.cross_entropy(scores.float() / temperature, positive)


def cross_video_scores(model: torch.nn.Module, video: torch.Tensor, audio: torch.Tensor,
                       target: torch.Tensor) -> torch.Tensor:
    """Scores ``(B, B)`` of every video's aligned crop (row) with every video's aligned audio
    (column); the diagonal holds the positives. Needs an AVST-style ``candidate_pairs``/``pair_score``."""
    vids, auds = model.candidate_pairs(video, audio)
    idx = torch.arange(video.shape[0], device=video.device)
    v, a = vids[idx, target], auds[idx, target]
    b = v.shape[0]
    scores = model.pair_score(v.repeat_interleave(b, 0), a.repeat(b, *([1] * (a.ndim - 1))))
    return scores.view(b, b)
