"""Training losses: SparseSync's cross-entropy over offset classes and AVST's InfoNCE curriculum.

AVST scores a pair; its ``forward`` scores every grid shift of the given audio against the video, so
cross-entropy over those scores with the true shift as the positive is InfoNCE with shifted crops of
the same video as negatives (the hard stage 2). The easy stage 1 uses the aligned crop of every
example as the positive and the aligned audio of the other videos in the batch as negatives.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from avsync.models.lagnet import frame_log_probs


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


def soft_targets(offsets: torch.Tensor, sigma: float) -> torch.Tensor:
    """A Gaussian over candidate ``offsets`` ``(K,)`` (in steps) around 0 with ``sigma`` steps, summing to 1."""
    w = torch.exp(-0.5 * (offsets.float() / max(sigma, 1e-3)) ** 2)
    return w / w.sum()


def offset_infonce(scores: torch.Tensor, offsets: torch.Tensor, sigma: float, others: torch.Tensor | None = None,
                   clip_weight: float = 0.5, frames_per_view: float = 4.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The engine's loss on in-sync clips: (loss, per-clip evidence ``(B, K)``).

    ``scores`` ``(B, T, K)``: every frame against the sound at each candidate offset (``-inf`` where
    the sound has no sample); ``others`` ``(B, T, N)``: optional scores of each frame against other
    clips' sound (more negatives). Per moment: cross-entropy of the frame's distribution over the
    candidates against a Gaussian (``sigma`` steps) around offset 0. Per clip: the moments' log
    probabilities averaged over the frames (the product of experts the checker accumulates),
    multiplied by ``T / frames_per_view`` (neighbouring frames are not independent evidence),
    against the same target, weighted by ``clip_weight``."""
    q = soft_targets(offsets, sigma).to(scores.device)
    logits = scores if others is None else torch.cat([scores, others], -1)
    logp = frame_log_probs(logits.float())[..., :scores.shape[-1]]
    valid = torch.isfinite(scores)
    moment = -(q * logp.masked_fill(~valid, 0.0)).sum(-1).mean()
    counts = valid.sum(1).clamp(min=1)
    evidence = logp.masked_fill(~valid, 0.0).sum(1) / counts                       # (B, K)
    enough = counts >= 0.5 * scores.shape[1]
    clip_logits = (evidence * scores.shape[1] / frames_per_view).masked_fill(~enough, -1e4)
    clip = -(q * torch.log_softmax(clip_logits, -1)).sum(-1).mean()
    return moment + clip_weight * clip, evidence.masked_fill(~enough, -math.inf)
