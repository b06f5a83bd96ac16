"""Every named classifier config (SparseSync, AVST) builds and maps 2, 5 and 8 s inputs to (B, n_classes) logits and to attention
maps whose grids match ``feature_grid``. The -paper and AVST configs run with 32 px frames to stay
fast, AVST also with 3 candidate shifts (it runs the whole model once per candidate shift)."""

import pytest
import torch

from avsync.models import available_models, create

ATTENTION_KEYS = {
    "sparsesync": {"visual_selectors", "audio_selectors"},
    "avst-enc": {"cls_to_visual", "cls_to_audio"},
    "avst-enc-mp": {"cls_to_visual", "cls_to_audio"},
    "avst-dec": {"decoder_cross"},
}


def build(name: str, seconds: float, built: dict):
    """The named model for inputs of ``seconds`` (``built``: models already made, by their overrides)."""
    overrides = {}
    if name.endswith("-paper") or name.startswith("avst"):
        overrides["frame_size"] = 32
    if name.startswith("avst"):  # AVST needs a window longer than offset_max_sec
        limit = 0.8 if seconds <= 2.0 else 2.0
        overrides.update(offset_max_sec=limit, offset_step_sec=limit)
    key = tuple(sorted(overrides.items()))
    if key not in built:
        built[key] = create(name, **overrides).eval()
    return built[key]


def test_all_expected_models_are_named():
    names = set(available_models())
    expected = {"sparsesync-paper", "sparsesync-tiny", "sparsesync-small"}
    expected |= {f"avst-{v}-{s}" for v in ("enc", "enc-mp", "dec") for s in ("paper", "tiny")}
    assert expected <= names


CLASSIFIERS = [n for n in available_models() if not n.startswith("lagnet")]   # LagNet: tests/models/test_lagnet.py


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_output_and_attention_shapes(name, make_inputs):
    built: dict = {}                  # a config whose overrides do not depend on the length is built once
    for seconds in (2.0, 5.0, 8.0):
        model = build(name, seconds, built)
        c = model.config
        b = 1 if c.arch.startswith("avst") else 2  # AVST runs once per candidate shift already
        video, audio = make_inputs(seconds, c.frame_size, batch=b)
        with torch.no_grad():
            out = model(video, audio, return_attention=True)
        assert out.logits.shape == (b, model.grid.num_classes)
        assert torch.isfinite(out.logits).all()
        grids = model.feature_grid(video.shape[1], c.frame_size, c.frame_size, audio.shape[1])
        att = out.attention
        assert set(att) == ATTENTION_KEYS[c.arch] | {"visual_grid", "audio_grid"}
        assert att["visual_grid"] == grids["visual"] and att["audio_grid"] == grids["audio"]
        t, h, w = grids["visual"]
        f, ta = grids["audio"]
        if c.arch == "sparsesync":
            n, layers = c.n_selectors, c.selector_layers
            assert att["visual_selectors"].shape == (b, layers, n, t, h, w)
            assert att["audio_selectors"].shape == (b, layers, n, f, ta)
            assert torch.allclose(att["visual_selectors"].sum((-3, -2, -1)), torch.ones(b, layers, n), atol=1e-4)
        elif c.arch == "avst-dec":
            assert att["decoder_cross"].shape == (b, c.sync_layers, 1 + ta, t, h, w)
        else:
            pooled = (t, h, w) if c.arch == "avst-enc" else (t, 1, 1)
            assert att["cls_to_visual"].shape == (b, c.sync_layers, *pooled)
            assert att["cls_to_audio"].shape == (b, c.sync_layers, ta)
        if c.arch.startswith("avst") and seconds == 2.0:   # the logits above scored every shift with it
            assert model.pair_score(video, audio).shape == (b,)


def test_full_temporal_resolution_of_light_encoders():
    for name in ("sparsesync-tiny", "sparsesync-small"):
        model = create(name)
        t, _, _ = model.feature_grid(125, model.config.frame_size, model.config.frame_size, 80000)["visual"]
        assert t >= 125 // 2  # at most temporal stride 2: a feature every 80 ms or finer


def test_paper_encoders_give_published_map_sizes():
    model = create("sparsesync-paper")
    grids = model.feature_grid(125, 224, 224, 80000)
    assert grids == {"visual": (16, 7, 7), "audio": (9, 20)}
    assert model.visual.out_channels == 1024 and model.audio.out_channels == 512


