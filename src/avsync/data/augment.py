"""Training augmentations of SparseSync, in torch, switchable one by one in the training config.

Video (float ``(T, 3, H, W)`` in [0, 1]): random resized crop (one region for the whole clip, so
motion is kept), horizontal flip, colour jitter (brightness, contrast, saturation) and grey scale.
Audio (float ``(S,)``): gain, additive noise at a random SNR, time masking and frequency masking
(a band removed in the Fourier domain). None of them moves anything in time: the offset label stays
true. Every random choice comes from the ``torch.Generator`` passed in, so an item is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from avsync.clip import center_crop, resize_square
from avsync.errors import UsageError


@dataclass
class AugmentConfig:
    """Which augmentations run, and how strong they are (all off: ``enabled: false``)."""

    enabled: bool = True
    resized_crop: bool = True
    crop_scale: tuple[float, float] = (0.6, 1.0)
    hflip: float = 0.5
    grey: float = 0.2
    jitter: float = 0.3          # max relative change of brightness, contrast and saturation
    jitter_p: float = 0.8
    gain_db: float = 6.0         # uniform in +-gain_db
    noise_p: float = 0.3
    noise_snr_db: tuple[float, float] = (10.0, 30.0)
    time_masks: int = 1          # up to this many masked stretches...
    time_mask_sec: float = 0.1   # ...each at most this long
    freq_masks: int = 1
    freq_mask_frac: float = 0.1  # each masked band at most this fraction of the spectrum

    def __post_init__(self) -> None:
        # the training config (OmegaConf) hands ranges over as lists; keep them (lo, hi) tuples
        for name in ("crop_scale", "noise_snr_db"):
            value = tuple(getattr(self, name))
            if len(value) != 2 or value[0] > value[1]:
                raise UsageError(f"data.augment.{name} must be two numbers [low, high], not {list(value)}")
            setattr(self, name, value)


def _uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * torch.rand((), generator=gen).item()


def _chance(gen: torch.Generator, p: float) -> bool:
    return p > 0 and torch.rand((), generator=gen).item() < p


def random_resized_crop(video: torch.Tensor, size: int, scale: tuple[float, float], gen: torch.Generator) -> torch.Tensor:
    """One random square-ish region (area fraction in ``scale``, aspect 3/4..4/3) of every frame,
    resized to ``size`` x ``size``."""
    h, w = video.shape[-2:]
    area = h * w * _uniform(gen, *scale)
    ratio = math.exp(_uniform(gen, math.log(3 / 4), math.log(4 / 3)))
    ch = min(h, max(1, round(math.sqrt(area / ratio))))
    cw = min(w, max(1, round(math.sqrt(area * ratio))))
    top = int(torch.randint(0, h - ch + 1, (), generator=gen))
    left = int(torch.randint(0, w - cw + 1, (), generator=gen))
    return resize_square(video[..., top:top + ch, left:left + cw], size)


def _grey(video: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=video.dtype).view(3, 1, 1)
    return (video * weights).sum(dim=-3, keepdim=True)


def colour_jitter(video: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    """Random brightness, contrast and saturation factors in ``1 +- strength``, same for all frames."""
    b, c, s = (_uniform(gen, 1 - strength, 1 + strength) for _ in range(3))
    video = video * b
    mean = _grey(video).mean()
    video = (video - mean) * c + mean
    grey = _grey(video)
    video = (video - grey) * s + grey
    return video.clamp_(0.0, 1.0)


def augment_video(video: torch.Tensor, size: int, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Train-time video augmentation of ``(T, 3, H, W)`` frames to ``(T, 3, size, size)``."""
    if not cfg.enabled:
        return center_crop(video, size)
    if cfg.resized_crop:
        video = random_resized_crop(video, size, cfg.crop_scale, gen)
    else:
        video = center_crop(video, size)
    if _chance(gen, cfg.hflip):
        video = video.flip(-1)
    if cfg.jitter > 0 and _chance(gen, cfg.jitter_p):
        video = colour_jitter(video, cfg.jitter, gen)
    if _chance(gen, cfg.grey):
        video = _grey(video).expand_as(video).contiguous()
    return video


def add_noise(audio: torch.Tensor, snr_db: float, gen: torch.Generator) -> torch.Tensor:
    """White noise at ``snr_db`` below the signal's power (a silent clip gets no noise)."""
    power = audio.square().mean()
    noise = torch.randn(audio.shape, generator=gen, dtype=audio.dtype)
    return audio + noise * torch.sqrt(power / 10 ** (snr_db / 10))


def time_mask(audio: torch.Tensor, max_len: int, gen: torch.Generator) -> torch.Tensor:
    """Silence one random stretch of at most ``max_len`` samples."""
    n = int(torch.randint(0, max_len + 1, (), generator=gen))
    start = int(torch.randint(0, max(1, audio.shape[-1] - n), (), generator=gen))
    audio = audio.clone()
    audio[start:start + n] = 0.0
    return audio


def freq_mask(audio: torch.Tensor, max_frac: float, gen: torch.Generator) -> torch.Tensor:
    """Remove one random frequency band (at most ``max_frac`` of the spectrum) from the waveform."""
    spec = torch.fft.rfft(audio)
    bins = spec.shape[-1]
    n = int(torch.randint(0, int(bins * max_frac) + 1, (), generator=gen))
    start = int(torch.randint(0, max(1, bins - n), (), generator=gen))
    spec[start:start + n] = 0
    return torch.fft.irfft(spec, n=audio.shape[-1])


def augment_audio(audio: torch.Tensor, sample_rate: int, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Train-time audio augmentation of a mono waveform ``(S,)``; the length is kept."""
    if not cfg.enabled:
        return audio
    if cfg.gain_db > 0:
        audio = audio * 10 ** (_uniform(gen, -cfg.gain_db, cfg.gain_db) / 20)
    if _chance(gen, cfg.noise_p):
        audio = add_noise(audio, _uniform(gen, *cfg.noise_snr_db), gen)
    for _ in range(cfg.time_masks):
        audio = time_mask(audio, round(cfg.time_mask_sec * sample_rate), gen)
    for _ in range(cfg.freq_masks):
        audio = freq_mask(audio, cfg.freq_mask_frac, gen)
    return audio
