"""The synthetic datasets: deterministic, events visible and audible, nothing else making a sound,
dense pictures following their audio, static clips without any sync signal, and the set writer.

Definitions used below (also in docs/datasets.md):
- visible: in the decoded video, the mean absolute frame difference inside the event's box, over
  +-0.4 s (or half the gap to the next event), peaks at the change between frames k-1 and k
  (dated (k - 0.5) / fps) within one frame of the listed time, at 1.5 x the window's median or
  more and at least 3 grey levels.
- audible: the event's peak (2 ms RMS envelope of the decoded audio, 0..50 ms after the time) is
  over 3 times the median level before it (-300..-20 ms), and the envelope first crosses half-way
  from the busiest level before (90th percentile) to that peak within +-10 ms of the time.
- sound-making change: in the picture, a discontinuity of any drawn object's state (position,
  size, colour, opacity, deformation) or of its velocity: over 1 ms steps, a jump > 2 % of the
  frame (or 5/255 in colour) or a second difference > 2e-4 of the frame; in the audio, a 20 ms
  frame whose energy above 150 Hz exceeds 8 times (9 dB) the median of the previous 0.5 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synth_checks import audio_onsets, check_visible_and_audible, state_breaks

from avsync.cli import main
from avsync.data.manifest import read_manifest
from avsync.data.synthetic import (
    KINDS,
    Actor,
    SynthConfig,
    make_clip,
    split_of,
    write_clip,
)
from avsync.media import read_clip

SR, FPS, SIZE = 16000, 25.0, 64


def decoded(path: str, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames (float32) and audio of a written clip, read back through avsync.media."""
    clip = read_clip(path, 0.0, duration)
    return clip.frames.numpy().astype(np.float32), clip.audio.numpy()


def layer_breaks(layer: object, duration: float, size: int) -> list[float]:
    """The discontinuities of a layer (synth_checks.state_breaks), positions and sizes as fractions
    of the frame, colours of 255, the rest as they are."""
    if isinstance(layer, Actor):      # x, y, r, g, b, alpha, sx, sy, striker x, y
        scale = np.array([size, size, 255, 255, 255, 1, 1, 1, size, size], np.float64)
    else:                             # x, y, radius, angle, r, g, b
        scale = np.array([size, size, size, 1, 255, 255, 255], np.float64)
    return state_breaks(layer, duration, scale)


@pytest.fixture(scope="module")
def sparse_set(tmp_path_factory):
    """Five 4 s sparse clips at 64 px, written and listed."""
    out = tmp_path_factory.mktemp("sparse")
    cfg = SynthConfig(duration_sec=4.0, size=SIZE)
    return cfg, [write_clip(out, "sparse", 11, i, cfg) for i in range(5)]


def test_same_seed_same_file_and_other_seeds_differ(tmp_path):
    """The promise of docs/datasets.md: the same (kind, seed, index, settings) gives the same arrays
    and the same bytes on disk (the writer encodes deterministically); other seeds differ."""
    cfg = SynthConfig(duration_sec=2.0, size=48)
    for kind in KINDS:
        paths = [write_clip(tmp_path / d, kind, 6 if d == "c" else 5, 1, cfg).path for d in "abc"]
        assert Path(paths[0]).read_bytes() == Path(paths[1]).read_bytes(), kind
        a, b, c = (decoded(p, 2.0) for p in paths)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), kind
        assert np.abs(a[0] - c[0]).mean() > 5 and np.abs(a[1] - c[1]).mean() > 1e-4, kind
    # another index or kind is another clip too
    assert not np.array_equal(make_clip("sparse", 5, 2, cfg).audio, make_clip("sparse", 5, 1, cfg).audio)
    assert not np.array_equal(make_clip("dense", 5, 1, cfg).frames, make_clip("sparse", 5, 1, cfg).frames)


def test_every_sparse_event_is_visible_and_audible(sparse_set):
    cfg, rows = sparse_set
    visible = sum(check_visible_and_audible(row.path, *decoded(row.path, cfg.duration_sec), row.events) for row in rows)
    assert visible >= 5 and sum(len(r.events) for r in rows) > visible


def test_sparse_clips_make_no_sound_making_change_outside_their_events():
    cfg = SynthConfig(duration_sec=4.0, size=SIZE)
    for i in range(4):
        clip = make_clip("sparse", 12, i, cfg)
        visual_times = [e["t"] for e in clip.events if e["visual"]]
        breaks = [b for layer in clip.scene.layers for b in layer_breaks(layer, cfg.duration_sec, SIZE)]
        # every discontinuity starts within one frame of a listed visual event, and each event has one
        assert all(min(abs(b - t) for t in visual_times) <= 1 / FPS for b in breaks), (i, breaks, visual_times)
        assert all(min(abs(b - t) for b in breaks) <= 1 / FPS for t in visual_times), (i, breaks, visual_times)
        onsets = audio_onsets(clip.audio)
        for x in onsets:   # every audio onset lies inside a listed event (with or without a picture)
            assert any(e["t"] - 0.015 <= x <= e["t"] + e["dur"] + 0.02 for e in clip.events), (i, x)
        for e in clip.events:
            assert any(abs(x - e["t"]) <= 0.015 for x in onsets), (i, e)


def _lagged_corr(x: np.ndarray, y: np.ndarray, lag: int) -> float:
    if lag > 0:
        x, y = x[lag:], y[:-lag]
    elif lag < 0:
        x, y = x[:lag], y[-lag:]
    return float(np.corrcoef(x, y)[0, 1])


