"""The checker's maths (windows, combining, refinement, calibration, segmentation) and its behaviour
on whole files, with the xcorr baseline or stand-in estimators (fast, no trained model needed)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from helpers import make_video
from sync_clips import make_clip

import avsync
from avsync.checker import Calibration, CheckResult, SyncChecker, WindowResult
from avsync.checker.calibration import fit_temperature, reliability
from avsync.checker.combine import combine, posterior, refine_offset
from avsync.checker.plan import window_starts
from avsync.checker.fitting import fit_calibration, measure, simulate
from avsync.checker.timeline import analyse_timeline, segment_offsets
from avsync.checker.xcorr import XcorrEstimator
from avsync.errors import NoAudioStreamError, TooShortError, UsageError
from avsync.offsets import OffsetGrid

GRID = OffsetGrid(2.0, 0.2)


class Constant:
    """A stand-in estimator whose logits are the same for every window."""

    name = "constant"
    grid = GRID
    window_sec, fps, sample_rate, frame_size, resize = 2.0, 25.0, 16000, 32, 32

    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits

    def scores(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(video.shape[0], -1).clone()


def gaussian_logp(centre: float, width: float = 0.15, grid: OffsetGrid = GRID) -> torch.Tensor:
    x = torch.tensor(grid.seconds, dtype=torch.float64)
    return torch.log_softmax(-((x - centre) ** 2) / (2 * width ** 2), -1)


# ---- windows and maths


def test_window_starts_cover_the_file_to_its_end():
    assert window_starts(10.0, 5.0, 2.0) == [0.0, 2.0, 5.0]
    assert window_starts(10.0, 5.0, 2.5) == [0.0, 2.48, 5.0]     # snapped to 25 fps frames
    s = window_starts(11.3, 5.0, 3.0)
    assert s == [0.0, 3.0, 6.28] and window_starts(13.3, 5.0, 3.0) == [0.0, 3.0, 6.0, 8.28] and s[-1] + 5.0 <= 11.3 + 1e-9
    assert window_starts(4.9, 5.0, 1.0) == []
    assert window_starts(5.0, 5.0, 1.0) == [0.0]
    assert all(abs(x * 25 - round(x * 25)) < 1e-6 for x in window_starts(9.77, 3.0, 0.7))
    assert window_starts(6.0, 5.0, 1.0, t0=0.5) == [0.5, 1.5]
    assert window_starts(6.0, 5.0, 0.6) == [0.0, 0.6, 1.0]
    with pytest.raises(UsageError):
        window_starts(10.0, 5.0, 0.0)


@pytest.mark.parametrize("true", [0.27, -0.93, 0.0, 1.12])
def test_parabolic_refinement_finds_the_peak_between_classes(true):
    lp = gaussian_logp(true)
    assert refine_offset(lp, GRID, "none") == pytest.approx(round(true / 0.2) * 0.2)
    assert refine_offset(lp, GRID, "parabolic") == pytest.approx(true, abs=1e-6)  # exact for a Gaussian
    assert abs(refine_offset(lp, GRID, "centroid") - true) < abs(refine_offset(lp, GRID, "none") - true) + 1e-9


def test_refinement_stays_within_half_a_step_and_at_the_edges():
    lp = gaussian_logp(2.3)  # peak beyond the grid
    assert refine_offset(lp, GRID, "parabolic") == 2.0
    spiky = torch.log_softmax(torch.tensor([0.0] * 10 + [9.0] + [0.0] * 10), -1)
    assert refine_offset(spiky, GRID, "parabolic") == pytest.approx(0.0)


def test_combine_counts_overlapping_evidence_once():
    lp = gaussian_logp(0.4).expand(2, -1)
    same_place = combine(lp, [0.0, 0.0], 5.0)
    assert torch.allclose(same_place, lp[0])                          # n_eff = 1: one window's worth
    apart = combine(lp, [0.0, 5.0], 5.0)
    assert torch.allclose(apart, 2 * lp[0])                           # n_eff = 2: independent
    half = combine(lp, [0.0, 2.5], 5.0)
    assert torch.allclose(half, 1.5 * lp[0])


def test_product_of_experts_sharpens_agreeing_windows_and_ignores_flat_ones():
    flat = torch.log_softmax(torch.zeros(21, dtype=torch.float64), -1)
    peaked = gaussian_logp(-0.6, 0.3)
    post = posterior(torch.stack([flat, peaked, flat]), [0.0, 5.0, 10.0], 5.0, 1.0)
    assert int(post.argmax()) == GRID.to_class(-0.6)
    two = posterior(torch.stack([peaked, peaked]), [0.0, 5.0], 5.0, 1.0)
    assert two.exp().max() > posterior(peaked[None], [0.0], 5.0, 1.0).exp().max()


def test_segmentation_finds_a_change_and_no_change_in_noise():
    gen = torch.Generator().manual_seed(0)
    a, b = gaussian_logp(0.0, 0.1), gaussian_logp(0.8, 0.1)
    seq = torch.stack([a] * 6 + [b] * 6)
    runs = segment_offsets(seq)
    assert [(lo, hi, k) for lo, hi, k in runs] == [(0, 6, GRID.to_class(0.0)), (6, 12, GRID.to_class(0.8))]
    noisy = torch.log_softmax(torch.randn(12, 21, generator=gen, dtype=torch.float64) * 0.5 + 3 * a.exp(), -1)
    assert len(segment_offsets(noisy)) == 1


def test_fit_temperature_recovers_a_known_temperature():
    gen = torch.Generator().manual_seed(1)
    scores = torch.randn(6000, 21, generator=gen) * 4
    targets = torch.multinomial(torch.softmax(scores / 2.5, -1), 1, generator=gen)[:, 0]
    assert fit_temperature(scores, targets) == pytest.approx(2.5, rel=0.1)


def test_reliability_and_ece():
    conf = [0.9] * 100 + [0.3] * 100
    calibrated = [True] * 90 + [False] * 10 + [True] * 30 + [False] * 70
    overconfident = [True] * 50 + [False] * 50 + [False] * 100
    assert reliability(conf, calibrated)["ece"] == pytest.approx(0.0, abs=1e-9)
    assert reliability(conf, overconfident)["ece"] == pytest.approx(0.35)


def test_calibration_round_trip_and_bad_file(tmp_path):
    cal = Calibration(temperature=1.7, refine="centroid", min_confidence=0.3, fitted={"records": 5})
    assert Calibration.load(cal.save(tmp_path / "c.json")) == cal
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(UsageError, match="bad.json"):
        Calibration.load(tmp_path / "bad.json")
    with pytest.raises(UsageError):
        Calibration(refine="cubic")


def test_timeline_analysis_reports_segments_and_no_evidence():
    windows = []
    for i in range(14):
        lp = gaussian_logp(0.0 if i < 7 else 0.8, 0.1)
        usable = i not in (3, 4)
        windows.append(WindowResult(float(i), i + 5.0, float(refine_offset(lp, GRID)), float(lp.exp().max()),
                                    usable, None if usable else "silent audio", probs=lp.exp().tolist()))
    result = CheckResult("x.mp4", windows=14, window_sec=5.0, grid=GRID.seconds, per_window=windows)
    tl = analyse_timeline(result, GRID, Calibration())
    assert tl.drift and [round(s.offset_sec, 3) for s in tl.segments] == [0.0, 0.8]
    assert tl.no_evidence == [{"start_sec": 5.0, "end_sec": 7.0, "reason": "silent audio"}]
    assert tl.drift_ms_per_min is not None and tl.drift_ms_per_min > 0
    d = tl.to_dict()
    assert d["drift"] is True and len(d["per_window"][0]["probs"]) == 21


# ---- whole files


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    return {"ahead": make_clip(d / "ahead.mp4", 8, 0.6, seed=2),
            "sync": make_clip(d / "sync.mp4", 10, 0.0, seed=4),
            "silent": make_clip(d / "silent.mp4", 8, 0.0, seed=2, silent=True),
            "still": make_clip(d / "still.mp4", 8, 0.0, seed=2, still=True),
            "short": make_clip(d / "short.mp4", 3, 0.0, seed=2),
            "noaudio": make_video(d / "noaudio.mp4", seconds=6, audio=False)}


def test_check_a_file_with_xcorr(clips):
    r = SyncChecker(XcorrEstimator(), workers=1).check(clips["ahead"])
    assert r.synchronisable and r.error is None and r.reason is None
    assert r.offset_sec == pytest.approx(0.6, abs=0.05) and r.offset_frames == 15
    assert 0.5 < r.confidence <= 1.0 and r.top[0]["offset_sec"] == pytest.approx(0.6, abs=0.041)
    assert r.windows == 2 == len(r.per_window) and r.duration_sec == pytest.approx(8.0, abs=0.05)
    d = r.to_dict()
    assert set(d) >= {"path", "offset_sec", "offset_frames", "confidence", "top", "windows", "synchronisable",
                      "error", "per_window"}


@pytest.mark.parametrize("kind,reason", [("silent", "silent audio"), ("still", "still picture")])
def test_no_evidence_is_not_synchronisable(clips, kind, reason):
    r = SyncChecker(XcorrEstimator(), workers=0).check(clips[kind])
    assert not r.synchronisable and r.offset_sec is None and reason in r.reason
    assert all(not w.usable for w in r.per_window)


def test_flat_distribution_is_not_synchronisable(clips):
    r = SyncChecker(Constant(torch.zeros(21)), workers=0).check(clips["ahead"])
    assert not r.synchronisable and r.confidence == pytest.approx(1 / 21) and "low confidence" in r.reason
    sure = SyncChecker(Constant(torch.tensor([0.0] * 15 + [12.0] + [0.0] * 5)), workers=0).check(clips["ahead"])
    assert sure.synchronisable and sure.offset_sec == pytest.approx(1.0)


def test_bad_files_raise_one_line_errors_and_safe_records_them(clips, tmp_path):
    checker = SyncChecker(XcorrEstimator(), workers=0)
    with pytest.raises(TooShortError, match="short.mp4"):
        checker.check(clips["short"])
    assert checker.check(clips["short"], window=2.5).windows >= 1
    with pytest.raises(NoAudioStreamError):
        checker.check(clips["noaudio"])
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 10)
    for p in (tmp_path / "junk.mp4", tmp_path / "missing.mp4", clips["noaudio"]):
        r = checker.safe(checker.check, p)
        assert r.error and str(p) in r.error and "\n" not in r.error and r.offset_sec is None


def test_desync_of_a_shifted_clip(clips):
    d = SyncChecker(XcorrEstimator(), workers=0).desync(clips["ahead"])
    assert d.first_sec == pytest.approx(0.6, abs=0.05) and d.last_sec == pytest.approx(0.6, abs=0.05)
    assert d.desync_sec == pytest.approx(0.6, abs=0.05)


def test_simulate_fit_and_measure(clips):
    """Calibration on simulated offsets of an in-sync clip: xcorr finds them within a frame."""
    checker = SyncChecker(XcorrEstimator(), workers=0)
    from avsync.data.datasets import Source

    recs, failed = simulate(checker, [Source(str(clips["sync"]))], per_clip=3, seed=0)
    assert not failed and len(recs) == 3 and all(abs(r.true_sec) <= 2.0 for r in recs)
    cal = fit_calibration(recs, checker.grid)
    assert cal.temperature > 0 and cal.fitted["records"] == 3
    m = measure(recs, checker.grid, cal)["all"]
    assert m["files"] == 3 and m["acc1_pm1"] == 1.0 and m["median_abs_error_ms"] < 40


# ---- public API


def test_import_is_light():
    out = subprocess.run([sys.executable, "-c", "import sys, avsync; print('torch' in sys.modules, 'av' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_public_api_names_and_errors(tmp_path):
    assert "xcorr" in avsync.available_models()
    checker = avsync.load_model("xcorr")
    assert isinstance(checker, avsync.SyncChecker) and checker.name == "xcorr"
    with pytest.raises(UsageError, match="unknown model"):
        avsync.load_model("no-such-model")
    with pytest.raises(avsync.errors.FileMissingError):
        avsync.load_model(str(tmp_path / "missing.safetensors"))


def test_load_model_from_a_path_with_its_calibration(tmp_path, clips):
    from avsync.checker import calibration_path
    from avsync.models import create, save_model

    weights = save_model(create("sparsesync-tiny", duration_sec=2.0, frame_size=32), tmp_path / "m")
    Calibration(temperature=3.0, min_confidence=0.01).save(calibration_path(weights))
    checker = avsync.load_model(weights)
    assert checker.calibration.temperature == 3.0
    r = checker.check(clips["ahead"])
    assert r.windows == 7 and r.confidence is not None and math.isfinite(r.offset_sec)


def test_check_many_keeps_order_and_records_failures(clips, tmp_path):
    paths = [clips["ahead"], tmp_path / "missing.mp4", clips["short"], clips["sync"]]
    results = list(SyncChecker(XcorrEstimator(), workers=2).check_many(paths))
    assert [r.path for r in results] == [str(p) for p in paths]
    assert [r.error is None for r in results] == [True, False, False, True]
    assert abs(results[0].offset_sec - 0.6) < 0.05 and abs(results[3].offset_sec) < 0.05


def test_top_level_check(clips):
    r = avsync.check(clips["ahead"], model="xcorr")
    assert isinstance(r, avsync.CheckResult) and abs(r.offset_sec - 0.6) < 0.05


def test_load_model_from_a_checkpoint_folder(tmp_path):
    from avsync.models import create, save_model

    folder = tmp_path / "step-000100"
    save_model(create("sparsesync-tiny", duration_sec=2.0, frame_size=32), folder / "model")
    checker = avsync.load_model(folder)
    assert checker.name == "step-000100" and checker.estimator.window_sec == 2.0


def test_a_calibration_for_other_weights_warns(tmp_path):
    from avsync.checker import calibration_path, weights_digest
    from avsync.models import create, save_model

    weights = save_model(create("sparsesync-tiny", duration_sec=2.0, frame_size=32), tmp_path / "m")
    Calibration(fitted={"weights_sha256": weights_digest(weights)}).save(calibration_path(weights))
    avsync.load_model(weights)  # matching: no warning
    Calibration(fitted={"weights_sha256": "0" * 64}).save(calibration_path(weights))
    with pytest.warns(UserWarning, match="fitted for other weights"):
        avsync.load_model(weights)


def test_progress_is_reported_as_windows_are_scored(tmp_path):
    clip = make_clip(tmp_path / "long.mp4", 20, 0.3, seed=4)
    checker = SyncChecker(XcorrEstimator(), batch_size=2, workers=0)
    seen = []
    checker.on_progress = lambda done, total: seen.append((done, total))
    r = checker.check(clip)
    assert len(seen) >= 3 and seen[-1] == (r.windows, r.windows)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len({t for _, t in seen}) == 1


@pytest.mark.parametrize("workers", [0, 2])
def test_the_model_leaves_a_core_to_the_decoding_threads_and_gives_it_back(clips, workers):
    """While a pass decodes ahead on threads, torch runs on one thread fewer; with no thread reading ahead it
    keeps them all; either way the count is restored afterwards."""
    seen = []

    class Counting(Constant):
        def scores(self, video, audio):
            seen.append(torch.get_num_threads())
            return super().scores(video, audio)

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        SyncChecker(Counting(gaussian_logp(0.0).float()), workers=workers).check(clips["sync"])
        assert seen and set(seen) == {1 if workers else 2}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_windows_decoded_while_torch_loads_give_the_same_answer(tmp_path):
    """CheckerSpec.early_windows forks the decoding before torch loads (a fresh interpreter: this one has
    torch); the checker takes those windows when they are the ones it reads, and answers exactly as when
    it reads the file itself (a timeline's too); a process for other windows is closed unused."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    if not sys.platform.startswith("linux"):
        pytest.skip("a decoding child is forked on Linux only")
    path = str(make_clip(tmp_path / "clip.mp4", 9.0, 0.4, seed=5))
    code = f"""
import json, sys
from avsync.pool import CheckerSpec
spec = CheckerSpec()
early, other = spec.early_windows({path!r}), spec.early_windows({path!r}, stride=1.0)
timeline_early = spec.early_windows({path!r}, per_window=5)   # a timeline's windows: every fifth of one
torch_before = "torch" in sys.modules
checker = spec.load(early)
first = checker.check({path!r}).to_dict()
checker.early = other                             # windows every 1 s: not what a default check reads
again = checker.check({path!r}).to_dict()
itself = checker.check({path!r}).to_dict()
checker.early = timeline_early
timeline = checker.timeline({path!r}).to_dict()
print(json.dumps({{"made": [early is not None, other is not None], "torch_before": torch_before,
                  "used": [early._read, other._read, timeline_early._read],
                  "timeline": timeline == checker.timeline({path!r}).to_dict(), "alive": [early._process.is_alive(), other._process.is_alive()],
                  "late": spec.early_windows({path!r}) is None, "same": [first == itself, again == itself],
                  "offset": first["offset_sec"]}}))
"""
    root = Path(__file__).parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(root / "tests")})
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["made"] == [True, True] and not r["torch_before"]
    assert r["used"] == [True, False, True] and r["alive"] == [False, False] and r["timeline"]
    assert r["late"], "no process is forked once torch is loaded"
    assert r["same"] == [True, True] and r["offset"] is not None
