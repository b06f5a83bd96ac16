import torch

from avsync.features import frames_to_tensor, log_spectrogram


def test_frames_to_tensor_layout_and_range():
    frames = torch.randint(0, 256, (2, 5, 8, 6, 3), dtype=torch.uint8)
    out = frames_to_tensor(frames)
    assert out.shape == (2, 5, 3, 8, 6) and out.dtype == torch.float32
    assert torch.equal(out[1, 2, 0], frames[1, 2, :, :, 0].float() / 255)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_log_spectrogram_shape_matches_sparsesync():
    audio = torch.randn(2, 80000)
    assert log_spectrogram(audio).shape == (2, 1, 257, 626)


def test_log_spectrogram_is_standardised_per_bin_and_loudness_free():
    t = torch.arange(32000) / 16000
    audio = (torch.sin(2 * torch.pi * 440 * t) + 0.1 * torch.randn(32000))[None]
    spec = log_spectrogram(audio)[0, 0]
    assert torch.allclose(spec.mean(-1), torch.zeros(257), atol=1e-4)
    assert torch.allclose(spec.std(-1, unbiased=False), torch.ones(257), atol=1e-3)
    assert torch.allclose(log_spectrogram(audio * 10)[0, 0], spec, atol=0.05)  # up to the 1e-6 floor