def test_dense_mouth_motion_follows_the_audio_at_zero_lag_only(tmp_path):
    cfg = SynthConfig(duration_sec=6.0, size=SIZE)
    hop = int(SR / FPS)
    far, kinds = [], set()
    for i in range(4):                          # clip 2 is a musician (a ball bouncing on the beats)
        row = write_clip(tmp_path, "dense", 3, i, cfg)
        kinds.add(row.events[0]["visual"])
        frames, audio = decoded(row.path, cfg.duration_sec)
        padded = np.pad(audio, (hop // 2, hop))[:len(frames) * hop]
        rms = np.sqrt((padded.reshape(len(frames), hop) ** 2).mean(1))     # centred on each frame
        sound = np.abs(np.diff(rms))
        motion = np.zeros(len(frames) - 1)
        for e in row.events:
            x0, y0, x1, y1 = (np.array(e["box"]) * SIZE).astype(int)
            motion += np.abs(np.diff(frames[:, y0:y1 + 1, x0:x1 + 1], axis=0)).mean(axis=(1, 2, 3))
        if row.events[0]["visual"] == "bounce":     # a musician: every beat is also an event
            assert check_visible_and_audible(row.path, frames, audio, row.events) == len(row.events) >= 4
        at0 = _lagged_corr(motion, sound, 0)
        at1s = [_lagged_corr(motion, sound, lag) for lag in (-int(FPS), int(FPS))]
        assert at0 > 0.4 and max(abs(c) for c in at1s) < at0 - 0.2, (i, at0, at1s)
        far += at1s
    assert abs(np.mean(far)) < 0.12 and kinds == {"mouth", "bounce"}, (far, kinds)


def test_static_clips_have_one_frame_and_stationary_noise(tmp_path):
    cfg = SynthConfig(duration_sec=4.0, size=SIZE)
    for i in range(2):
        clip = make_clip("static", 4, i, cfg)
        assert (clip.frames == clip.frames[0]).all() and clip.events == []
        blocks = np.sqrt((clip.audio[: len(clip.audio) // 4000 * 4000].reshape(-1, 4000) ** 2).mean(1))
        assert blocks.max() / blocks.min() < 1.5, blocks                   # 250 ms levels within 3.5 dB
        halves = np.split(clip.audio[:2 * 60 * 512], 2)                 # same spectrum in both halves
        bands = [(np.abs(np.fft.rfft(h.reshape(-1, 512), axis=1))[:, 1:] ** 2).mean(0).reshape(16, 16).sum(1) for h in halves]
        assert np.abs(10 * np.log10(bands[0] / bands[1])).max() < 2.0, bands
        assert audio_onsets(clip.audio) == []
        frames, _ = decoded(write_clip(tmp_path, "static", 4, i, cfg).path, cfg.duration_sec)
        assert np.abs(frames - frames[0]).mean() < 1.0                      # only codec noise over time


def test_clips_scale_with_size_and_boxes_lie_in_the_frame():
    for size in (32, 80):
        cfg = SynthConfig(duration_sec=1.5, size=size, fps=10.0, sample_rate=8000)
        for kind in KINDS:
            clip = make_clip(kind, 0, 3, cfg)
            assert clip.frames.shape == (15, size, size, 3) and clip.frames.dtype == np.uint8
            assert clip.audio.shape == (12000,) and clip.audio.dtype == np.float32
            assert np.abs(clip.audio).max() <= 0.95 and clip.audio.std() > 1e-3
            for e in clip.events:
                assert e["box"] is None or (0 <= e["box"][0] < e["box"][2] <= 1 and 0 <= e["box"][1] < e["box"][3] <= 1)


def test_splits_are_80_10_10_by_index():
    splits = [split_of(i) for i in range(1000)]
    assert (splits.count("train"), splits.count("val"), splits.count("test")) == (800, 100, 100)


def test_cli_writes_a_manifest_resumes_and_refuses_mixed_settings(tmp_path, capsys):
    out = tmp_path / "set"
    args = ["synth", "sparse", "--n", "3", "--out", str(out), "--seed", "2", "--duration", "2", "--size", "32",
            "--workers", "2"]
    assert main(args) == 0
    rows = read_manifest(out / "manifest.csv")
    assert [r.split for r in rows] == ["train"] * 3 and all(r.kind == "sparse" and r.duration_sec == 2.0 for r in rows)
    assert all(1 <= len([e for e in r.events if e["visual"]]) <= 3 for r in rows)
    first = (out / "sparse_000000.mp4").stat().st_mtime_ns
    assert main(args[:3] + ["4"] + args[4:]) == 0                      # one more clip; the others are kept
    assert (out / "sparse_000000.mp4").stat().st_mtime_ns == first and len(read_manifest(out / "manifest.csv")) == 4
    assert main(args[:-4] + ["--size", "48", "--workers", "1"]) == 2   # other settings, same folder
    assert "other settings" in capsys.readouterr().err
    assert len(read_manifest(out / "manifest.csv")) == 4
    assert main(args[:-4] + ["--vcodec", "nonexistent"]) == 2            # one line, no traceback
    assert main(args[:-4] + ["--music", "2"]) == 2
    err = capsys.readouterr().err
    assert "unknown video encoder 'nonexistent'" in err and "Traceback" not in err
