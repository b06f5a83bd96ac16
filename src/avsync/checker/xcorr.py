"""A training-free offset estimator (``--method xcorr``): audio onset strength against visual motion
energy, cross-correlated over the candidate offsets.

For every window: the audio's onset strength (half-wave rectified spectral flux of the log magnitude
spectrum, one value per video frame) and the motion energy (mean absolute grey-level change between
consecutive frames) of each cell of a ``regions x regions`` grid, plus the whole frame. For every
candidate offset ``o`` (every frame, from -max to +max) the Pearson correlation of onset(t) with
motion(t + o) over the overlap is computed per region, and the score of ``o`` is the maximum over the
regions: the sound-making thing may occupy a small part of the picture (sparse in space). Offsets are
scored on a one-frame grid (40 ms at 25 fps), so it needs no sub-class refinement to be fine.

Sign convention: ``o > 0`` means the audio is ahead, i.e. a sound at audio time t shows at video time t + o.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from avsync.offsets import OffsetGrid


def onset_strength(audio: torch.Tensor, sample_rate: int, fps: float, frames: int) -> torch.Tensor:
    """Onset strength ``(B, frames)`` of audio ``(B, S)``, one value per video frame: positive spectral
    flux of log(1 + magnitude); value ``i`` measures the change between frame times ``i - 1`` and ``i``."""
    hop = int(round(sample_rate / fps))
    n_fft = 2 * hop
    window = torch.hann_window(n_fft, device=audio.device)
    mag = torch.stft(audio.float(), n_fft, hop_length=hop, window=window, center=True, return_complex=True).abs()
    logmag = torch.log1p(100.0 * mag)                       # (B, F, frames + 1)
    flux = F.relu(logmag[..., 1:] - logmag[..., :-1]).sum(1)  # (B, n - 1)
    flux = F.pad(flux, (1, 0))
    return _fit_last(flux, frames)


def motion_energy(video: torch.Tensor, regions: int) -> torch.Tensor:
    """Motion energy ``(B, T, regions**2 + 1)`` of video ``(B, T, 3, H, W)`` in [0, 1]: mean absolute
    grey-level change from the previous frame in each grid cell, and over the whole frame (last)."""
    grey = video.float().mean(2)                              # (B, T, H, W)
    diff = F.pad((grey[:, 1:] - grey[:, :-1]).abs(), (0, 0, 0, 0, 1, 0))
    b, t, h, w = diff.shape
    cells = F.adaptive_avg_pool2d(diff.reshape(b * t, 1, h, w), regions).reshape(b, t, regions * regions)
    return torch.cat([cells, diff.mean((2, 3))[..., None]], -1)


def _fit_last(x: torch.Tensor, n: int) -> torch.Tensor:
    return x[..., :n] if x.shape[-1] >= n else F.pad(x, (0, n - x.shape[-1]))


def lagged_correlation(onset: torch.Tensor, motion: torch.Tensor, max_lag: int, min_overlap: int) -> torch.Tensor:
    """Pearson correlation ``(B, 2 * max_lag + 1, R)`` of onset ``(B, T)`` at time t with motion
    ``(B, T, R)`` at time t + lag, for lag = -max_lag..max_lag (0 where the overlap is too short or
    a series is constant)."""
    b, t, r = motion.shape
    out = torch.zeros(b, 2 * max_lag + 1, r)
    for i, lag in enumerate(range(-max_lag, max_lag + 1)):
        lo, hi = max(0, -lag), min(t, t - lag)
        if hi - lo < min_overlap:
            continue
        a = onset[:, lo:hi, None]
        m = motion[:, lo + lag:hi + lag]
        a, m = a - a.mean(1, keepdim=True), m - m.mean(1, keepdim=True)
        den = (a.square().sum(1) * m.square().sum(1)).sqrt()
        out[:, i] = torch.where(den > 1e-12, (a * m).sum(1) / den.clamp_min(1e-12), torch.zeros_like(den))
    return out


class XcorrEstimator:
    """Training-free estimator with the interface of :class:`avsync.checker.ModelEstimator`.

    Logits are ``sharpness`` times the best regional correlation at each candidate offset; the
    checker's temperature (fitted by ``avsync calibrate --method xcorr``) turns them into probabilities.
    """

    name = "xcorr"

    def __init__(self, max_sec: float = 2.0, fps: float = 25.0, sample_rate: int = 16000, frame_size: int = 64,
                 regions: int = 4, window_sec: float = 5.0, sharpness: float = 20.0) -> None:
        self.grid = OffsetGrid(max_sec, round(1.0 / fps, 6))
        self.fps, self.sample_rate, self.frame_size, self.resize = float(fps), int(sample_rate), int(frame_size), int(frame_size)
        self.regions, self.window_sec, self.sharpness = int(regions), float(window_sec), float(sharpness)

    @torch.inference_mode()
    def scores(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, C)`` over the one-frame offset grid."""
        frames = video.shape[1]
        onset = onset_strength(audio, self.sample_rate, self.fps, frames)
        motion = motion_energy(video, self.regions)
        max_lag = self.grid.zero_class
        corr = lagged_correlation(onset, motion, max_lag, min_overlap=max(4, frames // 4))
        return self.sharpness * corr.amax(-1)
