"""LagNet: the second-generation engine's model. Per-moment audio and picture embeddings, compared
at every candidate offset.

Picture: every frame (grey, whole frame, aspect ratio kept) and its difference from the previous
frame go through a small CNN; a learned spatial attention (``heads`` softmax maps over the feature
map) pools the regions that matter into one vector per frame, so a small object anywhere in the
frame can count; dilated temporal convolutions then give one embedding per frame (25 Hz).

Sound: log-mel bands plus onset strength (spectral flux) every 10 ms, standardised over the clip or
file, through dilated temporal convolutions: one embedding every 10 ms.

Score: the cosine similarity of the picture's embedding at frame time ``t`` with the sound's at
``t - offset``, times a learned scale, for every offset on a 10 ms grid. A positive offset means
the audio is ahead of the picture (what the picture shows at ``t`` was heard at ``t - offset``).
Costs are linear in the file's length: each frame and each audio step is encoded once, and the
scores are computed in bands of frames (:func:`LagNet.offset_scores`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from avsync.errors import UsageError


@dataclass(frozen=True)
class LagNetConfig:
    """Every number that defines a LagNet. ``height``: picture rows (width follows the aspect ratio,
    capped at ``max_width``); audio steps every ``hop`` samples (10 ms at 16 kHz), which must divide
    a video frame evenly."""

    name: str
    arch: str = "lagnet"
    fps: float = 25.0
    sample_rate: int = 16000
    hop: int = 160
    n_fft: int = 512
    n_mels: int = 64
    height: int = 64
    max_width: int = 160
    widths: tuple[int, ...] = (16, 32, 64)
    feature_dim: int = 96
    heads: int = 4
    frame_dim: int = 128
    hidden: int = 128
    dim: int = 64
    video_dilations: tuple[int, ...] = (1, 2, 4)
    audio_dilations: tuple[int, ...] = (1, 2, 4, 8, 16)
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.arch not in ("lagnet", "lipnet"):
            raise UsageError(f"model {self.name}: a LagNetConfig has arch 'lagnet' or 'lipnet', not {self.arch!r}")
        ratio = self.sample_rate / self.hop / self.fps
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise UsageError(f"model {self.name}: {self.sample_rate / self.hop:g} audio steps per second is not a "
                             f"whole multiple of {self.fps:g} fps")

    @property
    def steps_per_frame(self) -> int:
        """Audio steps per video frame (4: 10 ms steps at 25 fps)."""
        return round(self.sample_rate / self.hop / self.fps)

    @property
    def video_context(self) -> int:
        """Frames each side that a frame's embedding depends on (its temporal receptive field)."""
        return sum(self.video_dilations)

    @property
    def audio_context(self) -> int:
        """Audio steps each side that a step's embedding depends on (temporal convolutions + STFT window)."""
        return sum(self.audio_dilations) + math.ceil(self.n_fft / 2 / self.hop)

    @property
    def step_sec(self) -> float:
        """Seconds between audio steps: the offset grid's spacing."""
        return self.hop / self.sample_rate

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LagNetConfig":
        """Build from a dict; unknown keys are a UsageError naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"model {data.get('name', '?')}: unknown LagNet config keys {', '.join(unknown)}")
        tuples = {f.name for f in dataclasses.fields(cls) if "tuple" in str(f.type)}
        return cls(**{k: tuple(v) if k in tuples else v for k, v in data.items()})


def mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """Triangular mel filterbank ``(n_mels, n_fft // 2 + 1)`` (HTK mel scale, 50 Hz .. Nyquist), made
    on the CPU whatever the default device (a model built on ``meta`` to count parameters too)."""
    import numpy as np

    def mel(f: float) -> float:
        return 2595.0 * math.log10(1.0 + f / 700.0)

    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    hz = 700.0 * (10 ** (np.linspace(mel(50.0), mel(sample_rate / 2.0), n_mels + 2) / 2595.0) - 1.0)
    lo, mid, hi = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    weights = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0.0, None)
    return torch.from_numpy(weights.astype(np.float32))


def standardise(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Zero mean, unit variance along ``dim``."""
    return (x - x.mean(dim, keepdim=True)) / (x.std(dim, keepdim=True, unbiased=False) + 1e-5)


def frame_log_probs(scores: torch.Tensor) -> torch.Tensor:
    """Each frame's log-probabilities over the candidate offsets from its scores ``(..., K)``.
    A candidate the sound does not reach (``-inf``) stands at the frame's mean score while the
    distribution is normalised and is ``-inf`` after, so a frame near the file's edge, which can
    be compared at fewer offsets, does not favour the ones it has."""
    valid = torch.isfinite(scores)
    n = valid.sum(-1, keepdim=True).clamp(min=1)
    mean = torch.where(valid, scores, torch.zeros((), dtype=scores.dtype, device=scores.device)).sum(-1, keepdim=True) / n
    logp = torch.log_softmax(torch.where(valid, scores, mean), -1)
    return logp.masked_fill(~valid, -math.inf)


def filled_log_probs(scores: torch.Tensor) -> torch.Tensor:
    """Each frame's log-probabilities over the candidates (:func:`frame_log_probs`), where a candidate
    the sound does not reach takes the frame's mean log-probability over the ones it does. So every
    offset is judged on the same frames: without this, an offset near the range's edge is judged on
    only the frames that reach it, and a stretch of weak (flat) evidence there outscores the truth."""
    lp = frame_log_probs(scores)
    valid = torch.isfinite(lp)
    n = valid.sum(-1, keepdim=True)
    mean = torch.where(valid, lp, torch.zeros((), dtype=lp.dtype, device=lp.device)).sum(-1, keepdim=True) / n.clamp(min=1)
    out = torch.where(valid, lp, mean)
    return out.masked_fill(n == 0, -math.inf)


class TemporalStack(nn.Module):
    """1-D convolutions over time: a projection, residual dilated blocks, a projection out."""

    def __init__(self, cin: int, hidden: int, cout: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.inp = nn.Conv1d(cin, hidden, 1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.GroupNorm(1, hidden), nn.GELU(), nn.Conv1d(hidden, hidden, 3, padding=d, dilation=d))
            for d in dilations)
        self.out = nn.Sequential(nn.GroupNorm(1, hidden), nn.GELU(), nn.Conv1d(hidden, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, cin, T)`` -> ``(B, cout, T)``."""
        x = self.inp(x)
        for block in self.blocks:
            x = x + block(x)
        return self.out(x)


def _moments(frames: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation ``(B, 1, 1, 1)`` of each clip's pixels, summed ``chunk`` frames at a time."""
    b, t = frames.shape[:2]
    total = torch.zeros(b, dtype=torch.float64, device=frames.device)
    square = torch.zeros_like(total)
    for i in range(0, t, chunk):
        x = frames[:, i:i + chunk].double()
        total += x.sum(dim=(1, 2, 3))
        square += x.square().sum(dim=(1, 2, 3))
    n = max(1, frames[0].numel())
    mean = total / n
    std = (square / n - mean.square()).clamp(min=0).sqrt()
    return mean.float().view(b, 1, 1, 1), std.float().view(b, 1, 1, 1)


def _conv(cin: int, cout: int, stride: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(4, cout), nn.GELU())


class LagNet(nn.Module):
    """Per-moment picture and sound embeddings and their similarity at every offset (see the module
    docstring). Inputs: grey frames uint8 ``(B, T, H, W)`` at ``config.fps``; mono audio float
    ``(B, S)`` at ``config.sample_rate`` starting at the first frame."""

    def __init__(self, config: LagNetConfig) -> None:
        super().__init__()
        self.config = c = config
        layers, cin = [], 2
        for w in c.widths:
            layers.append(_conv(cin, w, 2))
            cin = w
        self.frame_cnn = nn.Sequential(*layers, nn.Conv2d(cin, c.feature_dim, 1), nn.GELU())
        self.attention = nn.Conv2d(c.feature_dim, c.heads, 1)
        self.pool_proj = nn.Linear(c.heads * c.feature_dim, c.frame_dim)
        self.video_time = TemporalStack(c.frame_dim, c.hidden, c.dim, c.video_dilations)
        self._add_sound_branch(c)

    def _add_sound_branch(self, c: LagNetConfig) -> None:
        """The sound's side and the score's scale (shared with the lip scorer, whose picture is a mouth)."""
        self.audio_time = TemporalStack(c.n_mels + 1, c.hidden, c.dim, c.audio_dilations)
        self.register_buffer("mel", mel_filters(c.sample_rate, c.n_fft, c.n_mels), persistent=False)
        self.register_buffer("window", torch.hann_window(c.n_fft), persistent=False)
        self.log_scale = nn.Parameter(torch.tensor(math.log(10.0)))

    # ---- picture

    def frame_features(self, frames: torch.Tensor, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """Grey frames ``(B, T, H, W)`` -> per-frame vectors ``(B, T, frame_dim)`` and the spatial
        attention ``(B, T, heads, h, w)``. Frames are standardised over the whole input, each one
        paired with its difference from the previous frame; encoded ``chunk`` frames at a time, so a
        long file is never held as floats."""
        b, t = frames.shape[:2]
        mean, std = _moments(frames, chunk)
        feats, maps = [], []
        for i in range(0, t, chunk):
            x = (frames[:, max(i - 1, 0):i + chunk].float() - mean) / (std + 1.0)
            diff = x[:, 1:] - x[:, :-1]
            if i == 0:
                diff = torch.cat([torch.zeros_like(x[:, :1]), diff], 1)
            else:
                x = x[:, 1:]
            n = x.shape[1]
            f = self.frame_cnn(torch.stack([x, 4.0 * diff], 2).flatten(0, 1))   # (B*n, C, h, w)
            a = self.attention(f).flatten(2).softmax(-1)                        # (B*n, heads, h*w)
            pooled = torch.einsum("nkl,ncl->nkc", a, f.flatten(2))              # (B*n, heads, C)
            feats.append(self.pool_proj(pooled.flatten(1)).view(b, n, -1))
            maps.append(a.view(b, n, -1, *f.shape[2:]))
        return torch.cat(feats, 1), torch.cat(maps, 1)

    def embed_video(self, frames: torch.Tensor) -> torch.Tensor:
        """Grey frames ``(B, T, H, W)`` -> unit embeddings ``(B, T, dim)``, one per frame."""
        feats, _ = self.frame_features(frames)
        return F.normalize(self.video_time(feats.transpose(1, 2)).transpose(1, 2), dim=-1)

    # ---- sound

    def log_mel(self, audio: torch.Tensor, chunk: int = 6000) -> torch.Tensor:
        """Waveform ``(B, S)`` -> log-mel bands ``(B, n_mels, S // hop + 1)``; frame ``j`` is centred on
        sample ``j * hop`` (reflected at the ends); computed ``chunk`` frames at a time."""
        c = self.config
        pad = c.n_fft // 2
        x = audio.float()
        x = F.pad(x[:, None], (pad, pad), mode="reflect" if x.shape[1] > pad else "constant")[:, 0]
        total = audio.shape[1] // c.hop + 1
        out = []
        for j in range(0, total, chunk):
            k = min(total, j + chunk)
            seg = x[:, j * c.hop:(k - 1) * c.hop + c.n_fft]
            spec = torch.stft(seg, c.n_fft, c.hop, window=self.window, center=False, return_complex=True)
            power = spec.real.square() + spec.imag.square()
            out.append(torch.log(torch.einsum("mf,bft->bmt", self.mel, power) + 1e-6))
        return torch.cat(out, -1)

    def audio_features(self, audio: torch.Tensor) -> torch.Tensor:
        """Waveform ``(B, S)`` -> log-mel bands and onset strength ``(B, n_mels + 1, S // hop + 1)``,
        each row standardised over time."""
        logmel = self.log_mel(audio)
        flux = F.relu(logmel[:, :, 1:] - logmel[:, :, :-1]).mean(1, keepdim=True)
        flux = torch.cat([torch.zeros_like(flux[:, :, :1]), flux], -1)
        return torch.cat([standardise(logmel), standardise(flux)], 1)

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """Waveform ``(B, S)`` -> unit embeddings ``(B, S // hop + 1, dim)``, one every ``hop`` samples."""
        return F.normalize(self.audio_time(self.audio_features(audio)).transpose(1, 2), dim=-1)

    # ---- scores

    @property
    def scale(self) -> torch.Tensor:
        """The learned factor of the cosine similarities (kept in 1..100)."""
        return self.log_scale.clamp(0.0, math.log(100.0)).exp()

    def offset_scores(self, video: torch.Tensor, audio: torch.Tensor, offsets: torch.Tensor,
                      first_frame: torch.Tensor | None = None, band: int = 256) -> torch.Tensor:
        """Scores ``(B, T, K)`` of the picture embeddings ``(B, T, D)`` against the sound embeddings
        ``(B, A, D)`` at each of ``offsets`` (``(K,)`` ints, in audio steps; > 0: audio ahead):
        frame ``t`` meets audio step ``steps_per_frame * (first_frame + t) - offset``. Pairs whose
        audio step falls outside the sound are ``-inf``. Computed ``band`` frames at a time."""
        b, t, _ = video.shape
        a_len = audio.shape[1]
        r = self.config.steps_per_frame
        first = torch.zeros(b, dtype=torch.long, device=video.device) if first_frame is None else first_frame.long()
        out = []
        for i in range(0, t, band):
            v = video[:, i:i + band]                                    # (B, n, D)
            frames = torch.arange(i, i + v.shape[1], device=video.device)
            steps = r * (first[:, None, None] + frames[None, :, None]) - offsets[None, None, :]   # (B, n, K)
            lo = int(steps.min().clamp(min=0))
            hi = int(steps.max().clamp(max=a_len - 1)) + 1
            if hi <= lo:
                out.append(torch.full((b, v.shape[1], len(offsets)), -math.inf, device=video.device))
                continue
            sims = torch.einsum("bnd,bad->bna", v, audio[:, lo:hi])     # (B, n, hi - lo)
            idx = (steps - lo).clamp(0, hi - lo - 1)
            s = torch.gather(sims, 2, idx) * self.scale
            out.append(s.masked_fill((steps < 0) | (steps >= a_len), -math.inf))
        return torch.cat(out, 1)

    def forward(self, frames: torch.Tensor, audio: torch.Tensor, offsets: torch.Tensor,
                first_frame: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``(B, T, K)`` of every frame at every offset (see :meth:`offset_scores`)."""
        return self.offset_scores(self.embed_video(frames), self.embed_audio(audio), offsets, first_frame)
