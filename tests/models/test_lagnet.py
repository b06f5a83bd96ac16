"""LagNet: the engine's model. Scores follow the sign convention, chunked encoding equals whole
encoding (long files are encoded in pieces), and the weights round-trip through safetensors."""

import pytest
import torch

from avsync.errors import UsageError
from avsync.models import LagNet, LagNetConfig, create, get_config, load_model_file, save_model


def small() -> LagNet:
    return create("lagnet-default", widths=[8, 8, 8], feature_dim=16, frame_dim=16, hidden=16, dim=8).eval()


def test_scores_peak_where_the_audio_embedding_matches_at_the_offset():
    """Frame t meets audio step 4t - offset: an audio embedding copied from frame t to step 4t - 12
    (the sound came 0.12 s early: audio ahead, offset +12 steps) scores highest at +12."""
    model = small()
    g = torch.Generator().manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(1, 30, 8, generator=g), dim=-1)
    a = torch.nn.functional.normalize(torch.randn(1, 140, 8, generator=g), dim=-1)
    for t in range(30):
        if 0 <= 4 * t - 12 < 140:
            a[0, 4 * t - 12] = v[0, t]
    offsets = torch.arange(-20, 21)
    s = model.offset_scores(v, a, offsets)
    assert s.shape == (1, 30, 41)
    total = torch.where(torch.isfinite(s), s, torch.zeros(())).sum(1)[0]
    assert int(offsets[total.argmax()]) == 12
    # frame 0 at offset +12 would need audio step -12: there is none
    assert torch.isinf(s[0, 0, offsets.tolist().index(12)])


def test_banded_scores_equal_one_band_and_first_frame_shifts_the_audio():
    model = small()
    v = torch.nn.functional.normalize(torch.randn(2, 20, 8), dim=-1)
    a = torch.nn.functional.normalize(torch.randn(2, 120, 8), dim=-1)
    offsets = torch.arange(-8, 9)
    with torch.no_grad():
        whole = model.offset_scores(v, a, offsets, band=1000)
        banded = model.offset_scores(v, a, offsets, band=3)
        later = model.offset_scores(v[:, 5:], a, offsets, torch.tensor([5, 5]))
    for other in (banded, later):
        ref = whole if other is banded else whole[:, 5:]
        assert torch.equal(torch.isinf(other), torch.isinf(ref))
        assert torch.allclose(other[torch.isfinite(other)], ref[torch.isfinite(ref)], atol=1e-5)


def test_chunked_encoding_equals_whole_encoding():
    model = small()
    frames = torch.randint(0, 255, (1, 23, 32, 48), dtype=torch.uint8)
    with torch.no_grad():
        f_whole, maps = model.frame_features(frames, chunk=64)
        f_chunks, _ = model.frame_features(frames, chunk=5)
        assert torch.allclose(f_whole, f_chunks, atol=1e-5)
        assert maps.shape[:3] == (1, 23, model.config.heads)
        audio = torch.randn(1, 16000)
        assert torch.allclose(model.log_mel(audio, chunk=6000), model.log_mel(audio, chunk=7), atol=1e-4)
        assert model.embed_audio(audio).shape == (1, 101, 8)          # one embedding every 10 ms
        assert model.embed_video(frames).shape == (1, 23, 8)


def test_any_aspect_ratio_is_one_vector_per_frame():
    model = small()
    with torch.no_grad():
        for h, w in ((64, 114), (64, 36), (40, 160)):
            assert model.embed_video(torch.randint(0, 255, (1, 4, h, w), dtype=torch.uint8)).shape == (1, 4, 8)


def test_save_load_and_config_errors(tmp_path):
    model = small()
    path = save_model(model, tmp_path / "engine")
    loaded = load_model_file(path)
    assert isinstance(loaded, LagNet) and loaded.config == model.config
    frames, audio = torch.randint(0, 255, (1, 10, 32, 48), dtype=torch.uint8), torch.randn(1, 8000)
    offsets = torch.arange(-4, 5)
    with torch.no_grad():
        assert torch.equal(model(frames, audio, offsets), loaded(frames, audio, offsets))
    assert get_config("lagnet-default").steps_per_frame == 4
    with pytest.raises(UsageError, match="whole multiple"):
        LagNetConfig("x", hop=150)
    with pytest.raises(UsageError, match="unknown LagNet config keys"):
        LagNetConfig.from_dict({"name": "x", "arch": "lagnet", "frame_size": 3})
