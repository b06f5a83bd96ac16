"""Augmentations: shapes kept, reproducible from the generator, each switch does what it says."""

import torch

from avsync.data.augment import (
    AugmentConfig,
    augment_audio,
    augment_video,
    center_crop,
    freq_mask,
    time_mask,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_video_augment_shape_range_and_reproducibility() -> None:
    video = torch.rand(10, 3, 40, 56)
    cfg = AugmentConfig()
    a = augment_video(video, 32, cfg, _gen(1))
    b = augment_video(video, 32, cfg, _gen(1))
    c = augment_video(video, 32, cfg, _gen(2))
    assert a.shape == (10, 3, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1


def test_disabled_augment_is_a_centre_crop() -> None:
    video = torch.rand(4, 3, 36, 48)
    out = augment_video(video, 36, AugmentConfig(enabled=False), _gen())
    assert torch.equal(out, video[..., :, 6:42])
    assert torch.equal(center_crop(video, 36), out)


def test_flip_and_grey_switches() -> None:
    video = torch.rand(3, 3, 16, 16)
    only_flip = AugmentConfig(resized_crop=False, hflip=1.0, grey=0.0, jitter=0.0)
    assert torch.equal(augment_video(video, 16, only_flip, _gen()), video.flip(-1))
    only_grey = AugmentConfig(resized_crop=False, hflip=0.0, grey=1.0, jitter=0.0)
    g = augment_video(video, 16, only_grey, _gen())
    assert torch.allclose(g[:, 0], g[:, 1]) and torch.allclose(g[:, 1], g[:, 2])


def test_the_same_crop_region_for_every_frame() -> None:
    frame = torch.rand(1, 3, 40, 40)
    video = frame.expand(6, -1, -1, -1).contiguous()
    out = augment_video(video, 24, AugmentConfig(hflip=0.5, jitter=0.3), _gen(3))
    assert all(torch.equal(out[0], out[i]) for i in range(6))


def test_audio_augment_keeps_length_and_masks_zero_out() -> None:
    audio = torch.randn(16000)
    out = augment_audio(audio, 16000, AugmentConfig(), _gen())
    assert out.shape == audio.shape and not torch.equal(out, audio)
    assert torch.equal(augment_audio(audio, 16000, AugmentConfig(enabled=False), _gen()), audio)
    masked = time_mask(torch.ones(1000), 200, _gen(5))
    assert 0 < (masked == 0).sum() <= 200
    noise = torch.randn(4000, dtype=torch.float64)
    removed = freq_mask(noise, 0.5, _gen(0))
    spectrum = torch.fft.rfft(removed).abs()
    assert removed.shape == noise.shape and 0 < (spectrum < 1e-6).sum() <= 0.5 * spectrum.numel() + 1
