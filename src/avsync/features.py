"""Turning decoded media into model inputs; shared by training and inference so both see the same numbers.

``frames_to_tensor`` makes float frames in [0, 1] (ImageNet normalisation happens inside the model);
``log_spectrogram`` makes SparseSync's audio input: linear power STFT (n_fft 512, hop 128 at 16 kHz),
``log(x + 1e-6)``, then every frequency bin standardised over time within each clip.
"""

from __future__ import annotations

import torch


def frames_to_tensor(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames ``(..., T, H, W, 3)`` -> float32 ``(..., T, 3, H, W)`` in [0, 1]."""
    frames = torch.as_tensor(frames)
    if frames.ndim < 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (..., T, H, W, 3), got {tuple(frames.shape)}")
    return frames.movedim(-1, -3).to(torch.float32).div_(255.0)


def log_spectrogram(audio: torch.Tensor, n_fft: int = 512, hop: int = 128, eps: float = 1e-6) -> torch.Tensor:
    """Waveform ``(B, S)`` -> log power spectrogram ``(B, 1, n_fft // 2 + 1, S // hop + 1)``.

    Each frequency bin is standardised over time within each clip (zero mean, unit variance), so the
    result does not depend on the clip's loudness. A 5 s clip at 16 kHz gives ``(B, 1, 257, 626)``.
    """
    if audio.ndim != 2:
        raise ValueError(f"audio must be (B, S), got {tuple(audio.shape)}")
    window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio, n_fft, hop_length=hop, window=window, center=True, return_complex=True)
    logp = spec.real.square().add_(spec.imag.square()).add_(eps).log_()
    mean = logp.mean(dim=-1, keepdim=True)
    std = logp.std(dim=-1, keepdim=True, unbiased=False)
    return logp.sub_(mean).div_(std + 1e-5).unsqueeze(1)
