"""The codec-artefact audit: the binomial verdict, crop placement and stream replacement, and tiny
end-to-end runs where a deliberately leaky stream must be found (and only that stream) while clean
static H.264 clips must not be."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from avsync.audit import (
    CLEAN,
    LEAKS,
    PROBES,
    Encoding,
    ProbeConfig,
    ProbeDataset,
    leak_test,
    make_sources,
    run_audit,
    static_maker,
    still_maker,
    temporal_residual,
)
from avsync.clip import ClipSpec

# A probe small enough for the test suite: 32 px, 0.4 s crops, 5 offset classes (chance 20 %).
TINY = ProbeConfig(size=32, frame_size=32, window_sec=0.4, offset_max_sec=0.4, offset_step_sec=0.2,
                   lead_sec=1.0, clips=4, test_clips=100, steps=40, batch_size=12,
                   lr=2e-3, warmup_steps=5, workers=0)
# A leak this plain is learnt in fewer steps: at 20 the counter's probe is right 54 / 100 and the chirp's 78 / 100
# (40 steps: 64 and 100), where LEAKS needs 31; the clean clips keep 40 (15, 19, 20 of 100 right; 20 steps: 24).
LEAK_STEPS = 20


def counter_maker(index: int, duration_sec: float, fps: float, sample_rate: int, size: int):
    """Static grey frames with a burnt-in progress bar (a visible frame counter: a white wipe from the
    left edge to ``size * frame / frames``); stationary noise."""
    rng = np.random.default_rng(index)
    n = round(duration_sec * fps)
    frames = np.full((n, size, size, 3), rng.integers(60, 160), np.uint8)
    for i in range(n):
        frames[i, :, : round(size * (i + 1) / n)] = 255
    return frames, (rng.standard_normal(round(duration_sec * sample_rate)) * 0.1).astype(np.float32)


def chirp_maker(index: int, duration_sec: float, fps: float, sample_rate: int, size: int):
    """A still picture; the audio is an audible clock: a tone sweeping up from 300 Hz to 0.4 x the
    sample rate once a second (a sawtooth chirp), so its pitch tells the time within the second."""
    rng = np.random.default_rng(index)
    frames = np.broadcast_to(rng.integers(0, 255, (1, size, size, 3), dtype=np.uint8),
                             (round(duration_sec * fps), size, size, 3)).copy()
    t = np.arange(round(duration_sec * sample_rate)) / sample_rate
    freq = 300.0 + (0.4 * sample_rate - 300.0) * np.mod(t, 1.0)
    audio = 0.3 * np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) + 0.01 * rng.standard_normal(len(t))
    return frames, audio.astype(np.float32)


def test_leak_test_is_an_exact_one_sided_binomial_test():
    from scipy.stats import binom

    p, verdict = leak_test(30, 100, 10)
    assert math.isclose(p, binom.sf(29, 100, 0.1), rel_tol=1e-9)
    assert verdict == LEAKS
    assert leak_test(10, 100, 10) == (pytest.approx(binom.sf(9, 100, 0.1)), CLEAN)
    assert leak_test(2, 100, 10)[1] == CLEAN                          # below chance is never a leak
    # significant, but smaller than the minimum effect: still CLEAN
    assert leak_test(1200, 10000, 10, alpha=0.01, min_effect=0.05) == (pytest.approx(binom.sf(1199, 10000, 0.1)), CLEAN)
    assert leak_test(1600, 10000, 10)[1] == LEAKS
    with pytest.raises(ValueError):
        leak_test(5, 4, 10)


def test_probe_config_window_and_layout():
    cfg = ProbeConfig()
    assert cfg.window(Encoding()) == 0.6
    assert cfg.window(Encoding(gop=12)) == pytest.approx(0.68)        # 0.48 s GOP + one 0.2 s step
    assert cfg.window(Encoding(gop=50)) == pytest.approx(2.2)         # a whole GOP fits in every crop
    assert cfg.window(Encoding(gop=250)) == 5.0
    d = cfg.duration(Encoding())
    assert d >= cfg.lead_sec + 0.6 + 2 * cfg.offset_max_sec                # every per-stream crop fits
    assert Encoding("libvpx", "libopus").suffix == ".webm" and Encoding("mpeg4").suffix == ".mp4"
    assert Encoding("libvpx", "aac").suffix == ".mkv"


def test_crop_placement_and_stream_replacement(tmp_path):
    enc = Encoding(sample_rate=16000)
    sources = make_sources(tmp_path, counter_maker, enc, TINY, range(2), "train")
    spec = ClipSpec(0.4, 25.0, 16000, 32, TINY.grid, resize=32)
    anchor = TINY.anchor()
    for probe in PROBES:
        ds = ProbeDataset(sources, spec, probe, anchor, 40, seed=3)
        crops = [ds.crop(k) for k in range(40)]
        assert {cls for _, cls in crops} == set(range(TINY.grid.num_classes))
        for crop, cls in crops:
            assert crop.offset_sec == pytest.approx(TINY.grid.to_seconds(cls))
            if probe == "video only":   # audio pinned at the anchor, the video crop moves with the offset
                assert crop.astart_sec == pytest.approx(anchor)
            elif probe == "audio only":  # video pinned, the audio crop moves
                assert crop.vstart_sec == pytest.approx(anchor)
        item = ds[0]
        assert item["video"].shape == (10, 3, 32, 32) and item["audio"].shape == (6400,)
        assert ds[0]["target"] == item["target"] and torch.equal(ds[0]["audio"], item["audio"])  # reproducible
        video_still = bool((item["video"] - item["video"][:1]).abs().max() == 0)
        assert video_still == (probe == "audio only")   # the counter moves unless the video was replaced
    # 'video only' hides the decoded audio (the chirp): fresh noise, uncorrelated with the crop
    chirps = make_sources(tmp_path, chirp_maker, enc, TINY, [7], "chirp")
    ds = ProbeDataset(chirps, spec, "video only", anchor, 4, seed=3)
    decoded = ProbeDataset(chirps, spec, "audio only", anchor, 4, seed=3)
    crop, _ = ds.crop(0)
    real = decoded.cache.read(crop, spec, chirps[0].duration_sec)[1]
    fresh = ds[0]["audio"]
    assert abs(float(torch.corrcoef(torch.stack([real, fresh]))[0, 1])) < 0.1
    # the replacement noise is fresh: two examples of one source and offset differ
    ds = ProbeDataset(sources[:1], spec, "video only", anchor, 40, seed=3)
    same = [k for k in range(40) if ds.crop(k)[1] == ds.crop(0)[1]][:2]
    assert len(same) == 2 and not torch.equal(ds[same[0]]["audio"], ds[same[1]]["audio"])


def test_still_maker_takes_stills_and_the_noise_spectrum_of_a_video(tmp_path):
    from avsync.media import write_video

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (75, 48, 64, 3), dtype=np.uint8)          # 3 s of changing pictures
    t = np.arange(48000) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    src = write_video(tmp_path / "mine.mp4", frames, audio)
    make = still_maker(src)
    f0, a0 = make(0, 2.0, 25.0, 16000, 32)
    f1, a1 = make(1, 2.0, 25.0, 16000, 32)
    assert f0.shape == (50, 32, 32, 3) and f0.dtype == np.uint8 and a0.shape == (32000,)
    assert (f0 == f0[:1]).all() and not (f0[0] == f1[0]).all()            # a still, a new one a clip
    peak = np.fft.rfftfreq(len(a0), 1 / 16000)[np.argmax(np.abs(np.fft.rfft(a0)))]
    assert abs(peak - 440) < 40                                           # the file's spectrum...
    assert not np.allclose(a0, a1, atol=1e-3)                             # ...as fresh noise a clip
    assert np.sqrt(np.mean(a0 ** 2)) == pytest.approx(np.sqrt(np.mean(audio ** 2)), rel=0.3)


def test_temporal_residual_removes_the_still_picture():
    still = torch.rand(1, 3, 8, 8).expand(6, 3, 8, 8)
    assert torch.allclose(temporal_residual(still.clone(), 8.0), torch.full((6, 3, 8, 8), 0.5))
    moving = still.clone()
    moving[3:] += 0.01                                                    # a keyframe refresh at frame 3
    r = temporal_residual(moving, 8.0)
    assert torch.allclose(r[3:] - r[:3].mean(0), torch.full((3, 3, 8, 8), 0.08), atol=1e-5)


def test_burnt_in_frame_counter_leaks_through_video_only(tmp_path):
    report = run_audit(Encoding("h264"), replace(TINY, probes=("video only", "audio only"), steps=LEAK_STEPS),
                       maker=counter_maker, source="counter", workdir=tmp_path)
    verdicts = {r.probe: r.verdict for r in report.results}
    assert verdicts == {"video only": LEAKS, "audio only": CLEAN}, report.lines()
    assert report.verdict == LEAKS


def test_chirp_clock_leaks_through_audio_only(tmp_path):
    report = run_audit(Encoding("h264"), replace(TINY, probes=("audio only",), steps=LEAK_STEPS), maker=chirp_maker,
                       source="chirp", workdir=tmp_path)
    assert report.results[0].verdict == LEAKS, report.lines()


def test_clean_static_h264_is_clean(tmp_path):
    report = run_audit(Encoding("h264"), TINY, maker=static_maker(0), workdir=tmp_path)
    assert [r.probe for r in report.results] == list(PROBES)
    assert report.verdict == CLEAN, report.lines()
    for r in report.results:
        assert r.n == TINY.test_clips and r.chance == pytest.approx(0.2)


def test_cli_writes_the_report(tmp_path, capsys):
    from avsync.cli import main

    out = tmp_path / "audit.json"
    status = main(["audit", "--vcodec", "h264", "--size", "32", "--steps", "2", "--clips", "2", "--probes", "both",
                   "--test-clips", "8", "--workers", "0", "--out", str(out)])
    assert status == 0
    data = json.loads(out.read_text())
    assert data["encoding"]["vcodec"] == "h264" and data["num_classes"] == 11
    assert [r["probe"] for r in data["results"]] == ["both"] and data["results"][0]["n"] == 8
    assert "verdict:" in capsys.readouterr().out
    assert main(["audit", "--probes", "sideways"]) == 2