def test_bad_inputs_raise_usage_errors(make_inputs):
    from avsync.errors import UsageError

    model = create("sparsesync-tiny", duration_sec=2.0)
    video, audio = make_inputs(2.0, 64)
    with pytest.raises(UsageError):
        model(video[0], audio)
    with pytest.raises(UsageError):
        model(video, audio[:, :100])
    with pytest.raises(UsageError):
        create("no-such-model")
    with pytest.raises(UsageError):
        create("sparsesync-tiny", no_such_key=1)
    avst = create("avst-enc-mp-tiny")
    with pytest.raises(UsageError):
        avst(*make_inputs(1.5, 64))  # shorter than the +-2 s shift range


def test_learnability_knobs_change_the_maps_not_the_outputs(make_inputs):
    """visual_diff doubles the stem's input channels; audio_tstrides sets the audio token rate; the
    correlation head adds one score per offset class (same logits shape)."""
    plain = create("sparsesync-tiny", frame_size=32).eval()
    knobs = create("sparsesync-tiny", frame_size=32, visual_diff=True, audio_tstrides=[1, 2, 1, 1], corr_dim=16).eval()
    video, audio = make_inputs(5.0, 32, batch=2)
    assert knobs.visual.net[0].in_channels == 6 and plain.visual.net[0].in_channels == 3
    assert plain.feature_grid(125, 32, 32, 80000)["audio"] == (9, 20)   # 256 ms tokens (ResNet18's stride 32)
    assert knobs.feature_grid(125, 32, 32, 80000)["audio"] == (9, 79)   # 64 ms tokens
    with torch.no_grad():
        out = knobs(video, audio)
        corr = knobs.corr(*knobs.encode(video, audio), 1 / 25)
    assert out.logits.shape == corr.shape == (2, knobs.grid.num_classes)


def test_visual_input_is_normalised_frames_then_their_differences(make_inputs):
    """What the visual encoder gets with visual_diff: the ImageNet-normalised frames (B, 3, T, H, W), then
    frame t minus frame t - 1 of them (zero for the first frame)."""
    model = create("sparsesync-tiny", frame_size=32, visual_diff=True).eval()
    model.visual = torch.nn.Identity()
    video, audio = make_inputs(2.0, 32, batch=2)
    with torch.no_grad():
        got, _ = model.encode(video, audio)
    norm = (video.transpose(1, 2) - model.mean) / model.std
    diff = torch.cat([torch.zeros_like(norm[:, :, :1]), norm[:, :, 1:] - norm[:, :, :-1]], 2)
    assert torch.equal(got, torch.cat([norm, diff], 1))


def identity_head(grid, bin_sec: float = 0.0):
    """A 4-channel correlation head whose projections pass positive inputs through unchanged."""
    from avsync.models.layers import CorrelationHead

    head = CorrelationHead(4, 4, 4, grid.seconds, bin_sec=bin_sec)
    for lin in (head.v_proj[0], head.v_proj[2], head.a_proj[0], head.a_proj[2]):
        torch.nn.init.eye_(lin.weight), torch.nn.init.zeros_(lin.bias)
    return head


def test_correlation_head_peaks_at_the_true_lag():
    """With identical embeddings for picture and sound, the score of class o is highest where video time
    u meets audio time u - o: an audio map delayed by 0.4 s scores best at offset -0.4 s."""
    grid = create("sparsesync-tiny").grid
    head = identity_head(grid)
    g = torch.Generator().manual_seed(0)
    signal = torch.randn(1, 135, 4, generator=g).abs()          # positive: GELU keeps it
    v = signal[:, 10:135].view(1, 125, 1, 1, 4)                  # video frames 10..134
    a = signal[:, 0:125].view(1, 1, 125, 4)                      # audio 0.4 s (10 frames) behind
    with torch.no_grad():
        scores = head(v, a, 1 / 25)[0]
    assert grid.seconds[int(scores.argmax())] == pytest.approx(-0.4)


def test_correlation_head_bins_catch_offsets_between_class_centres():
    """A 0.32 s delay (8 frames) lies between the -0.4 and -0.2 s class centres: with ``bin_sec`` the
    -0.4 s class scores its best lag in [-0.5, -0.3] s, which includes the true one."""
    grid = create("sparsesync-tiny").grid
    head = identity_head(grid, bin_sec=grid.step_sec)
    assert head.lags(0.04, 125)[grid.to_class(-0.4)] == [-12, -11, -10, -9, -8]
    assert head.lags(0.04, 125)[grid.to_class(0.0)] == [-2, -1, 0, 1, 2]
    signal = torch.randn(1, 140, 4, generator=torch.Generator().manual_seed(1)).abs()
    v, a = signal[:, 8:133].view(1, 125, 1, 1, 4), signal[:, 0:125].view(1, 1, 125, 4)
    with torch.no_grad():
        assert grid.seconds[int(head(v, a, 0.04)[0].argmax())] == pytest.approx(-0.4)
